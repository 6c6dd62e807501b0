// SPDX-License-Identifier: Apache-2.0
/* server.c - the control socket and the metrics endpoint (server.h). */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void client_close(struct server_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	sbuf_free(&c->in);
	sbuf_free(&c->out);
	c->fd = -1;
	c->sent = 0;
	c->closing = 0;
}

void server_init(struct server *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	for (i = 0; i < SERVER_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
}

static void init(struct server *s, enum server_kind kind, server_handler handle, void *ctx)
{
	server_init(s);
	s->kind = kind;
	s->handle = handle;
	s->ctx = ctx;
}

int server_open_control(struct server *s, const char *path, server_handler handle, void *ctx)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int e;

	init(s, SERVER_CONTROL, handle, ctx);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/* A node that answers keeps its socket; one left by a node that is gone goes. */
		if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
			close(s->fd);
			s->fd = -1;
			return -2;
		}
		unlink(path);
	}
	old = umask(0177); /* the socket is born 0600 */
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->fd, SERVER_MAX_CLIENTS)) {
		e = errno;
		umask(old);
		close(s->fd);
		s->fd = -1;
		errno = e;
		return -1;
	}
	umask(old);
	s->unix_path = strdup(path);
	return 0;
}

int server_open_http(struct server *s, const struct sockaddr *addr, socklen_t len, server_handler handle,
		     void *ctx)
{
	int one = 1, e;

	init(s, SERVER_HTTP, handle, ctx);
	s->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, addr, len) || listen(s->fd, SERVER_MAX_CLIENTS)) {
		e = errno;
		close(s->fd);
		s->fd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

void server_close(struct server *s)
{
	size_t i;

	for (i = 0; i < SERVER_MAX_CLIENTS; i++)
		client_close(&s->clients[i]);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->unix_path)
		unlink(s->unix_path);
	free(s->unix_path);
	s->unix_path = NULL;
}

void server_poll_fds(struct server *s, struct pollfd *fds, size_t *n)
{
	size_t i;

	if (s->fd < 0)
		return;
	fds[(*n)++] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
	for (i = 0; i < SERVER_MAX_CLIENTS; i++) {
		struct server_client *c = &s->clients[i];

		fds[(*n)++] = (struct pollfd){ .fd = c->fd, /* -1: poll ignores it */
					      .events = (short)(c->out.len > c->sent ? POLLOUT : c->closing ? 0 : POLLIN) };
	}
}

static void accept_client(struct server *s)
{
	size_t i;
	int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (i = 0; i < SERVER_MAX_CLIENTS && s->clients[i].fd >= 0; i++)
		;
	if (i == SERVER_MAX_CLIENTS) {
		close(fd); /* full: the client may try again */
		return;
	}
	s->clients[i].fd = fd;
	sbuf_init(&s->clients[i].in, s->kind == SERVER_CONTROL ? CONTROL_MAX_LINE + 1 : HTTP_MAX_HEAD + 1);
	sbuf_init(&s->clients[i].out, SERVER_MAX_REPLY);
}

static void reply_http(struct server *s, struct server_client *c)
{
	struct sbuf body;

	sbuf_init(&body, SERVER_MAX_REPLY);
	if (strncmp(c->in.data, "GET /metrics ", 13) == 0 || strncmp(c->in.data, "GET /metrics\r", 13) == 0) {
		s->handle(s->ctx, c->in.data, c->in.len, &body);
		sbuf_printf(&c->out, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
		sbuf_put(&c->out, body.data ? body.data : "", body.len);
	} else {
		sbuf_puts(&c->out, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	}
	sbuf_free(&body);
	c->closing = 1;
}

/* Every whole line in c->in answered, in order. */
static void reply_control(struct server *s, struct server_client *c)
{
	char *nl;
	size_t used;

	while (c->in.len && (nl = memchr(c->in.data, '\n', c->in.len))) {
		used = (size_t)(nl - c->in.data) + 1;
		s->handle(s->ctx, c->in.data, used - 1, &c->out);
		sbuf_put(&c->out, "\n", 1);
		memmove(c->in.data, c->in.data + used, c->in.len - used + 1);
		c->in.len -= used;
	}
}

static void on_readable(struct server *s, struct server_client *c)
{
	char chunk[16384];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		if (c->out.len > c->sent)
			c->closing = 1; /* the peer shut its side: send what is due, then close */
		else
			client_close(c);
		return;
	}
	if (n < 0)
		return;
	sbuf_put(&c->in, chunk, (size_t)n);
	if (c->in.failed) { /* a request above the bound */
		sbuf_reset(&c->in);
		if (s->kind == SERVER_CONTROL)
			sbuf_puts(&c->out, "{\"ok\": false, \"error\": \"LengthError: the request line is too long\"}\n");
		c->closing = 1;
		return;
	}
	if (s->kind == SERVER_HTTP && strstr(c->in.data, "\r\n\r\n"))
		reply_http(s, c);
	else if (s->kind == SERVER_CONTROL)
		reply_control(s, c);
	if (c->out.failed)
		client_close(c);
}

static void on_writable(struct server_client *c)
{
	ssize_t n = write(c->fd, c->out.data + c->sent, c->out.len - c->sent);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->sent += (size_t)n;
	if (c->sent < c->out.len)
		return;
	sbuf_reset(&c->out);
	c->sent = 0;
	if (c->closing)
		client_close(c);
}

void server_on_poll(struct server *s, const struct pollfd *fds, size_t first)
{
	size_t i;

	if (s->fd < 0)
		return;
	if (fds[first].revents & POLLIN)
		accept_client(s);
	for (i = 0; i < SERVER_MAX_CLIENTS; i++) {
		struct server_client *c = &s->clients[i];
		short ev = fds[first + 1 + i].revents;

		if (c->fd < 0 || fds[first + 1 + i].fd != c->fd || !ev)
			continue;
		if (ev & POLLOUT)
			on_writable(c);
		else if (ev & (POLLIN | POLLHUP | POLLERR))
			on_readable(s, c);
	}
}
