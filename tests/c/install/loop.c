// SPDX-License-Identifier: Apache-2.0
/* A program built against the installed event loop only (l2s_loop.h, its
 * pkg-config file): a node listening on a loopback port, QUIC and μTCP (μTCP
 * alone in a build without QUIC), runs a round, says which transports it
 * has and stops. tests/python/test_install.py builds and runs it. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <l2s_loop.h>

int main(void)
{
	struct l2s_loop_params p;
	struct sockaddr_in *sin = (struct sockaddr_in *)&p.listen;
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof(bound);
	uint8_t xpk[L2S_XWING_PK_BYTES], pk[L2S_ED25519_PK_BYTES];
	struct l2s_loop *l;

	l2s_loop_params_default(&p);
	if (l2s_init() != L2S_OK || l2s_ed25519_keypair(pk, p.node.identity_sk) != L2S_OK ||
	    l2s_xwing_keygen(xpk, p.node.prekey_seed) != L2S_OK)
		return 1;
	p.node.prekey_not_after_s = 4102444800u;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p.listen_len = sizeof(*sin);
	if (l2s_loop_new(&l, &p) != L2S_OK) {
		fprintf(stderr, "FAIL: l2s_loop_new\n");
		return 1;
	}
	if (l2s_loop_local_addr(l, &bound, &bound_len) != L2S_OK || l2s_loop_run_once(l, 0) < 0) {
		fprintf(stderr, "FAIL: the loop did not run\n");
		return 1;
	}
	printf("l2s_loop %s: listening on port %u\n", l2s_version(), ntohs(((struct sockaddr_in *)&bound)->sin_port));
	printf("transports: %s\n", l2s_loop_has_quic() ? "QUIC, uTCP, discovery" : "uTCP and discovery only");
	l2s_loop_free(l);
	return 0;
}
