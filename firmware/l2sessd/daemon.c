// SPDX-License-Identifier: Apache-2.0
/* daemon.c - the running node (daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "command.h"
#include "config.h"
#include "hex.h"
#include "identity.h"
#include "inbox_marks.h"
#include "json.h"
#include "jsonlog.h"
#include "l2s_loop.h"
#include "server.h"
#include "status.h"
#include "statelock.h"
#include "store.h"

#define EVENT_BATCH 64
#define EXIT_ALREADY_RUNNING 4 /* as l2sess run's */
/* As runner.py's: renew 30 days before the bundle ends, checked hourly. */
#define RENEW_BEFORE_S (30u * 24 * 3600)
#define RENEW_CHECK_MS (3600u * 1000)

struct daemon {
	struct node_config cfg;
	struct identity id;
	int identity_created;
	struct jsonlog audit, deliveries;
	struct l2s_loop *loop;
	int lock_fd;
	char address[64];
	atomic_int stopping; /* 1: asked to stop; 2: the loop failed */
	struct checkpoint_marks saved;
	uint64_t checkpoint_failures;
	int checkpoint_errno;
	struct server control, metrics;
};

static int signal_pipe[2] = { -1, -1 };

/* ---- one line on stderr ---- */

static int refuse(const struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const struct daemon *d, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (i = 0; line[i]; i++) /* a path may hold anything: one line, always */
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	fprintf(stderr, "l2sessd: %s: %s\n", d->cfg.path, line);
	return 2;
}

/* ---- the audit log's records ---- */

static void audit_event(struct daemon *d, const struct l2s_loop_event *ev)
{
	static const char *const kinds[] = { [L2S_EV_STATE] = "state", [L2S_EV_ACCEPTED] = "accepted",
					     [L2S_EV_MESSAGE] = "message", [L2S_EV_DELIVERED] = "delivered",
					     [L2S_EV_WARNING] = "warning", [L2S_EV_TRANSPORT] = "transport",
					     [L2S_EV_CLOSED] = "closed", [L2S_LOOP_EV_PEER_ERROR] = "peer_error",
					     [L2S_LOOP_EV_INBOX] = "inbox", [L2S_LOOP_EV_REFUSED] = "refused" };
	static const uint8_t no_id[L2S_SESSION_ID_BYTES];
	char did[DID_MAX_CHARS + 1];
	const char *kind = ev->type > 0 && ev->type <= L2S_LOOP_EV_REFUSED ? kinds[ev->type] : NULL;
	const char *transport = transport_name(ev->transport);
	struct sbuf r;

	sbuf_init(&r, 4096);
	did_from_public_key(did, ev->peer_pk);
	if (kind)
		sbuf_printf(&r, "\"event\": \"%s\"", kind);
	else
		sbuf_printf(&r, "\"event\": \"%d\"", ev->type);
	sbuf_printf(&r, ", \"did\": \"%s\"", did);
	if (memcmp(ev->session_id, no_id, sizeof(no_id))) {
		sbuf_puts(&r, ", \"session_id\": \"");
		sbuf_hex(&r, ev->session_id, sizeof(ev->session_id));
		sbuf_puts(&r, "\"");
	}
	if (ev->type == L2S_EV_STATE) {
		if (ev->from >= 0 && ev->from <= L2S_STATE_END)
			sbuf_printf(&r, ", \"from_state\": \"%s\"", l2s_state_name(ev->from));
		sbuf_printf(&r, ", \"to_state\": \"%s\"",
			    ev->to >= 0 && ev->to <= L2S_STATE_END ? l2s_state_name(ev->to) : "end");
	}
	if (ev->reason)
		sbuf_printf(&r, ", \"reason\": \"%s\"", l2s_reason_name(ev->reason));
	if (transport)
		sbuf_printf(&r, ", \"transport\": \"%s\"", transport);
	if (ev->type == L2S_EV_MESSAGE || ev->type == L2S_EV_DELIVERED)
		sbuf_printf(&r, ", \"seq\": %llu", (unsigned long long)ev->seq);
	if (ev->type == L2S_LOOP_EV_PEER_ERROR)
		sbuf_printf(&r, ", \"error\": \"%s\"", l2s_strerror(ev->error));
	if (ev->type == L2S_LOOP_EV_INBOX) {
		if (ev->error)
			sbuf_printf(&r, ", \"inbox\": \"refusing messages: %s\"", strerror(ev->error));
		else
			sbuf_puts(&r, ", \"inbox\": \"writing again\"");
	}
	jsonlog_write(&d->audit, r.failed ? "\"event\": \"unrecorded\"" : r.data);
	sbuf_free(&r);
}

/* ---- checkpoints ---- */

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


static int live(int state)
{
	return state == L2S_ESTABLISHED || state == L2S_DEGRADED || state == L2S_ROTATING || state == L2S_SUSPENDED;
}

/* The session with pk, exported: *blob (malloc'd) and its length. */
static int export_session(struct daemon *d, const uint8_t pk[32], uint8_t **blob, size_t *len)
{
	size_t cap = 0, need = 0;
	int ret = l2s_loop_export(d->loop, pk, NULL, 0, &need);

	*blob = NULL;
	while (ret == L2S_ERR_LENGTH && need > cap) {
		if (*blob) {
			l2s_wipe(*blob, cap);
			free(*blob);
		}
		cap = need;
		*blob = malloc(cap);
		if (!*blob)
			return L2S_ERR_NOMEM;
		ret = l2s_loop_export(d->loop, pk, *blob, cap, &need);
	}
	*len = need;
	return ret;
}

static void checkpoint_peer(struct daemon *d, const struct l2s_loop_peer_info *p)
{
	char did[DID_MAX_CHARS + 1], stream[33];
	uint8_t *blob;
	size_t len, i;
	struct sbuf r;

	if (export_session(d, p->pk, &blob, &len) != L2S_OK) {
		free(blob);
		return;
	}
	for (i = 0; i < 16; i++)
		snprintf(stream + 2 * i, 3, "%02x", p->session.rx_stream[i]);
	/* The inbox's watermark is kept by the peer's stream (PROTOCOL.md §12). */
	if (store_save_session(d->cfg.node[NODE_STATE_DIR].text, p->pk, blob, len, stream)) {
		int e = errno;

		d->checkpoint_failures++;
		if (d->checkpoint_errno != e) { /* a full or read-only disk: the last save stays */
			did_from_public_key(did, p->pk);
			sbuf_init(&r, 1024);
			sbuf_printf(&r, "\"event\": \"checkpoint_failed\", \"did\": \"%s\", \"error\": \"%s\"", did,
				    strerror(e));
			jsonlog_write(&d->audit, r.data ? r.data : "");
			sbuf_free(&r);
		}
		d->checkpoint_errno = e;
	} else {
		d->checkpoint_errno = 0;
		checkpoint_saved(&d->saved, p, monotonic_ms());
	}
	l2s_wipe(blob, len);
	free(blob);
}

/* Saves every live session that changed (all of them when every is set),
 * and what a restart needs to resume it. */
static void checkpoint(struct daemon *d, int every)
{
	struct l2s_loop_peer_info info;
	uint64_t now = monotonic_ms();
	size_t i, n;

	n = l2s_loop_peer_count(d->loop);
	for (i = 0; i < n; i++)
		if (l2s_loop_peer_info(d->loop, i, &info) == L2S_OK && info.has_session && live(info.session.state) &&
		    (every || checkpoint_due(&d->saved, &info, now)))
			checkpoint_peer(d, &info);
	l2s_wipe(&info, sizeof(info));
}

/* ---- events ---- */

static void on_event(struct daemon *d, const struct l2s_loop_event *ev)
{
	char did[DID_MAX_CHARS + 1], fields[128];

	if (ev->type == L2S_EV_DELIVERED) {
		did_from_public_key(did, ev->peer_pk);
		snprintf(fields, sizeof(fields), "\"did\": \"%s\", \"seq\": %llu", did, (unsigned long long)ev->seq);
		jsonlog_write(&d->deliveries, fields);
	} else if (ev->type != L2S_EV_MESSAGE) { /* the loop wrote it to the inbox */
		audit_event(d, ev);
	}
	if (ev->type == L2S_EV_STATE && ev->to == L2S_ESTABLISHED)
		checkpoint(d, 0); /* new keys: an older blob could not resume */
}

/* Every event waiting, in order. */
static void take_events(struct daemon *d)
{
	struct l2s_loop_event evs[EVENT_BATCH];
	int n, i;

	do {
		n = l2s_loop_next_events(d->loop, evs, EVENT_BATCH);
		for (i = 0; i < n; i++)
			on_event(d, &evs[i]);
	} while (n == EVENT_BATCH);
}

/* ---- peers ---- */

static void audit_inbox_problems(struct daemon *d, const struct inbox_marks *m)
{
	struct sbuf r;
	size_t i;

	sbuf_init(&r, 8192);
	for (i = 0; i < m->nproblems; i++) {
		sbuf_reset(&r);
		sbuf_puts(&r, "\"event\": \"inbox_damaged\", \"problem\": ");
		sbuf_json_string(&r, m->problems[i], strlen(m->problems[i]));
		jsonlog_write(&d->audit, r.data ? r.data : "");
	}
	sbuf_free(&r);
}

static int peer_address(const struct cfg_peer *p, struct sockaddr_storage *ss, socklen_t *len)
{
	char err[256];

	*len = 0;
	return p->address ? config_parse_address(p->address, 1, ss, len, err, sizeof(err)) : 0;
}

static void import_saved(struct daemon *d, const struct cfg_peer *p, const struct inbox_marks *m)
{
	char stream[33];
	uint8_t *blob;
	size_t len, i;
	uint64_t upto = 0;
	struct sbuf r;
	int ret;

	if (store_load_session(d->cfg.node[NODE_STATE_DIR].text, p->pk, &blob, &len, stream))
		return;
	for (i = 0; i < m->count; i++)
		if (strcmp(m->streams[i].sid, stream) == 0)
			upto = m->streams[i].mark;
	ret = l2s_loop_import(d->loop, blob, len, upto);
	l2s_wipe(blob, len);
	free(blob);
	sbuf_init(&r, 1024);
	if (ret == L2S_OK)
		sbuf_printf(&r, "\"event\": \"import\", \"did\": \"%s\", \"stream\": \"%s\", \"delivered_upto\": %llu",
			    p->did, stream, (unsigned long long)upto);
	else
		sbuf_printf(&r, "\"event\": \"import_failed\", \"did\": \"%s\", \"error\": \"import: %s\"", p->did,
			    ret == L2S_ERR_EXPIRED ? "stored session expired" : l2s_strerror(ret));
	jsonlog_write(&d->audit, r.data ? r.data : "");
	sbuf_free(&r);
}

/* Every peer of the config: known (an allow-list entry), told what the
 * inbox already holds of its streams, its saved session imported, and
 * then, when it is one to keep a session with, connected. */
static void add_peers(struct daemon *d)
{
	struct inbox_marks marks = { 0 };
	struct sockaddr_storage ss;
	socklen_t sl;
	char pk_hex[65], line[256];
	uint8_t stream[16];
	size_t i, j;

	if (d->cfg.node[NODE_INBOX].text && inbox_marks_read(d->cfg.node[NODE_INBOX].text, &marks)) {
		snprintf(line, sizeof(line), "\"event\": \"inbox_damaged\", \"problem\": \"cannot read the inbox: %s\"",
			 strerror(errno));
		jsonlog_write(&d->audit, line);
	}
	audit_inbox_problems(d, &marks);
	for (i = 0; i < d->cfg.npeers; i++) {
		const struct cfg_peer *p = &d->cfg.peers[i];

		peer_address(p, &ss, &sl);
		l2s_loop_add_peer(d->loop, p->pk, sl ? (struct sockaddr *)&ss : NULL, sl, 0);
		/* Every stream of the peer's the inbox holds, not only the one the
		 * checkpoint received: a stream started after it may come again. */
		for (j = 0; j < 32; j++)
			snprintf(pk_hex + 2 * j, 3, "%02x", p->pk[j]);
		for (j = 0; j < marks.count; j++) {
			if (strcmp(marks.streams[j].owner, pk_hex) != 0)
				continue;
			hex_decode(marks.streams[j].sid, 32, stream, sizeof(stream));
			l2s_loop_set_delivered(d->loop, p->pk, stream, marks.streams[j].mark);
		}
		import_saved(d, p, &marks);
		if (p->connect)
			l2s_loop_add_peer(d->loop, p->pk, sl ? (struct sockaddr *)&ss : NULL, sl, 1);
	}
	inbox_marks_free(&marks);
}

/* SIGHUP: [[peers]] read again (new ones added, changed ones updated,
 * removed ones closed); the logs reopened. Other keys take a restart. */
static void reload(struct daemon *d)
{
	struct node_config fresh;
	char err[CONFIG_ERROR_BYTES], line[CONFIG_ERROR_BYTES + 128];
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t i, j;
	struct sbuf r;

	jsonlog_reopen(&d->audit);
	jsonlog_reopen(&d->deliveries);
	if (config_load(d->cfg.path, &fresh, err)) {
		fprintf(stderr, "l2sessd: %s: not reloaded: %s\n", d->cfg.path, err);
		sbuf_init(&r, sizeof(line));
		sbuf_puts(&r, "\"event\": \"reload_failed\", \"error\": ");
		sbuf_json_string(&r, err, strlen(err));
		jsonlog_write(&d->audit, r.data ? r.data : "");
		sbuf_free(&r);
		return;
	}
	for (i = 0; i < d->cfg.npeers; i++) {
		for (j = 0; j < fresh.npeers && strcmp(fresh.peers[j].did, d->cfg.peers[i].did) != 0; j++)
			;
		if (j == fresh.npeers)
			l2s_loop_close_peer(d->loop, d->cfg.peers[i].pk);
	}
	for (i = 0; i < fresh.npeers; i++) {
		peer_address(&fresh.peers[i], &ss, &sl);
		l2s_loop_add_peer(d->loop, fresh.peers[i].pk, sl ? (struct sockaddr *)&ss : NULL, sl,
				  fresh.peers[i].connect);
	}
	/* Only the peers change hands; the rest of the running config stays. */
	for (i = 0; i < d->cfg.npeers; i++)
		free(d->cfg.peers[i].address);
	free(d->cfg.peers);
	d->cfg.peers = fresh.peers;
	d->cfg.npeers = fresh.npeers;
	fresh.peers = NULL;
	fresh.npeers = 0;
	config_free(&fresh);
	snprintf(line, sizeof(line), "\"event\": \"reload\", \"peers\": %zu", d->cfg.npeers);
	jsonlog_write(&d->audit, line);
	fprintf(stderr, "l2sessd: reloaded [[peers]] (%zu); other keys take effect at the next start\n",
		d->cfg.npeers);
}

/* ---- the control socket and /metrics ---- */

static void source(struct daemon *d, struct status_source *src)
{
	memset(src, 0, sizeof(*src));
	src->loop = d->loop;
	src->did = d->id.did;
	src->address = d->address;
	src->files.audit_log_failures = d->audit.failures;
	src->files.audit_log_errno = d->audit.last_errno;
	src->files.delivery_log_failures = d->deliveries.failures;
	src->files.delivery_log_errno = d->deliveries.last_errno;
	src->files.checkpoint_failures = d->checkpoint_failures;
	src->files.checkpoint_errno = d->checkpoint_errno;
	src->prekey_not_after = d->id.prekey_not_after;
}

/* ---- the prekey ---- */

/* A new prekey: into the identity file first (a crash leaves the old or
 * the new one there), then to the loop; the current one stays accepted as
 * the previous. As runner.py's renew_prekey. 0 or an errno. */
static int renew_prekey(struct daemon *d, const char *why)
{
	const char *path = d->cfg.node[NODE_IDENTITY].text;
	struct identity fresh = d->id;
	char line[256], when[32] = "";
	time_t t;
	struct tm tm;
	int e = 0;

	identity_renew_prekey(&fresh, (uint64_t)time(NULL));
	if (identity_save(path, &fresh))
		e = errno;
	else if (l2s_loop_renew_prekey(d->loop, fresh.prekey_seed, fresh.prekey_not_after) != L2S_OK)
		e = EINVAL;
	if (e) {
		identity_wipe(&fresh);
		snprintf(line, sizeof(line), "\"event\": \"prekey_renew_failed\", \"error\": \"%s\"", strerror(e));
		jsonlog_write(&d->audit, line);
		fprintf(stderr, "l2sessd: prekey not renewed: %s: %s\n", path, strerror(e));
		return e;
	}
	identity_wipe(&d->id);
	d->id = fresh;
	identity_wipe(&fresh);
	t = (time_t)d->id.prekey_not_after;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	snprintf(line, sizeof(line), "\"event\": \"prekey_renewed\", \"reason\": \"%s\", \"not_after\": \"%s\"",
		 why, when);
	jsonlog_write(&d->audit, line);
	fprintf(stderr, "l2sessd: prekey renewed (%s); valid until %s\n", why, when);
	return 0;
}

/* At start and every RENEW_CHECK_MS: renews a prekey near its end, and
 * drops from the identity file a previous one that has ended. */
static void renew_if_due(struct daemon *d)
{
	uint64_t now = (uint64_t)time(NULL);

	if (d->id.prekey_not_after < now + RENEW_BEFORE_S)
		renew_prekey(d, "expiring");
	if (d->id.has_previous && d->id.previous_not_after <= now) {
		d->id.has_previous = 0;
		l2s_wipe(d->id.previous_prekey_seed, sizeof(d->id.previous_prekey_seed));
		identity_save(d->cfg.node[NODE_IDENTITY].text, &d->id);
	}
}

static int is_renew(const char *request, size_t len)
{
	struct json_object req;
	const struct json_member *cmd;
	int yes;

	if (json_parse_object(request, len, &req))
		return 0;
	cmd = json_get(&req, "cmd", JSON_STRING);
	yes = cmd && strcmp(cmd->text, "renew") == 0;
	json_object_free(&req);
	return yes;
}

static void on_control(void *ctx, const char *request, size_t len, struct sbuf *reply)
{
	struct daemon *d = ctx;
	struct status_source src;
	int e;

	if (is_renew(request, len)) {
		e = renew_prekey(d, "requested");
		if (e) {
			sbuf_puts(reply, "{\"ok\": false, \"error\": ");
			sbuf_json_string(reply, strerror(e), strlen(strerror(e)));
		} else {
			sbuf_puts(reply, "{\"ok\": true, \"prekey\": ");
			status_prekey_json(reply, d->id.prekey_not_after);
		}
		sbuf_puts(reply, "}");
		return;
	}
	source(d, &src);
	command_answer(d->loop, &src, request, len, reply);
}

static void on_metrics(void *ctx, const char *request, size_t len, struct sbuf *reply)
{
	struct daemon *d = ctx;
	struct status_source src;

	(void)request;
	(void)len;
	source(d, &src);
	status_metrics(&src, reply);
}

/* ---- start, run, stop ---- */

static void on_signal(int sig)
{
	char c = sig == SIGHUP ? 'H' : 'T';
	int e = errno;

	if (write(signal_pipe[1], &c, 1) < 0) {
		/* full: a wake-up is already waiting */
	}
	errno = e;
}

static int catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK))
		return -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a control client that left: write() says EPIPE */
	return 0;
}

/* The state directory, and its lock: one node at a time on it. */
static int open_state(struct daemon *d)
{
	const char *state_dir = d->cfg.node[NODE_STATE_DIR].text;
	char err[STORE_ERROR_BYTES];

	if (store_open_state(state_dir, err))
		return refuse(d, "[node] state_dir: %s", err);
	d->lock_fd = statelock_take(state_dir, err);
	if (d->lock_fd == -2) {
		refuse(d, "[node] state_dir: %s", err);
		return EXIT_ALREADY_RUNNING;
	}
	if (d->lock_fd < 0)
		return refuse(d, "[node] state_dir: %s", err);
	return 0;
}

/* The identity, created on the first run only: a missing file where the
 * state directory already names a DID is a typo or a loss, not a new node
 * (l2sess/node/runner.py's check_identity, in the same words). */
static int open_identity(struct daemon *d)
{
	const char *path = d->cfg.node[NODE_IDENTITY].text, *state_dir = d->cfg.node[NODE_STATE_DIR].text;
	char err[STORE_ERROR_BYTES], recorded[128];
	int missing, known;

	known = statelock_recorded_did(state_dir, recorded, sizeof(recorded), err);
	if (known < 0)
		return refuse(d, "[node] state_dir: %s", err);
	if (identity_load(path, &d->id, &missing, err)) {
		if (missing && known)
			return refuse(d, "[node] identity: %s: no such file, but state_dir %s belongs to %s; "
				      "restore that identity file or correct the path", path, state_dir, recorded);
		if (!missing || identity_create(path, &d->id, err))
			return refuse(d, "[node] identity: %s", err);
		d->identity_created = 1;
	}
	if (known && strcmp(recorded, d->id.did) != 0)
		return refuse(d, "[node] identity: %s is %s, but state_dir %s belongs to %s; each identity needs "
			      "its own state_dir", path, d->id.did, state_dir, recorded);
	if (!known && statelock_record_did(state_dir, d->id.did))
		return refuse(d, "[node] state_dir: %s/did: %s", state_dir, strerror(errno));
	return 0;
}

static int open_files(struct daemon *d)
{
	const struct cfg_value *n = d->cfg.node;
	int fd;

	if (jsonlog_open(&d->audit, n[NODE_AUDIT_LOG].text, n[NODE_LOG_MAX_BYTES].integer,
			 (unsigned)n[NODE_LOG_KEEP].integer))
		return refuse(d, "[node] audit_log: %s: %s", n[NODE_AUDIT_LOG].text, strerror(errno));
	if (jsonlog_open(&d->deliveries, n[NODE_DELIVERY_LOG].text, n[NODE_LOG_MAX_BYTES].integer,
			 (unsigned)n[NODE_LOG_KEEP].integer))
		return refuse(d, "[node] delivery_log: %s: %s", n[NODE_DELIVERY_LOG].text, strerror(errno));
	if (n[NODE_INBOX].text) { /* the loop opens it as it would */
		fd = store_open_private_append(n[NODE_INBOX].text);
		if (fd < 0)
			return refuse(d, "[node] inbox: %s: %s", n[NODE_INBOX].text, strerror(errno));
		close(fd);
	}
	return 0;
}

/* The loop's parameters from node.toml: the session config, the loop's
 * settings, the listen address, the transports, the inbox. */
static void loop_params(const struct node_config *cfg, struct l2s_loop_params *p)
{
	const struct cfg_value *l = cfg->loop, *n = cfg->node;
	char err[256];
	size_t i;

	l2s_loop_params_default(p);
	config_session(cfg, &p->cfg);
	p->happy_eyeballs_ms = l[LOOP_HAPPY_EYEBALLS_MS].integer;
	p->path_timeout_ms = l[LOOP_PATH_TIMEOUT_MS].integer;
	p->quic_retry_ms = l[LOOP_QUIC_RETRY_MS].integer;
	p->reconnect_base_ms = l[LOOP_RECONNECT_BASE_MS].integer;
	p->reconnect_max_ms = l[LOOP_RECONNECT_MAX_MS].integer;
	p->event_queue_limit = (uint32_t)l[LOOP_EVENT_QUEUE_LIMIT].integer;
	p->quic.idle_timeout_ms = l[LOOP_QUIC_IDLE_TIMEOUT_MS].integer;
	p->quic.keepalive_ms = l[LOOP_QUIC_KEEPALIVE_MS].integer;
	p->node.max_sessions = (uint32_t)l[LOOP_MAX_SESSIONS].integer;
	p->node.handshake_rate_per_s = (uint32_t)l[LOOP_HANDSHAKE_RATE_PER_S].integer;
	p->node.handshake_work_per_s = (uint32_t)l[LOOP_HANDSHAKE_WORK_PER_S].integer;
	p->memory_budget = l[LOOP_MEMORY_BUDGET].integer;
	p->quic.max_connections = (uint32_t)l[LOOP_QUIC_MAX_CONNECTIONS].integer;
	p->tcp.max_connections = (uint32_t)l[LOOP_TCP_MAX_CONNECTIONS].integer;

	if (n[NODE_LISTEN].text)
		config_parse_address(n[NODE_LISTEN].text, 0, &p->listen, &p->listen_len, err, sizeof(err));
	p->accept_any = n[NODE_ACCEPT_ANY].boolean;
	p->no_quic = p->no_utcp = 1;
	for (i = 0; i < n[NODE_TRANSPORTS].ntransports; i++) {
		if (n[NODE_TRANSPORTS].transports[i] == TRANSPORT_QUIC)
			p->no_quic = 0;
		else
			p->no_utcp = 0;
	}
	p->inbox = n[NODE_INBOX].text;
	p->inbox_max_bytes = n[NODE_INBOX_MAX_BYTES].integer;
	p->inbox_keep = (uint32_t)n[NODE_INBOX_KEEP].integer;
	p->inbox_sync = n[NODE_INBOX_SYNC].boolean;
}

static int open_loop(struct daemon *d)
{
	struct l2s_loop_params p;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct timespec now;
	int ret;

	loop_params(&d->cfg, &p);
	memcpy(p.node.identity_sk, d->id.secret_key, sizeof(p.node.identity_sk));
	memcpy(p.node.prekey_seed, d->id.prekey_seed, sizeof(p.node.prekey_seed));
	if (d->id.has_previous) {
		memcpy(p.node.previous_prekey_seed, d->id.previous_prekey_seed, sizeof(p.node.previous_prekey_seed));
		p.node.has_previous_prekey = 1;
	}
	memcpy(p.node.storage_key, d->id.storage_key, sizeof(p.node.storage_key));
	p.node.prekey_not_after_s = d->id.prekey_not_after;
	/* The handshake counter only has to grow across restarts (the peer
	 * refuses a replayed one): microseconds of the wall clock do. */
	clock_gettime(CLOCK_REALTIME, &now);
	p.node.handshake_counter = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	ret = l2s_loop_new(&d->loop, &p);
	l2s_wipe(&p, sizeof(p));
	if (ret == L2S_ERR_IO)
		return refuse(d, "[node] listen: cannot bind %s (is the port in use, or the address not one of this "
			      "host's?)", d->cfg.node[NODE_LISTEN].text);
	if (ret != L2S_OK)
		return refuse(d, "the engine refused the configuration: %s", l2s_strerror(ret));
	if (l2s_loop_local_addr(d->loop, &ss, &sl) == L2S_OK)
		address_text(&ss, d->address);
	return 0;
}

static int open_servers(struct daemon *d)
{
	const struct cfg_value *n = d->cfg.node;
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[256];

	switch (server_open_control(&d->control, n[NODE_CONTROL].text, on_control, d)) {
	case 0:
		break;
	case -2:
		refuse(d, "[node] control: another node answers on %s; stop it first, or give this one a "
		       "[node] control of its own", n[NODE_CONTROL].text);
		return EXIT_ALREADY_RUNNING;
	default:
		return refuse(d, "[node] control: %s: %s", n[NODE_CONTROL].text, strerror(errno));
	}
	if (n[NODE_METRICS].text) {
		config_parse_address(n[NODE_METRICS].text, 1, &ss, &sl, err, sizeof(err));
		if (server_open_http(&d->metrics, (struct sockaddr *)&ss, sl, on_metrics, d))
			return refuse(d, "[node] metrics: %s: %s", n[NODE_METRICS].text, strerror(errno));
	}
	return 0;
}


static int min_timeout(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static void on_signals(struct daemon *d)
{
	char sig[16];
	ssize_t got, i;

	got = read(signal_pipe[0], sig, sizeof(sig));
	for (i = 0; i < got; i++) {
		if (sig[i] == 'H')
			reload(d);
		else
			atomic_store(&d->stopping, 1);
	}
}

/* Everything, on this one thread, until SIGTERM: the loop (its fd and
 * timers), its events, the signals, the two servers, and a checkpoint
 * every checkpoint_interval. One thread keeps a gateway's memory small
 * and the daemon free of locks. */
static void serve(struct daemon *d)
{
	struct pollfd fds[2 + 2 * (1 + SERVER_MAX_CLIENTS)];
	uint64_t interval = (uint64_t)(d->cfg.node[NODE_CHECKPOINT_INTERVAL].seconds * 1000 + 0.5), next, now;
	uint64_t next_renew_check = monotonic_ms() + RENEW_CHECK_MS;
	size_t n, metrics_at;
	int timeout;

	next = monotonic_ms() + interval;
	while (!atomic_load(&d->stopping)) {
		fds[0] = (struct pollfd){ .fd = l2s_loop_poll_fd(d->loop), .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = signal_pipe[0], .events = POLLIN };
		n = 2;
		server_poll_fds(&d->control, fds, &n);
		metrics_at = n;
		server_poll_fds(&d->metrics, fds, &n);
		now = monotonic_ms();
		timeout = min_timeout(l2s_loop_poll_timeout(d->loop), now >= next ? 0 : (int)(next - now));
		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "l2sessd: poll failed: %s\n", strerror(errno));
			atomic_store(&d->stopping, 2);
			break;
		}
		if (l2s_loop_run_once(d->loop, 0) != L2S_OK) {
			fprintf(stderr, "l2sessd: the event loop failed: %s\n", strerror(errno));
			atomic_store(&d->stopping, 2);
			break;
		}
		take_events(d);
		if (fds[1].revents & POLLIN)
			on_signals(d);
		server_on_poll(&d->control, fds, 2);
		server_on_poll(&d->metrics, fds, metrics_at);
		if (monotonic_ms() >= next) {
			checkpoint(d, 0);
			next = monotonic_ms() + interval;
		}
		if (monotonic_ms() >= next_renew_check) {
			renew_if_due(d);
			next_renew_check = monotonic_ms() + RENEW_CHECK_MS;
		}
	}
}

static void describe(const struct daemon *d)
{
	const struct cfg_value *t = &d->cfg.node[NODE_TRANSPORTS];
	char transports[32] = "";
	size_t i;

	for (i = 0; i < t->ntransports; i++) {
		int quic = t->transports[i] == TRANSPORT_QUIC;

		if (quic && !l2s_loop_has_quic())
			continue;
		snprintf(transports + strlen(transports), sizeof(transports) - strlen(transports), "%s%s",
			 *transports ? "+" : "", quic ? "quic" : "utcp");
	}
	fprintf(stderr, "l2sessd %s: %s on %s (%s%s)\n", l2s_version(), d->id.did, d->address, transports,
		l2s_loop_has_quic() ? "" : "; built without QUIC: μTCP and discovery only");
}

static void finish(struct daemon *d)
{
	char fields[128];

	if (d->loop) {
		take_events(d);
		checkpoint(d, 1); /* no more traffic: this is the final state */
	}
	server_close(&d->metrics);
	server_close(&d->control);
	l2s_loop_free(d->loop); /* closes the connections; the sessions stay resumable */
	d->loop = NULL;
	if (d->id.did[0]) {
		snprintf(fields, sizeof(fields), "\"event\": \"stop\", \"did\": \"%s\"", d->id.did);
		jsonlog_write(&d->audit, fields);
	}
	jsonlog_close(&d->audit);
	jsonlog_close(&d->deliveries);
	identity_wipe(&d->id);
	checkpoint_marks_free(&d->saved);
	config_free(&d->cfg);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
}

int daemon_run(const char *config_path)
{
	struct daemon d;
	char err[CONFIG_ERROR_BYTES], fields[256];
	int ret;

	memset(&d, 0, sizeof(d));
	d.lock_fd = -1;
	server_init(&d.control);
	server_init(&d.metrics);
	jsonlog_open(&d.audit, NULL, 0, 1);
	jsonlog_open(&d.deliveries, NULL, 0, 1);
	umask(077); /* whatever the node makes is its user's alone */
	if (config_load(config_path, &d.cfg, err)) {
		fprintf(stderr, "l2sessd: %s: %s\n", config_path, err);
		return 2;
	}
	if (l2s_init() != L2S_OK || catch_signals()) {
		ret = refuse(&d, "cannot start: %s", strerror(errno));
		goto out;
	}
	ret = open_state(&d);
	if (!ret)
		ret = open_identity(&d);
	if (!ret)
		ret = open_files(&d);
	if (!ret)
		ret = open_loop(&d);
	if (ret)
		goto out;
	snprintf(fields, sizeof(fields), "\"event\": \"start\", \"did\": \"%s\", \"identity_created\": %s, "
		 "\"address\": \"%s\"", d.id.did, d.identity_created ? "true" : "false", d.address);
	jsonlog_write(&d.audit, fields);
	ret = open_servers(&d);
	if (ret)
		goto out;
	add_peers(&d);
	renew_if_due(&d);
	describe(&d);
	serve(&d);
	ret = atomic_load(&d.stopping) == 2 ? 1 : 0;
out:
	finish(&d);
	return ret;
}
