// SPDX-License-Identifier: Apache-2.0
/* sessions_client: N gateways in one process, each with an identity of its
 * own, each keeping a session with one node, so that the node's memory with
 * N sessions can be measured (bench/bench_daemon.py).
 *
 *   sessions_client N HOST:PORT PEER_PK_HEX quic|utcp
 *
 * Prints "ESTABLISHED n seconds" once all N are established (or "TIMEOUT
 * n" after 300 s, exit 1), then holds them until stdin closes. One thread
 * drives every loop from one poll() (l2s_loop_poll_fd). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "l2s_loop.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_target(const char *text, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(text, ':');

	if (!colon || (size_t)(colon - text) >= sizeof(host))
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static struct l2s_loop *new_gateway(int use_quic, const uint8_t peer[32], const struct sockaddr_in *sa)
{
	struct l2s_loop_params p;
	struct l2s_loop *l = NULL;
	uint8_t pk[32];

	l2s_loop_params_default(&p);
	l2s_ed25519_keypair(pk, p.node.identity_sk);
	l2s_random(p.node.prekey_seed, sizeof(p.node.prekey_seed));
	l2s_random(p.node.storage_key, sizeof(p.node.storage_key));
	p.node.prekey_not_after_s = (uint64_t)time(NULL) + 86400;
	p.node.max_sessions = 4;
	p.listen_len = 0; /* connect only */
	p.no_quic = !use_quic;
	p.no_utcp = use_quic;
	if (l2s_loop_new(&l, &p) != L2S_OK || l2s_loop_add_peer(l, peer, (const struct sockaddr *)sa, sizeof(*sa), 1)) {
		l2s_loop_free(l);
		l = NULL;
	}
	l2s_wipe(&p, sizeof(p));
	return l;
}

static int established(struct l2s_loop *l)
{
	struct l2s_loop_peer_info info;

	return l2s_loop_peer_info(l, 0, &info) == L2S_OK && info.has_session &&
	       info.session.state == L2S_ESTABLISHED;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 1 << 16, 1 << 16 };
	struct sockaddr_in sa;
	struct l2s_loop_event ev;
	uint8_t peer[32];
	struct l2s_loop **gw;
	struct pollfd *fds;
	double t0;
	int n, i, up = 0, reported = 0;
	unsigned v;

	if (argc != 5 || (n = atoi(argv[1])) < 1 || parse_target(argv[2], &sa) || strlen(argv[3]) != 64) {
		fprintf(stderr, "usage: sessions_client N HOST:PORT PEER_PK_HEX quic|utcp\n");
		return 2;
	}
	for (i = 0; i < 32; i++) {
		sscanf(argv[3] + 2 * i, "%2x", &v);
		peer[i] = (uint8_t)v;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	if (l2s_init() != L2S_OK)
		return 1;
	gw = calloc((size_t)n, sizeof(*gw));
	fds = calloc((size_t)n + 1, sizeof(*fds));
	for (i = 0; i < n; i++)
		if (!(gw[i] = new_gateway(strcmp(argv[4], "quic") == 0, peer, &sa))) {
			fprintf(stderr, "sessions_client: gateway %d: cannot make its loop\n", i);
			return 1;
		}
	t0 = now_s();
	for (;;) {
		int timeout = 1000, t;

		for (i = 0; i < n; i++) {
			fds[i] = (struct pollfd){ .fd = l2s_loop_poll_fd(gw[i]), .events = POLLIN };
			t = l2s_loop_poll_timeout(gw[i]);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		fds[n] = (struct pollfd){ .fd = reported ? 0 : -1, .events = POLLIN };
		poll(fds, (nfds_t)n + 1, timeout);
		if (reported && (fds[n].revents & (POLLIN | POLLHUP))) {
			char c;

			if (read(0, &c, 1) <= 0)
				break;
		}
		for (i = 0, up = 0; i < n; i++) {
			l2s_loop_run_once(gw[i], 0);
			while (l2s_loop_next_event(gw[i], &ev) == 1)
				;
			up += established(gw[i]);
		}
		if (!reported && up == n) {
			printf("ESTABLISHED %d %.2f\n", n, now_s() - t0);
			fflush(stdout);
			reported = 1;
		}
		if (!reported && now_s() - t0 > 300) {
			printf("TIMEOUT %d\n", up);
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		l2s_loop_free(gw[i]);
	free(gw);
	free(fds);
	return 0;
}
