// SPDX-License-Identifier: Apache-2.0
/* l2sessd.c - the pure-C node daemon: `python -m l2sess.node`'s run,
 * keygen and did, for gateways without Python (docs/NODE.md, l2sessd(8)).
 *
 *   l2sessd run --config node.toml      run the node in the foreground until SIGTERM
 *   l2sessd check --config node.toml    check node.toml; print every key's value as JSON
 *   l2sessd keygen --identity FILE      make an identity file (0600), print its DID
 *   l2sessd did --identity FILE         print the DID of an identity file
 *   l2sessd --version
 *
 * An operator's mistake is one line on stderr and exit code 2. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "identity.h"

static int usage(void)
{
	fprintf(stderr, "l2sessd: usage: l2sessd run|check --config FILE | keygen|did --identity FILE | --version\n");
	return 2;
}

static int check(const char *path)
{
	struct node_config cfg;
	char err[CONFIG_ERROR_BYTES];
	struct sbuf out;

	if (config_load(path, &cfg, err)) {
		fprintf(stderr, "l2sessd: %s: %s\n", path, err);
		return 2;
	}
	sbuf_init(&out, 64u << 20);
	config_json(&cfg, &out);
	if (!out.failed)
		fputs(out.data, stdout);
	sbuf_free(&out);
	config_free(&cfg);
	return 0;
}

static int identity_command(const char *cmd, const char *path)
{
	struct identity id;
	char err[IDENTITY_ERROR_BYTES];
	int missing, ret;

	if (l2s_init() != L2S_OK) {
		fprintf(stderr, "l2sessd: the crypto library could not start\n");
		return 1;
	}
	ret = strcmp(cmd, "keygen") == 0 ? identity_create(path, &id, err) : identity_load(path, &id, &missing, err);
	if (ret) {
		fprintf(stderr, "l2sessd: %s\n", err);
		return 2;
	}
	printf("%s\n", id.did);
	identity_wipe(&id);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("l2sessd %s (QUIC %s)\n", l2s_version(), l2s_loop_has_quic() ? "built in" : "not built in");
		return 0;
	}
	if (argc != 4)
		return usage();
	if (strcmp(argv[2], "--config") == 0 && strcmp(argv[1], "run") == 0)
		return daemon_run(argv[3]);
	if (strcmp(argv[2], "--config") == 0 && strcmp(argv[1], "check") == 0)
		return check(argv[3]);
	if (strcmp(argv[2], "--identity") == 0 && (strcmp(argv[1], "keygen") == 0 || strcmp(argv[1], "did") == 0))
		return identity_command(argv[1], argv[3]);
	return usage();
}
