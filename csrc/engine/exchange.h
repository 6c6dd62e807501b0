/* SPDX-License-Identifier: Apache-2.0 */
/* The key exchanges' parts, shared by exchange.c (node-wide tables,
 * pending exchanges, a session established), establish.c (the full
 * handshake, both roles), resumption.c (resumption and tickets), rotate.c
 * (key rotation) and stored.c (StoredSession export and import). */
#ifndef L2S_EXCHANGE_H
#define L2S_EXCHANGE_H

#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"
#include "handshake/bundle.h"
#include "handshake/cookie.h"
#include "engine/node.h"
#include "handshake/resume.h"
#include "handshake/rotation.h"
#include "engine/store.h"
#include "wire/wire.h"

/* An exchange is re-sent after 1/8 of its timeout, then after 1/4, 1/2 ...:
 * a re-sent handshake or resumption replaces the previous attempt, whose
 * answer is then refused, so the gaps grow until one is longer than the
 * round trip (up to half the timeout), and a lossy link still gets several
 * early tries. */
#define RESEND_FIRST_DIVISOR 8

/* Under load, each address's share of the handshake work: a request a
 * second, two at once (the one a cookie answered and its re-send). */
#define LOADED_RATE_PER_S 1
#define LOADED_BURST 2

/* exchange.c */
int l2s_exchange_loaded(struct l2s_node *node, uint64_t now);
uint64_t l2s_exchange_resend_interval(struct l2s_session *s);
int l2s_exchange_peer_quarantined(const struct l2s_node *node, const uint8_t pk[32], uint64_t now);
struct l2s_session *l2s_exchange_session_by(struct l2s_node *node, struct l2s_map *m, const uint8_t *key, size_t len);
void l2s_exchange_drop_half_open(struct l2s_node *node, const uint8_t pk[32], uint64_t now);
int l2s_exchange_has_priority(const struct l2s_node *node, const uint8_t peer_pk[32]);
int l2s_exchange_crossing_ours_wins(struct l2s_node *node, const uint8_t peer_pk[32]);
void l2s_exchange_arm_pending(struct l2s_session *s, int kind, uint64_t now);
void l2s_exchange_current_keys(const struct l2s_session *s, struct l2s_session_keys *k);
struct l2s_session *l2s_exchange_pending_session(struct l2s_node *node, uint32_t index, int kind);
int l2s_exchange_initiator_auth_failed(struct l2s_node *node, struct l2s_session *s, uint64_t now);
void l2s_exchange_confirm_keys(struct l2s_node *node, struct l2s_session *s);
int l2s_exchange_fair_share(struct l2s_node *node, const uint8_t *addr, size_t addr_len, uint64_t now);
void l2s_exchange_accepted_event(struct l2s_node *node, struct l2s_session *s, uint64_t now);

#endif /* L2S_EXCHANGE_H */
