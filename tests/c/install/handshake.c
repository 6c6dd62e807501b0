// SPDX-License-Identifier: Apache-2.0
/* A program built against the installed library only (its headers, its
 * pkg-config file): two nodes make a session through a real PQ handshake and
 * one message goes across. tests/python/test_install.py builds it twice,
 * against the shared and the static library. Exit 0 when all went well. */
#include <stdio.h>
#include <string.h>

#include <l2s.h>

#define FAIL(what)                                  \
	do {                                        \
		fprintf(stderr, "FAIL: %s\n", what); \
		return 1;                           \
	} while (0)

static int make_node(struct l2s_node **node, uint8_t pk[L2S_ED25519_PK_BYTES])
{
	struct l2s_node_params p;
	uint8_t xpk[L2S_XWING_PK_BYTES];

	memset(&p, 0, sizeof(p));
	if (l2s_ed25519_keypair(pk, p.identity_sk) != L2S_OK || l2s_xwing_keygen(xpk, p.prekey_seed) != L2S_OK)
		return -1;
	p.prekey_not_after_s = 4102444800u; /* 2100-01-01 */
	l2s_random(p.storage_key, sizeof(p.storage_key));
	return l2s_node_new(node, &p, 0);
}

/* Hands every output of from to to (one path, 1); counts messages seen. */
static int pump(struct l2s_node *from, struct l2s_node *to, int *messages)
{
	struct l2s_output o;
	struct l2s_event ev;
	static const uint8_t addr[5] = { 4, 127, 0, 0, 1 };
	int moved = 0;

	while (l2s_node_next_output(from, &o)) {
		l2s_node_receive(to, 1, addr, sizeof(addr), o.data, o.len, 0);
		moved++;
	}
	while (l2s_node_next_event(to, &ev))
		if (ev.type == L2S_EV_MESSAGE && ev.len == 5 && memcmp(ev.data, "hello", 5) == 0)
			(*messages)++;
	return moved;
}

int main(void)
{
	struct l2s_node *a, *b;
	uint8_t a_pk[L2S_ED25519_PK_BYTES], b_pk[L2S_ED25519_PK_BYTES], bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_session_info info;
	struct l2s_config cfg;
	uint32_t h;
	uint64_t seq;
	int messages = 0;

	if (strcmp(l2s_version(), L2S_VERSION) != 0)
		FAIL("l2s_version() is not the header's L2S_VERSION");
	if (l2s_init() != L2S_OK || make_node(&a, a_pk) != L2S_OK || make_node(&b, b_pk) != L2S_OK)
		FAIL("nodes");
	l2s_config_default(&cfg);
	if (l2s_node_prekey_bundle(b, bundle) != L2S_OK ||
	    l2s_node_establish(a, b_pk, bundle, sizeof(bundle), 1700000000u, &cfg, 1, 0, &h) != L2S_OK)
		FAIL("establish");
	if (l2s_session_send(a, h, (const uint8_t *)"hello", 5, 0, &seq) != L2S_OK)
		FAIL("send");
	for (int i = 0; i < 8 && (pump(a, b, &messages) + pump(b, a, &messages)) > 0; i++)
		;
	if (l2s_session_info(a, h, &info) != L2S_OK || info.state != L2S_ESTABLISHED)
		FAIL("not established");
	if (messages != 1)
		FAIL("the message did not arrive exactly once");
	printf("l2s %s: session established, 1 message delivered\n", l2s_version());
	l2s_node_free(a);
	l2s_node_free(b);
	return 0;
}
