/* SPDX-License-Identifier: Apache-2.0 */
/* Quarantine (SPEC-018 §2.1: 60 s after an authentication failure) for
 * verified identities and proven addresses, never for mere claims. A bounded,
 * direct-mapped table keyed by a node-secret hash: memory stays fixed. */
#ifndef L2S_QUARANTINE_H
#define L2S_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>

#define L2S_QUARANTINE_SLOTS 4096

struct l2s_quarantine_entry {
	uint8_t tag[16];
	uint64_t until_ms;
};

struct l2s_quarantine {
	struct l2s_quarantine_entry slot[L2S_QUARANTINE_SLOTS];
	uint8_t key[32];
};

/* kind separates identities from addresses with the same bytes. */
void l2s_quarantine_add(struct l2s_quarantine *q, int kind, const uint8_t *id, size_t len, uint64_t until_ms);
/* The end of the quarantine, or 0 when id is not quarantined at now_ms. */
uint64_t l2s_quarantine_until(const struct l2s_quarantine *q, int kind, const uint8_t *id, size_t len,
			      uint64_t now_ms);

#define L2S_QUARANTINE_IDENTITY 1
#define L2S_QUARANTINE_ADDRESS 2

#endif /* L2S_QUARANTINE_H */
