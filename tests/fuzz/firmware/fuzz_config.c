// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for node.toml as l2sessd reads it (firmware/l2sessd/
 * config.c): any text is accepted, or refused with one line that says why. */
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_config cfg;
	char err[CONFIG_ERROR_BYTES];
	size_t i;

	if (config_parse("/fuzz/node.toml", (const char *)data, size, &cfg, err) == 0) {
		for (i = 0; i < cfg.npeers; i++)
			if (cfg.peers[i].connect && !cfg.peers[i].address)
				abort();
		config_free(&cfg);
		return 0;
	}
	if (!err[0])
		abort();
	/* One line: a newline only inside a quoted (escaped) name. */
	if (strchr(err, '\n'))
		abort();
	return 0;
}
