// SPDX-License-Identifier: Apache-2.0
/* status.c - status JSON and Prometheus text (status.h). */
#include "status.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "did.h"

struct stat_entry {
	const char *name;
	uint64_t value;
	int gauge;
};

#define MAX_STATS 64

const char *transport_name(int kind)
{
	return kind == L2S_TRANSPORT_QUIC ? "quic" : kind == L2S_TRANSPORT_UTCP ? "utcp" : NULL;
}

void address_text(const struct sockaddr_storage *ss, char out[64])
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, 64, "%s:%u", host, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, 64, "%s:%u", host, ntohs(a->sin_port));
	}
}

/* The loop's counters and the daemon's, named as l2sess's Loop.stats()
 * and Runner.status() name them; gauges as metrics.py has them. */
static size_t collect(const struct l2s_loop_stats *s, const struct status_source *src, struct stat_entry *e)
{
	const struct file_health *f = &src->files;
	size_t n = 0;
#define C(name, v) e[n++] = (struct stat_entry){ name, (uint64_t)(v), 0 }
#define G(name, v) e[n++] = (struct stat_entry){ name, (uint64_t)(v), 1 }
	C("rounds", s->rounds);
	C("rx_messages", s->rx_messages);
	C("tx_messages", s->tx_messages);
	C("tx_dropped", s->tx_dropped);
	C("disc_probes", s->disc_probes);
	C("disc_answers", s->disc_answers);
	C("disc_dropped", s->disc_dropped);
	C("handshakes", s->handshakes);
	C("resumptions", s->resumptions);
	C("fallbacks", s->fallbacks);
	C("returns", s->returns);
	C("handshakes_prepared", s->handshakes_prepared);
	C("prepared_by_caller", s->prepared_by_caller);
	C("prepared_by_loop", s->prepared_by_loop);
	G("events_queued", s->events_queued);
	G("events_peak", s->events_peak);
	G("sessions", s->sessions);
	G("peers", s->peers);
	C("tx_held", s->tx_held);
	C("quic_rx_datagrams", s->quic.rx_datagrams);
	C("quic_tx_datagrams", s->quic.tx_datagrams);
	C("quic_rx_dropped", s->quic.rx_dropped);
	C("quic_rx_conn_errors", s->quic.rx_conn_errors);
	G("quic_connections", s->quic.connections);
	C("quic_framing_errors", s->quic.framing_errors);
	C("quic_retries_sent", s->quic.retries_sent);
	C("quic_version_negotiations", s->quic.version_negotiations);
	C("quic_answers_withheld", s->quic.answers_withheld);
	G("quic_own_sockets", s->quic.own_sockets);
	C("quic_own_socket_failures", s->quic.own_socket_failures);
	C("quic_tx_gso_sends", s->quic.tx_gso_sends);
	C("quic_gso_failures", s->quic.gso_failures);
	C("quic_rx_gro_datagrams", s->quic.rx_gro_datagrams);
	C("tcp_accepted", s->tcp.accepted);
	G("tcp_connections", s->tcp.connections);
	C("tcp_framing_errors", s->tcp.framing_errors);
	C("tcp_resets", s->tcp.resets);
	G("tcp_untrusted", s->tcp.untrusted);
	G("tcp_held_bytes", s->tcp.held_bytes);
	G("memory_budget", s->budget_limit);
	G("memory_used", s->budget_used);
	G("memory_peak", s->budget_peak);
	C("quic_refused_budget", s->quic.refused_budget);
	C("quic_shed_budget", s->quic.shed_budget);
	C("quic_budget_full", s->quic.budget_full);
	C("shed_not_reading", s->tcp.shed_not_reading);
	C("shed_unauthenticated", s->tcp.shed_unauthenticated);
	C("shed_for_new", s->tcp.shed_for_new);
	C("shed_budget", s->tcp.shed_budget);
	C("inbox_failures", s->inbox_failures);
	G("inbox_refusing", s->inbox_refusing);
	C("inbox_rotations", s->inbox_rotations);
	C("paths_unproven_closed", s->paths_unproven_closed);
	C("refused", s->refused);
	C("audit_log_failures", f->audit_log_failures);
	C("delivery_log_failures", f->delivery_log_failures);
	C("checkpoint_failures", f->checkpoint_failures);
	G("prekey_not_after_seconds", src->prekey_not_after);
#undef C
#undef G
	return n;
}

void status_prekey_json(struct sbuf *b, uint64_t not_after)
{
	int64_t left = (int64_t)not_after - (int64_t)time(NULL);
	time_t t = (time_t)not_after;
	char when[32] = "";
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	sbuf_printf(b, "{\"not_after\": \"%s\", \"expires_in_s\": %lld, \"warning\": ", when, (long long)left);
	if (left <= 0)
		sbuf_puts(b, "\"" PREKEY_EXPIRED "\"}");
	else if (left < PREKEY_WARN_S)
		sbuf_printf(b, "\"" PREKEY_EXPIRING "\"}", (long long)(left / 86400));
	else
		sbuf_puts(b, "null}");
}

static void error_or_null(struct sbuf *b, int err)
{
	if (err)
		sbuf_json_string(b, strerror(err), strlen(strerror(err)));
	else
		sbuf_puts(b, "null");
}

static void session_json(struct sbuf *b, const struct l2s_session_info *i)
{
	const char *state = i->state >= 0 && i->state <= L2S_STATE_END ? l2s_state_name(i->state) : NULL;

	sbuf_puts(b, "{\"state\": ");
	if (state)
		sbuf_printf(b, "\"%s\"", state);
	else
		sbuf_printf(b, "\"%d\"", i->state);
	sbuf_printf(b, ", \"initiator\": %s, \"session_id\": \"", i->initiator ? "true" : "false");
	sbuf_hex(b, i->session_id, sizeof(i->session_id));
	sbuf_puts(b, "\", \"rx_stream\": \"");
	sbuf_hex(b, i->rx_stream, sizeof(i->rx_stream));
	sbuf_printf(b, "\", \"expires_ms\": %llu, \"key_established_ms\": %llu, \"missed_heartbeats\": %u, "
		    "\"retries\": %u, \"rotations\": %u, \"queued\": %llu, \"unacked\": %llu, "
		    "\"next_send_seq\": %llu, \"next_recv_seq\": %llu}",
		    (unsigned long long)i->expires_ms, (unsigned long long)i->key_established_ms, i->missed_heartbeats,
		    i->retries, i->rotations, (unsigned long long)i->queued, (unsigned long long)i->unacked,
		    (unsigned long long)i->next_send_seq, (unsigned long long)i->next_recv_seq);
}

static void peer_json(struct sbuf *b, const struct l2s_loop_peer_info *p)
{
	char did[DID_MAX_CHARS + 1], addr[64];
	const char *t = transport_name(p->transport);

	did_from_public_key(did, p->pk);
	sbuf_puts(b, "{\"address\": ");
	if (p->addr_len) {
		address_text(&p->addr, addr);
		sbuf_printf(b, "\"%s\"", addr);
	} else {
		sbuf_puts(b, "null");
	}
	sbuf_printf(b, ", \"connect\": %s, \"session\": ", p->connect ? "true" : "false");
	if (p->has_session)
		session_json(b, &p->session);
	else
		sbuf_puts(b, "null");
	sbuf_puts(b, ", \"transport\": ");
	if (t)
		sbuf_printf(b, "\"%s\"", t);
	else
		sbuf_puts(b, "null");
	sbuf_printf(b, ", \"rtt_us\": %llu, \"established_ms\": %llu, \"resume_ms\": %llu, \"handshake_us\": %llu, "
		    "\"resume_us\": %llu, \"fallbacks\": %u, \"returns\": %u, \"tx_messages\": %llu, "
		    "\"rx_messages\": %llu, \"delivered\": %llu, \"did\": \"%s\"}",
		    (unsigned long long)p->rtt_us, (unsigned long long)p->established_ms,
		    (unsigned long long)p->resume_ms, (unsigned long long)p->handshake_us,
		    (unsigned long long)p->resume_us, p->fallbacks, p->returns, (unsigned long long)p->tx_messages,
		    (unsigned long long)p->rx_messages, (unsigned long long)p->delivered, did);
}

/* Every peer's info (malloc'd; *n of them). */
static struct l2s_loop_peer_info *peers_of(struct l2s_loop *loop, size_t *n)
{
	size_t count = l2s_loop_peer_count(loop), i, got = 0;
	struct l2s_loop_peer_info *all = calloc(count ? count : 1, sizeof(*all));

	for (i = 0; all && i < count; i++)
		if (l2s_loop_peer_info(loop, i, &all[got]) == L2S_OK)
			got++;
	*n = got;
	return all;
}

void status_json(const struct status_source *src, struct sbuf *b)
{
	struct stat_entry e[MAX_STATS];
	struct l2s_loop_stats s;
	struct l2s_loop_peer_info *peers;
	size_t n, i, npeers;
	int first = 1;

	l2s_loop_stats(src->loop, &s);
	peers = peers_of(src->loop, &npeers);
	sbuf_printf(b, "{\"did\": \"%s\", \"address\": \"%s\", \"peers\": [", src->did, src->address);
	for (i = 0; peers && i < npeers; i++) {
		if (i)
			sbuf_puts(b, ", ");
		peer_json(b, &peers[i]);
	}
	free(peers);
	sbuf_puts(b, "], \"stats\": {");
	n = collect(&s, src, e);
	for (i = 0; i < n; i++)
		sbuf_printf(b, "%s\"%s\": %llu", i ? ", " : "", e[i].name, (unsigned long long)e[i].value);
	sbuf_puts(b, ", \"inbox_error\": ");
	error_or_null(b, s.inbox_errno);
	sbuf_puts(b, ", \"rx_dropped\": {");
	for (i = 1; i < 17; i++) {
		if (!s.rx_dropped[i])
			continue;
		sbuf_printf(b, "%s\"%s\": %llu", first ? "" : ", ", l2s_strerror(-(int)i),
			    (unsigned long long)s.rx_dropped[i]);
		first = 0;
	}
	sbuf_puts(b, "}}, \"files\": {\"audit_log_error\": ");
	error_or_null(b, src->files.audit_log_errno);
	sbuf_puts(b, ", \"delivery_log_error\": ");
	error_or_null(b, src->files.delivery_log_errno);
	sbuf_puts(b, ", \"checkpoint_error\": ");
	error_or_null(b, src->files.checkpoint_errno);
	sbuf_puts(b, "}, \"prekey\": ");
	status_prekey_json(b, src->prekey_not_after);
	sbuf_printf(b, ", \"build\": {\"program\": \"l2sessd\", \"version\": \"%s\", \"transports\": [%s\"utcp\"]}}",
		    l2s_version(), l2s_loop_has_quic() ? "\"quic\", " : "");
}

/* ---- Prometheus text format 0.0.4 ---- */

static void metric_head(struct sbuf *b, const char *name, const char *kind, const char *help)
{
	sbuf_printf(b, "# HELP l2sess_%s %s\n# TYPE l2sess_%s %s\n", name, help, name, kind);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct stat_entry *)a)->name, ((const struct stat_entry *)b)->name);
}

static void spaced(char *out, size_t cap, const char *name)
{
	size_t i;

	snprintf(out, cap, "%s", name);
	for (i = 0; out[i]; i++)
		if (out[i] == '_')
			out[i] = ' ';
}

static void counters(struct sbuf *b, const struct l2s_loop_stats *s, const struct status_source *src)
{
	struct stat_entry e[MAX_STATS];
	char help[64];
	size_t n = collect(s, src, e), i;

	qsort(e, n, sizeof(e[0]), by_name);
	for (i = 0; i < n; i++) {
		spaced(help, sizeof(help), e[i].name);
		if (e[i].gauge) {
			sbuf_printf(b, "# HELP l2sess_%s loop %s\n# TYPE l2sess_%s gauge\n", e[i].name, help, e[i].name);
			sbuf_printf(b, "l2sess_%s %llu\n", e[i].name, (unsigned long long)e[i].value);
		} else {
			sbuf_printf(b, "# HELP l2sess_%s_total loop %s\n# TYPE l2sess_%s_total counter\n", e[i].name,
				    help, e[i].name);
			sbuf_printf(b, "l2sess_%s_total %llu\n", e[i].name, (unsigned long long)e[i].value);
		}
	}
	metric_head(b, "rx_dropped_total", "counter", "received messages dropped, by reason");
	{
		/* by reason name, sorted as metrics.py sorts them */
		struct stat_entry d[17];
		size_t k = 0;

		for (i = 1; i < 17; i++)
			if (s->rx_dropped[i])
				d[k++] = (struct stat_entry){ l2s_strerror(-(int)i), s->rx_dropped[i], 0 };
		qsort(d, k, sizeof(d[0]), by_name);
		for (i = 0; i < k; i++)
			sbuf_printf(b, "l2sess_rx_dropped_total{reason=\"%s\"} %llu\n", d[i].name,
				    (unsigned long long)d[i].value);
	}
}

static void per_peer(struct sbuf *b, const struct l2s_loop_peer_info *peers, size_t n)
{
	static const char *const per[] = { "fallbacks", "returns", "tx_messages", "rx_messages", "delivered" };
	char did[DID_MAX_CHARS + 1], help[64];
	size_t i, k;
	int st;

	metric_head(b, "peer_state", "gauge", "1 for the state each peer's session is in");
	for (i = 0; i < n; i++) {
		did_from_public_key(did, peers[i].pk);
		for (st = 0; st < L2S_STATE_COUNT; st++)
			sbuf_printf(b, "l2sess_peer_state{did=\"%s\",state=\"%s\"} %d\n", did, l2s_state_name(st),
				    peers[i].has_session && peers[i].session.state == st);
	}
	metric_head(b, "peer_transport_quic", "gauge", "1 when the peer's session runs on QUIC, 0 on uTCP or none");
	for (i = 0; i < n; i++) {
		did_from_public_key(did, peers[i].pk);
		sbuf_printf(b, "l2sess_peer_transport_quic{did=\"%s\"} %d\n", did,
			    peers[i].transport == L2S_TRANSPORT_QUIC);
	}
	metric_head(b, "peer_rtt_seconds", "gauge", "QUIC smoothed round-trip time");
	for (i = 0; i < n; i++) {
		did_from_public_key(did, peers[i].pk);
		sbuf_printf(b, "l2sess_peer_rtt_seconds{did=\"%s\"} ", did);
		sbuf_repr_double(b, (double)peers[i].rtt_us / 1e6);
		sbuf_puts(b, "\n");
	}
	metric_head(b, "peer_resume_seconds", "gauge", "the last resumption, from start to established");
	for (i = 0; i < n; i++) {
		did_from_public_key(did, peers[i].pk);
		sbuf_printf(b, "l2sess_peer_resume_seconds{did=\"%s\"} ", did);
		sbuf_repr_double(b, (double)peers[i].resume_ms / 1e3);
		sbuf_puts(b, "\n");
	}
	for (k = 0; k < sizeof(per) / sizeof(per[0]); k++) {
		char name[64];

		snprintf(name, sizeof(name), "peer_%s_total", per[k]);
		spaced(help, sizeof(help), per[k]);
		sbuf_printf(b, "# HELP l2sess_%s per peer: %s\n# TYPE l2sess_%s counter\n", name, help, name);
		for (i = 0; i < n; i++) {
			const struct l2s_loop_peer_info *p = &peers[i];
			uint64_t v = k == 0 ? p->fallbacks : k == 1 ? p->returns : k == 2 ? p->tx_messages :
				     k == 3 ? p->rx_messages : p->delivered;

			did_from_public_key(did, p->pk);
			sbuf_printf(b, "l2sess_%s{did=\"%s\"} %llu\n", name, did, (unsigned long long)v);
		}
	}
}

void status_metrics(const struct status_source *src, struct sbuf *b)
{
	struct l2s_loop_stats s;
	struct l2s_loop_peer_info *peers;
	size_t n;

	l2s_loop_stats(src->loop, &s);
	counters(b, &s, src);
	peers = peers_of(src->loop, &n);
	if (peers)
		per_peer(b, peers, n);
	free(peers);
}
