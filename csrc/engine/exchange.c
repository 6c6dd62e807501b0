// SPDX-License-Identifier: Apache-2.0
/* The node's side of every key exchange: full handshakes (with cookies under
 * load), resumption, rotation, tickets, and StoredSession export/import. The
 * cryptography lives in handshake.c, resume.c, rotation.c, ticket.c and
 * store.c; this file decides what to do with a session, following
 * docs/PROTOCOL.md §4-§8 and docs/STATE_MACHINE.md. */
#include <stdlib.h>
#include <string.h>

#include "handshake/bundle.h"
#include "handshake/cookie.h"
#include "engine/node.h"
#include "handshake/resume.h"
#include "handshake/rotation.h"
#include "engine/store.h"
#include "wire/wire.h"

/* An exchange is re-sent after 1/8 of its timeout, then after 1/4, 1/2 ...:
 * a re-sent handshake or resumption replaces the previous attempt, whose
 * answer is then refused, so the gaps grow until one is longer than the
 * round trip (up to half the timeout), and a lossy link still gets several
 * early tries. */
#define RESEND_FIRST_DIVISOR 8

/* Under load, each address's share of the handshake work: a request a
 * second, two at once (the one a cookie answered and its re-send). */
#define LOADED_RATE_PER_S 1
#define LOADED_BURST 2

static uint64_t resend_interval(struct l2s_session *s)
{
	unsigned int k = s->pending_sends < 3 ? s->pending_sends : 3;

	s->pending_sends++;
	return (s->cfg.handshake_timeout_ms / RESEND_FIRST_DIVISOR) << k;
}

/* ---- node-wide tables ------------------------------------------------------ */

/* The replay tables (handshake counters, resumption nonces) follow the
 * node's size, so a small device's node stays small: 1024 to 65536 entries. */
static size_t replay_table_size(const struct l2s_node *node)
{
	uint32_t n = node->max_sessions;

	return n < 1024 ? 1024 : n > 65536 ? 65536 : n;
}

int l2s_node_identity_init(struct l2s_node *node, const struct l2s_node_params *p, uint64_t now)
{
	struct l2s_node_extra *x = calloc(1, sizeof(*x));
	int ret;

	if (!x)
		return L2S_ERR_NOMEM;
	node->x = x;
	node->hs_counter = p->handshake_counter;
	ret = l2s_identity_init(&node->id, p->identity_sk);
	if (ret == L2S_OK)
		ret = l2s_prekey_init(&node->prekey, p->prekey_seed);
	if (ret == L2S_OK)
		ret = l2s_bundle_make(node->bundle, &node->id, node->prekey.pk, p->prekey_not_after_s);
	if (ret != L2S_OK)
		return ret;
	l2s_cookie_secrets_init(&x->cookies, &node->rng, now);
	l2s_ticket_keys_init(&x->tickets, node->accept_cfg.ticket_lifetime_ms, &node->rng, now);
	l2s_rng_bytes(&node->rng, x->quarantine.key, sizeof(x->quarantine.key));
	l2s_load_init(&x->load, node->work_per_s, now);
	ret = l2s_ratelimit_init(&x->ratelimit, 4096, node->rate_per_s, 2 * node->rate_per_s, &node->rng);
	if (ret == L2S_OK) { /* its key from the first table's: the node's draws stay as they were */
		struct l2s_rng derived;

		l2s_rng_init_seeded(&derived, x->ratelimit.key);
		ret = l2s_ratelimit_init(&x->loaded, 4096, LOADED_RATE_PER_S, LOADED_BURST, &derived);
		l2s_rng_wipe(&derived);
	}
	if (ret == L2S_OK)
		ret = l2s_counter_table_init(&x->counters, replay_table_size(node), &node->rng);
	if (ret == L2S_OK)
		ret = l2s_nonce_cache_init(&x->nonces, replay_table_size(node), node->accept_cfg.ticket_lifetime_ms,
					   &node->rng);
	return ret;
}

void l2s_node_extra_free(struct l2s_node *node)
{
	struct l2s_node_extra *x = node->x;

	l2s_identity_wipe(&node->id);
	l2s_prekey_wipe(&node->prekey);
	if (!x)
		return;
	l2s_cookie_secrets_wipe(&x->cookies);
	l2s_ticket_keys_wipe(&x->tickets);
	l2s_ratelimit_free(&x->ratelimit);
	l2s_ratelimit_free(&x->loaded);
	l2s_counter_table_free(&x->counters);
	l2s_nonce_cache_free(&x->nonces);
	l2s_wipe(x, sizeof(*x));
	free(x);
	node->x = NULL;
}

void l2s_node_extra_tick(struct l2s_node *node, uint64_t now)
{
	/* Secrets that age: the cookie secret (120 s) and the ticket keys. */
	l2s_cookie_secrets_update(&node->x->cookies, &node->rng, now);
	l2s_ticket_keys_update(&node->x->tickets, &node->rng, now);
}

int l2s_node_prekey_bundle(const struct l2s_node *node, uint8_t out[L2S_PREKEY_BUNDLE_BYTES])
{
	memcpy(out, node->bundle, L2S_PREKEY_BUNDLE_BYTES);
	return L2S_OK;
}

uint64_t l2s_node_handshake_counter(const struct l2s_node *node)
{
	return node->hs_counter;
}

static void quarantine_peer(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	s->quarantine_until = now + s->cfg.quarantine_ms;
	l2s_quarantine_add(&node->x->quarantine, L2S_QUARANTINE_IDENTITY, s->peer_pk, sizeof(s->peer_pk),
			   s->quarantine_until);
}

static int peer_quarantined(const struct l2s_node *node, const uint8_t pk[32], uint64_t now)
{
	return l2s_quarantine_until(&node->x->quarantine, L2S_QUARANTINE_IDENTITY, pk, 32, now) != 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static struct l2s_session *session_by(struct l2s_node *node, struct l2s_map *m, const uint8_t *key, size_t len);
static void drop_half_open(struct l2s_node *node, const uint8_t pk[32], uint64_t now);

/* Crossing full handshakes (§4.3): both sides must end on the same one, so
 * the side with the larger identity key has priority. While its own
 * handshake with the peer is in flight it ignores the peer's, and when its
 * own completes it drops an unconfirmed answer to the peer's. The other side
 * answers, and the confirmed answer replaces its own attempt. */
static int has_priority(const struct l2s_node *node, const uint8_t peer_pk[32])
{
	return memcmp(node->id.pk, peer_pk, 32) > 0;
}

/* Our handshake with the peer in flight, or NULL. A scan: it runs only for
 * a HANDSHAKE_INIT whose signature verified or a confirmed answer. */
static struct l2s_session *own_handshake(struct l2s_node *node, const uint8_t peer_pk[32])
{
	for (uint32_t i = 0; i < node->max_sessions; i++) {
		struct l2s_session *s = node->slots[i];

		if (s && s->pending == PENDING_HANDSHAKE && memcmp(s->peer_pk, peer_pk, 32) == 0)
			return s;
	}
	return NULL;
}

static int crossing_ours_wins(struct l2s_node *node, const uint8_t peer_pk[32])
{
	return has_priority(node, peer_pk) && own_handshake(node, peer_pk);
}

/* ---- pending exchanges ------------------------------------------------------- */

void l2s_pending_free(struct l2s_session *s)
{
	switch (s->pending) {
	case PENDING_HANDSHAKE:
		l2s_hs_initiator_free(s->pending_state);
		break;
	case PENDING_RESUME:
		l2s_resume_initiator_wipe(s->pending_state);
		free(s->pending_state);
		break;
	case PENDING_ROTATION:
		l2s_rotation_free(s->pending_state);
		break;
	default:
		free(s->pending_state);
		break;
	}
}

/* Starts the timeout once per exchange; re-sends keep the first deadline. */
static void arm_pending(struct l2s_session *s, int kind, uint64_t now)
{
	if (s->pending != kind || !s->pending_deadline) {
		s->pending_deadline = now + s->cfg.handshake_timeout_ms;
		s->pending_sends = 0;
	}
	s->pending = (uint8_t)kind;
	s->pending_resend = now + resend_interval(s);
}

static void current_keys(const struct l2s_session *s, struct l2s_session_keys *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->session_id, s->session_id, sizeof(k->session_id));
	memcpy(k->rs, s->rs, sizeof(k->rs));
	memcpy(k->rc, s->rc, sizeof(k->rc));
}

/* A confirmed full handshake with a peer we already had a session with
 * replaces that session: it ends (audit event "replaced") and the new one
 * continues its streams (what was received, what is unacknowledged), so no
 * message is lost or delivered twice. Until this moment the old session was
 * untouched, so a replayed or unfinished handshake changes nothing. */
static void replace_old_session(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_session *old = session_by(node, &node->by_peer, s->peer_pk, sizeof(s->peer_pk));

	if (!old || old == s)
		return;
	l2s_delivery_take_over(&s->dl, &old->dl);
	l2s_session_end(node, old, L2S_EV_STATE, L2S_REASON_REPLACED, now);
}

/* Our answer to the peer's handshake is confirmed: a crossing handshake of
 * our own (one the peer, with priority, ignores) is moot; its queue, if it
 * has one, goes on in the confirmed session. */
static void end_crossing_attempt(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_session *own = own_handshake(node, s->peer_pk);

	if (!own || own == s || own->was_established)
		return;
	l2s_delivery_take_over(&s->dl, &own->dl);
	l2s_session_end(node, own, L2S_EV_STATE, L2S_REASON_REPLACED, now);
}

/* A session's first keys begin its send stream, with a random id (§5). */
static void begin_stream(struct l2s_node *node, struct l2s_session *s)
{
	uint8_t id[L2S_STREAM_ID_BYTES];

	l2s_rng_bytes(&node->rng, id, sizeof(id));
	l2s_delivery_begin_stream(&s->dl, id);
	l2s_wipe(id, sizeof(id));
}

/* The reason docs/STATE_MACHINE.md records for "from -> established". */
static int established_reason(int from, int reason)
{
	switch (from) {
	case L2S_HANDSHAKE_INITIATED:
		return L2S_REASON_RECEIVE_VALID_RESPONSE;
	case L2S_HANDSHAKE_RECEIVED:
		return L2S_REASON_SEND_RESPONSE_ACK;
	case L2S_DEGRADED:
		return L2S_REASON_CONNECTIVITY_RESTORED;
	default:
		return reason;
	}
}

/* The session has confirmed keys: reset liveness, re-send what is unacked and
 * tell the peer where our stream stands. A session waiting to retry (the peer
 * resumed it first) records the retry with the reason of its own retry. */
void l2s_session_established(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now)
{
	if (s->state != L2S_ESTABLISHED) {
		if (s->state == L2S_SUSPENDED || s->state == L2S_FAILED)
			l2s_session_transition(node, s, L2S_HANDSHAKE_INITIATED,
					       s->state == L2S_SUSPENDED ? L2S_REASON_RETRY : L2S_REASON_RETRY_WITH_BACKOFF,
					       now);
		l2s_session_transition(node, s, L2S_ESTABLISHED, established_reason(s->state, reason), now);
	}
	s->missed = 0;
	/* Keys from a handshake or a resumption start a new heartbeat sequence:
	 * a peer that restarted from its StoredSession counts from 1 again, and
	 * frames under these keys cannot be old ones. (Rotation keeps it.) */
	s->hb_peer_counter = 0;
	s->hb_outstanding = 0;
	s->hb_reply_deadline = 0;
	s->hb_next = now + s->cfg.heartbeat_interval_ms;
	s->last_rx = now;
	s->expires = now + s->cfg.ttl_ms;
	s->retries = 0;
	s->retry_at = 0;
	s->need_sync = 1;
	s->resume_failed = 0;
	s->resume_timeouts = 0;
	s->hs_timeouts = 0;
	s->was_established = 1;
	/* The streams first (a replaced session's), then the SYNC they owe. */
	if (reason == L2S_REASON_SEND_RESPONSE_ACK && !has_priority(node, s->peer_pk))
		end_crossing_attempt(node, s, now);
	if (reason == L2S_REASON_SEND_RESPONSE_ACK || reason == L2S_REASON_RECEIVE_VALID_RESPONSE)
		replace_old_session(node, s, now);
	begin_stream(node, s);
	l2s_delivery_want_sync(&s->dl); /* and re-sent until the peer's ACK shows it */
	/* New keys from a handshake or resumption restart rotation numbering:
	 * a peer that restarted from stored state counts from 1 again. */
	s->rot_answered = 0;
	s->rotation_id = 0;
	free(s->rot_resp);
	s->rot_resp = NULL;
	l2s_map_put(&node->by_peer, s->peer_pk, sizeof(s->peer_pk), s->slot);
	l2s_map_put(&node->by_sid, s->session_id, sizeof(s->session_id), s->slot);
	if (session_by(node, &node->by_half, s->peer_pk, sizeof(s->peer_pk)) == s)
		l2s_map_del(&node->by_half, s->peer_pk, sizeof(s->peer_pk)); /* no longer half-open */
	l2s_delivery_resend_all(&s->dl);
	if (!s->initiator)
		l2s_send_ticket(node, s, now);
	l2s_send_flush(node, s, now);
}

/* ---- full handshake: initiator --------------------------------------------- */

int l2s_start_handshake(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_hs_initiator *st;
	struct l2s_bundle b;
	int ret;

	if (!s->peer_bundle || l2s_decode_bundle(s->peer_bundle, L2S_PREKEY_BUNDLE_BYTES, &b) != L2S_OK)
		return L2S_ERR_STATE;
	if (s->pending == PENDING_HANDSHAKE) {
		/* A re-send is a new handshake (new ephemeral, new counter): the
		 * responder refuses a repeated counter. */
		l2s_node_drop_index(node, s->pending_index);
		st = s->pending_state;
	} else {
		l2s_session_clear_pending(node, s);
		ret = l2s_hs_initiator_new(&st);
		if (ret != L2S_OK)
			return ret;
		s->pending_state = st;
		s->pending = PENDING_HANDSHAKE;
	}
	s->pending_index = l2s_node_new_index(node, s->slot, INDEX_PENDING);
	ret = l2s_hs_create_init(st, &node->id, s->peer_pk, b.prekey_pk, l2s_node_binding(node, s->path),
				 ++node->hs_counter, s->pending_index, s->have_cookie ? s->cookie : NULL, &node->rng);
	if (ret == L2S_OK)
		ret = l2s_node_output(node, s, st->msg, L2S_HS_INIT_BYTES);
	arm_pending(s, PENDING_HANDSHAKE, now);
	l2s_schedule(node, s);
	return ret;
}

static struct l2s_session *pending_session(struct l2s_node *node, uint32_t index, int kind)
{
	struct l2s_session *s;
	uint8_t key[4];
	uint32_t v;

	l2s_u32_key(key, index);
	if (l2s_map_get(&node->by_index, key, sizeof(key), &v) != L2S_OK || (v & 3) != INDEX_PENDING)
		return NULL;
	s = node->slots[v >> 2];
	return (s && s->pending == kind && s->pending_index == index) ? s : NULL;
}

/* The response did not authenticate although it answered our own random
 * index: the attempt fails and the peer we chose is quarantined. */
static int initiator_auth_failed(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	quarantine_peer(node, s, now);
	if (s->state == L2S_HANDSHAKE_INITIATED)
		l2s_session_fail(node, s, L2S_REASON_AUTHENTICATION_FAILED, now);
	return L2S_ERR_AUTH;
}

static void confirm_keys(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	l2s_send_simple(node, s, L2S_FRAME_CONFIRM, 0, now);
}

int l2s_on_handshake_resp(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_session_keys keys;
	struct l2s_hs_resp r;
	struct l2s_session *s;
	uint32_t peer_index, index;
	int ret;

	if (l2s_decode_hs_resp(msg, len, &r) != L2S_OK)
		return L2S_ERR_DECODE;
	s = pending_session(node, r.receiver_index, PENDING_HANDSHAKE);
	if (!s)
		return L2S_ERR_NOT_FOUND;
	/* mac1 is keyed to our public identity: anyone can forge it, so its
	 * failure means junk, not a misbehaving peer. The reserved mac2 must be
	 * zero so that no byte of the response is unchecked. */
	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	if (!all_zero(r.mac2, L2S_MAC_BYTES))
		return initiator_auth_failed(node, s, now);
	ret = l2s_hs_consume_resp(&keys, &peer_index, s->pending_state, &node->id, msg, len);
	if (ret != L2S_OK)
		return initiator_auth_failed(node, s, now);
	index = s->pending_index;
	s->pending_index = 0; /* the index now names the new keys */
	l2s_session_clear_pending(node, s);
	s->path = path;
	/* A new session id: the old one names nothing any more (a ticket or
	 * resumption naming it must not land on these keys). */
	if (session_by(node, &node->by_sid, s->session_id, sizeof(s->session_id)) == s)
		l2s_map_del(&node->by_sid, s->session_id, sizeof(s->session_id));
	memcpy(s->session_id, keys.session_id, sizeof(s->session_id));
	s->initiator = 1; /* also for a session that began as the responder and fell back */
	l2s_session_install_keys(node, s, &keys, index, peer_index, 1, now);
	l2s_session_keys_wipe(&keys);
	confirm_keys(node, s, now);
	if (has_priority(node, s->peer_pk))
		drop_half_open(node, s->peer_pk, now); /* a crossing: ours wins */
	l2s_session_established(node, s, L2S_REASON_RECEIVE_VALID_RESPONSE, now);
	l2s_schedule(node, s);
	return L2S_OK;
}

int l2s_on_cookie_reply(struct l2s_node *node, const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_cookie_reply c;
	struct l2s_hs_initiator *st;
	struct l2s_session *s;

	if (l2s_decode_cookie_reply(msg, len, &c) != L2S_OK)
		return L2S_ERR_DECODE;
	s = pending_session(node, c.receiver_index, PENDING_HANDSHAKE);
	if (!s)
		return L2S_ERR_NOT_FOUND;
	st = s->pending_state;
	if (l2s_hs_initiator_consume_cookie(st, s->cookie, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	s->have_cookie = 1;
	/* The responder kept no state: the same request, now with mac2. */
	l2s_node_output(node, s, st->msg, L2S_HS_INIT_BYTES);
	s->pending_resend = now + resend_interval(s);
	l2s_schedule(node, s);
	return L2S_OK;
}

/* ---- full handshake: responder ---------------------------------------------- */

/* The node as a whole: too many requests per second, or half-open handshakes. */
static int loaded(struct l2s_node *node, uint64_t now)
{
	return node->half_open >= node->load_limit || l2s_load_high(&node->x->load, now);
}

static int under_load(struct l2s_node *node, const uint8_t *addr, size_t addr_len, uint64_t now)
{
	return loaded(node, now) || !l2s_ratelimit_allow(&node->x->ratelimit, addr, addr_len, now);
}

/* Under load every address, proven or not, gets an equal small share of
 * the work: a flood from many addresses cannot starve one more. */
static int fair_share(struct l2s_node *node, const uint8_t *addr, size_t addr_len, uint64_t now)
{
	return !loaded(node, now) || l2s_ratelimit_allow(&node->x->loaded, addr, addr_len, now);
}

/* Under load a request must prove its address with a cookie (mac2); without
 * one it gets a COOKIE_REPLY and costs no state and no ML-KEM work. A non-zero
 * mac2 is always checked, so no byte of a request goes unverified; a stale or
 * damaged one is answered with a fresh cookie, load or not. */
static int check_cookie(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
			const uint8_t *msg, size_t len, int *proven, uint64_t now)
{
	const uint8_t *mac2 = msg + L2S_HS_INIT_MAC2_OFF;
	int has_mac2 = !all_zero(mac2, L2S_MAC_BYTES);
	uint8_t reply[L2S_COOKIE_REPLY_BYTES];

	*proven = has_mac2 && l2s_cookie_check_mac2(&node->x->cookies, addr, addr_len, msg, len) == L2S_OK;
	if (*proven) {
		/* A proven address under load still has its share: it cannot
		 * make us decapsulate at line rate with fresh identities. */
		return fair_share(node, addr, addr_len, now) ? L2S_OK : L2S_ERR_BUSY;
	}
	if (!has_mac2 && !under_load(node, addr, addr_len, now))
		return L2S_OK;
	if (l2s_cookie_reply_create(reply, &node->id, &node->x->cookies, msg, len, addr, addr_len, &node->rng) ==
	    L2S_OK)
		l2s_node_output_path(node, path, reply, sizeof(reply));
	return L2S_ERR_BUSY;
}

static struct l2s_session *session_by(struct l2s_node *node, struct l2s_map *m, const uint8_t *key, size_t len)
{
	uint32_t slot;

	if (l2s_map_get(m, key, len, &slot) != L2S_OK)
		return NULL;
	return node->slots[slot];
}

/* A newer request from the same initiator (a full handshake, or a
 * resumption from a ticket for a session we no longer hold) replaces its
 * unconfirmed one: each re-send would otherwise leave one more. The
 * old session fails and is cleaned up at once, each step with its audit
 * event, so that no session disappears without leaving the machine. */
static void drop_half_open(struct l2s_node *node, const uint8_t pk[32], uint64_t now)
{
	struct l2s_session *old = session_by(node, &node->by_half, pk, 32);

	if (old && (old->pending == PENDING_ACCEPT || old->pending == PENDING_RESUMED) &&
	    old->state == L2S_HANDSHAKE_RECEIVED) {
		l2s_map_del(&node->by_half, pk, 32);
		l2s_session_transition(node, old, L2S_FAILED, L2S_REASON_TIMEOUT, now);
		l2s_session_transition(node, old, L2S_STATE_END, L2S_REASON_CLEANUP, now);
		l2s_session_destroy(node, old);
	}
}

static void accepted_event(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_event ev;

	l2s_session_event(&ev, L2S_EV_ACCEPTED, s, now);
	l2s_node_event(node, &ev, NULL, 0);
}

static int accept_handshake(struct l2s_node *node, struct l2s_hs_responder *rst, uint32_t path, uint64_t now)
{
	struct l2s_session_keys keys;
	uint8_t resp[L2S_HS_RESP_BYTES];
	struct l2s_session *s;
	uint32_t index, peer_index = rst->peer_index; /* create_resp wipes rst */
	int ret;

	drop_half_open(node, rst->peer_pk, now);
	s = l2s_session_alloc(node, &node->accept_cfg, now);
	if (!s)
		return L2S_ERR_NOMEM;
	memcpy(s->peer_pk, rst->peer_pk, sizeof(s->peer_pk));
	memcpy(s->peer_prekey_id, rst->prekey_id, sizeof(s->peer_prekey_id));
	s->path = path;
	s->initiator = 0;
	index = l2s_node_new_index(node, s->slot, KP_NEXT);
	ret = index ? l2s_hs_create_resp(resp, &keys, rst, &node->id, index, &node->rng) : L2S_ERR_NOMEM;
	if (ret != L2S_OK) {
		l2s_session_destroy(node, s);
		return ret;
	}
	memcpy(s->session_id, keys.session_id, sizeof(s->session_id));
	l2s_session_install_keys(node, s, &keys, index, peer_index, 0, now);
	l2s_session_keys_wipe(&keys);
	s->next_establishes = 1;
	l2s_session_transition(node, s, L2S_HANDSHAKE_RECEIVED, L2S_REASON_RECEIVE_HANDSHAKE, now);
	arm_pending(s, PENDING_ACCEPT, now);
	s->pending_resend = 0; /* the initiator re-sends, we answer each */
	node->half_open++;
	l2s_map_put(&node->by_half, s->peer_pk, sizeof(s->peer_pk), s->slot);
	accepted_event(node, s, now);
	l2s_node_output(node, s, resp, sizeof(resp));
	l2s_schedule(node, s);
	return L2S_OK;
}

int l2s_on_handshake_init(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
			  const uint8_t *msg, size_t len, uint64_t now)
{
	const struct l2s_prekey *prekeys[1] = { &node->prekey };
	struct l2s_hs_responder rst;
	int proven, ret;

	if (len != L2S_HS_INIT_BYTES)
		return L2S_ERR_DECODE;
	/* Untargeted junk is dropped for the price of one BLAKE3. */
	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	l2s_load_count(&node->x->load, now);
	if (l2s_quarantine_until(&node->x->quarantine, L2S_QUARANTINE_ADDRESS, addr, addr_len, now))
		return L2S_ERR_QUARANTINED;
	ret = check_cookie(node, path, addr, addr_len, msg, len, &proven, now);
	if (ret != L2S_OK)
		return ret;
	ret = l2s_hs_consume_init(&rst, &node->id, prekeys, 1, l2s_node_binding(node, path), msg, len);
	if (ret == L2S_ERR_AUTH && proven) {
		/* The claimed identity is unproven, the address is not. */
		l2s_quarantine_add(&node->x->quarantine, L2S_QUARANTINE_ADDRESS, addr, addr_len,
				   now + node->accept_cfg.quarantine_ms);
	}
	if (ret == L2S_OK && peer_quarantined(node, rst.peer_pk, now))
		ret = L2S_ERR_QUARANTINED;
	if (ret == L2S_OK && crossing_ours_wins(node, rst.peer_pk))
		ret = L2S_ERR_STATE;
	if (ret == L2S_OK)
		ret = l2s_counter_table_check(&node->x->counters, rst.peer_pk, rst.counter);
	if (ret == L2S_OK)
		ret = l2s_counter_table_accept(&node->x->counters, rst.peer_pk, rst.counter, now);
	if (ret == L2S_OK)
		ret = accept_handshake(node, &rst, path, now);
	l2s_hs_responder_wipe(&rst);
	return ret;
}

/* ---- resumption ------------------------------------------------------------- */

static int usable_ticket(const struct l2s_session *s, uint64_t now)
{
	(void)now;
	return s->ticket && s->ticket_len;
}

int l2s_start_resume(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_resume_initiator *st;
	int ret;

	if (!s->have_rs)
		return L2S_ERR_STATE;
	if (s->pending == PENDING_RESUME) {
		l2s_node_drop_index(node, s->pending_index);
		st = s->pending_state;
		l2s_resume_initiator_wipe(st);
	} else {
		l2s_session_clear_pending(node, s);
		st = calloc(1, sizeof(*st));
		if (!st)
			return L2S_ERR_NOMEM;
		s->pending_state = st;
		s->pending = PENDING_RESUME;
	}
	s->pending_index = l2s_node_new_index(node, s->slot, INDEX_PENDING);
	/* Bound to the connection it goes out on, as a handshake is (§8). */
	ret = l2s_resume_create_init(st, s->peer_pk, l2s_node_binding(node, s->path), s->session_id, s->rs,
				     usable_ticket(s, now) ? s->ticket : NULL,
				     usable_ticket(s, now) ? s->ticket_len : 0, s->cfg.resume_dh != 0, s->pending_index,
				     &node->rng);
	if (ret == L2S_OK)
		ret = l2s_node_output(node, s, st->msg, st->msg_len);
	arm_pending(s, PENDING_RESUME, now);
	l2s_schedule(node, s);
	return ret;
}

int l2s_on_resume_resp(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_session_keys keys;
	struct l2s_resume_resp r;
	struct l2s_session *s;
	uint32_t peer_index, index;
	int ret, reason;

	if (l2s_decode_resume_resp(msg, len, &r) != L2S_OK)
		return L2S_ERR_DECODE;
	s = pending_session(node, r.receiver_index, PENDING_RESUME);
	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	ret = l2s_resume_consume_resp(&keys, &peer_index, s->pending_state, &node->id, msg, len);
	if (ret != L2S_OK) {
		if (s->state == L2S_HANDSHAKE_INITIATED)
			return initiator_auth_failed(node, s, now);
		return ret; /* from degraded or established: dropped, retried later */
	}
	index = s->pending_index;
	s->pending_index = 0;
	l2s_session_clear_pending(node, s);
	s->path = path;
	s->initiator = 1;
	l2s_session_install_keys(node, s, &keys, index, peer_index, 1, now);
	l2s_session_keys_wipe(&keys);
	confirm_keys(node, s, now);
	reason = s->state == L2S_DEGRADED ? L2S_REASON_CONNECTIVITY_RESTORED : L2S_REASON_RECEIVE_VALID_RESPONSE;
	l2s_session_established(node, s, reason, now);
	l2s_schedule(node, s);
	return L2S_OK;
}

static int lookup_session_rs(void *arg, const uint8_t session_id[L2S_SESSION_ID_BYTES], int candidate,
			     uint8_t rs[32], uint8_t peer_pk[32])
{
	struct l2s_node *node = arg;
	struct l2s_session *s = session_by(node, &node->by_sid, session_id, L2S_SESSION_ID_BYTES);

	if (!s || !(candidate == 0 ? s->have_rs : s->have_rs_next))
		return L2S_ERR_NOT_FOUND;
	memcpy(rs, candidate == 0 ? s->rs : s->rs_next, 32);
	memcpy(peer_pk, s->peer_pk, 32);
	return L2S_OK;
}

/* The session a RESUME_INIT resumes: ours by session id, or a new one from a
 * ticket (we kept no state for it; *created is set). NULL when we should not
 * answer. */
static struct l2s_session *resumed_session(struct l2s_node *node, const struct l2s_resume_responder *rst,
					   uint32_t path, uint64_t now, int *created)
{
	struct l2s_session *s = session_by(node, &node->by_sid, rst->session_id, L2S_SESSION_ID_BYTES);

	*created = 0;
	if (s) {
		if (s->pending == PENDING_RESUME && s->initiator)
			return NULL; /* both resumed at once: ours wins */
		l2s_session_clear_pending(node, s);
		if (s->state == L2S_ROTATING)
			l2s_session_transition(node, s, L2S_FAILED, L2S_REASON_ROTATION_TIMEOUT, now);
		return s;
	}
	drop_half_open(node, rst->peer_pk, now);
	s = l2s_session_alloc(node, &node->accept_cfg, now);
	if (!s)
		return NULL;
	memcpy(s->peer_pk, rst->peer_pk, sizeof(s->peer_pk));
	memcpy(s->session_id, rst->session_id, sizeof(s->session_id));
	s->path = path;
	*created = 1;
	l2s_map_put(&node->by_half, s->peer_pk, sizeof(s->peer_pk), s->slot);
	l2s_session_transition(node, s, L2S_HANDSHAKE_RECEIVED, L2S_REASON_RECEIVE_HANDSHAKE, now);
	accepted_event(node, s, now);
	return s;
}

/* A resumption of a session we hold whose binder fails: the peer is there but
 * holds another rs (one of us restored an older checkpoint), so resuming
 * cannot work; our next attempt is a full handshake. (Anyone can make such a
 * request: it only chooses the stronger exchange, and only for a retry.) */
static void secrets_differ(struct l2s_node *node, const uint8_t *msg, size_t len)
{
	struct l2s_resume_init m;
	struct l2s_session *s;

	if (l2s_decode_resume_init(msg, len, &m) != L2S_OK || m.mode != L2S_RESUME_MODE_KDF)
		return;
	s = session_by(node, &node->by_sid, m.session_id, L2S_SESSION_ID_BYTES);
	if (s && s->state != L2S_ESTABLISHED && s->state != L2S_ROTATING)
		s->resume_failed = 1;
}

int l2s_on_resume_init(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
		       const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_resume_ctx ctx = {
		.self = &node->id,
		.tickets = &node->x->tickets,
		.nonces = &node->x->nonces,
		.lookup = lookup_session_rs,
		.lookup_arg = node,
		.binding = l2s_node_binding(node, path), /* the connection it arrived on */
	};
	struct l2s_resume_responder rst;
	struct l2s_session_keys keys;
	uint8_t resp[L2S_RESUME_RESP_BYTES];
	struct l2s_session *s;
	uint32_t index = 0, peer_index = 0;
	int ret, created = 0;

	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	l2s_load_count(&node->x->load, now);
	if (!l2s_ratelimit_allow(&node->x->ratelimit, addr, addr_len, now) || !fair_share(node, addr, addr_len, now))
		return L2S_ERR_BUSY;
	ret = l2s_resume_consume_init(&rst, &ctx, msg, len, now);
	if (ret == L2S_ERR_AUTH)
		secrets_differ(node, msg, len);
	if (ret == L2S_OK && peer_quarantined(node, rst.peer_pk, now))
		ret = L2S_ERR_QUARANTINED;
	s = ret == L2S_OK ? resumed_session(node, &rst, path, now, &created) : NULL;
	if (ret == L2S_OK && !s)
		ret = L2S_ERR_BUSY;
	if (ret == L2S_OK) {
		/* A request under the secret of our unconfirmed answer proves the
		 * initiator took that answer: its keys are confirmed. */
		if (!created && rst.mode == L2S_RESUME_MODE_KDF && rst.candidate == 1)
			l2s_keys_confirmed(node, s, now); /* as its first frame would: it owes a SYNC */
		s->path = path;
		peer_index = rst.peer_index; /* create_resp wipes rst */
		index = l2s_node_new_index(node, s->slot, KP_NEXT);
		ret = l2s_resume_create_resp(resp, &keys, &rst, index, &node->rng);
	}
	if (ret == L2S_OK) {
		s->initiator = 0;
		l2s_session_install_keys(node, s, &keys, index, peer_index, 0, now);
		l2s_session_keys_wipe(&keys);
		s->next_establishes = 1;
		arm_pending(s, PENDING_RESUMED, now);
		s->pending_resend = 0;
		node->half_open++;
		l2s_node_output(node, s, resp, sizeof(resp));
		l2s_schedule(node, s);
	} else {
		/* The response could not be made (e.g. the initiator's X25519
		 * share has small order). The index named nothing yet; a session
		 * made for the ticket has no exchange and no timer, so it ends
		 * here rather than hold a slot for ever. */
		if (index)
			l2s_node_drop_index(node, index);
		if (s && created) {
			l2s_session_transition(node, s, L2S_FAILED, L2S_REASON_AUTHENTICATION_FAILED, now);
			l2s_session_transition(node, s, L2S_STATE_END, L2S_REASON_CLEANUP, now);
			l2s_session_destroy(node, s);
		}
	}
	l2s_resume_responder_wipe(&rst);
	return ret;
}

/* ---- tickets ------------------------------------------------------------------ */

void l2s_send_ticket(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_ticket_contents c;
	struct l2s_frame f = { .type = L2S_FRAME_TICKET };
	uint8_t ticket[L2S_TICKET_BYTES], frame[16 + L2S_TICKET_BYTES];
	size_t len;

	memcpy(c.session_id, s->session_id, sizeof(c.session_id));
	memcpy(c.peer_pk, s->peer_pk, sizeof(c.peer_pk));
	memcpy(c.rs, s->rs, sizeof(c.rs));
	c.not_after_ms = now + s->cfg.ticket_lifetime_ms;
	if (l2s_ticket_seal(ticket, &node->x->tickets, &c, &node->rng) == L2S_OK) {
		f.u.ticket.lifetime_s = (uint32_t)(s->cfg.ticket_lifetime_ms / 1000);
		f.u.ticket.ticket = ticket;
		f.u.ticket.len = sizeof(ticket);
		if (l2s_encode_frame(frame, sizeof(frame), &f, &len) == L2S_OK)
			l2s_send_frame(node, s, frame, len, now);
	}
	l2s_ticket_contents_wipe(&c);
}

int l2s_on_ticket(struct l2s_node *node, struct l2s_session *s, const struct l2s_frame *f, uint64_t now)
{
	uint8_t *t = malloc(f->u.ticket.len);

	(void)node;
	if (!t)
		return L2S_ERR_NOMEM;
	memcpy(t, f->u.ticket.ticket, f->u.ticket.len);
	free(s->ticket);
	s->ticket = t;
	s->ticket_len = (uint16_t)f->u.ticket.len;
	s->ticket_not_after = now + (uint64_t)f->u.ticket.lifetime_s * 1000;
	return L2S_OK;
}

int l2s_on_close(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	l2s_session_end(node, s, L2S_EV_CLOSED, L2S_REASON_CLOSED, now);
	return L2S_OK;
}

/* ---- rotation ------------------------------------------------------------------ */

int l2s_start_rotation(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_rotation *st;
	int ret;

	if (s->state != L2S_ESTABLISHED || s->pending)
		return L2S_ERR_STATE;
	ret = l2s_rotation_new(&st);
	if (ret != L2S_OK)
		return ret;
	l2s_session_transition(node, s, L2S_ROTATING, L2S_REASON_TIME_TO_ROTATE, now);
	s->pending_state = st;
	s->pending = PENDING_ROTATION;
	s->pending_index = l2s_node_new_index(node, s->slot, INDEX_PENDING);
	ret = l2s_rotation_start(st, ++s->rotation_id, s->pending_index, &node->rng);
	if (ret == L2S_OK)
		ret = l2s_send_frame(node, s, st->frame, sizeof(st->frame), now);
	arm_pending(s, PENDING_ROTATION, now);
	l2s_schedule(node, s);
	return ret;
}

int l2s_resend_rotation(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_rotation *st = s->pending_state;

	s->pending_resend = now + resend_interval(s);
	return l2s_send_frame(node, s, st->frame, sizeof(st->frame), now);
}

int l2s_on_rotate_init(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len,
		       const struct l2s_frame *f, uint64_t now)
{
	struct l2s_session_keys cur, next;
	uint8_t resp[L2S_ROTATE_RESP_FRAME_BYTES];
	uint32_t index;
	int ret;

	if (s->rot_resp && f->u.rotate.rotation_id == s->rot_answered) /* a re-sent request */
		return l2s_send_frame(node, s, s->rot_resp, L2S_ROTATE_RESP_FRAME_BYTES, now);
	if (f->u.rotate.rotation_id <= s->rot_answered)
		return L2S_ERR_REPLAY; /* answered and confirmed already */
	if (s->pending == PENDING_ROTATION) {
		if (s->initiator)
			return L2S_OK; /* both started: the original initiator's wins */
		l2s_session_clear_pending(node, s);
	}
	if (s->state != L2S_ESTABLISHED && s->state != L2S_ROTATING)
		return L2S_ERR_STATE;
	current_keys(s, &cur);
	index = l2s_node_new_index(node, s->slot, KP_NEXT);
	ret = l2s_rotation_respond(resp, &next, &cur, frame, len, index, &node->rng);
	if (ret == L2S_OK) {
		l2s_session_install_keys(node, s, &next, index, f->u.rotate.new_index, 0, now);
		s->next_establishes = 0;
		free(s->rot_resp);
		s->rot_resp = malloc(sizeof(resp));
		if (s->rot_resp)
			memcpy(s->rot_resp, resp, sizeof(resp));
		s->rot_answered = f->u.rotate.rotation_id;
		ret = l2s_send_frame(node, s, resp, sizeof(resp), now);
	} else {
		l2s_node_drop_index(node, index);
	}
	l2s_session_keys_wipe(&cur);
	l2s_session_keys_wipe(&next);
	return ret;
}

int l2s_on_rotate_resp(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len,
		       const struct l2s_frame *f, uint64_t now)
{
	struct l2s_rotation *st = s->pending_state;
	struct l2s_session_keys cur, next;
	uint32_t peer_index, index;
	int ret;

	if (s->pending != PENDING_ROTATION || f->u.rotate.rotation_id != st->rotation_id)
		return L2S_ERR_REPLAY;
	current_keys(s, &cur);
	ret = l2s_rotation_finish(&next, &peer_index, st, &cur, frame, len);
	if (ret == L2S_OK) {
		index = s->pending_index;
		s->pending_index = 0;
		l2s_session_clear_pending(node, s);
		l2s_session_install_keys(node, s, &next, index, peer_index, 1, now);
		confirm_keys(node, s, now);
		s->rotations++;
		l2s_session_transition(node, s, L2S_ESTABLISHED, L2S_REASON_ROTATION_COMPLETE, now);
		l2s_delivery_resend_all(&s->dl);
	}
	l2s_session_keys_wipe(&cur);
	l2s_session_keys_wipe(&next);
	return ret;
}

/* ---- StoredSession ------------------------------------------------------------ */

int l2s_session_export(const struct l2s_node *node, uint32_t handle, uint8_t *out, size_t cap, size_t *len)
{
	const struct l2s_session *s = l2s_node_session(node, handle);
	struct l2s_stored_session st = { 0 };
	uint8_t *dl;
	size_t dl_len, need;
	int ret;

	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (!s->have_rs)
		return L2S_ERR_STATE;
	dl = malloc(l2s_delivery_export_size(&s->dl));
	if (!dl)
		return L2S_ERR_NOMEM;
	ret = l2s_delivery_export(&s->dl, L2S_DELIVERY_SEQ_RESERVE, dl, l2s_delivery_export_size(&s->dl), &dl_len);
	st.role = s->initiator ? L2S_ROLE_INITIATOR : L2S_ROLE_RESPONDER;
	memcpy(st.peer_pk, s->peer_pk, sizeof(st.peer_pk));
	memcpy(st.session_id, s->session_id, sizeof(st.session_id));
	memcpy(st.rs, s->rs, sizeof(st.rs));
	memcpy(st.rc, s->rc, sizeof(st.rc));
	memcpy(st.peer_prekey_id, s->peer_prekey_id, sizeof(st.peer_prekey_id));
	st.handshake_counter = node->hs_counter;
	st.created_ms = s->key_established;
	st.expires_ms = s->expires;
	if (s->ticket) {
		st.ticket_len = s->ticket_len;
		memcpy(st.ticket, s->ticket, s->ticket_len);
		st.ticket_not_after_ms = s->ticket_not_after;
	}
	st.delivery = dl;
	st.delivery_len = dl_len;
	need = l2s_store_sealed_len(st.ticket_len, dl_len);
	*len = need;
	if (ret == L2S_OK && cap < need)
		ret = L2S_ERR_LENGTH;
	if (ret == L2S_OK)
		ret = l2s_store_seal(out, cap, len, &st, node->storage_key, (struct l2s_rng *)&node->rng);
	l2s_stored_session_wipe(&st);
	free(dl);
	return ret;
}

int l2s_node_resume(struct l2s_node *node, const uint8_t *stored, size_t stored_len, const struct l2s_config *cfg,
		    uint32_t path, uint64_t now_ms, uint32_t *handle)
{
	struct l2s_stored_session st = { 0 };
	struct l2s_session *s;
	uint8_t *dl = malloc(stored_len ? stored_len : 1);
	int ret = l2s_config_check(cfg);

	if (!dl)
		return L2S_ERR_NOMEM;
	if (ret == L2S_OK)
		ret = l2s_store_open(&st, dl, stored_len, stored, stored_len, node->storage_key, now_ms);
	if (ret == L2S_OK && peer_quarantined(node, st.peer_pk, now_ms))
		ret = L2S_ERR_QUARANTINED;
	s = ret == L2S_OK ? l2s_session_alloc(node, cfg, now_ms) : NULL;
	if (ret == L2S_OK && !s)
		ret = L2S_ERR_NOMEM;
	if (ret == L2S_OK)
		ret = l2s_delivery_import(&s->dl, st.delivery, st.delivery_len);
	if (ret == L2S_OK) {
		memcpy(s->peer_pk, st.peer_pk, sizeof(s->peer_pk));
		memcpy(s->session_id, st.session_id, sizeof(s->session_id));
		memcpy(s->rs, st.rs, sizeof(s->rs));
		memcpy(s->rc, st.rc, sizeof(s->rc));
		memcpy(s->peer_prekey_id, st.peer_prekey_id, sizeof(s->peer_prekey_id));
		s->have_rs = 1;
		/* The role decides a collision of resumptions (§6): restored as
		 * saved, so that two sides restored together do not both insist. */
		s->initiator = st.role == L2S_ROLE_INITIATOR;
		s->path = path;
		if (st.handshake_counter > node->hs_counter)
			node->hs_counter = st.handshake_counter;
		if (st.ticket_len && (s->ticket = malloc(st.ticket_len))) {
			memcpy(s->ticket, st.ticket, st.ticket_len);
			s->ticket_len = (uint16_t)st.ticket_len;
			s->ticket_not_after = st.ticket_not_after_ms;
		}
		l2s_map_put(&node->by_sid, s->session_id, sizeof(s->session_id), s->slot);
		/* The peer's session here: a full handshake the peer starts
		 * replaces it and continues its streams (its queue included). */
		if (!session_by(node, &node->by_peer, s->peer_pk, sizeof(s->peer_pk)))
			l2s_map_put(&node->by_peer, s->peer_pk, sizeof(s->peer_pk), s->slot);
		l2s_session_transition(node, s, L2S_HANDSHAKE_INITIATED, L2S_REASON_INITIATE_HANDSHAKE, now_ms);
		ret = l2s_start_resume(node, s, now_ms);
	}
	if (ret == L2S_OK)
		*handle = s->handle;
	else if (s)
		l2s_session_destroy(node, s);
	l2s_stored_session_wipe(&st);
	free(dl);
	return ret;
}

/* ---- establish ------------------------------------------------------------------- */

int l2s_node_establish(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES], const uint8_t *bundle,
		       size_t bundle_len, uint64_t now_s, const struct l2s_config *cfg, uint32_t path,
		       uint64_t now_ms, uint32_t *handle)
{
	struct l2s_bundle b;
	struct l2s_session *s;
	int ret = l2s_config_check(cfg);

	if (ret == L2S_OK)
		ret = l2s_bundle_open(&b, bundle, bundle_len, peer_pk, now_s);
	if (ret != L2S_OK)
		return ret;
	if (peer_quarantined(node, peer_pk, now_ms))
		return L2S_ERR_QUARANTINED;
	s = l2s_session_alloc(node, cfg, now_ms);
	if (!s)
		return L2S_ERR_NOMEM;
	s->peer_bundle = malloc(L2S_PREKEY_BUNDLE_BYTES);
	if (!s->peer_bundle) {
		l2s_session_destroy(node, s);
		return L2S_ERR_NOMEM;
	}
	memcpy(s->peer_bundle, bundle, L2S_PREKEY_BUNDLE_BYTES);
	memcpy(s->peer_pk, peer_pk, sizeof(s->peer_pk));
	l2s_prekey_id(s->peer_prekey_id, b.prekey_pk);
	s->initiator = 1;
	s->path = path;
	l2s_session_transition(node, s, L2S_HANDSHAKE_INITIATED, L2S_REASON_INITIATE_HANDSHAKE, now_ms);
	ret = l2s_start_handshake(node, s, now_ms);
	if (ret != L2S_OK) {
		l2s_session_destroy(node, s); /* the caller gets no half-made session */
		return ret;
	}
	*handle = s->handle;
	return L2S_OK;
}

int l2s_session_set_bundle(struct l2s_node *node, uint32_t handle, const uint8_t *bundle, size_t bundle_len,
			   uint64_t now_s)
{
	struct l2s_session *s = l2s_node_session(node, handle);
	struct l2s_bundle b;
	int ret;

	if (!s)
		return L2S_ERR_NOT_FOUND;
	ret = l2s_bundle_open(&b, bundle, bundle_len, s->peer_pk, now_s);
	if (ret != L2S_OK)
		return ret;
	if (!s->peer_bundle && !(s->peer_bundle = malloc(L2S_PREKEY_BUNDLE_BYTES)))
		return L2S_ERR_NOMEM;
	memcpy(s->peer_bundle, bundle, L2S_PREKEY_BUNDLE_BYTES);
	l2s_prekey_id(s->peer_prekey_id, b.prekey_pk);
	return L2S_OK;
}
