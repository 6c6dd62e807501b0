// SPDX-License-Identifier: Apache-2.0
/* Prepared handshakes: the peer's bundle verified, and the ephemeral key and
 * the encapsulation of a coming HANDSHAKE_INIT (handshake.h, struct
 * l2s_hs_prepared) made, while the transport connects, so that establishing
 * then costs only the INIT's signature. Kept per peer in a few slots of the
 * node, used once, dropped when older than L2S_PREPARED_MAX_AGE_MS (an
 * ephemeral secret should not wait in memory). */
#include <string.h>

#include "engine/node.h"
#include "handshake/bundle.h"

/* When p is too old to be used. */
static uint64_t expires_at(const struct prepared_hs *p)
{
	return p->made_ms + L2S_PREPARED_MAX_AGE_MS;
}

/* peer_pk's prepared handshake, or NULL. */
static struct prepared_hs *find(const struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES])
{
	for (size_t i = 0; i < L2S_PREPARED_HANDSHAKES; i++) {
		const struct prepared_hs *p = &node->prepared[i];

		if (p->made_ms && memcmp(p->peer_pk, peer_pk, L2S_ED25519_PK_BYTES) == 0)
			return (struct prepared_hs *)p;
	}
	return NULL;
}

/* Where a new one for peer_pk goes: its own, else an empty slot, else the oldest. */
static struct prepared_hs *slot_for(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES])
{
	struct prepared_hs *p = find(node, peer_pk), *oldest = &node->prepared[0];

	if (p)
		return p;
	for (size_t i = 1; i < L2S_PREPARED_HANDSHAKES; i++)
		if (node->prepared[i].made_ms < oldest->made_ms)
			oldest = &node->prepared[i];
	return oldest;
}

/* Verifies the bundle and makes p's part from rng (96 bytes drawn). */
static int make(struct prepared_hs *p, const uint8_t peer_pk[L2S_ED25519_PK_BYTES], const uint8_t *bundle,
		size_t bundle_len, uint64_t now_s, struct l2s_rng *rng)
{
	struct l2s_bundle b;
	int ret = l2s_bundle_open(&b, bundle, bundle_len, peer_pk, now_s);

	if (ret != L2S_OK)
		return ret;
	ret = l2s_hs_prepare(&p->hs, b.prekey_pk, rng);
	if (ret != L2S_OK)
		return ret;
	memcpy(p->peer_pk, peer_pk, L2S_ED25519_PK_BYTES);
	memcpy(p->bundle, bundle, L2S_PREKEY_BUNDLE_BYTES);
	return L2S_OK;
}

static void put(struct l2s_node *node, const struct prepared_hs *p, uint64_t now_ms)
{
	struct prepared_hs *slot = slot_for(node, p->peer_pk);

	l2s_wipe(slot, sizeof(*slot));
	*slot = *p;
	slot->made_ms = now_ms;
}

int l2s_node_prepare_handshake(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
			       const uint8_t *bundle, size_t bundle_len, uint64_t now_s, uint64_t now_ms)
{
	struct prepared_hs p;
	int ret;

	if (!node || !peer_pk || !bundle || !now_ms)
		return L2S_ERR_CONFIG;
	ret = make(&p, peer_pk, bundle, bundle_len, now_s, &node->rng);
	if (ret == L2S_OK)
		put(node, &p, now_ms);
	l2s_wipe(&p, sizeof(p));
	return ret;
}

/* The same in three steps, so that the work runs outside the lock that
 * guards the node: the job takes its own generator from the node (the
 * system's; a deterministic node's gives it a stream seeded from its own). */
void l2s_node_prepare_begin(struct l2s_node *node, struct l2s_prepare_job *job)
{
	uint8_t seed[32];

	l2s_wipe(job, sizeof(*job));
	if (!node->rng.deterministic) {
		l2s_rng_init_system(&job->rng);
		return;
	}
	l2s_rng_bytes(&node->rng, seed, sizeof(seed));
	l2s_rng_init_seeded(&job->rng, seed);
	l2s_wipe(seed, sizeof(seed));
}

int l2s_prepare_job_make(struct l2s_prepare_job *job, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
			 const uint8_t *bundle, size_t bundle_len, uint64_t now_s)
{
	int ret = make(&job->p, peer_pk, bundle, bundle_len, now_s, &job->rng);

	job->made = ret == L2S_OK;
	return ret;
}

int l2s_node_prepare_put(struct l2s_node *node, struct l2s_prepare_job *job, uint64_t now_ms)
{
	int made = job->made && now_ms;

	if (made)
		put(node, &job->p, now_ms);
	l2s_wipe(job, sizeof(*job));
	return made;
}

/* Whether a young prepared handshake to peer_pk with this bundle waits. */
int l2s_node_has_prepared(const struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
			  const uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], uint64_t now_ms)
{
	const struct prepared_hs *p = find(node, peer_pk);

	return p && now_ms < expires_at(p) &&
	       memcmp(p->bundle, bundle, L2S_PREKEY_BUNDLE_BYTES) == 0;
}

/* Wipes the prepared handshakes too old to be used: an ephemeral secret
 * that no handshake took does not wait in memory. */
void l2s_node_expire_prepared(struct l2s_node *node, uint64_t now_ms)
{
	for (size_t i = 0; i < L2S_PREPARED_HANDSHAKES; i++) {
		struct prepared_hs *p = &node->prepared[i];

		if (p->made_ms && now_ms >= expires_at(p))
			l2s_wipe(p, sizeof(*p));
	}
}

/* When the oldest becomes too old; L2S_TIMER_NONE when none waits. */
uint64_t l2s_node_prepared_expiry(const struct l2s_node *node)
{
	uint64_t at = L2S_TIMER_NONE;

	for (size_t i = 0; i < L2S_PREPARED_HANDSHAKES; i++)
		if (node->prepared[i].made_ms && expires_at(&node->prepared[i]) < at)
			at = expires_at(&node->prepared[i]);
	return at;
}

/* l2s_bundle_open, without the signature check when a prepared handshake
 * to peer_pk verified these very bytes: only the expiry is checked again. */
int l2s_node_open_bundle(const struct l2s_node *node, struct l2s_bundle *b, const uint8_t *bundle, size_t len,
			 const uint8_t peer_pk[L2S_ED25519_PK_BYTES], uint64_t now_s)
{
	const struct prepared_hs *p = find(node, peer_pk);

	if (!p || len != L2S_PREKEY_BUNDLE_BYTES || memcmp(p->bundle, bundle, len) != 0)
		return l2s_bundle_open(b, bundle, len, peer_pk, now_s);
	if (l2s_decode_bundle(bundle, len, b) != L2S_OK)
		return L2S_ERR_DECODE;
	return now_s < b->not_after_s ? L2S_OK : L2S_ERR_EXPIRED;
}

/* The prepared part for a handshake to peer_pk's prekey_pk, taken out of
 * its slot (the caller consumes it: l2s_hs_create_init_prepared wipes it),
 * or NULL. */
struct l2s_hs_prepared *l2s_node_take_prepared(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
					       const uint8_t prekey_pk[L2S_XWING_PK_BYTES], uint64_t now)
{
	struct prepared_hs *p = find(node, peer_pk);
	uint8_t id[L2S_PREKEY_ID_BYTES];

	if (!p)
		return NULL;
	l2s_prekey_id(id, prekey_pk);
	if (now >= expires_at(p) || memcmp(id, p->hs.prekey_id, sizeof(id)) != 0) {
		l2s_wipe(p, sizeof(*p));
		return NULL;
	}
	p->made_ms = 0;
	node->prepared_used++;
	return &p->hs;
}

uint64_t l2s_node_handshakes_prepared(const struct l2s_node *node)
{
	return node->prepared_used;
}
