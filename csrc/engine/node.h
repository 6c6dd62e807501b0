/* SPDX-License-Identifier: Apache-2.0 */
/* The node and its sessions: the engine's internal structures and the
 * functions its files share, listed by file from the bottom layer up. */
#ifndef L2S_NODE_H
#define L2S_NODE_H

#include "lib/backoff.h"
#include "handshake/cookie.h"
#include "lib/counter_table.h"
#include "lib/fifo.h"
#include "engine/delivery.h"
#include "handshake/handshake.h"
#include "handshake/identity.h"
#include "crypto/kdf.h"
#include "engine/keypair.h"
#include "l2s.h"
#include "lib/map.h"
#include "handshake/nonce_cache.h"
#include "handshake/prekey.h"
#include "engine/quarantine.h"
#include "handshake/load.h"
#include "lib/ratelimit.h"
#include "crypto/rng.h"
#include "handshake/ticket.h"
#include "lib/timers.h"
#include "wire/wire.h"

/* The three key pairs of a session (WireGuard's scheme): new keys are used for
 * sending only once the peer has confirmed them, old receive keys linger for
 * key_grace so frames in flight still decrypt. */
enum { KP_PREV, KP_CUR, KP_NEXT, KP_COUNT };

/* The exchange a session is waiting on, if any. */
enum pending_kind {
	PENDING_NONE,
	PENDING_HANDSHAKE, /* we sent HANDSHAKE_INIT */
	PENDING_ACCEPT,    /* we sent HANDSHAKE_RESP, await the initiator's first frame */
	PENDING_RESUME,    /* we sent RESUME_INIT */
	PENDING_RESUMED,   /* we sent RESUME_RESP, await the resumer's first frame */
	PENDING_ROTATION,  /* we sent ROTATE_INIT */
};

/* A handle: generation << SLOT_BITS | (slot + 1), so a stale one fails. */
#define SLOT_BITS 21
#define SLOT_MASK ((1u << SLOT_BITS) - 1)

/* Sessions a receive batch remembers; one more is flushed at once. */
#define L2S_NODE_BATCH_SESSIONS 64

/* Prepared handshakes (prepare.c): a few, each used once and young. */
#define L2S_PREPARED_HANDSHAKES 4
#define L2S_PREPARED_MAX_AGE_MS 10000

struct prepared_hs {
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES]; /* verified when prepared */
	uint64_t made_ms; /* 0: empty */
	struct l2s_hs_prepared hs;
};

struct l2s_session {
	uint32_t handle, slot;
	uint8_t state, failure_reason;
	uint8_t initiator;  /* our role in the handshake that created the keys */
	uint8_t pending;    /* enum pending_kind */
	uint8_t need_sync;  /* send SYNC once keys are confirmed */
	uint8_t flush_owed; /* in a receive batch: flushed at its end */
	uint8_t have_rs;
	uint8_t have_cookie;
	uint8_t resume_failed;   /* the next attempt is a full handshake (when we hold the bundle) */
	uint8_t resume_timeouts; /* resumptions timed out since the session was last established */
	uint8_t hs_timeouts;     /* full handshakes timed out since then */
	uint8_t was_established; /* in this node's life */
	uint8_t kp_valid[KP_COUNT];
	struct l2s_config cfg;
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES];
	uint8_t rs[32], rc[32];        /* confirmed: what resumption and rotation use */
	uint8_t rs_next[32], rc_next[32]; /* from keys the peer has not confirmed yet */
	uint8_t have_rs_next;
	uint8_t next_establishes; /* the next keys answer a handshake or resumption (not a rotation) */
	uint8_t peer_prekey_id[8];
	uint32_t path;
	uint32_t pending_index; /* our index for the exchange in flight */
	uint32_t pending_sends; /* times it was sent */
	void *pending_state;    /* handshake / resumption / rotation secrets */
	uint8_t *peer_bundle;   /* for a full handshake when resumption fails, from either side */
	uint8_t cookie[L2S_COOKIE_BYTES]; /* the responder's cookie, when it sent one */
	uint8_t *rot_resp;      /* our last ROTATE_RESP frame, re-sent for a repeated request */
	uint32_t rot_answered;  /* the rotation_id it answered */
	uint8_t *ticket;        /* the peer's ticket for resuming with it */
	uint16_t ticket_len;
	uint64_t ticket_not_after;
	struct l2s_keypair kp[KP_COUNT];
	struct l2s_delivery dl;

	uint64_t state_since;
	uint64_t pending_deadline;  /* the exchange in flight times out */
	uint64_t pending_resend;    /* the exchange's next retransmission */
	uint64_t last_rx;           /* last authenticated frame from the peer */
	uint64_t hb_next;           /* next heartbeat to send */
	uint64_t hb_reply_deadline; /* reply due for the outstanding heartbeat */
	uint64_t hb_counter;        /* last heartbeat counter we sent */
	uint64_t hb_outstanding;    /* the counter awaiting a reply, 0 when none */
	uint64_t hb_sent;           /* when it went out */
	uint64_t last_data_rx;      /* last DATA or ACK frame from the peer */
	uint64_t quarantine_until;  /* the peer was verified and misbehaved */
	uint64_t hb_peer_counter;   /* last heartbeat counter the peer sent */
	uint64_t path_down_since;   /* 0 while the transport reports connectivity */
	uint64_t retry_at;          /* failed / suspended: next attempt */
	uint64_t expires;           /* session TTL; heartbeats extend it */
	uint64_t key_established;   /* birth of the current keys */
	uint64_t grace_end;         /* previous keys are wiped then */
	uint32_t missed, retries, rotations, rotation_id;
	uint64_t hs_counter;        /* our handshake counter towards the peer */
};

struct out_item {
	struct l2s_fifo_link link;
	uint32_t session, path;
	int type; /* enum l2s_msg_type */
	size_t len;
	uint8_t data[];
};

struct ev_item {
	struct l2s_fifo_link link;
	struct l2s_event ev;
	uint8_t data[];
};

/* Node-wide tables of the key exchanges. */
struct l2s_node_extra {
	struct l2s_cookie_secrets cookies;
	struct l2s_ticket_keys tickets;
	struct l2s_ratelimit ratelimit;
	struct l2s_ratelimit loaded;       /* per address while under load: LOADED_RATE_PER_S */
	struct l2s_load load;
	struct l2s_counter_table counters; /* largest handshake counter per initiator */
	struct l2s_nonce_cache nonces;     /* RESUME_INIT nonces seen */
	struct l2s_quarantine quarantine;
};

enum {
	L2S_STAT_RX_OK,
	L2S_STAT_RX_DROPPED,
	L2S_STAT_EVENTS_LOST,
	L2S_STAT_COUNT,
};

struct l2s_node {
	struct l2s_identity id;
	struct l2s_prekey prekey;
	struct l2s_prekey previous_prekey; /* when has_previous_prekey */
	int has_previous_prekey;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	uint8_t storage_key[32];
	struct l2s_rng rng;
	struct l2s_config accept_cfg;
	uint32_t max_sessions, load_limit, rate_per_s, work_per_s;
	int reliable_paths; /* l2s_node_params.reliable_paths */

	struct l2s_session **slots; /* by slot; NULL when free */
	uint16_t *generation;       /* by slot, so stale handles fail */
	uint32_t *free_slots, nfree;
	uint32_t live, half_open;

	struct l2s_map by_index; /* our receiver index -> slot << 2 | key pair */
	struct l2s_map by_peer;  /* peer identity -> slot of its current session */
	struct l2s_map by_sid;   /* session id -> slot */
	struct l2s_map by_half;  /* peer identity -> slot of its unconfirmed inbound handshake */
	struct l2s_map by_path;  /* path -> index into bindings */
	uint8_t (*bindings)[32]; /* channel binding per bound path */
	uint32_t *binding_paths; /* the path of each binding, to move the last into a cleared slot */
	uint32_t nbindings, binding_cap;
	struct l2s_timers timers;

	struct l2s_fifo outputs, events;
	struct out_item *out_current; /* the last taken: freed on the next call */
	struct ev_item *ev_current;

	/* a receive batch (l2s_node_receive_begin): the sessions owed a flush */
	int batching;
	uint32_t owed[L2S_NODE_BATCH_SESSIONS], nowed;

	struct l2s_node_extra *x;
	uint64_t hs_counter; /* the last handshake counter we used */
	uint64_t stats[L2S_STAT_COUNT];
	struct prepared_hs prepared[L2S_PREPARED_HANDSHAKES]; /* wiped with the node */
	uint64_t prepared_used;

	/* Work buffers, so that no 64 KiB message sits on the stack. */
	uint8_t scratch[L2S_MAX_MESSAGE];
	uint8_t frame_scratch[L2S_FRAME_MAX_BYTES];
	uint8_t rx_scratch[L2S_FRAME_MAX_BYTES];
};

/* Index map values: which key pair (or pending exchange) an index names. */
#define INDEX_PENDING 3
static inline uint32_t index_value(uint32_t slot, int kp)
{
	return slot << 2 | (uint32_t)kp;
}

/* The engine's files, bottom to top; each calls only the ones above it in
 * this list (tests/python/test_layers.py checks that the graph has no cycle). */

/* tables.c */
int l2s_node_tables_init(struct l2s_node *node);
void l2s_node_tables_free(struct l2s_node *node);
struct l2s_session *l2s_node_session(const struct l2s_node *node, uint32_t handle);
uint32_t l2s_node_new_index(struct l2s_node *node, uint32_t slot, int kp);
void l2s_node_drop_index(struct l2s_node *node, uint32_t index);
int l2s_node_output(struct l2s_node *node, struct l2s_session *s, const uint8_t *msg, size_t len);
/* For messages that belong to no session (cookie replies). */
int l2s_node_output_path(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len);
void l2s_node_event(struct l2s_node *node, const struct l2s_event *ev, const uint8_t *data, size_t len);
const uint8_t *l2s_node_binding(const struct l2s_node *node, uint32_t path);
/* In a receive batch: 1 when s's flush was put off to the batch's end. */
int l2s_node_defer_flush(struct l2s_node *node, struct l2s_session *s);

/* The data of the event l2s_node_next_event returned last, handed over
 * instead of copied (a MESSAGE's plaintext): it stays where ev.data points
 * until l2s_node_event_data_free(item), which wipes it. NULL: no data. */
void *l2s_node_adopt_event_data(struct l2s_node *node);
void l2s_node_event_data_free(void *item);

/* prepare.c: l2s_node_prepare_handshake in three steps, the middle one
 * without the node (so outside its lock); put wipes the job and says
 * whether it held a prepared handshake. */
struct l2s_prepare_job {
	struct prepared_hs p;
	struct l2s_rng rng;
	int made;
};
void l2s_node_prepare_begin(struct l2s_node *node, struct l2s_prepare_job *job);
int l2s_prepare_job_make(struct l2s_prepare_job *job, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
			 const uint8_t *bundle, size_t bundle_len, uint64_t now_s);
int l2s_node_prepare_put(struct l2s_node *node, struct l2s_prepare_job *job, uint64_t now_ms);
void l2s_node_expire_prepared(struct l2s_node *node, uint64_t now_ms);
uint64_t l2s_node_prepared_expiry(const struct l2s_node *node);
int l2s_node_has_prepared(const struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
			  const uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], uint64_t now_ms);
int l2s_node_open_bundle(const struct l2s_node *node, struct l2s_bundle *b, const uint8_t *bundle, size_t len,
			 const uint8_t peer_pk[L2S_ED25519_PK_BYTES], uint64_t now_s);
struct l2s_hs_prepared *l2s_node_take_prepared(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
					       const uint8_t prekey_pk[L2S_XWING_PK_BYTES], uint64_t now);

/* keys.c */
void l2s_session_install_keys(struct l2s_node *node, struct l2s_session *s, const struct l2s_session_keys *k,
			      uint32_t local_index, uint32_t remote_index, int can_send, uint64_t now);
void l2s_session_promote_next(struct l2s_node *node, struct l2s_session *s, uint64_t now);
void l2s_session_drop_keys(struct l2s_node *node, struct l2s_session *s, int which);
void l2s_session_clear_pending(struct l2s_node *node, struct l2s_session *s);

/* send.c */
int l2s_send_frame(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len);
void l2s_send_flush(struct l2s_node *node, struct l2s_session *s, uint64_t now);
int l2s_send_simple(struct l2s_node *node, struct l2s_session *s, int type, uint64_t value);

/* heartbeat.c */
void l2s_heartbeat_restart(struct l2s_session *s, uint64_t now);
void l2s_heartbeat_activity(struct l2s_session *s, uint64_t now);
uint64_t l2s_heartbeat_deadline(const struct l2s_session *s);
/* 1 when a reply was missed (what that does is the caller's judgement). */
int l2s_heartbeat_reply_missed(struct l2s_session *s, uint64_t now);
void l2s_heartbeat_send_due(struct l2s_node *node, struct l2s_session *s, uint64_t now);
int l2s_heartbeat_on_reply(struct l2s_session *s, uint64_t counter, uint64_t now);
int l2s_heartbeat_on_request(struct l2s_node *node, struct l2s_session *s, uint64_t counter);

/* schedule.c */
void l2s_schedule(struct l2s_node *node, struct l2s_session *s);
/* After running a session's timers: nothing may be due again at once. */
void l2s_schedule_after(struct l2s_node *node, struct l2s_session *s, uint64_t now);
int l2s_schedule_rotation_now(const struct l2s_session *s, uint64_t now);
uint64_t l2s_schedule_rotation_answer_due(const struct l2s_session *s);
void l2s_session_activity(struct l2s_node *node, struct l2s_session *s, uint64_t now);

/* session.c */
struct l2s_session *l2s_session_alloc(struct l2s_node *node, const struct l2s_config *cfg, uint64_t now);
void l2s_session_destroy(struct l2s_node *node, struct l2s_session *s);
int l2s_session_transition(struct l2s_node *node, struct l2s_session *s, int to, int reason, uint64_t now);
void l2s_session_event(struct l2s_event *ev, int type, const struct l2s_session *s, uint64_t now);
void l2s_session_warning(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now);
void l2s_session_end(struct l2s_node *node, struct l2s_session *s, int type, int reason, uint64_t now);
void l2s_session_fail(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now);

/* exchange.c */
int l2s_node_identity_init(struct l2s_node *node, const struct l2s_node_params *p, uint64_t now);
void l2s_node_extra_free(struct l2s_node *node);
void l2s_node_extra_tick(struct l2s_node *node, uint64_t now);
void l2s_session_established(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now);
/* The peer showed it holds our next keys: promote them and finish what they
 * began: a handshake or resumption we answered is established (and owes its
 * SYNC), a rotation we answered is complete. */
void l2s_keys_confirmed(struct l2s_node *node, struct l2s_session *s, uint64_t now);
int l2s_on_close(struct l2s_node *node, struct l2s_session *s, uint64_t now);

/* establish.c */
int l2s_start_handshake(struct l2s_node *node, struct l2s_session *s, uint64_t now);
int l2s_on_handshake_init(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
			  const uint8_t *msg, size_t len, uint64_t now);
int l2s_on_handshake_resp(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len, uint64_t now);
int l2s_on_cookie_reply(struct l2s_node *node, const uint8_t *msg, size_t len, uint64_t now);

/* resumption.c */
int l2s_start_resume(struct l2s_node *node, struct l2s_session *s, uint64_t now);
int l2s_on_resume_init(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
		       const uint8_t *msg, size_t len, uint64_t now);
int l2s_on_resume_resp(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len, uint64_t now);
int l2s_on_ticket(struct l2s_node *node, struct l2s_session *s, const struct l2s_frame *f, uint64_t now);

/* rotate.c */
int l2s_start_rotation(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now);
int l2s_resend_rotation(struct l2s_node *node, struct l2s_session *s, uint64_t now);
int l2s_on_rotate_init(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len,
		       const struct l2s_frame *f, uint64_t now);
int l2s_on_rotate_resp(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len,
		       const struct l2s_frame *f, uint64_t now);

/* timeouts.c */
void l2s_session_on_timers(struct l2s_node *node, struct l2s_session *s, uint64_t now);

/* receive.c */
/* *type: the message's type once its header decoded, else 0. */
int l2s_receive(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len, const uint8_t *msg,
		size_t len, uint64_t now, int *type);

/* node.c: the public entry points (l2s.h), on top. */

#endif /* L2S_NODE_H */
