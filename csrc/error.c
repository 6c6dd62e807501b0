// SPDX-License-Identifier: Apache-2.0
/* Names for enum l2s_err, for logs and for the Python exception texts. */
#include "l2s.h"

const char *l2s_strerror(int err)
{
	switch (err) {
	case L2S_OK:
		return "ok";
	case L2S_ERR_LENGTH:
		return "wrong length";
	case L2S_ERR_INVALID_KEY:
		return "invalid key";
	case L2S_ERR_AUTH:
		return "authentication failed";
	case L2S_ERR_INIT:
		return "crypto library failed to initialise";
	case L2S_ERR_INTERNAL:
		return "internal error";
	}
	return "unknown error";
}
