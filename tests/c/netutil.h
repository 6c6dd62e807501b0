/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the socket tests (test_quic, test_tcp, quic_echo): the monotonic
 * clock the transports are driven with, and loopback addresses. */
#ifndef L2S_NETUTIL_H
#define L2S_NETUTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static inline struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

#endif /* L2S_NETUTIL_H */
