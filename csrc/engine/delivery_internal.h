/* SPDX-License-Identifier: Apache-2.0 */
/* The delivery window's parts (delivery.h), shared by delivery.c (the
 * lists, sending, receiving) and delivery_export.c (export, import, SYNC
 * and take-over). */
#ifndef L2S_DELIVERY_INTERNAL_H
#define L2S_DELIVERY_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "engine/delivery.h"
#include "wire/wire.h"

/* delivery.c */
struct l2s_dmsg *delivery_msg_new(uint64_t seq, const uint8_t *data, size_t len, uint32_t rto_ms);
void delivery_list_insert_after(struct l2s_dlist *l, struct l2s_dmsg *pos, struct l2s_dmsg *m);
void delivery_free_list(struct l2s_dlist *l);
void delivery_reset_state(struct l2s_delivery *d);
int delivery_stream_named(const uint8_t id[L2S_STREAM_ID_BYTES]);
void delivery_deliver_held(struct l2s_delivery *d, l2s_deliver_fn *deliver, void *ctx);
int delivery_drain_reorder(struct l2s_delivery *d, l2s_deliver_fn *deliver, void *ctx);

#endif /* L2S_DELIVERY_INTERNAL_H */
