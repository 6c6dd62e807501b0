// SPDX-License-Identifier: Apache-2.0
/* Names for enum l2s_err, for logs and for the Python exception texts, and
 * the library's version. */
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
	case L2S_ERR_DECODE:
		return "malformed message";
	case L2S_ERR_STATE:
		return "invalid state";
	case L2S_ERR_QUEUE_FULL:
		return "send queue full";
	case L2S_ERR_NOT_FOUND:
		return "not found";
	case L2S_ERR_QUARANTINED:
		return "quarantined";
	case L2S_ERR_REPLAY:
		return "replay";
	case L2S_ERR_EXPIRED:
		return "expired";
	case L2S_ERR_NOMEM:
		return "out of memory or table full";
	case L2S_ERR_BUSY:
		return "under load";
	case L2S_ERR_CONFIG:
		return "invalid configuration";
	case L2S_ERR_IO:
		return "socket or TLS library error";
	}
	return "unknown error";
}

const char *l2s_version(void)
{
	return L2S_VERSION;
}
