// SPDX-License-Identifier: Apache-2.0
/* The node's side of every key exchange (PROTOCOL.md §4-§8,
 * STATE_MACHINE.md): what they share. Node-wide tables (identity, prekey,
 * replay and quarantine), crossing handshakes, the pending exchange of a
 * session and its re-sends, and a session becoming established. The
 * exchanges: establish.c, resumption.c, rotate.c, stored.c; their
 * cryptography: handshake/. */
#include "engine/exchange.h"

/* A responder that gave us a cookie is under load and answers each address
 * only its fair share (two at once, then one a second, LOADED_BURST): early
 * re-sends would spend it on attempts whose answers we then refuse, every
 * time the round trip is longer than the first gaps. With a cookie the
 * first re-send waits half the timeout. */
uint64_t l2s_exchange_resend_interval(struct l2s_session *s)
{
	unsigned int first = s->pending == PENDING_HANDSHAKE && s->have_cookie ? 2 : 0;
	unsigned int k = s->pending_sends + first < 3 ? s->pending_sends + first : 3;

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
	if (ret == L2S_OK && p->has_previous_prekey) {
		ret = l2s_prekey_init(&node->previous_prekey, p->previous_prekey_seed);
		node->has_previous_prekey = ret == L2S_OK;
	}
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
	l2s_prekey_wipe(&node->previous_prekey);
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
	/* Secrets that age: the cookie secret (120 s), the ticket keys, the
	 * prepared handshakes' ephemeral keys (10 s). */
	l2s_cookie_secrets_update(&node->x->cookies, &node->rng, now);
	l2s_ticket_keys_update(&node->x->tickets, &node->rng, now);
	l2s_node_expire_prepared(node, now);
}

int l2s_node_prekey_bundle(const struct l2s_node *node, uint8_t out[L2S_PREKEY_BUNDLE_BYTES])
{
	memcpy(out, node->bundle, L2S_PREKEY_BUNDLE_BYTES);
	return L2S_OK;
}

int l2s_node_renew_prekey(struct l2s_node *node, const uint8_t seed[L2S_XWING_SK_BYTES], uint64_t not_after_s)
{
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_prekey fresh;
	int ret = l2s_prekey_init(&fresh, seed);

	if (ret == L2S_OK)
		ret = l2s_bundle_make(bundle, &node->id, fresh.pk, not_after_s);
	if (ret == L2S_OK) {
		l2s_prekey_wipe(&node->previous_prekey);
		node->previous_prekey = node->prekey;
		node->has_previous_prekey = 1;
		node->prekey = fresh;
		memcpy(node->bundle, bundle, sizeof(bundle));
	}
	l2s_prekey_wipe(&fresh);
	return ret;
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

int l2s_exchange_peer_quarantined(const struct l2s_node *node, const uint8_t pk[32], uint64_t now)
{
	return l2s_quarantine_until(&node->x->quarantine, L2S_QUARANTINE_IDENTITY, pk, 32, now) != 0;
}

struct l2s_session *l2s_exchange_session_by(struct l2s_node *node, struct l2s_map *m, const uint8_t *key, size_t len)
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
void l2s_exchange_drop_half_open(struct l2s_node *node, const uint8_t pk[32], uint64_t now)
{
	struct l2s_session *old = l2s_exchange_session_by(node, &node->by_half, pk, 32);

	if (old && (old->pending == PENDING_ACCEPT || old->pending == PENDING_RESUMED) &&
	    old->state == L2S_HANDSHAKE_RECEIVED) {
		l2s_map_del(&node->by_half, pk, 32);
		l2s_session_transition(node, old, L2S_FAILED, L2S_REASON_TIMEOUT, now);
		l2s_session_transition(node, old, L2S_STATE_END, L2S_REASON_CLEANUP, now);
		l2s_session_destroy(node, old);
	}
}

/* Crossing full handshakes (§4.3): both sides must end on the same one, so
 * the side with the larger identity key has priority. While its own
 * handshake with the peer is in flight it ignores the peer's, and when its
 * own completes it drops an unconfirmed answer to the peer's. The other side
 * answers, and the confirmed answer replaces its own attempt. */
int l2s_exchange_has_priority(const struct l2s_node *node, const uint8_t peer_pk[32])
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

int l2s_exchange_crossing_ours_wins(struct l2s_node *node, const uint8_t peer_pk[32])
{
	return l2s_exchange_has_priority(node, peer_pk) && own_handshake(node, peer_pk);
}

/* ---- pending exchanges ------------------------------------------------------- */

/* Starts the timeout once per exchange; re-sends keep the first deadline. */
void l2s_exchange_arm_pending(struct l2s_session *s, int kind, uint64_t now)
{
	if (s->pending != kind || !s->pending_deadline) {
		s->pending_deadline = now + s->cfg.handshake_timeout_ms;
		s->pending_sends = 0;
	}
	s->pending = (uint8_t)kind;
	s->pending_resend = now + l2s_exchange_resend_interval(s);
}

void l2s_exchange_current_keys(const struct l2s_session *s, struct l2s_session_keys *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->session_id, s->session_id, sizeof(k->session_id));
	memcpy(k->rs, s->rs, sizeof(k->rs));
	memcpy(k->rc, s->rc, sizeof(k->rc));
}

struct l2s_session *l2s_exchange_pending_session(struct l2s_node *node, uint32_t index, int kind)
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
int l2s_exchange_initiator_auth_failed(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	quarantine_peer(node, s, now);
	if (s->state == L2S_HANDSHAKE_INITIATED)
		l2s_session_fail(node, s, L2S_REASON_AUTHENTICATION_FAILED, now);
	return L2S_ERR_AUTH;
}

void l2s_exchange_confirm_keys(struct l2s_node *node, struct l2s_session *s)
{
	l2s_send_simple(node, s, L2S_FRAME_CONFIRM, 0);
}


/* ---- load ------------------------------------------------------------------- */

/* The node as a whole: too many requests per second, or half-open handshakes. */
int l2s_exchange_loaded(struct l2s_node *node, uint64_t now)
{
	return node->half_open >= node->load_limit || l2s_load_high(&node->x->load, now);
}

/* Under load every address, proven or not, gets an equal small share of
 * the work: a flood from many addresses cannot starve one more. */
int l2s_exchange_fair_share(struct l2s_node *node, const uint8_t *addr, size_t addr_len, uint64_t now)
{
	return !l2s_exchange_loaded(node, now) || l2s_ratelimit_allow(&node->x->loaded, addr, addr_len, now);
}

/* ---- established ------------------------------------------------------------- */

/* A confirmed full handshake with a peer we already had a session with
 * replaces that session: it ends (audit event "replaced") and the new one
 * continues its streams (what was received, what is unacknowledged), so no
 * message is lost or delivered twice. Until this moment the old session was
 * untouched, so a replayed or unfinished handshake changes nothing. */
static void replace_old_session(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_session *old = l2s_exchange_session_by(node, &node->by_peer, s->peer_pk, sizeof(s->peer_pk));

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

static void send_ticket(struct l2s_node *node, struct l2s_session *s, uint64_t now)
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
			l2s_send_frame(node, s, frame, len);
	}
	l2s_ticket_contents_wipe(&c);
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
	l2s_heartbeat_restart(s, now);
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
	if (reason == L2S_REASON_SEND_RESPONSE_ACK && !l2s_exchange_has_priority(node, s->peer_pk))
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
	if (l2s_exchange_session_by(node, &node->by_half, s->peer_pk, sizeof(s->peer_pk)) == s)
		l2s_map_del(&node->by_half, s->peer_pk, sizeof(s->peer_pk)); /* no longer half-open */
	l2s_delivery_resend_all(&s->dl);
	if (!s->initiator)
		send_ticket(node, s, now);
	l2s_send_flush(node, s, now);
}

void l2s_exchange_accepted_event(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_event ev;

	l2s_session_event(&ev, L2S_EV_ACCEPTED, s, now);
	l2s_node_event(node, &ev, NULL, 0);
}

/* Why a session that answered a handshake or resumption is now established. */
static int confirmed_reason(const struct l2s_session *s)
{
	switch (s->state) {
	case L2S_HANDSHAKE_RECEIVED:
		return L2S_REASON_SEND_RESPONSE_ACK;
	case L2S_DEGRADED:
		return L2S_REASON_CONNECTIVITY_RESTORED;
	default:
		return L2S_REASON_RECEIVE_VALID_RESPONSE;
	}
}

/* The first frame under keys we have not sent with yet confirms them: for a
 * responder this completes the handshake (handshake_received -> established),
 * after a rotation it moves sending to the new keys. */
void l2s_keys_confirmed(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	int pending = s->pending, establishes = s->next_establishes;

	l2s_session_promote_next(node, s, now);
	/* The rotation we answered is confirmed: its cached answer goes. */
	free(s->rot_resp);
	s->rot_resp = NULL;
	/* Keys that answer a handshake or resumption establish the session,
	 * also when their wait timed out while it stayed established. */
	if (establishes) {
		if (pending == PENDING_ACCEPT || pending == PENDING_RESUMED)
			l2s_session_clear_pending(node, s);
		l2s_session_established(node, s, confirmed_reason(s), now);
	} else {
		/* Next keys that come from neither a handshake nor a resumption
		 * come from a rotation our peer started and we answered: it is
		 * complete, and counted on this side too. */
		if (s->state == L2S_ROTATING)
			l2s_session_transition(node, s, L2S_ESTABLISHED, L2S_REASON_ROTATION_COMPLETE, now);
		s->rotations++;
	}
}

int l2s_on_close(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	l2s_session_end(node, s, L2S_EV_CLOSED, L2S_REASON_CLOSED, now);
	return L2S_OK;
}
