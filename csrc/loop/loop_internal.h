/* SPDX-License-Identifier: Apache-2.0 */
/* The event loop's parts (l2s_loop.h), bottom to top. A file calls only
 * files listed above it, so that no two depend on each other through a
 * cycle (tests/python/test_layers.py):
 *
 *   clock.c       monotonic ms (the engine's time) and μs, wall-clock s
 *   path.c        the path table: one transport connection each, what is
 *                 done to one (open, send, close, trust) and its held outputs
 *   loop_event.c  the application's event queue
 *   loop_disc.c   answering discovery probes, raw and in-band
 *   peer.c        the peer table: find, add, what a restart delivered,
 *                 whether to keep connected, the reconnect backoff; idle
 *                 inbound connections no session uses
 *   loop_inbox.c  delivered messages into the inbox file (inbox.c)
 *   carry.c       a peer's session put on its carrier: moved, established,
 *                 or an in-band probe for the peer's bundle first
 *   race.c        the QUIC/μTCP race, fallback, return, reconnect; following
 *                 the engine's move; the peers' timers
 *   node_event.c  the engine's events: admitted, tracked by their peer,
 *                 passed on to the application
 *   dispatch.c    the transports' events in, the engine's outputs out
 *   loop.c        life, rounds, epoll
 *   loop_api.c    the calls other threads make
 *
 * Every function here expects the loop's mutex held. */
#ifndef L2S_LOOP_INTERNAL_H
#define L2S_LOOP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "handshake/cookie.h"
#include "lib/fifo.h"
#include "engine/delivery.h"
#include "transport/discovery.h"
#include "handshake/identity.h"
#include "loop/inbox.h"
#include "l2s_loop.h"
#include "transport/quic.h"
#include "transport/tcp.h"
#include "lib/map.h"
#include "lib/ratelimit.h"
#include "crypto/rng.h"

#define LOOP_INBOX_RETRY_MS 1000 /* a refused session tries the inbox again after this */
#define LOOP_ADDR_BYTES 17 /* family (4 or 6) || IP: what the engine keys rate limits on */
#define LOOP_MAX_REFUSED 64 /* sessions refused in one round whose answers are held back */
/* Per path: engine outputs a full transport refused, kept (copied) and sent
 * first as it drains. One session's whole byte window and its control
 * frames fit; beyond it an output is dropped and counted (the engine
 * retransmits DATA on its timeout). Memory is only taken while held. */
#define LOOP_HOLD_BYTES (L2S_DELIVERY_WINDOW_BYTES + 4 * L2S_MAX_MESSAGE)

/* One held output. */
struct lheld {
	struct l2s_fifo_link link;
	size_t len;
	uint8_t data[];
};

/* One transport connection, named for the engine by a path id. */
/* Why a probe is out on a path (lpath.probing): the carrier's first (no
 * valid bundle to start a session with; no answer drops the carrier), or a
 * refresh of the bundle a live session falls back with (no answer changes
 * nothing). */
enum { PROBE_NONE, PROBE_FIRST, PROBE_REFRESH };

struct lpath {
	uint32_t id;                  /* 0: a free slot */
	int kind;                     /* enum l2s_transport_kind */
	uint32_t conn;                /* the transport's handle */
	int outbound, connected;
	uint32_t peer;                /* index + 1 of the peer it was opened for or serves; 0: none yet */
	struct sockaddr_storage sa;
	socklen_t sa_len;
	uint8_t addr[LOOP_ADDR_BYTES];
	size_t addr_len;
	uint64_t opened_ms, last_rx_ms;
	uint64_t busy_since;          /* a carrier: data in flight since then, 0: none (race.c) */
	int probing;                  /* an in-band DISCOVERY_PROBE is out on it: PROBE_* */
	uint64_t probe_deadline;      /* ... and its answer is due then */
	int closing;                  /* closed for idleness; CLOSED will follow */
	int trusted;                  /* a session authenticated on it: never shed */
	struct l2s_fifo held;         /* refused by the full transport, in order */
	size_t held_bytes;            /* at most LOOP_HOLD_BYTES */
	uint8_t nonce[L2S_DISC_NONCE_BYTES];
};

enum { STARTED_NONE, STARTED_HANDSHAKE, STARTED_RESUME };

/* lpeer.preparing. A carrier that comes up while the caller's job runs
 * waits for it (HELD), at most PREPARE_HOLD_MS: the job is ~0.2 ms of work
 * and would be done twice otherwise. */
enum { PREPARING_NONE, PREPARING, PREPARING_HELD };
#define PREPARE_HOLD_MS 10

/* A peer: configured with l2s_loop_add_peer, or the DID of an inbound session. */
struct lpeer {
	uint8_t pk[L2S_ED25519_PK_BYTES];
	uint32_t index;               /* in the loop's array, + 1 */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int connect, configured, closed;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	int has_bundle;
	int imported;                 /* the session came from l2s_loop_import: resume it toward addr */
	/* Delivered before a restart (the inbox says so): a MESSAGE of one of
	 * these streams at or below its seq is acknowledged, not delivered. */
	struct {
		uint8_t stream[L2S_STREAM_ID_BYTES];
		uint64_t upto;
	} delivered_streams[L2S_LOOP_DELIVERED_STREAMS];
	uint32_t ndelivered_streams;
	uint32_t inbox_refused;       /* the session refusing DATA since the inbox failed, 0: none */
	uint64_t inbox_retry_at;      /* when it takes DATA again (0: it does; a failure in this round) */
	int inbox_down;               /* the inbox failed for this peer's messages, and has not worked since */
	uint32_t session;             /* engine handle, 0: none */
	int started;                  /* how this side started the session: STARTED_* */
	uint32_t path;                /* the path that carries the session (ours to choose when connecting) */
	int path_kind;                /* its transport, as the application last saw it */
	uint32_t quic_try, tcp_try;   /* connections being made, path ids */
	uint64_t tcp_at;              /* happy eyeballs: start μTCP then (0: not armed) */
	uint64_t quic_retry_at;       /* on μTCP: try QUIC again then (0: not armed) */
	uint64_t reconnect_at;        /* everything down: start again then (0: not armed) */
	uint32_t attempt;             /* reconnects since the last success, for the backoff */
	uint64_t resume_from_ms;      /* import or reconnect start, 0: none */
	uint64_t established_ms, resume_ms;
	int exchange_type;            /* the HANDSHAKE_INIT or RESUME_INIT we sent last, 0: none */
	uint64_t exchange_sent_us;    /* when its first copy went to the transport */
	uint64_t handshake_us, resume_us; /* that to its answer, last time */
	uint32_t fallbacks, returns;
	uint64_t tx_messages, rx_messages, delivered;
	int prepare;                  /* a full handshake's INIT to prepare after this round's flush */
	int preparing;                /* PREPARING_*: the application's thread prepares it (l2s_loop_connect_prepared) */
};

struct levent {
	struct l2s_fifo_link link;
	struct l2s_loop_event ev;
	void *adopted; /* the engine's item ev.data points into (l2s_node_adopt_event_data), or NULL */
	uint8_t data[];
};

/* One transport's fds as registered with epoll; the second half of fds is
 * room for the next round's set. */
struct loop_fds {
	int kind;        /* L2S_TRANSPORT_QUIC or _UTCP: epoll's tag */
	struct pollfd *fds;
	size_t n, cap;
};

struct l2s_loop {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int events_unannounced;       /* events pushed since the cv was last broadcast */
	atomic_int stopping;
	atomic_int wake_pending;      /* wakefd written since the loop last looked: no need again */
	int epfd, wakefd;
	unsigned test_prepare_delay_ms, test_prepare_hold_ms; /* l2s_loop_test_prepare_delay */
	struct l2s_loop_params p;     /* node secrets wiped on free */
	struct l2s_inbox inbox;
	struct l2s_node *node;
	struct l2s_quic *quic;        /* NULL with no_quic */
	struct l2s_tcp *tcp;          /* NULL with no_utcp */
	struct sockaddr_storage local;
	socklen_t local_len;
	struct l2s_rng rng;
	uint64_t idle_check_at;       /* next look for idle inbound connections */
	int prepares_due;             /* some peer's prepare is set */
	uint64_t closed_at_trim;      /* μTCP connections closed when memory was last given back */

	/* discovery responder */
	struct l2s_identity id;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_cookie_secrets disc_secrets;
	struct l2s_ratelimit disc_rl;
	struct l2s_disc_transport offered[2];
	size_t n_offered;

	/* paths */
	struct lpath *paths;
	uint32_t npaths, next_path_id;
	uint32_t paths_holding;       /* paths with held outputs */
	struct l2s_map path_by_id, path_by_conn;

	/* peers */
	struct lpeer **peers;
	uint32_t npeers;
	struct l2s_map peer_by_pk;

	struct l2s_budget budget;     /* the node's memory budget (l2s_loop.h) */

	/* the transports' fds registered with epoll last round */
	struct loop_fds quic_fds, tcp_fds;

	/* sessions closed at ACCEPTED this round: their answers never leave */
	uint32_t refused[LOOP_MAX_REFUSED];
	uint32_t nrefused;

	/* application events */
	struct l2s_fifo events;
	struct l2s_fifo taken;        /* what the application took last (data still valid) */
	uint64_t ev_bytes;            /* queued events' bytes, drawn from the budget */

	struct l2s_loop_stats st;
};

/* clock.c */
uint64_t l2s_loop_now(void);
uint64_t l2s_loop_now_us(void);
uint64_t l2s_loop_unix_s(void);

/* path.c */
int l2s_loop_paths_init(struct l2s_loop *l);
void l2s_loop_paths_free(struct l2s_loop *l);
struct lpath *l2s_path_get(struct l2s_loop *l, uint32_t id);
struct lpath *l2s_path_by_conn(struct l2s_loop *l, int kind, uint32_t conn);
struct lpath *l2s_path_open(struct l2s_loop *l, int kind, uint32_t conn, int outbound,
			    const struct sockaddr_storage *sa, socklen_t sa_len, uint64_t now);
void l2s_path_set_addr(struct lpath *p, const struct sockaddr_storage *sa, socklen_t sa_len);
void l2s_path_free(struct l2s_loop *l, struct lpath *p);
void l2s_path_close(struct l2s_loop *l, struct lpath *p, uint64_t now);
int l2s_path_kind(struct l2s_loop *l, uint32_t id);
int l2s_path_send(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len);
int l2s_path_in_flight(struct l2s_loop *l, struct lpath *p);
uint64_t l2s_path_last_rx(struct l2s_loop *l, struct lpath *p);
void l2s_path_trust(struct l2s_loop *l, struct lpath *p);
int l2s_path_output(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len);
void l2s_paths_send_held(struct l2s_loop *l);

/* loop_event.c */
void l2s_loop_event_push(struct l2s_loop *l, const struct l2s_loop_event *ev, const uint8_t *data, size_t len);
void l2s_loop_event_push_adopted(struct l2s_loop *l, const struct l2s_loop_event *ev, const uint8_t *data, size_t len,
				 void *adopted);
void l2s_loop_unlock(struct l2s_loop *l);
void l2s_loop_peer_error(struct l2s_loop *l, const struct lpeer *pe, int err, uint64_t now);
void l2s_loop_refused_event(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], uint64_t now);
int l2s_loop_paused(const struct l2s_loop *l);
void l2s_loop_events_free(struct l2s_loop *l);

/* loop_disc.c */
int l2s_loop_disc_init(struct l2s_loop *l, uint64_t now);
void l2s_loop_disc_free(struct l2s_loop *l);
void l2s_loop_disc_tick(struct l2s_loop *l, uint64_t now);
void l2s_loop_disc_datagram(struct l2s_loop *l, const struct l2s_quic_event *ev, uint64_t now);
void l2s_loop_disc_inband(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len, uint64_t now);

/* peer.c */
struct lpeer *l2s_peer_find(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES]);
struct lpeer *l2s_peer_add(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES]);
struct lpeer *l2s_peer_of_path(struct l2s_loop *l, const struct lpath *p);
void l2s_peer_free(struct lpeer *pe);
void l2s_peer_set_delivered(struct lpeer *pe, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t upto);
int l2s_peer_delivered_before(const struct lpeer *pe, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t seq);
int l2s_peer_wants_connection(const struct lpeer *pe);
void l2s_peer_schedule_reconnect(struct l2s_loop *l, struct lpeer *pe, uint64_t now);
void l2s_peer_resumed(struct lpeer *pe, uint64_t now);
void l2s_paths_reap_idle(struct l2s_loop *l, uint64_t idle_ms, uint64_t now);

/* loop_inbox.c */
int l2s_loop_inbox_deliver(struct l2s_loop *l, struct lpeer *pe, const struct l2s_event *ev, uint64_t now);
void l2s_loop_inbox_retry(struct l2s_loop *l, struct lpeer *pe, uint64_t now);
void l2s_loop_inbox_sync(struct l2s_loop *l);

/* carry.c */
void l2s_peer_carry(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now);
void l2s_peers_prepare(struct l2s_loop *l, uint64_t now);
void l2s_peer_give_up_path(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, int err, uint64_t now);
void l2s_peer_on_answer(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len, uint64_t now);
void l2s_peer_refresh_bundle(struct l2s_loop *l, struct lpeer *pe, uint64_t now);

/* race.c */
void l2s_peer_on_connected(struct l2s_loop *l, struct lpath *p, uint64_t now);
void l2s_peer_on_closed(struct l2s_loop *l, struct lpath *p, uint64_t now);
void l2s_peers_sync_paths(struct l2s_loop *l, uint64_t now);
void l2s_peers_reap(struct l2s_loop *l, uint64_t now);
void l2s_peers_check_paths(struct l2s_loop *l, uint64_t now);
void l2s_peers_watch_paths(struct l2s_loop *l, uint64_t now);
void l2s_peers_tick(struct l2s_loop *l, uint64_t now);
uint64_t l2s_peers_next_timer(struct l2s_loop *l);

/* node_event.c */
void l2s_loop_node_events(struct l2s_loop *l, uint64_t now);
int l2s_loop_refused(const struct l2s_loop *l, uint32_t session);
void l2s_loop_refused_clear(struct l2s_loop *l);

/* dispatch.c */
void l2s_loop_quic_events(struct l2s_loop *l, uint64_t now);
void l2s_loop_tcp_events(struct l2s_loop *l, uint64_t now);
void l2s_loop_flush_outputs(struct l2s_loop *l);

/* loop.c */
void l2s_loop_wake(struct l2s_loop *l);

#endif /* L2S_LOOP_INTERNAL_H */
