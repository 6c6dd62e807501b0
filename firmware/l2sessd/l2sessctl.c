// SPDX-License-Identifier: Apache-2.0
/* l2sessctl.c - drives a running node (l2sessd or `python -m l2sess.node`)
 * through its control socket, for gateways without Python.
 *
 *   l2sessctl status  (--config node.toml | --socket PATH)
 *   l2sessctl peers   (--config node.toml | --socket PATH)
 *   l2sessctl metrics (--config node.toml | --socket PATH)
 *   l2sessctl send    (--config ... | --socket ...) --to DID (--data TEXT | --hex HEX) [--wait S]
 *   l2sessctl rotate  (--config ... | --socket ...) --to DID
 *   l2sessctl renew   (--config ... | --socket ...)     a new prekey now
 *
 * Exit codes, as `l2sess`'s: 0 done; 1 the node refused (its error is
 * printed); 2 an operator's mistake (one line: a bad argument or config);
 * 3 no node is running. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "hex.h"
#include "config.h"
#include "json.h"
#include "sbuf.h"

#define REPLY_MAX (64u << 20)
#define EXIT_NOT_RUNNING 3

struct args {
	const char *command, *config, *socket, *to, *data, *hex;
	double wait;
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char line[4200];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (i = 0; line[i]; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	fprintf(stderr, "l2sessctl: %s\n", line);
	return 2;
}

static int usage(void)
{
	return fail("usage: l2sessctl status|peers|metrics|send|rotate|renew (--config FILE | --socket PATH) "
		    "[--to DID] [--data TEXT | --hex HEX] [--wait SECONDS]");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->wait = 10;
	if (argc < 2)
		return -1;
	a->command = argv[1];
	for (i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--config") == 0)
			a->config = v;
		else if (strcmp(k, "--socket") == 0)
			a->socket = v;
		else if (strcmp(k, "--to") == 0)
			a->to = v;
		else if (strcmp(k, "--data") == 0)
			a->data = v;
		else if (strcmp(k, "--hex") == 0)
			a->hex = v;
		else if (strcmp(k, "--wait") == 0)
			a->wait = strtod(v, NULL);
		else
			return -1;
	}
	if (i != argc || !a->config == !a->socket)
		return -1;
	return 0;
}

/* Sends one request line; the reply line into reply. 0, or -1 with errno
 * (connect) or EPROTO (no whole reply). */
static int request(const char *path, const char *req, struct sbuf *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	char chunk[65536];
	ssize_t n;
	size_t off = 0, len = strlen(req);
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	while (off < len && (n = write(fd, req + off, len - off)) > 0)
		off += (size_t)n;
	sbuf_reset(reply);
	while (!(reply->len && reply->data[reply->len - 1] == '\n') && (n = read(fd, chunk, sizeof(chunk))) > 0)
		sbuf_put(reply, chunk, (size_t)n);
	close(fd);
	if (!reply->len || reply->data[reply->len - 1] != '\n' || reply->failed) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* "value" of member key in a reply line (a JSON object): its offset. */
static const char *member(const char *reply, const char *key)
{
	char pattern[64];
	const char *at;

	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	at = strstr(reply, pattern);
	return at ? at + strlen(pattern) : NULL;
}

/* Prints a JSON string's content (the metrics text) unescaped. */
static void print_json_string(FILE *to, const char *s)
{
	struct json_object o;
	const struct json_member *m;
	struct sbuf wrapped;

	sbuf_init(&wrapped, REPLY_MAX);
	sbuf_puts(&wrapped, "{\"v\": ");
	sbuf_put(&wrapped, s, strcspn(s, "\n"));
	if (wrapped.len && wrapped.data[wrapped.len - 1] == '}')
		wrapped.data[--wrapped.len] = 0;
	sbuf_puts(&wrapped, "}");
	if (!wrapped.failed && json_parse_object(wrapped.data, wrapped.len, &o) == 0) {
		m = json_get(&o, "v", JSON_STRING);
		if (m)
			fwrite(m->text, 1, m->len, to);
		json_object_free(&o);
	}
	sbuf_free(&wrapped);
}

/* peers: one line per peer from the status reply. */
static void print_peers(const char *status)
{
	const char *p = member(status, "peers"), *did, *state, *transport, *address;

	printf("%-58s %-20s %-9s %s\n", "DID", "STATE", "TRANSPORT", "ADDRESS");
	while (p && (did = strstr(p, "\"did\": \"did:key:"))) {
		/* each peer object ends with its did; what is before it is that peer's */
		address = member(p, "address");
		state = strstr(p, "\"state\": \"");
		transport = member(p, "transport");
		printf("%-58.*s ", (int)strcspn(did + 8, "\""), did + 8);
		if (state && state < did)
			printf("%-20.*s ", (int)strcspn(state + 10, "\""), state + 10);
		else
			printf("%-20s ", "-");
		if (transport && transport < did && *transport == '"')
			printf("%-9.*s ", (int)strcspn(transport + 1, "\""), transport + 1);
		else
			printf("%-9s ", "-");
		if (address && address < did && *address == '"')
			printf("%.*s\n", (int)strcspn(address + 1, "\""), address + 1);
		else
			printf("-\n");
		p = did + 8;
	}
}

static int send_message(const struct args *a, const char *path, struct sbuf *reply)
{
	struct sbuf req;
	uint8_t *msg = NULL;
	size_t len = 0;
	struct timespec start, now, pause = { 0, 50 * 1000 * 1000 };
	const char *seq;
	int ret;

	if (!a->to || !a->data == !a->hex)
		return usage();
	if (a->hex) {
		len = strlen(a->hex) / 2;
		msg = malloc(len + 1);
		if (!msg || hex_decode(a->hex, strlen(a->hex), msg, len)) {
			free(msg);
			return fail("--hex %s is not hex", a->hex);
		}
	}
	if (a->data) {
		len = strlen(a->data);
		msg = (uint8_t *)strdup(a->data);
	}
	sbuf_init(&req, REPLY_MAX);
	sbuf_puts(&req, "{\"cmd\": \"send\", \"did\": ");
	sbuf_json_string(&req, a->to, strlen(a->to));
	sbuf_puts(&req, ", \"data\": \"");
	base64_encode(&req, msg, len);
	sbuf_puts(&req, "\"}\n");
	free(msg);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) { /* until the session exists (a node just started is still connecting) */
		ret = request(path, req.data, reply);
		if (ret || strstr(reply->data, "\"ok\": true"))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >= a->wait)
			break;
		nanosleep(&pause, NULL);
	}
	sbuf_free(&req);
	if (ret)
		return -1;
	seq = member(reply->data, "seq");
	if (seq)
		printf("%llu\n", strtoull(seq, NULL, 10));
	return 0;
}

/* The same words as `l2sess`: what is wrong, and how to start a node. */
static void not_running(const char *config, const char *path, int err)
{
	const char *why = err == ENOENT ? "no socket" : err == ECONNREFUSED ? "a stale socket: its node is gone"
									  : strerror(err);

	if (config)
		fail("no node is running for %s (%s: %s); start it with `l2sessd run --config %s` "
		     "(or `systemctl start l2sessd`)", config, path, why, config);
	else
		fail("no node answers on %s (%s); start it with `l2sessd run --config FILE` "
		     "(or `systemctl start l2sessd`)", path, why);
}

int main(int argc, char **argv)
{
	struct node_config cfg;
	char err[CONFIG_ERROR_BYTES], *path;
	struct sbuf reply, req;
	struct args a;
	const char *error, *status;
	int ret = 0;

	if (parse_args(argc, argv, &a))
		return usage();
	if (a.config) {
		if (config_load(a.config, &cfg, err))
			return fail("%s: %s", a.config, err);
		path = strdup(cfg.node[NODE_CONTROL].text);
		config_free(&cfg);
	} else {
		path = strdup(a.socket);
	}
	if (!path)
		return fail("out of memory");
	sbuf_init(&reply, REPLY_MAX);
	sbuf_init(&req, 4096);
	if (strcmp(a.command, "status") == 0 || strcmp(a.command, "peers") == 0) {
		ret = request(path, "{\"cmd\": \"status\"}\n", &reply);
	} else if (strcmp(a.command, "metrics") == 0) {
		ret = request(path, "{\"cmd\": \"metrics\"}\n", &reply);
	} else if (strcmp(a.command, "renew") == 0) {
		ret = request(path, "{\"cmd\": \"renew\"}\n", &reply);
	} else if (strcmp(a.command, "rotate") == 0 && a.to) {
		sbuf_puts(&req, "{\"cmd\": \"rotate\", \"did\": ");
		sbuf_json_string(&req, a.to, strlen(a.to));
		sbuf_puts(&req, "}\n");
		ret = request(path, req.data, &reply);
	} else if (strcmp(a.command, "send") == 0) {
		ret = send_message(&a, path, &reply);
		if (ret == 2)
			goto out;
	} else {
		ret = usage();
		goto out;
	}
	if (ret) {
		not_running(a.config, path, errno);
		ret = EXIT_NOT_RUNNING;
		goto out;
	}
	if (!strstr(reply.data, "\"ok\": true")) {
		error = member(reply.data, "error");
		fprintf(stderr, "l2sessctl: ");
		if (error)
			print_json_string(stderr, error);
		fprintf(stderr, "\n");
		ret = 1;
		goto out;
	}
	status = member(reply.data, "status");
	if (strcmp(a.command, "status") == 0 && status)
		printf("%.*s\n", (int)(strlen(status) - 2), status); /* without the reply's closing brace */
	else if (strcmp(a.command, "peers") == 0)
		print_peers(reply.data);
	else if (strcmp(a.command, "metrics") == 0)
		print_json_string(stdout, member(reply.data, "metrics"));
	else if (strcmp(a.command, "renew") == 0 && (status = member(reply.data, "prekey")))
		printf("%.*s\n", (int)(strlen(status) - 2), status); /* as status, without the reply's brace */
out:
	sbuf_free(&reply);
	sbuf_free(&req);
	free(path);
	return ret;
}
