/* SPDX-License-Identifier: Apache-2.0 */
/* μTCP's parts (tcp.h), shared by tcp.c (the public calls), tcp_conn.c
 * (connections, buffers, framing) and tcp_shed.c (untrusted connections,
 * shedding, accepts): the structures and the calls between them. */
#ifndef L2S_TCP_INTERNAL_H
#define L2S_TCP_INTERNAL_H

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/fifo.h"
#include "transport/tcp.h"
#include "wire/wire.h"

#define FRAME_MIN (L2S_TCP_FRAME_OVERHEAD + L2S_MAX_MESSAGE)
#define DEF_BUFFER (1u << 20)
#define DEF_MAX_CONNS 1024 /* half of them may be untrusted: a flood from a few hundred addresses fits */
#define DEF_CONNECT_TIMEOUT_MS 10000
#define DEF_LINGER_MS 2000
#define DEF_BACKLOG 128
#define ACCEPTS_PER_CALL 64 /* a flood of connects cannot starve the others */
#define DEF_UNTRUSTED_SEND (64u << 10)
#define DEF_AUTH_TIMEOUT_MS 10000
#define DEF_MEMORY_BUDGET (32ull << 20)
#define DEF_UNTRUSTED_MSGS_PER_S 8
#define TX_FIRST (16u << 10)    /* a send buffer starts this big and doubles as needed */
#define RX_FIRST (4u << 10)     /* so does a receive buffer, up to one whole frame */
/* While untrusted connections fill their slots, a new one costs an old one:
 * at most this many a second, the rest wait in the listen backlog (and then
 * in the flooder's SYN retries) at no cost to us. */
#define SHED_FOR_NEW_PER_S 256

/* C_LINGER: closed for the caller (CLOSED reported, handle 0) while the
 * socket still writes what was queued, sends its FIN and reads the peer's
 * bytes away, so that close() does not reset the connection. */
enum conn_state { C_FREE = 0, C_CONNECTING, C_OPEN, C_LINGER };

struct conn {
	int state, fd, outbound, shut;
	int trusted;           /* ours, or a session authenticated on it */
	uint32_t handle;
	uint64_t deadline_ms;  /* connecting, lingering, or an untrusted one's end */
	uint64_t opened_ms;
	uint32_t rx_tokens;    /* untrusted: messages it may still send this second */
	uint64_t refill_ms;    /* untrusted: when rx_tokens fill up again */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t *tx;     /* [tx_head, tx_tail) waits for the socket */
	size_t tx_head, tx_tail, tx_cap;
	uint8_t *rx;     /* [0, rx_fill) read, not yet a whole message */
	size_t rx_fill, rx_cap;
	size_t rx_pending; /* bytes of MESSAGE events not yet taken */
};

struct host_count {
	const struct sockaddr_storage *host; /* NULL: free */
	uint32_t n;
};

struct event {
	struct l2s_fifo_link link;
	struct l2s_tcp_event ev;
	uint8_t data[]; /* MESSAGE bytes */
};

struct l2s_tcp {
	int lfd;
	struct l2s_tcp_params p;
	struct conn *conns;
	struct conn **by_fd;   /* conns by their fd: every readiness finds its own at once */
	size_t by_fd_cap;
	struct host_count *hosts; /* shed_candidate's scratch table: hosts_cap, a power of two */
	uint32_t hosts_cap;
	uint32_t shed_tokens;     /* SHED_FOR_NEW_PER_S: sheds for new connections left this second */
	uint64_t shed_refill_ms;  /* when they fill up again; accepting waits for it when they run out */
	int accept_paused;
	uint32_t nconns, next_handle;
	struct l2s_fifo events;
	struct event *taken; /* the last event returned, freed on the next call */
	struct l2s_budget own_budget, *b;  /* b: the node's (params) or own_budget */
	struct l2s_tcp_stats st;
};

/* tcp_conn.c */
void tcp_held_sub(struct l2s_tcp *t, size_t n);
int tcp_sock_prepare(const struct l2s_tcp *t, int fd);
struct conn *tcp_conn_by_handle(const struct l2s_tcp *t, uint32_t h);
struct conn *tcp_conn_by_fd(const struct l2s_tcp *t, int fd);
struct conn *tcp_conn_alloc(struct l2s_tcp *t, int fd);
void tcp_conn_release(struct l2s_tcp *t, struct conn *c);
void tcp_conn_report(struct l2s_tcp *t, struct conn *c, int reason, int err);
void tcp_conn_end(struct l2s_tcp *t, struct conn *c, int reason, int err);
void tcp_conn_opened(struct l2s_tcp *t, struct conn *c);
size_t tcp_tx_room(const struct l2s_tcp *t, const struct conn *c);
int tcp_tx_reserve(struct l2s_tcp *t, struct conn *c, size_t need);
void tcp_tx_put(struct l2s_tcp *t, struct conn *c, const uint8_t *b, size_t len);
int tcp_tx_flush(struct l2s_tcp *t, struct conn *c);
int tcp_rx_frame(struct l2s_tcp *t, struct conn *c);
int tcp_rx_wanted(const struct l2s_tcp *t, const struct conn *c);
void tcp_rx_read(struct l2s_tcp *t, struct conn *c);
void tcp_linger_step(struct l2s_tcp *t, struct conn *c);
void tcp_on_connecting(struct l2s_tcp *t, struct conn *c);

/* tcp_shed.c */
void tcp_shed(struct l2s_tcp *t, struct conn *c, uint64_t *counter);
int tcp_untrusted(const struct conn *c);
void tcp_on_accept(struct l2s_tcp *t, uint64_t now_ms);

#endif /* L2S_TCP_INTERNAL_H */
