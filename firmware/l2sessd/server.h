/* SPDX-License-Identifier: Apache-2.0 */
/* server.h - the daemon's two small servers, driven by the main thread's
 * poll(): the control socket (a Unix stream socket, mode 0600, one JSON
 * request per line, one JSON reply per line, as l2sess/node/cli.py's
 * ControlServer) and GET /metrics over HTTP/1.0 (Prometheus).
 *
 * Bounds: SERVER_MAX_CLIENTS connections each; a request line above
 * CONTROL_MAX_LINE or an HTTP request head above 8 KiB is refused and the
 * connection closed; a client that does not read its reply is dropped
 * when SERVER_MAX_REPLY is waiting. Nothing blocks the daemon. */
#ifndef L2SESSD_SERVER_H
#define L2SESSD_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>

#include "sbuf.h"

#define SERVER_MAX_CLIENTS 16
#define CONTROL_MAX_LINE (4u << 20)
#define HTTP_MAX_HEAD 8192
#define SERVER_MAX_REPLY (64u << 20)

enum server_kind { SERVER_CONTROL, SERVER_HTTP };

/* Answers one request: the reply (without its newline) into reply. */
typedef void (*server_handler)(void *ctx, const char *request, size_t len, struct sbuf *reply);

struct server_client {
	int fd;          /* -1: free */
	struct sbuf in, out;
	size_t sent;
	int closing;     /* close once out is sent */
};

struct server {
	enum server_kind kind;
	int fd;          /* listening; -1: off */
	char *unix_path; /* unlinked on close */
	server_handler handle;
	void *ctx;
	struct server_client clients[SERVER_MAX_CLIENTS];
};

/* A server that is not open (server_close does nothing to it). */
void server_init(struct server *s);
/* The control socket at path (a socket file a gone node left there is
 * replaced). 0; -2 when a node answers on it; -1 (errno). */
int server_open_control(struct server *s, const char *path, server_handler handle, void *ctx);
/* The metrics server on addr. 0 or -1 (errno). */
int server_open_http(struct server *s, const struct sockaddr *addr, socklen_t len, server_handler handle,
		     void *ctx);
void server_close(struct server *s);
/* Adds the server's fds to fds[*n ..] (at most 1 + SERVER_MAX_CLIENTS). */
void server_poll_fds(struct server *s, struct pollfd *fds, size_t *n);
/* Handles what poll found on the fds server_poll_fds added from fds[first]. */
void server_on_poll(struct server *s, const struct pollfd *fds, size_t first);

#endif
