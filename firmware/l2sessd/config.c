// SPDX-License-Identifier: Apache-2.0
/* config.c - node.toml's schema and its checks (config.h). The tables
 * below are l2sess/node/config.py's NODE, SESSION, LOOP and PEER, key for
 * key; the messages are its messages. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "toml.h"

enum kind { K_BOOLEAN, K_INTEGER, K_SECONDS, K_PATH, K_ADDRESS, K_TRANSPORTS, K_DID };

struct key_spec {
	const char *name;
	enum kind kind;
	const char *unit;
	double lo, hi;          /* SECONDS */
	uint64_t ilo, ihi;      /* INTEGER; ADDRESS: ilo is the lowest port */
	int on;                 /* has a default (else: off) */
	int def_boolean;
	uint64_t def_integer;
	double def_seconds;
	const char *def_text;
};

#define U32 UINT64_C(0xffffffff)
#define U64 UINT64_MAX
#define MS_PER_DAY UINT64_C(86400000)
#define MAX_DURATION (100 * 365.25 * 24 * 3600)
#define MAX_SOCKET_PATH 107 /* sun_path holds 108 bytes with the NUL */

#define BOOLEAN(n, d) { .name = n, .kind = K_BOOLEAN, .on = 1, .def_boolean = d }
#define INTEGER(n, d, l, h, u) { .name = n, .kind = K_INTEGER, .on = 1, .def_integer = d, .ilo = l, .ihi = h, .unit = u }
#define SECONDS(n, d, l, h) { .name = n, .kind = K_SECONDS, .on = 1, .def_seconds = d, .lo = l, .hi = h, .unit = "s" }
#define PATH(n, d) { .name = n, .kind = K_PATH, .on = d != NULL, .def_text = d }
#define ADDRESS(n, d, low) { .name = n, .kind = K_ADDRESS, .on = d != NULL, .def_text = d, .ilo = low, .ihi = 65535 }

static const struct key_spec node_keys[NODE_KEYS] = {
	ADDRESS("listen", "127.0.0.1:0", 0),
	PATH("identity", "identity.key"),
	PATH("state_dir", "state"),
	PATH("control", NULL),
	PATH("audit_log", NULL),
	PATH("inbox", NULL),
	INTEGER("inbox_max_bytes", UINT64_C(64) << 20, 0, U64, "bytes"),
	INTEGER("inbox_keep", 3, 1, 1000, "files"),
	BOOLEAN("inbox_sync", 1),
	PATH("delivery_log", NULL),
	INTEGER("log_max_bytes", UINT64_C(16) << 20, 0, U64, "bytes"),
	INTEGER("log_keep", 3, 1, 1000, "files"),
	ADDRESS("metrics", NULL, 1),
	BOOLEAN("accept_any", 0),
	{ .name = "transports", .kind = K_TRANSPORTS, .on = 1 },
	SECONDS("checkpoint_interval", 0.2, 0.01, 3600),
};

static const struct key_spec session_keys[SESSION_KEYS] = {
	SECONDS("ttl", 86400, 0.001, MAX_DURATION),
	SECONDS("heartbeat_interval", 30, 0.001, MAX_DURATION),
	INTEGER("heartbeat_tolerance", 3, 1, 255, ""),
	SECONDS("handshake_timeout", 5, 0.001, MAX_DURATION),
	SECONDS("rotation_window", 3600, 0, MAX_DURATION),
	SECONDS("quarantine", 60, 0, MAX_DURATION),
	SECONDS("heartbeat_reply_timeout", 2, 0.001, MAX_DURATION),
	SECONDS("connectivity_timeout", 30, 0.001, MAX_DURATION),
	SECONDS("degraded_timeout", 60, 0.001, MAX_DURATION),
	SECONDS("suspended_retry", 60, 0.001, MAX_DURATION),
	SECONDS("backoff_base", 1, 0.001, MAX_DURATION),
	SECONDS("backoff_max", 60, 0, MAX_DURATION),
	INTEGER("max_retries", 0, 0, U32, ""),
	SECONDS("key_grace", 10, 0, MAX_DURATION),
	INTEGER("rotate_after_messages", UINT64_C(1) << 32, 1, U64, "messages"),
	INTEGER("rotate_after_bytes", UINT64_C(1) << 40, 1, U64, "bytes"),
	SECONDS("retransmit_timeout", 0.2, 0.001, MAX_DURATION),
	INTEGER("send_queue_limit", 4096, 1, U32, "messages"),
	INTEGER("send_queue_bytes_limit", UINT64_C(16) << 20, 1, U64, "bytes"),
	INTEGER("reorder_window", 1024, 1, U32, "messages"),
	SECONDS("ticket_lifetime", 86400, 0.001, MAX_DURATION),
	BOOLEAN("resume_dh", 0),
};

static const struct key_spec loop_keys[LOOP_KEYS] = {
	INTEGER("happy_eyeballs_ms", 250, 1, 60000, "ms"),
	INTEGER("path_timeout_ms", 3000, 1, 3600000, "ms"),
	INTEGER("quic_retry_ms", 30000, 1, MS_PER_DAY, "ms"),
	INTEGER("reconnect_base_ms", 100, 1, 3600000, "ms"),
	INTEGER("reconnect_max_ms", 10000, 1, MS_PER_DAY, "ms"),
	INTEGER("event_queue_limit", 8192, 2, 1 << 20, "events"),
	INTEGER("quic_idle_timeout_ms", 60000, 1000, MS_PER_DAY, "ms"),
	INTEGER("quic_keepalive_ms", 20000, 1, 25000, "ms"),
	INTEGER("max_sessions", 65536, 1, 1 << 20, "sessions"),
	INTEGER("handshake_rate_per_s", 20, 1, U32, "per s"),
	INTEGER("memory_budget", UINT64_C(32) << 20, 1 << 20, U64, "bytes"),
	INTEGER("handshake_work_per_s", 100, 1, U32, "per s"),
	INTEGER("quic_max_connections", 256, 1, 65535, "connections"),
	INTEGER("tcp_max_connections", 1024, 2, 65535, "connections"),
};

enum peer_key { PEER_DID, PEER_ADDRESS, PEER_CONNECT, PEER_KEYS };
static const struct key_spec peer_keys[PEER_KEYS] = {
	{ .name = "did", .kind = K_DID },
	ADDRESS("address", NULL, 1),
	BOOLEAN("connect", 1),
};

struct table_spec {
	const char *name;
	const struct key_spec *keys;
	size_t count;
};

static const struct table_spec tables[] = {
	{ "node", node_keys, NODE_KEYS },
	{ "session", session_keys, SESSION_KEYS },
	{ "loop", loop_keys, LOOP_KEYS },
};
#define TABLES (sizeof(tables) / sizeof(tables[0]))

static const char *const transport_names[TRANSPORTS] = { "quic", "utcp" };

/* (key, "<" or ">=", other key): l2s_config_check's rules, and the loop's
 * that params_fill would otherwise correct silently. */
struct rule {
	int a, below, b; /* below: a < b; else a >= b */
};
static const struct rule session_rules[] = {
	{ SESSION_ROTATION_WINDOW, 1, SESSION_TTL },
	{ SESSION_HEARTBEAT_REPLY_TIMEOUT, 1, SESSION_HEARTBEAT_INTERVAL },
	{ SESSION_BACKOFF_MAX, 0, SESSION_BACKOFF_BASE },
};
static const struct rule loop_rules[] = {
	{ LOOP_RECONNECT_MAX_MS, 0, LOOP_RECONNECT_BASE_MS },
	{ LOOP_QUIC_KEEPALIVE_MS, 1, LOOP_QUIC_IDLE_TIMEOUT_MS },
};

/* ---- the words of a refusal ---- */

/* text with its line breaks written as \n and \r, as cli.py's fail() does:
 * a path in a message may hold anything, and the message is one line. */
static void one_line(struct sbuf *b, const char *text)
{
	for (; *text; text++) {
		if (*text == '\n')
			sbuf_puts(b, "\\n");
		else if (*text == '\r')
			sbuf_puts(b, "\\r");
		else
			sbuf_put(b, text, 1);
	}
}

static int refuse(struct sbuf *err, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct sbuf *err, const char *where, const char *fmt, ...)
{
	char msg[CONFIG_ERROR_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!err->len) {
		if (where && *where)
			sbuf_printf(err, "%s: ", where);
		one_line(err, msg);
	}
	return -1;
}

static int bare(const char *key)
{
	size_t i;

	for (i = 0; key[i]; i++)
		if (!((key[i] >= 'A' && key[i] <= 'Z') || (key[i] >= 'a' && key[i] <= 'z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '_' || key[i] == '-'))
			return 0;
	return i > 0;
}

/* A key as TOML writes it: bare when it can be, quoted otherwise. */
static void key_name(struct sbuf *b, const char *key)
{
	if (bare(key))
		sbuf_puts(b, key);
	else
		sbuf_json_string(b, key, strlen(key));
}

/* Python's _number: a whole float as an integer, else %g. */
static void number(struct sbuf *b, double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 1e16)
		sbuf_printf(b, "%.0f", v);
	else
		sbuf_printf(b, "%g", v);
}

/* A value as the operator wrote it, named by its TOML type. */
static void what(struct sbuf *b, const struct toml_value *v)
{
	switch (v->type) {
	case TOML_BOOL:
		sbuf_printf(b, "the boolean %s", v->boolean ? "true" : "false");
		break;
	case TOML_INTEGER:
		sbuf_printf(b, "the integer %s", v->text);
		break;
	case TOML_FLOAT:
		sbuf_puts(b, "the float ");
		sbuf_repr_double(b, v->number);
		break;
	case TOML_STRING:
		sbuf_puts(b, "the string ");
		sbuf_json_string(b, v->text, v->len);
		break;
	case TOML_ARRAY:
		sbuf_puts(b, "an array");
		break;
	case TOML_TABLE:
		sbuf_puts(b, "a table");
		break;
	case TOML_DATETIME:
		sbuf_printf(b, "the date/time %s", v->text);
		break;
	}
}

/* The pieces of a message, as one string. */
#define WITH(buf, ...) (sbuf_reset(&(buf)), __VA_ARGS__, (buf).failed ? "" : (buf).data)

/* ---- difflib.get_close_matches(word, known, n=1) ---- */

/* Matching characters of a and b by Ratcliff/Obershelp, as difflib's
 * SequenceMatcher counts them: the longest common block (earliest in a,
 * then in b), then the same on each side of it. */
static size_t matches(const char *a, size_t alo, size_t ahi, const char *b, size_t blo, size_t bhi)
{
	size_t i, j, k, best_i = alo, best_j = blo, best = 0;

	for (i = alo; i < ahi; i++)
		for (j = blo; j < bhi; j++) {
			for (k = 0; i + k < ahi && j + k < bhi && a[i + k] == b[j + k]; k++)
				;
			if (k > best) {
				best = k;
				best_i = i;
				best_j = j;
			}
		}
	if (!best)
		return 0;
	return best + matches(a, alo, best_i, b, blo, best_j) +
	       matches(a, best_i + best, ahi, b, best_j + best, bhi);
}

static const char *close_match(const char *word, const char *const *known, size_t n)
{
	const char *best = NULL;
	double best_ratio = 0, r;
	size_t i, wl = strlen(word), kl;

	if (wl > 256)
		return NULL;
	for (i = 0; i < n; i++) {
		kl = strlen(known[i]);
		r = 2.0 * (double)matches(known[i], 0, kl, word, 0, wl) / (double)(kl + wl);
		if (r >= 0.6 && (r > best_ratio || (r == best_ratio && strcmp(known[i], best) > 0))) {
			best = known[i];
			best_ratio = r;
		}
	}
	return best;
}

static const char *close_key(const char *word, const struct key_spec *keys, size_t n)
{
	const char *names[NODE_KEYS + SESSION_KEYS + LOOP_KEYS];
	size_t i;

	for (i = 0; i < n; i++)
		names[i] = keys[i].name;
	return close_match(word, names, n);
}

/* ---- addresses ---- */

int config_parse_address(const char *text, int lowest_port, struct sockaddr_storage *ss, socklen_t *len,
			 char *err, size_t errlen)
{
	struct sbuf q;
	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 3];
	size_t hlen;
	int bracketed, port = 0;
	const char *d;
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	sbuf_init(&q, 4096);
	sbuf_json_string(&q, text, strlen(text));
	if (!colon || colon == text) {
		snprintf(err, errlen, "%s is not host:port", q.data ? q.data : "");
		goto bad;
	}
	hlen = (size_t)(colon - text);
	bracketed = text[0] == '[' && text[hlen - 1] == ']' && hlen >= 2;
	if (bracketed) {
		text++;
		hlen -= 2;
	}
	memset(ss, 0, sizeof(*ss));
	if (hlen >= sizeof(host))
		goto bad_host;
	memcpy(host, text, hlen);
	host[hlen] = 0;
	if (!bracketed && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		*len = sizeof(*v4);
	} else if (bracketed && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		*len = sizeof(*v6);
	} else {
		goto bad_host;
	}
	for (d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9') {
			snprintf(err, errlen, "%s: the port must be a number", q.data);
			goto bad;
		}
		if (port <= 65535)
			port = port * 10 + (*d - '0');
	}
	if (d == colon + 1) {
		snprintf(err, errlen, "%s: the port must be a number", q.data);
		goto bad;
	}
	if (port < lowest_port || port > 65535) {
		snprintf(err, errlen, "%s: the port must be between %d and 65535", q.data, lowest_port);
		goto bad;
	}
	if (ss->ss_family == AF_INET)
		v4->sin_port = htons((uint16_t)port);
	else
		v6->sin6_port = htons((uint16_t)port);
	sbuf_free(&q);
	return 0;
bad_host:
	snprintf(err, errlen, "%s: the host must be a numeric IPv4 address or an IPv6 address in brackets ([::1]:4433)",
		 q.data);
bad:
	sbuf_free(&q);
	return -1;
}

/* ---- paths ---- */

/* base/value (value when absolute), then "." and ".." and "//" removed as
 * os.path.abspath does for the config's folder. */
static char *join_path(const char *base, const char *value)
{
	size_t n = strlen(base) + strlen(value) + 2;
	char *out = malloc(n);

	if (!out)
		return NULL;
	if (value[0] == '/')
		snprintf(out, n, "%s", value);
	else
		snprintf(out, n, "%s/%s", base, value);
	return out;
}

/* path (absolute) with "//", "." and ".." taken out, in place. Segments
 * are copied down behind the reading point, never ahead of it. */
static void normalize(char *path)
{
	size_t r = 0, w = 0, start, len;

	while (path[r]) {
		while (path[r] == '/')
			r++;
		start = r;
		while (path[r] && path[r] != '/')
			r++;
		len = r - start;
		if (len == 0 || (len == 1 && path[start] == '.'))
			continue;
		if (len == 2 && path[start] == '.' && path[start + 1] == '.') {
			while (w > 0 && path[w - 1] != '/')
				w--;
			if (w > 0)
				w--; /* the '/' before the segment dropped */
			continue;
		}
		path[w++] = '/';
		memmove(path + w, path + start, len);
		w += len;
	}
	if (w == 0)
		path[w++] = '/';
	path[w] = 0;
}

/* The folder node.toml is in, absolute. */
static char *config_dir(const char *path)
{
	char cwd[4096], *abs, *slash;

	if (path[0] == '/') {
		abs = strdup(path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		abs = join_path(cwd, path);
	}
	if (!abs)
		return NULL;
	normalize(abs);
	slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = 0;
	else
		*slash = 0;
	return abs;
}

/* ---- one value ---- */

static int in_range_seconds(struct sbuf *err, const char *where, const struct key_spec *k,
			    const struct toml_value *v, double x)
{
	struct sbuf m;
	int ret = 0;

	/* `lo <= x <= hi` is false for nan too */
	if (k->lo <= x && x <= k->hi)
		return 0;
	sbuf_init(&m, 1024);
	sbuf_puts(&m, "must be between ");
	number(&m, k->lo);
	sbuf_puts(&m, " and ");
	number(&m, k->hi);
	sbuf_printf(&m, " %s, got ", k->unit);
	if (v->type == TOML_INTEGER)
		sbuf_puts(&m, v->text);
	else
		number(&m, x);
	ret = refuse(err, where, "%s", m.failed ? "out of range" : m.data);
	sbuf_free(&m);
	return ret;
}

static int in_range_integer(struct sbuf *err, const char *where, const struct key_spec *k,
			    const struct toml_value *v)
{
	if (!v->negative && !v->overflow && v->magnitude >= k->ilo && v->magnitude <= k->ihi)
		return 0;
	return refuse(err, where, "must be between %llu and %llu%s%s, got %s", (unsigned long long)k->ilo,
		      (unsigned long long)k->ihi, *k->unit ? " " : "", k->unit, v->text);
}

static int check_transports(struct sbuf *err, const char *where, const struct toml_value *v,
			    struct cfg_value *out)
{
	struct sbuf m;
	size_t i, t;

	sbuf_init(&m, 4096);
	if (v->type != TOML_ARRAY || !v->count) {
		refuse(err, where, "must be a non-empty array of \"quic\", \"utcp\", not %s", WITH(m, what(&m, v)));
		goto bad;
	}
	out->ntransports = 0;
	for (i = 0; i < v->count; i++) {
		const struct toml_value *item = &v->items[i];

		for (t = 0; t < TRANSPORTS; t++)
			if (item->type == TOML_STRING && strcmp(item->text, transport_names[t]) == 0 &&
			    strlen(transport_names[t]) == item->len)
				break;
		if (t == TRANSPORTS) {
			refuse(err, where, "%s is not a transport; the transports are \"quic\", \"utcp\"",
			       WITH(m, what(&m, item)));
			goto bad;
		}
		if (i < TRANSPORTS)
			out->transports[i] = (int)t;
	}
	if (v->count > TRANSPORTS || (v->count == 2 && out->transports[0] == out->transports[1])) {
		refuse(err, where, "names a transport twice");
		goto bad;
	}
	out->ntransports = v->count;
	sbuf_free(&m);
	return 0;
bad:
	sbuf_free(&m);
	return -1;
}

/* value, if it is of k's kind and in its range, into out; else a refusal
 * on where. */
static int check_value(struct sbuf *err, const char *where, const struct key_spec *k,
		       const struct toml_value *v, struct cfg_value *out)
{
	struct sbuf m;
	char why[CONFIG_ERROR_BYTES];
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t pk[32];
	int ret = -1;

	sbuf_init(&m, 4096);
	out->given = out->set = 1;
	switch (k->kind) {
	case K_BOOLEAN:
		if (v->type != TOML_BOOL) {
			refuse(err, where, "must be true or false (a TOML boolean, no quotes), not %s",
			       WITH(m, what(&m, v)));
			goto out;
		}
		out->boolean = v->boolean;
		break;
	case K_INTEGER:
		if (v->type != TOML_INTEGER) {
			refuse(err, where, "must be an integer, not %s", WITH(m, what(&m, v)));
			goto out;
		}
		if (in_range_integer(err, where, k, v))
			goto out;
		out->integer = v->magnitude;
		break;
	case K_SECONDS:
		if (v->type != TOML_INTEGER && v->type != TOML_FLOAT) {
			refuse(err, where, "must be a number of seconds, not %s", WITH(m, what(&m, v)));
			goto out;
		}
		out->is_integer = v->type == TOML_INTEGER;
		out->seconds = v->type == TOML_FLOAT ? v->number :
			       v->overflow ? HUGE_VAL : (v->negative ? -1.0 : 1.0) * (double)v->magnitude;
		if (in_range_seconds(err, where, k, v, out->seconds))
			goto out;
		break;
	case K_TRANSPORTS:
		if (check_transports(err, where, v, out))
			goto out;
		break;
	case K_PATH:
	case K_ADDRESS:
	case K_DID:
		if (v->type != TOML_STRING) {
			refuse(err, where, "must be a string, not %s", WITH(m, what(&m, v)));
			goto out;
		}
		if (k->kind == K_PATH && (!v->len || strlen(v->text) != v->len)) {
			refuse(err, where, "must be a file name (not empty, no NUL)");
			goto out;
		}
		if (k->kind == K_ADDRESS &&
		    config_parse_address(v->text, (int)k->ilo, &ss, &sl, why, sizeof(why))) {
			refuse(err, where, "%s", why);
			goto out;
		}
		if (k->kind == K_DID && did_to_public_key(v->text, v->len, pk, why)) {
			sbuf_reset(&m);
			sbuf_json_string(&m, v->text, v->len);
			refuse(err, where, "%s is not a did:key of an Ed25519 key: %s", m.data, why);
			goto out;
		}
		out->text = strdup(v->text);
		if (!out->text) {
			refuse(err, where, "out of memory");
			goto out;
		}
		break;
	}
	ret = 0;
out:
	sbuf_free(&m);
	return ret;
}

static void set_default(const struct key_spec *k, struct cfg_value *out)
{
	memset(out, 0, sizeof(*out));
	out->set = k->on;
	out->boolean = k->def_boolean;
	out->integer = k->def_integer;
	out->seconds = k->def_seconds;
	out->is_integer = k->def_seconds == floor(k->def_seconds);
	if (k->def_text)
		out->text = strdup(k->def_text);
	if (k->kind == K_TRANSPORTS) {
		out->transports[0] = TRANSPORT_QUIC;
		out->transports[1] = TRANSPORT_UTCP;
		out->ntransports = 2;
	}
}

/* Every key of keys: raw's value, checked, or its default. prefix is how
 * the table is named ("[session]", "[[peers]] #2"). */
static int read_table(struct sbuf *err, const char *prefix, const struct key_spec *keys, size_t n,
		      const struct toml_value *raw, struct cfg_value *out)
{
	struct sbuf where;
	const struct toml_value *v;
	const char *hint;
	size_t i, j;
	int ret = -1;

	sbuf_init(&where, 4096);
	for (i = 0; raw && i < raw->count; i++) {
		for (j = 0; j < n && strcmp(raw->keys[i], keys[j].name) != 0; j++)
			;
		if (j < n)
			continue;
		hint = close_key(raw->keys[i], keys, n);
		sbuf_printf(&where, "%s ", prefix);
		key_name(&where, raw->keys[i]);
		refuse(err, where.data, "unknown key%s%s%s", hint ? " (did you mean " : "", hint ? hint : "",
		       hint ? "?)" : "");
		goto out;
	}
	for (j = 0; j < n; j++) {
		set_default(&keys[j], &out[j]);
		v = toml_get(raw, keys[j].name);
		if (!v)
			continue;
		free(out[j].text);
		out[j].text = NULL;
		sbuf_reset(&where);
		sbuf_printf(&where, "%s %s", prefix, keys[j].name);
		if (check_value(err, where.data, &keys[j], v, &out[j]))
			goto out;
	}
	ret = 0;
out:
	sbuf_free(&where);
	return ret;
}

/* ---- rules between keys ---- */

static double as_number(const struct key_spec *k, const struct cfg_value *v)
{
	return k->kind == K_SECONDS ? v->seconds : (double)v->integer;
}

static void shown(struct sbuf *b, const struct key_spec *k, const struct cfg_value *v)
{
	number(b, as_number(k, v));
	if (*k->unit)
		sbuf_printf(b, " %s", k->unit);
	if (!v->given)
		sbuf_puts(b, " (the default)");
}

static int holds(int below, double a, double b)
{
	return below ? a < b : a >= b;
}

/* scale turns the values into the unit the C code compares (ms). */
static int check_rules(struct sbuf *err, const char *prefix, const struct key_spec *keys,
		       const struct cfg_value *vals, const struct rule *rules, size_t n, double scale)
{
	struct sbuf where, a, b;
	size_t i;
	int ret = 0;

	sbuf_init(&where, 1024);
	sbuf_init(&a, 1024);
	sbuf_init(&b, 1024);
	for (i = 0; i < n && !ret; i++) {
		const struct rule *r = &rules[i];
		double x = as_number(&keys[r->a], &vals[r->a]), y = as_number(&keys[r->b], &vals[r->b]);

		if (holds(r->below, nearbyint(x * scale), nearbyint(y * scale)))
			continue;
		sbuf_printf(&where, "%s %s", prefix, keys[r->a].name);
		shown(&a, &keys[r->a], &vals[r->a]);
		shown(&b, &keys[r->b], &vals[r->b]);
		ret = refuse(err, where.data, "%s %s %s = %s%s", a.data, r->below ? "must be below" : "must not be below",
			     keys[r->b].name, b.data, holds(r->below, x, y) ? " (in whole milliseconds)" : "");
	}
	sbuf_free(&where);
	sbuf_free(&a);
	sbuf_free(&b);
	return ret;
}

/* ---- [[peers]] ---- */

static int read_peers(struct sbuf *err, const struct toml_value *raw, struct node_config *cfg)
{
	struct cfg_value vals[PEER_KEYS];
	struct sbuf m, prefix;
	size_t i, j;
	int ret = -1;

	if (!raw)
		return 0;
	sbuf_init(&m, 4096);
	sbuf_init(&prefix, 256);
	memset(vals, 0, sizeof(vals));
	if (raw->type == TOML_TABLE) {
		refuse(err, "[peers]", "must be an array of tables: [[peers]], with two brackets");
		goto out;
	}
	if (raw->type != TOML_ARRAY) {
		refuse(err, "peers", "must be an array of tables [[peers]], not %s", WITH(m, what(&m, raw)));
		goto out;
	}
	if (raw->count > L2S_LOOP_MAX_PEERS) {
		refuse(err, "[[peers]]", "at most %d peers, got %zu", L2S_LOOP_MAX_PEERS, raw->count);
		goto out;
	}
	cfg->peers = calloc(raw->count ? raw->count : 1, sizeof(*cfg->peers));
	if (!cfg->peers) {
		refuse(err, "[[peers]]", "out of memory");
		goto out;
	}
	for (i = 0; i < raw->count; i++) {
		const struct toml_value *entry = &raw->items[i];
		struct cfg_peer *p = &cfg->peers[i];
		char why[DID_WHY_BYTES];

		sbuf_reset(&prefix);
		sbuf_printf(&prefix, "[[peers]] #%zu", i + 1);
		if (entry->type != TOML_TABLE) {
			refuse(err, prefix.data, "must be a table, not %s", WITH(m, what(&m, entry)));
			goto out;
		}
		if (!toml_get(entry, "did")) {
			sbuf_puts(&prefix, " did");
			refuse(err, prefix.data, "missing; every peer needs its did");
			goto out;
		}
		if (read_table(err, prefix.data, peer_keys, PEER_KEYS, entry, vals))
			goto out;
		cfg->npeers = i + 1;
		snprintf(p->did, sizeof(p->did), "%s", vals[PEER_DID].text);
		did_to_public_key(p->did, strlen(p->did), p->pk, why);
		p->address = vals[PEER_ADDRESS].text;
		vals[PEER_ADDRESS].text = NULL;
		p->connect = vals[PEER_CONNECT].boolean;
		if (p->connect && !p->address) {
			sbuf_puts(&prefix, " address");
			refuse(err, prefix.data, "missing; connect = true%s needs the peer's address",
			       vals[PEER_CONNECT].given ? "" : " (the default)");
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(cfg->peers[j].did, p->did) == 0)
				break;
		if (j < i) {
			sbuf_puts(&prefix, " did");
			refuse(err, prefix.data, "the same peer as [[peers]] #%zu", j + 1);
			goto out;
		}
		for (j = 0; j < PEER_KEYS; j++) {
			free(vals[j].text);
			vals[j].text = NULL;
		}
	}
	ret = 0;
out:
	for (j = 0; j < PEER_KEYS; j++)
		free(vals[j].text);
	sbuf_free(&m);
	sbuf_free(&prefix);
	return ret;
}

/* ---- the file ---- */

static int read_file(const char *path, char **data, size_t *len, struct sbuf *err)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return refuse(err, NULL, "cannot read it: %s", strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > TOML_MAX_BYTES) {
		int e = errno;

		close(fd);
		if (S_ISDIR(st.st_mode))
			return refuse(err, NULL, "cannot read it: %s", strerror(EISDIR));
		return refuse(err, NULL, "cannot read it: %s", (size_t)st.st_size > TOML_MAX_BYTES ?
			      "longer than 1 MiB" : strerror(e));
	}
	*data = malloc((size_t)st.st_size + 1);
	if (!*data) {
		close(fd);
		return refuse(err, NULL, "cannot read it: out of memory");
	}
	while (got < (size_t)st.st_size && (n = read(fd, *data + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	*len = got;
	return 0;
}

static int count_lines(const char *s, size_t len)
{
	int n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len && s[len - 1] != '\n');
}

static int parse(const char *data, size_t len, struct toml_value *root, struct sbuf *err)
{
	struct toml_error e;

	if (!toml_parse(data, len, root, &e))
		return 0;
	if (e.column == 0 && e.line)
		return refuse(err, NULL, "line %d: %s", e.line, e.message);
	if (e.at_end)
		return refuse(err, NULL, "line %d (the end of the file): TOML syntax error: %s", count_lines(data, len),
			      e.message);
	if (!e.line)
		return refuse(err, NULL, "%s", e.message);
	return refuse(err, NULL, "line %d, column %d: TOML syntax error: %s", e.line, e.column, e.message);
}

static int check_top_level(const struct toml_value *root, struct sbuf *err)
{
	static const char *const names[] = { "node", "session", "loop", "peers" };
	struct sbuf where, m;
	size_t i, t, k;
	const char *hint, *home;
	int ret = -1;

	sbuf_init(&where, 4096);
	sbuf_init(&m, 4096);
	for (i = 0; i < root->count; i++) {
		const char *name = root->keys[i];
		const struct toml_value *v = &root->items[i];

		if (strcmp(name, "peers") == 0)
			continue;
		for (t = 0; t < TABLES && strcmp(name, tables[t].name) != 0; t++)
			;
		sbuf_reset(&where);
		if (t < TABLES) {
			if (v->type != TOML_TABLE) {
				refuse(err, name, "must be a table [%s], not %s", name, WITH(m, what(&m, v)));
				goto out;
			}
			continue;
		}
		if (v->type == TOML_TABLE) {
			hint = close_match(name, names, 4);
			sbuf_puts(&where, "[");
			key_name(&where, name);
			sbuf_puts(&where, "]");
			refuse(err, where.data, "unknown table%s%s%s", hint ? " (did you mean [" : "", hint ? hint : "",
			       hint ? "]?)" : "");
			goto out;
		}
		home = NULL;
		for (t = 0; t < TABLES && !home; t++)
			for (k = 0; k < tables[t].count; k++)
				if (strcmp(tables[t].keys[k].name, name) == 0)
					home = tables[t].name;
		key_name(&where, name);
		refuse(err, where.data, "unknown key at the top level%s%s%s; node.toml has [node], [session], [loop] and "
		       "[[peers]]", home ? " (it belongs in [" : "", home ? home : "", home ? "])" : "");
		goto out;
	}
	ret = 0;
out:
	sbuf_free(&where);
	sbuf_free(&m);
	return ret;
}

static int resolve_paths(struct node_config *cfg, struct sbuf *err)
{
	char *base = config_dir(cfg->path), *joined;
	size_t i;

	if (!base)
		return refuse(err, NULL, "cannot find the folder of the file: %s", strerror(errno));
	for (i = 0; i < NODE_KEYS; i++) {
		if (node_keys[i].kind != K_PATH || !cfg->node[i].text)
			continue;
		joined = join_path(base, cfg->node[i].text);
		free(cfg->node[i].text);
		cfg->node[i].text = joined;
	}
	free(base);
	if (!cfg->node[NODE_CONTROL].text) {
		cfg->node[NODE_CONTROL].text = join_path(cfg->node[NODE_STATE_DIR].text, "control.sock");
		cfg->node[NODE_CONTROL].set = 1;
	}
	for (i = 0; i < NODE_KEYS; i++)
		if (node_keys[i].kind == K_PATH && cfg->node[i].set && !cfg->node[i].text)
			return refuse(err, NULL, "out of memory");
	if (strlen(cfg->node[NODE_CONTROL].text) > MAX_SOCKET_PATH)
		return refuse(err, "[node] control", "%s is longer than %d bytes, too long for a Unix socket; set a "
			      "shorter control path", cfg->node[NODE_CONTROL].text, MAX_SOCKET_PATH);
	return 0;
}

/* The engine's own check, after the schema's: a rule the schema missed is
 * still one line. */
static int engine_check(const struct node_config *cfg, struct sbuf *err)
{
	struct l2s_config c;

	config_session(cfg, &c);
	if (l2s_config_check(&c) != L2S_OK)
		return refuse(err, "[session]", "the engine refuses this combination (l2s_config_check)");
	return 0;
}

int config_parse(const char *path, const char *data, size_t len, struct node_config *cfg,
		 char errline[CONFIG_ERROR_BYTES])
{
	struct toml_value root;
	struct sbuf err;
	int ret = -1;

	memset(cfg, 0, sizeof(*cfg));
	sbuf_init(&err, CONFIG_ERROR_BYTES - 1);
	cfg->path = strdup(path);
	if (!cfg->path) {
		refuse(&err, NULL, "out of memory");
		goto out;
	}
	if (parse(data, len, &root, &err))
		goto out;
	if (check_top_level(&root, &err) ||
	    read_table(&err, "[node]", node_keys, NODE_KEYS, toml_get(&root, "node"), cfg->node) ||
	    resolve_paths(cfg, &err) ||
	    read_table(&err, "[session]", session_keys, SESSION_KEYS, toml_get(&root, "session"), cfg->session) ||
	    check_rules(&err, "[session]", session_keys, cfg->session, session_rules,
			sizeof(session_rules) / sizeof(session_rules[0]), 1000) ||
	    engine_check(cfg, &err) ||
	    read_table(&err, "[loop]", loop_keys, LOOP_KEYS, toml_get(&root, "loop"), cfg->loop) ||
	    check_rules(&err, "[loop]", loop_keys, cfg->loop, loop_rules, sizeof(loop_rules) / sizeof(loop_rules[0]),
			1) ||
	    read_peers(&err, toml_get(&root, "peers"), cfg)) {
		toml_free(&root);
		goto out;
	}
	toml_free(&root);
	ret = 0;
out:
	snprintf(errline, CONFIG_ERROR_BYTES, "%s", err.data && !err.failed ? err.data : "(a message too long to say)");
	sbuf_free(&err);
	if (ret)
		config_free(cfg);
	return ret;
}

int config_load(const char *path, struct node_config *cfg, char errline[CONFIG_ERROR_BYTES])
{
	struct sbuf err;
	char *data = NULL;
	size_t len = 0;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	sbuf_init(&err, CONFIG_ERROR_BYTES - 1);
	if (read_file(path, &data, &len, &err)) {
		snprintf(errline, CONFIG_ERROR_BYTES, "%s", err.data ? err.data : "cannot read it");
		sbuf_free(&err);
		return -1;
	}
	sbuf_free(&err);
	ret = config_parse(path, data, len, cfg, errline);
	free(data);
	return ret;
}

void config_free(struct node_config *cfg)
{
	size_t i;

	for (i = 0; i < NODE_KEYS; i++)
		free(cfg->node[i].text);
	for (i = 0; i < cfg->npeers; i++)
		free(cfg->peers[i].address);
	free(cfg->peers);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- what the loop gets ---- */

static uint64_t ms(const struct cfg_value *v)
{
	return (uint64_t)nearbyint(v->seconds * 1000);
}

void config_session(const struct node_config *cfg, struct l2s_config *c)
{
	const struct cfg_value *s = cfg->session;

	l2s_config_default(c);
	c->ttl_ms = ms(&s[SESSION_TTL]);
	c->heartbeat_interval_ms = ms(&s[SESSION_HEARTBEAT_INTERVAL]);
	c->heartbeat_tolerance = (uint32_t)s[SESSION_HEARTBEAT_TOLERANCE].integer;
	c->handshake_timeout_ms = ms(&s[SESSION_HANDSHAKE_TIMEOUT]);
	c->rotation_window_ms = ms(&s[SESSION_ROTATION_WINDOW]);
	c->quarantine_ms = ms(&s[SESSION_QUARANTINE]);
	c->heartbeat_reply_timeout_ms = ms(&s[SESSION_HEARTBEAT_REPLY_TIMEOUT]);
	c->connectivity_timeout_ms = ms(&s[SESSION_CONNECTIVITY_TIMEOUT]);
	c->degraded_timeout_ms = ms(&s[SESSION_DEGRADED_TIMEOUT]);
	c->suspended_retry_ms = ms(&s[SESSION_SUSPENDED_RETRY]);
	c->backoff_base_ms = ms(&s[SESSION_BACKOFF_BASE]);
	c->backoff_max_ms = ms(&s[SESSION_BACKOFF_MAX]);
	c->max_retries = (uint32_t)s[SESSION_MAX_RETRIES].integer;
	c->key_grace_ms = ms(&s[SESSION_KEY_GRACE]);
	c->rotate_after_messages = s[SESSION_ROTATE_AFTER_MESSAGES].integer;
	c->rotate_after_bytes = s[SESSION_ROTATE_AFTER_BYTES].integer;
	c->retransmit_timeout_ms = ms(&s[SESSION_RETRANSMIT_TIMEOUT]);
	c->send_queue_limit = (uint32_t)s[SESSION_SEND_QUEUE_LIMIT].integer;
	c->send_queue_bytes_limit = s[SESSION_SEND_QUEUE_BYTES_LIMIT].integer;
	c->reorder_window = (uint32_t)s[SESSION_REORDER_WINDOW].integer;
	c->ticket_lifetime_ms = ms(&s[SESSION_TICKET_LIFETIME]);
	c->resume_dh = (uint32_t)s[SESSION_RESUME_DH].boolean;
}

/* ---- `l2sessd check` ---- */

static void value_json(struct sbuf *b, const struct key_spec *k, const struct cfg_value *v)
{
	size_t i;

	if (!v->set) {
		sbuf_puts(b, "null");
		return;
	}
	switch (k->kind) {
	case K_BOOLEAN:
		sbuf_puts(b, v->boolean ? "true" : "false");
		break;
	case K_INTEGER:
		sbuf_printf(b, "%llu", (unsigned long long)v->integer);
		break;
	case K_SECONDS:
		if (v->is_integer)
			sbuf_printf(b, "%.0f", v->seconds);
		else
			sbuf_repr_double(b, v->seconds);
		break;
	case K_TRANSPORTS:
		sbuf_puts(b, "[");
		for (i = 0; i < v->ntransports; i++)
			sbuf_printf(b, "%s\"%s\"", i ? ", " : "", transport_names[v->transports[i]]);
		sbuf_puts(b, "]");
		break;
	default:
		sbuf_json_string(b, v->text, strlen(v->text));
	}
}

static void table_json(struct sbuf *b, const char *name, const struct key_spec *keys, size_t n,
		       const struct cfg_value *vals)
{
	size_t i;

	sbuf_printf(b, "\"%s\": {", name);
	for (i = 0; i < n; i++) {
		sbuf_printf(b, "%s\"%s\": ", i ? ", " : "", keys[i].name);
		value_json(b, &keys[i], &vals[i]);
	}
	sbuf_puts(b, "}");
}

void config_json(const struct node_config *cfg, struct sbuf *out)
{
	size_t i, t;

	sbuf_puts(out, "{");
	for (t = 0; t < TABLES; t++) {
		const struct cfg_value *vals = t == 0 ? cfg->node : t == 1 ? cfg->session : cfg->loop;

		table_json(out, tables[t].name, tables[t].keys, tables[t].count, vals);
		sbuf_puts(out, ", ");
	}
	sbuf_puts(out, "\"peers\": [");
	for (i = 0; i < cfg->npeers; i++) {
		const struct cfg_peer *p = &cfg->peers[i];

		sbuf_printf(out, "%s{\"did\": \"%s\", \"address\": ", i ? ", " : "", p->did);
		if (p->address)
			sbuf_json_string(out, p->address, strlen(p->address));
		else
			sbuf_puts(out, "null");
		sbuf_printf(out, ", \"connect\": %s}", p->connect ? "true" : "false");
	}
	sbuf_puts(out, "]}\n");
}
