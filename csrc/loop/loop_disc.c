// SPDX-License-Identifier: Apache-2.0
/* The loop answers discovery probes (PROTOCOL.md §11): raw ones on the UDP
 * port (a token first, the bundle once the token proves the address, each
 * answer at most 3x its probe until then), and in-band ones on a QUIC or
 * μTCP connection, which proved the address already (§11.3). Both share a
 * per-address rate limit and a rotating token secret of their own. */
#include <string.h>
#include <netinet/in.h>

#include "loop/loop_internal.h"

#define DISC_RL_CAPACITY 1024
#define DISC_RATE_PER_S 10
#define DISC_BURST 20

int l2s_loop_disc_init(struct l2s_loop *l, uint64_t now)
{
	uint16_t port = ntohs(((struct sockaddr_in *)&l->local)->sin_port); /* same offset in sockaddr_in6 */

	l->n_offered = 0;
	if (l->quic && port)
		l->offered[l->n_offered++] = (struct l2s_disc_transport){ L2S_DISC_T_QUIC, port };
	if (l->tcp && port)
		l->offered[l->n_offered++] = (struct l2s_disc_transport){ L2S_DISC_T_UTCP, port };
	l2s_cookie_secrets_init(&l->disc_secrets, &l->rng, now);
	return l2s_ratelimit_init(&l->disc_rl, DISC_RL_CAPACITY, DISC_RATE_PER_S, DISC_BURST, &l->rng);
}

void l2s_loop_disc_free(struct l2s_loop *l)
{
	l2s_cookie_secrets_wipe(&l->disc_secrets);
	if (l->disc_rl.slots)
		l2s_ratelimit_free(&l->disc_rl);
}

void l2s_loop_disc_tick(struct l2s_loop *l, uint64_t now)
{
	if (now >= l2s_cookie_secrets_deadline(&l->disc_secrets))
		l2s_cookie_secrets_update(&l->disc_secrets, &l->rng, now);
}

static int disc_addr(struct l2s_disc_addr *out, const struct sockaddr_storage *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (sa->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		out->family = L2S_DISC_AF_INET;
		out->port = ntohs(a->sin_port);
		memcpy(out->ip, &a->sin_addr, 4);
		return L2S_OK;
	}
	if (sa->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		out->family = L2S_DISC_AF_INET6;
		out->port = ntohs(a->sin6_port);
		memcpy(out->ip, &a->sin6_addr, 16);
		return L2S_OK;
	}
	return L2S_ERR_DECODE;
}

static void responder(struct l2s_loop *l, struct l2s_disc_responder *r)
{
	r->self = &l->id;
	r->bundle = l->bundle;
	r->transports = l->offered;
	r->n_transports = l->n_offered;
	r->secrets = &l->disc_secrets;
	r->rl = &l->disc_rl;
}

static void answered(struct l2s_loop *l, int ret)
{
	if (ret == L2S_OK) {
		l->st.disc_answers++;
		return;
	}
	l->st.disc_dropped++;
	if (ret < 0 && -ret < (int)(sizeof(l->st.rx_dropped) / sizeof(l->st.rx_dropped[0])))
		l->st.rx_dropped[-ret]++;
}

/* A raw probe on the UDP port; anything else there is junk. */
void l2s_loop_disc_datagram(struct l2s_loop *l, const struct l2s_quic_event *ev, uint64_t now)
{
	uint8_t ans[L2S_DISC_ANSWER_MAX_BYTES];
	struct l2s_disc_responder r;
	struct l2s_disc_addr from;
	size_t len;
	int type, ret;

	if (l2s_wire_peek(ev->data, ev->len, &type) != L2S_OK || type != L2S_MSG_DISCOVERY_PROBE ||
	    disc_addr(&from, &ev->peer, ev->peer_len) != L2S_OK) {
		l->st.disc_dropped++;
		return;
	}
	l->st.disc_probes++;
	responder(l, &r);
	ret = l2s_discovery_answer(ans, sizeof(ans), &len, &r, &from, ev->data, ev->len, now);
	if (ret == L2S_OK)
		ret = l2s_quic_send_datagram(l->quic, (const struct sockaddr *)&ev->peer, ev->peer_len, ans, len);
	answered(l, ret);
}

void l2s_loop_disc_inband(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t ans[L2S_DISC_ANSWER_MAX_BYTES];
	struct l2s_disc_responder r;
	struct l2s_disc_addr from;
	size_t n;
	int ret;

	l->st.disc_probes++;
	responder(l, &r);
	ret = disc_addr(&from, &p->sa, p->sa_len);
	if (ret == L2S_OK)
		ret = l2s_discovery_answer_inband(ans, sizeof(ans), &n, &r, &from, msg, len, now);
	if (ret == L2S_OK)
		ret = l2s_path_send(l, p, ans, n);
	answered(l, ret);
}
