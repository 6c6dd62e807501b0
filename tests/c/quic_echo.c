// SPDX-License-Identifier: Apache-2.0
/* The QUIC transport as a tiny program, for the interop tests against an
 * independent QUIC stack (tests/python/test_quic_interop.py, aioquic).
 *
 *   quic_echo serve PORT [SECONDS]
 *       Listens on 127.0.0.1:PORT (0: any) and sends every message back on
 *       its connection. Prints "READY <port>" once listening and one line
 *       per connection event; exits after SECONDS (default 60) or on
 *       SIGTERM/SIGINT.
 *   quic_echo connect PORT COUNT [SECONDS]
 *       Connects to 127.0.0.1:PORT, sends COUNT messages (sizes 0, 1, 1000,
 *       65536, then cycling), expects each echoed back intact and in order,
 *       closes. Prints "BINDING <hex>" and "OK <count>"; exit status 0 only
 *       when all came back within SECONDS (default 20).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport/quic.h"
#include "netutil.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* One loop round: wait for the socket or the next timer, then run. */
static void wait_and_run(struct l2s_quic *q, uint64_t deadline)
{
	struct pollfd pfd;
	uint64_t t = now_ms(), next = l2s_quic_next_expiry(q);
	int wait;

	/* nothing here trusts a connection: the shared socket is the only one */
	l2s_quic_pollfds(q, &pfd, 1);
	if (next > deadline)
		next = deadline;
	wait = next > t ? (int)(next - t < 1000 ? next - t : 1000) : 0;
	if (poll(&pfd, 1, wait) > 0)
		l2s_quic_on_io(q, pfd.fd, pfd.revents, now_ms());
	l2s_quic_on_timer(q, now_ms());
}

static const char *close_reason(int r)
{
	static const char *names[] = {"?", "local", "peer", "idle", "handshake-timeout", "framing", "transport", "reset"};

	return r >= 0 && r <= L2S_QUIC_CLOSE_RESET ? names[r] : "?";
}

static int serve(uint16_t port, unsigned seconds)
{
	struct sockaddr_in a = loopback(port);
	struct sockaddr_storage bound;
	socklen_t blen;
	struct l2s_quic *q;
	uint64_t deadline = now_ms() + seconds * 1000ull;
	int rc = l2s_quic_new(&q, (struct sockaddr *)&a, sizeof(a), NULL);

	if (rc != L2S_OK) {
		fprintf(stderr, "quic_echo: %s\n", l2s_strerror(rc));
		return 1;
	}
	l2s_quic_local_addr(q, &bound, &blen);
	printf("READY %u\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
	fflush(stdout);
	while (!stop && now_ms() < deadline) {
		struct l2s_quic_event ev;

		wait_and_run(q, deadline);
		while (l2s_quic_next_event(q, &ev)) {
			if (ev.type == L2S_QUIC_EV_MESSAGE) {
				/* a full queue would drop the echo: the peer sees a gap */
				if (l2s_quic_send(q, ev.conn, ev.data, ev.len) != L2S_OK)
					printf("DROPPED %u %zu\n", ev.conn, ev.len);
			} else if (ev.type == L2S_QUIC_EV_CONNECTED) {
				printf("CONNECTED %u\n", ev.conn);
			} else if (ev.type == L2S_QUIC_EV_CLOSED) {
				printf("CLOSED %u %s %s 0x%llx\n", ev.conn, close_reason(ev.reason),
				       ev.app_error ? "app" : "transport", (unsigned long long)ev.error_code);
			}
			fflush(stdout);
		}
		l2s_quic_flush(q, now_ms());
	}
	{
		struct l2s_quic_stats st;

		l2s_quic_get_stats(q, &st);
		printf("STATS accepted=%llu connected=%llu dropped=%llu framing=%llu\n",
		       (unsigned long long)st.accepted, (unsigned long long)st.connected,
		       (unsigned long long)st.rx_dropped, (unsigned long long)st.framing_errors);
	}
	l2s_quic_free(q);
	return 0;
}

static uint32_t size_of(uint32_t i)
{
	static const uint32_t sizes[] = {0, 1, 1000, 65536, 17, 4096};

	return sizes[i % 6];
}

static void fill(uint8_t *p, uint32_t len, uint32_t i)
{
	for (uint32_t j = 0; j < len; j++)
		p[j] = (uint8_t)(i * 31 + j * 7);
}

static int client(uint16_t port, uint32_t count, unsigned seconds)
{
	static uint8_t buf[L2S_MAX_MESSAGE];
	struct sockaddr_in any = loopback(0), peer = loopback(port);
	struct l2s_quic *q;
	uint64_t deadline = now_ms() + seconds * 1000ull;
	uint32_t conn, sent = 0, got = 0;
	int connected = 0, failed = 0, closed = 0;

	if (l2s_quic_new(&q, (struct sockaddr *)&any, sizeof(any), NULL) != L2S_OK ||
	    l2s_quic_connect(q, (struct sockaddr *)&peer, sizeof(peer), now_ms(), &conn) != L2S_OK) {
		fprintf(stderr, "quic_echo: cannot start\n");
		return 1;
	}
	while (!stop && !failed && !closed && got < count && now_ms() < deadline) {
		struct l2s_quic_event ev;

		wait_and_run(q, deadline);
		while (l2s_quic_next_event(q, &ev)) {
			if (ev.type == L2S_QUIC_EV_CONNECTED) {
				uint8_t b[L2S_QUIC_BINDING_BYTES];

				connected = 1;
				if (l2s_quic_channel_binding(q, conn, b) == L2S_OK) {
					printf("BINDING ");
					for (int i = 0; i < L2S_QUIC_BINDING_BYTES; i++)
						printf("%02x", b[i]);
					printf("\n");
				}
			} else if (ev.type == L2S_QUIC_EV_MESSAGE) {
				fill(buf, size_of(got), got);
				if (ev.len != size_of(got) || memcmp(ev.data, buf, ev.len) != 0) {
					printf("MISMATCH %u\n", got);
					failed = 1;
				}
				got++;
			} else if (ev.type == L2S_QUIC_EV_CLOSED) {
				printf("CLOSED %s %s 0x%llx\n", close_reason(ev.reason), ev.app_error ? "app" : "transport",
				       (unsigned long long)ev.error_code);
				closed = 1;
			}
		}
		while (connected && sent < count) {
			fill(buf, size_of(sent), sent);
			if (l2s_quic_send(q, conn, buf, size_of(sent)) != L2S_OK)
				break;
			sent++;
		}
		l2s_quic_flush(q, now_ms());
	}
	if (!closed) {
		l2s_quic_close(q, conn, L2S_QUIC_APP_NO_ERROR, now_ms());
		l2s_quic_flush(q, now_ms());
	}
	printf("%s %u\n", got == count && !failed ? "OK" : "FAILED", got);
	fflush(stdout);
	l2s_quic_free(q);
	return got == count && !failed ? 0 : 1;
}

int main(int argc, char **argv)
{
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		return serve((uint16_t)atoi(argv[2]), argc > 3 ? (unsigned)atoi(argv[3]) : 60);
	if (argc >= 4 && strcmp(argv[1], "connect") == 0)
		return client((uint16_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), argc > 4 ? (unsigned)atoi(argv[4]) : 20);
	fprintf(stderr, "usage: quic_echo serve PORT [SECONDS] | connect PORT COUNT [SECONDS]\n");
	return 2;
}
