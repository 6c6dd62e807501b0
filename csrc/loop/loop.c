// SPDX-License-Identifier: Apache-2.0
/* The event loop (l2s_loop.h): its life, one round of work, epoll over the
 * transports' sockets and a wake-up eventfd. The parts it drives are
 * listed in loop_internal.h; only loop_api.c sits above it. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "loop/loop_internal.h"
#include "engine/node.h"
#include "engine/store.h"

#define MAX_EPOLL_EVENTS 64
#define TCP_PORT_TRIES 8 /* port 0: ports whose TCP twin is taken are given back */
#define IDLE_CHECK_MS 1000
#define DEFAULT_MEMORY_BUDGET (32u << 20) /* a gateway's share for its peers */

/* An inbound connection without a session may stay this long silent: two
 * handshake timeouts (a slow handshake), and never less than a failed path. */
static uint64_t idle_inbound_ms(const struct l2s_loop *l)
{
	uint64_t t = 2 * l->p.cfg.handshake_timeout_ms;

	return t > l->p.path_timeout_ms ? t : l->p.path_timeout_ms;
}

void l2s_loop_params_default(struct l2s_loop_params *p)
{
	memset(p, 0, sizeof(*p));
	l2s_config_default(&p->cfg);
}

int l2s_loop_has_quic(void)
{
	return l2s_quic_available();
}

static void params_fill(struct l2s_loop_params *p)
{
	if (!p->happy_eyeballs_ms)
		p->happy_eyeballs_ms = 250;
	if (!p->path_timeout_ms)
		p->path_timeout_ms = 3000;
	if (!p->quic_retry_ms)
		p->quic_retry_ms = 30000;
	if (!p->reconnect_base_ms)
		p->reconnect_base_ms = 100;
	if (!p->reconnect_max_ms)
		p->reconnect_max_ms = 10000;
	if (p->reconnect_max_ms < p->reconnect_base_ms)
		p->reconnect_max_ms = p->reconnect_base_ms;
	if (!p->event_queue_limit)
		p->event_queue_limit = 8192;
	if (!p->memory_budget)
		p->memory_budget = DEFAULT_MEMORY_BUDGET;
	p->quic.budget = p->tcp.budget = NULL; /* the loop's own, set in loop_init */
	if (p->event_queue_limit < 2)
		p->event_queue_limit = 2;
}

/* ---- sockets -------------------------------------------------------------- */

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *sa)
{
	return ntohs(sa->ss_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
					      : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* A connect-only node still needs a UDP socket for QUIC: any port. */
static void any_addr(struct sockaddr_storage *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	sa->ss_family = AF_INET;
	*len = sizeof(struct sockaddr_in);
}

/* UDP first; μTCP takes the same port number. */
static int open_transports_once(struct l2s_loop *l, struct sockaddr_storage *bind, socklen_t bind_len)
{
	struct sockaddr_storage tcp_at = *bind;
	int ret;

	if (!l->p.no_quic) {
		ret = l2s_quic_new(&l->quic, (struct sockaddr *)bind, bind_len, &l->p.quic);
		if (ret != L2S_OK)
			return ret;
		l2s_quic_local_addr(l->quic, &l->local, &l->local_len);
		set_port(&tcp_at, get_port(&l->local));
	}
	if (l->p.no_utcp)
		return L2S_OK;
	ret = l2s_tcp_new(&l->tcp, l->p.listen_len ? (struct sockaddr *)&tcp_at : NULL, bind_len, &l->p.tcp);
	if (ret == L2S_OK && l->p.listen_len && l->p.no_quic)
		l2s_tcp_local_addr(l->tcp, &l->local, &l->local_len);
	return ret;
}

static int open_transports(struct l2s_loop *l)
{
	struct sockaddr_storage bind;
	socklen_t bind_len = l->p.listen_len;
	int ret = L2S_ERR_IO;

	if (l->p.listen_len)
		memcpy(&bind, &l->p.listen, sizeof(bind));
	else
		any_addr(&bind, &bind_len);
	for (int i = 0; i < TCP_PORT_TRIES; i++) {
		int err;

		ret = open_transports_once(l, &bind, bind_len);
		if (ret == L2S_OK)
			return L2S_OK;
		err = errno;
		l2s_quic_free(l->quic);
		l->quic = NULL;
		errno = err;
		/* only an ephemeral port may be tried again */
		if (err != EADDRINUSE || get_port(&bind) != 0)
			break;
	}
	return ret;
}

/* Each fd is tagged with its owner (0: the wake-up eventfd), so that a
 * ready fd goes to its transport without a search. */
static int epoll_set(struct l2s_loop *l, int fd, int kind, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.u64 = (uint64_t)kind << 32 | (uint32_t)fd };

	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &e) == 0)
		return 0;
	if (errno == ENOENT)
		return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e);
	return -1;
}

static uint32_t to_epoll(short ev)
{
	return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0);
}

static short from_epoll(uint32_t ev)
{
	return (short)((ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) | (ev & EPOLLERR ? POLLERR : 0) |
		       (ev & EPOLLHUP ? POLLHUP : 0));
}

/* Room for this round's fds after last round's s->n; false when memory is
 * short (the fds beyond the room wait for a later round). */
static int fd_set_room(struct loop_fds *s, size_t n)
{
	struct pollfd *fds;
	size_t cap = 2 * (s->n > n ? s->n : n);

	if (s->n + n <= s->cap)
		return 1;
	if (!(fds = realloc(s->fds, cap * sizeof(*fds))))
		return 0;
	s->fds = fds;
	s->cap = cap;
	return 1;
}

/* A transport's fd set changes between rounds (quic.h, tcp.h): pollfds
 * gathers this round's after last round's. MOD every fd, as a closed and
 * reused fd number has left the epoll set; DEL what is gone. */
static void sync_fd_set(struct l2s_loop *l, struct loop_fds *s,
			size_t (*pollfds)(const void *, struct pollfd *, size_t), const void *t)
{
	size_t n = pollfds(t, s->fds + s->n, s->cap - s->n);
	struct pollfd *now;

	if (n > s->cap - s->n && fd_set_room(s, n))
		n = pollfds(t, s->fds + s->n, s->cap - s->n);
	if (n > s->cap - s->n)
		n = s->cap - s->n;
	now = s->fds + s->n;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = 0;

		while (j < n && now[j].fd != s->fds[i].fd)
			j++;
		if (j == n)
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fds[i].fd, NULL);
	}
	for (size_t j = 0; j < n; j++)
		epoll_set(l, now[j].fd, s->kind, to_epoll(now[j].events));
	memmove(s->fds, now, n * sizeof(*now));
	s->n = n;
}

static size_t quic_pollfds(const void *q, struct pollfd *fds, size_t cap)
{
	return l2s_quic_pollfds(q, fds, cap);
}

static size_t tcp_pollfds(const void *t, struct pollfd *fds, size_t cap)
{
	return l2s_tcp_pollfds(t, fds, cap);
}

static void sync_fds(struct l2s_loop *l)
{
	if (l->quic)
		sync_fd_set(l, &l->quic_fds, quic_pollfds, l->quic);
	if (l->tcp)
		sync_fd_set(l, &l->tcp_fds, tcp_pollfds, l->tcp);
}

/* ---- life ------------------------------------------------------------------- */

/* The budget is short for a session: the μTCP connections no session
 * authenticated on go, those holding the most first (QUIC's untrusted
 * connections hold no send queue to speak of and are shed as they receive). */
static void reclaim(void *loop, uint64_t n)
{
	struct l2s_loop *l = loop;

	if (l->tcp)
		l2s_tcp_reclaim(l->tcp, n);
}

static int loop_init(struct l2s_loop *l, uint64_t now)
{
	uint8_t key[32];
	int ret;

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->wakefd < 0)
		return L2S_ERR_IO;
	if (epoll_set(l, l->wakefd, 0, EPOLLIN) != 0)
		return L2S_ERR_IO;
	l->p.node.reliable_paths = 1; /* QUIC streams and μTCP */
	if ((ret = l2s_node_new(&l->node, &l->p.node, now)) != L2S_OK ||
	    (ret = l2s_node_set_accept_config(l->node, &l->p.cfg)) != L2S_OK ||
	    (ret = l2s_identity_init(&l->id, l->p.node.identity_sk)) != L2S_OK ||
	    (ret = l2s_node_prekey_bundle(l->node, l->bundle)) != L2S_OK)
		return ret;
	l2s_rng_init_system(&l->rng);
	ret = l2s_inbox_open(&l->inbox, l->p.inbox, l->p.inbox_max_bytes, l->p.inbox_keep, l->p.inbox_sync);
	l->p.inbox = NULL; /* the caller's string: the inbox has its own copy */
	if (ret) {
		errno = ret;
		return L2S_ERR_IO;
	}
	l->budget.limit = l->p.memory_budget;
	l->budget.reclaim = reclaim;
	l->budget.ctx = l;
	l->p.quic.budget = l->p.tcp.budget = &l->budget;
	if ((ret = open_transports(l)) != L2S_OK || (ret = l2s_loop_paths_init(l)) != L2S_OK ||
	    (ret = l2s_loop_disc_init(l, now)) != L2S_OK)
		return ret;
	l->quic_fds.kind = L2S_TRANSPORT_QUIC;
	l->tcp_fds.kind = L2S_TRANSPORT_UTCP;
	if (!(l->peers = calloc(L2S_LOOP_MAX_PEERS, sizeof(*l->peers))) || !fd_set_room(&l->quic_fds, 64) ||
	    !fd_set_room(&l->tcp_fds, 64))
		return L2S_ERR_NOMEM;
	l2s_rng_bytes(&l->rng, key, sizeof(key));
	ret = l2s_map_init(&l->peer_by_pk, L2S_LOOP_MAX_PEERS, key);
	l2s_wipe(key, sizeof(key));
	return ret;
}

int l2s_loop_new(struct l2s_loop **out, const struct l2s_loop_params *p)
{
	/* A build without QUIC runs as no_quic: μTCP and discovery only. */
	int no_quic = p && (p->no_quic || !l2s_quic_available());
	struct l2s_loop *l;
	int ret;

	if (!out || !p || (no_quic && p->no_utcp) || l2s_config_check(&p->cfg) != L2S_OK)
		return L2S_ERR_CONFIG;
	if (p->listen_len > sizeof(p->listen))
		return L2S_ERR_CONFIG;
	if (l2s_init() != L2S_OK)
		return L2S_ERR_INIT;
	if (!(l = calloc(1, sizeof(*l))))
		return L2S_ERR_NOMEM;
	l->p = *p;
	l->p.no_quic = no_quic;
	params_fill(&l->p);
	l->epfd = l->wakefd = l->inbox.fd = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	ret = loop_init(l, l2s_loop_now());
	if (ret != L2S_OK) {
		l2s_loop_free(l);
		return ret;
	}
	*out = l;
	return L2S_OK;
}

/* Politely: CONNECTION_CLOSE and FIN, the sessions stay (both sides may resume). */
static void close_connections(struct l2s_loop *l, uint64_t now)
{
	/* what the engine has for the peers (acknowledgements) goes first */
	if (l->node && l->paths)
		l2s_loop_flush_outputs(l);
	if (l->quic)
		l2s_quic_flush(l->quic, now);
	for (uint32_t i = 0; l->paths && i < l->npaths; i++)
		if (l->paths[i].id)
			l2s_path_close(l, &l->paths[i], now);
	if (l->quic)
		l2s_quic_flush(l->quic, now);
	if (l->tcp) /* a short linger so the FINs leave with what was queued */
		for (int i = 0; i < 20 && l2s_tcp_next_expiry(l->tcp) != UINT64_MAX; i++) {
			struct pollfd *fds = l->tcp_fds.fds;
			size_t n = l2s_tcp_pollfds(l->tcp, fds, l->tcp_fds.cap);

			if (n > l->tcp_fds.cap)
				n = l->tcp_fds.cap;
			if (poll(fds, n, 5) <= 0)
				break;
			for (size_t j = 0; j < n; j++)
				if (fds[j].revents)
					l2s_tcp_on_io(l->tcp, fds[j].fd, fds[j].revents, l2s_loop_now());
		}
}

void l2s_loop_free(struct l2s_loop *l)
{
	if (!l)
		return;
	if (l->peers)
		close_connections(l, l2s_loop_now());
	l2s_quic_free(l->quic);
	l2s_tcp_free(l->tcp);
	l2s_inbox_close(&l->inbox);
	l2s_node_free(l->node);
	for (uint32_t i = 0; l->peers && i < l->npeers; i++)
		l2s_peer_free(l->peers[i]);
	free(l->peers);
	if (l->peer_by_pk.slots)
		l2s_map_free(&l->peer_by_pk);
	l2s_loop_paths_free(l);
	free(l->quic_fds.fds);
	free(l->tcp_fds.fds);
	l2s_loop_events_free(l);
	l2s_loop_disc_free(l);
	l2s_identity_wipe(&l->id);
	l2s_rng_wipe(&l->rng);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	l2s_wipe(&l->p.node, sizeof(l->p.node));
	l2s_wipe(l, sizeof(*l));
	free(l);
}

/* ---- one round --------------------------------------------------------------- */

/* Another thread changed what the loop works on (under the mutex, before
 * calling this). One write per round is enough: the loop clears the flag
 * under the mutex after reading the eventfd and before it works, so a
 * change after that writes again. */
void l2s_loop_wake(struct l2s_loop *l)
{
	uint64_t one = 1;

	if (atomic_exchange(&l->wake_pending, 1))
		return;
	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, so the loop wakes anyway */
	}
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int wait_ms(struct l2s_loop *l, uint64_t now, int limit)
{
	uint64_t t = min64(l2s_node_next_deadline(l->node), l2s_peers_next_timer(l));
	uint64_t d;

	t = min64(t, l2s_cookie_secrets_deadline(&l->disc_secrets));
	t = min64(t, l->idle_check_at);
	if (l->quic)
		t = min64(t, l2s_quic_next_expiry(l->quic));
	if (l->tcp)
		t = min64(t, l2s_tcp_next_expiry(l->tcp));
	if (t == UINT64_MAX)
		return limit;
	d = t <= now ? 0 : t - now;
	if (limit >= 0 && d > (uint64_t)limit)
		return limit;
	return d > 60000 ? 60000 : (int)d;
}

static void on_ready(struct l2s_loop *l, const struct epoll_event *e, uint64_t now)
{
	int kind = (int)(e->data.u64 >> 32), fd = (int)(uint32_t)e->data.u64;
	uint64_t v;

	if (kind == L2S_TRANSPORT_QUIC && l->quic)
		l2s_quic_on_io(l->quic, fd, from_epoll(e->events), now);
	else if (kind == L2S_TRANSPORT_UTCP && l->tcp)
		l2s_tcp_on_io(l->tcp, fd, from_epoll(e->events), now);
	else if (fd == l->wakefd && read(l->wakefd, &v, sizeof(v)) < 0) {
		/* EAGAIN: someone else drained it */
	}
}

/* After a flood, what its connections freed goes back to the system, so
 * that RSS returns near its baseline (glibc keeps freed heap otherwise).
 * Only when connections went away since the last look: trimming walks the heap. */
static void give_back_memory(struct l2s_loop *l)
{
#ifdef __GLIBC__
	struct l2s_tcp_stats st;

	if (!l->tcp)
		return;
	l2s_tcp_get_stats(l->tcp, &st);
	if (st.closed != l->closed_at_trim) {
		l->closed_at_trim = st.closed;
		malloc_trim(0);
	}
#else
	(void)l;
#endif
}

/* Everything due: timers, what the transports hold, the engine's outputs. */
static void work(struct l2s_loop *l, uint64_t now)
{
	if (l->quic)
		l2s_quic_on_timer(l->quic, now);
	if (l->tcp)
		l2s_tcp_on_timer(l->tcp, now);
	l2s_loop_disc_tick(l, now);
	l2s_node_tick(l->node, now);
	l2s_loop_node_events(l, now);
	/* one ACK per session for all the messages of this round */
	l2s_node_receive_begin(l->node);
	l2s_loop_quic_events(l, now);
	l2s_loop_tcp_events(l, now);
	/* The inbox lines first: a message the inbox cannot take is refused
	 * before the batch's ACK is made. */
	l2s_loop_node_events(l, now);
	l2s_loop_inbox_sync(l);
	l2s_node_receive_end(l->node, now);
	l2s_loop_node_events(l, now);
	l2s_peers_check_paths(l, now);
	l2s_peers_tick(l, now);
	l2s_loop_node_events(l, now);
	l2s_peers_sync_paths(l, now);
	/* The inbox lines are written: now the acknowledgements may leave. */
	l2s_loop_flush_outputs(l);
	if (l->quic)
		l2s_quic_flush(l->quic, now);
	l2s_peers_prepare(l, now);
	l2s_peers_watch_paths(l, now);
	/* after the flush, so that a closed session's CLOSE left first */
	l2s_peers_reap(l, now);
	if (now >= l->idle_check_at) {
		l2s_paths_reap_idle(l, idle_inbound_ms(l), now);
		give_back_memory(l);
		l->idle_check_at = now + IDLE_CHECK_MS;
	}
	l->st.rounds++;
}

int l2s_loop_run_once(struct l2s_loop *l, int timeout_ms)
{
	struct epoll_event evs[MAX_EPOLL_EVENTS];
	int n, wait;

	pthread_mutex_lock(&l->mu);
	sync_fds(l);
	wait = atomic_load(&l->stopping) ? 0 : wait_ms(l, l2s_loop_now(), timeout_ms);
	l2s_loop_unlock(l);
	n = epoll_wait(l->epfd, evs, MAX_EPOLL_EVENTS, wait);
	if (n < 0 && errno != EINTR)
		return L2S_ERR_IO;
	pthread_mutex_lock(&l->mu);
	for (int i = 0; i < n; i++)
		on_ready(l, &evs[i], l2s_loop_now());
	/* After the eventfd was read: cleared before, a wake-up written in
	 * between would be read here with the flag left set, and the next
	 * one not written. Whoever set it changed things before we locked. */
	atomic_store(&l->wake_pending, 0);
	work(l, l2s_loop_now());
	l2s_loop_unlock(l);
	return L2S_OK;
}

int l2s_loop_poll_fd(struct l2s_loop *l)
{
	return l->epfd;
}

int l2s_loop_poll_timeout(struct l2s_loop *l)
{
	int wait;

	pthread_mutex_lock(&l->mu);
	sync_fds(l);
	wait = atomic_load(&l->stopping) ? 0 : wait_ms(l, l2s_loop_now(), -1);
	l2s_loop_unlock(l);
	return wait;
}

int l2s_loop_run(struct l2s_loop *l)
{
	int ret = L2S_OK;

	while (!atomic_load(&l->stopping) && ret == L2S_OK)
		ret = l2s_loop_run_once(l, -1);
	pthread_mutex_lock(&l->mu);
	pthread_cond_broadcast(&l->cv);
	l2s_loop_unlock(l);
	return ret;
}

void l2s_loop_stop(struct l2s_loop *l)
{
	atomic_store(&l->stopping, 1);
	l2s_loop_wake(l);
}

int l2s_loop_wait_event(struct l2s_loop *l, int timeout_ms)
{
	struct timespec until;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&l->mu);
	while (!l->events.count && !atomic_load(&l->stopping) && timeout_ms != 0 && ret == 0)
		ret = timeout_ms < 0 ? pthread_cond_wait(&l->cv, &l->mu) : pthread_cond_timedwait(&l->cv, &l->mu, &until);
	ret = l->events.count != 0;
	l2s_loop_unlock(l);
	return ret;
}
