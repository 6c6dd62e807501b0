// SPDX-License-Identifier: Apache-2.0
/* The QUIC endpoint's sockets: the shared one, trusted connections' own,
 * and the datagrams that leave them: a connection's in UDP GSO batches
 * (pending when a socket is full), the stateless answers within their
 * budget. Reads take UDP GRO's coalesced datagrams. */
#include "transport/quic/quic_internal.h"

/* ---- the socket edge ------------------------------------------------------ */

/* UDP GRO: the kernel may hand over a peer's datagrams in one read,
 * coalesced (quic_sock_recv splits them). Without it, one read each. */
static void sock_want_gro(int fd)
{
#ifdef UDP_GRO
	setsockopt(fd, IPPROTO_UDP, UDP_GRO, &(int){1}, sizeof(int));
#else
	(void)fd;
#endif
}

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
	sock_want_gro(fd);
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
	sock_want_gro(fd);
	return fd;
}

/* The segment size of a read the kernel coalesced (UDP GRO), else 0. */
static size_t gro_segment(struct msghdr *mh)
{
#ifdef UDP_GRO
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int seg;

		if (cm->cmsg_level != IPPROTO_UDP || cm->cmsg_type != UDP_GRO || cm->cmsg_len < CMSG_LEN(sizeof(seg)))
			continue;
		memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
		return seg > 0 ? (size_t)seg : 0;
	}
#else
	(void)mh;
#endif
	return 0;
}

/* 1: datagrams in buf, *len bytes, each *seg bytes but the last (*from
 * set); 0: nothing more now (or a socket error: the next poll round tries
 * again); -1: a truncated datagram. */
int quic_sock_recv(int fd, uint8_t *buf, size_t cap, size_t *len, size_t *seg, struct sockaddr_storage *from,
		   socklen_t *fromlen)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_name = from, .msg_namelen = sizeof(*from), .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;

	do
		n = recvmsg(fd, &mh, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return 0;
	if (mh.msg_flags & MSG_TRUNC)
		return -1;
	*len = (size_t)n;
	*seg = gro_segment(&mh);
	if (!*seg || *seg > *len)
		*seg = *len;
	*fromlen = mh.msg_namelen;
	return 1;
}

/* One sendmsg of n bytes: one datagram, or (seg < n) datagrams of seg
 * bytes but the last, cut by the kernel (UDP GSO). 0 sent, 1 the socket
 * is full (try later), -1 refused (errno says why). */
static int sock_send(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n, size_t seg)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1};

#ifdef UDP_SEGMENT
	if (seg < n) {
		uint16_t s = (uint16_t)seg;
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = IPPROTO_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(s));
		memcpy(CMSG_DATA(cm), &s, sizeof(s));
	}
#else
	(void)ctl;
	(void)seg;
#endif
	for (;;) {
		if (sendmsg(fd, &mh, 0) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
	}
}

int quic_sock_send(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n)
{
	return sock_send(fd, to, tolen, p, n, n);
}

/* errno after a GSO send the kernel refused as such (no UDP_SEGMENT, or a
 * device without checksum offload), not for its destination. */
static int gso_unsupported(int e)
{
	return e == EIO || e == EINVAL || e == ENOPROTOOPT || e == EOPNOTSUPP;
}

static void keep_pending(struct l2s_quic *q, int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p,
			 size_t n, size_t seg)
{
	q->st.tx_blocked++;
	memmove(q->pending, p, n); /* p may be in q->pending already */
	q->pending_len = n;
	q->pending_seg = seg;
	q->pending_fd = fd;
	if (to != (struct sockaddr *)&q->pending_to)
		memcpy(&q->pending_to, to, tolen);
	q->pending_tolen = tolen;
}

static void count_sent(struct l2s_quic *q, size_t n, size_t seg)
{
	q->st.tx_datagrams += (n + seg - 1) / seg;
	q->st.tx_bytes += n;
}

/* Sends n bytes of seg-byte datagrams (the last may be shorter) to `to`
 * from fd, the shared socket or a connection's own (connected to `to`), in
 * one GSO call where it works, else one by one; what a full socket does
 * not take is kept pending. 0 sent, 1 pending, -1 dropped (QUIC's loss
 * recovery sends the frames again). */
static int send_datagrams(struct l2s_quic *q, int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p,
			  size_t n, size_t seg)
{
	const struct sockaddr *addr = fd == q->fd ? to : NULL;
	socklen_t addrlen = fd == q->fd ? tolen : 0;
	int rc;

	if (seg < n && q->gso) {
		rc = sock_send(fd, addr, addrlen, p, n, seg);
		if (rc == 0) {
			count_sent(q, n, seg);
			q->st.tx_gso_sends++;
			return 0;
		}
		if (rc == 1) {
			keep_pending(q, fd, to, tolen, p, n, seg);
			return 1;
		}
		if (!gso_unsupported(errno)) {
			q->st.tx_errors++;
			return -1;
		}
		q->gso = 0;
		q->st.gso_failures++;
	}
	for (size_t off = 0; off < n; off += seg) {
		size_t k = n - off < seg ? n - off : seg;

		rc = sock_send(fd, addr, addrlen, p + off, k, k);
		if (rc == 1) {
			keep_pending(q, fd, to, tolen, p + off, n - off, seg);
			return 1;
		}
		if (rc == 0)
			count_sent(q, k, k);
		else
			q->st.tx_errors++;
	}
	return 0;
}

static int same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* c's packets, n bytes of seg-byte datagrams. c's own socket carries what
 * goes to its peer; everything else leaves from the shared one. */
int quic_send_batch(struct l2s_quic *q, struct qconn *c, const struct sockaddr *to, socklen_t tolen,
		    const uint8_t *p, size_t n, size_t seg)
{
	int own = c && c->fd >= 0 && same_addr(to, tolen, &c->peer, c->peer_len);

	return send_datagrams(q, own ? c->fd : q->fd, to, tolen, p, n, seg);
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
	if (quic_sock_send(q->fd, to, tolen, p, n) == 0)
		count_sent(q, n, n);
	else
		q->st.tx_errors++;
}

/* 1 while datagrams are still pending. */
int quic_send_pending(struct l2s_quic *q)
{
	size_t n = q->pending_len;

	if (!n)
		return 0;
	q->pending_len = 0;
	return send_datagrams(q, q->pending_fd, (struct sockaddr *)&q->pending_to, q->pending_tolen, q->pending, n,
			      q->pending_seg) == 1;
}
