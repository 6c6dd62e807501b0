// SPDX-License-Identifier: Apache-2.0
/* The QUIC endpoint's sockets: the shared one, trusted connections' own,
 * and the datagrams that leave them (a pending one when a socket is full,
 * the stateless answers within their budget). */
#include "transport/quic/quic_internal.h"

/* ---- the socket edge ------------------------------------------------------ */

int quic_sock_open(const struct sockaddr *addr, socklen_t len, struct sockaddr_storage *local, socklen_t *local_len)
{
	int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	*local_len = sizeof(*local);
	if (bind(fd, addr, len) < 0 || getsockname(fd, (struct sockaddr *)local, local_len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	/* After the bind, so that a second node on the same port still gets
	 * EADDRINUSE; from now on our own connected sockets may join the port
	 * (own_sock_open). Without it they fail and everything stays here. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int));
	return fd;
}

/* A trusted connection's own socket: the shared socket's address, connected
 * to the peer, so that the kernel queues the peer's datagrams apart from
 * whatever floods the shared socket (its 4-tuple outranks the shared
 * socket's match). */
int quic_own_sock_open(const struct l2s_quic *q, const struct sockaddr_storage *peer, socklen_t peer_len)
{
	int fd = socket(q->local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int)) < 0 ||
	    bind(fd, (const struct sockaddr *)&q->local, q->local_len) < 0 ||
	    connect(fd, (const struct sockaddr *)peer, peer_len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1: one datagram in buf (*from set); 0: nothing more now (or a socket
 * error: the next poll round tries again); -1: a truncated datagram. */
int quic_sock_recv(int fd, uint8_t *buf, size_t cap, size_t *len, struct sockaddr_storage *from, socklen_t *fromlen)
{
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_name = from, .msg_namelen = sizeof(*from), .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	do
		n = recvmsg(fd, &mh, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return 0;
	if (mh.msg_flags & MSG_TRUNC)
		return -1;
	*len = (size_t)n;
	*fromlen = mh.msg_namelen;
	return 1;
}

/* 0 sent, 1 the socket is full (try later), -1 dropped. */
int quic_sock_send(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1};

	for (;;) {
		if (sendmsg(fd, &mh, 0) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
	}
}

static int same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Sends or, when the socket is full, keeps the one pending datagram. c's
 * own socket carries what goes to its peer; everything else leaves from
 * the shared one. */
int quic_send_dgram(struct l2s_quic *q, struct qconn *c, const struct sockaddr *to, socklen_t tolen,
		    const uint8_t *p, size_t n)
{
	int own = c && c->fd >= 0 && same_addr(to, tolen, &c->peer, c->peer_len);
	int fd = own ? c->fd : q->fd;
	int rc = own ? quic_sock_send(fd, NULL, 0, p, n) : quic_sock_send(fd, to, tolen, p, n);

	if (rc == 0) {
		q->st.tx_datagrams++;
		q->st.tx_bytes += n;
	} else if (rc == 1) {
		q->st.tx_blocked++;
		memcpy(q->pending, p, n);
		q->pending_len = n;
		q->pending_fd = fd;
		memcpy(&q->pending_to, to, tolen);
		q->pending_tolen = tolen;
	} else {
		q->st.tx_errors++;
	}
	return rc;
}

/* One more stateless answer this second, or none. */
int quic_answer_allowed(struct l2s_quic *q, uint64_t now_ms)
{
	if (now_ms >= q->answers_window_ms + 1000) {
		q->answers_window_ms = now_ms;
		q->answers_in_window = 0;
	}
	if (q->answers_in_window >= STATELESS_BUDGET) {
		q->st.answers_withheld++;
		return 0;
	}
	q->answers_in_window++;
	return 1;
}

/* A stateless answer (VN, Retry, reset, refusal): never queued. */
void quic_send_answer(struct l2s_quic *q, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n)
{
	if (quic_sock_send(q->fd, to, tolen, p, n) == 0) {
		q->st.tx_datagrams++;
		q->st.tx_bytes += n;
	} else {
		q->st.tx_errors++;
	}
}

int quic_send_pending(struct l2s_quic *q)
{
	int rc;

	if (!q->pending_len)
		return 0;
	rc = q->pending_fd == q->fd
		     ? quic_sock_send(q->fd, (struct sockaddr *)&q->pending_to, q->pending_tolen, q->pending, q->pending_len)
		     : quic_sock_send(q->pending_fd, NULL, 0, q->pending, q->pending_len);
	if (rc == 1)
		return 1;
	if (rc == 0) {
		q->st.tx_datagrams++;
		q->st.tx_bytes += q->pending_len;
	} else {
		q->st.tx_errors++;
	}
	q->pending_len = 0;
	return 0;
}
