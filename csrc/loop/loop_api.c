// SPDX-License-Identifier: Apache-2.0
/* The event loop's public calls (l2s_loop.h) that other threads make: each
 * takes the loop's lock, changes what the loop works on and wakes it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/loop_internal.h"
#include "engine/node.h"
#include "engine/store.h"

int l2s_loop_local_addr(struct l2s_loop *l, struct sockaddr_storage *addr, socklen_t *len)
{
	pthread_mutex_lock(&l->mu);
	*addr = l->local;
	*len = l->local_len;
	l2s_loop_unlock(l);
	return l->local_len ? L2S_OK : L2S_ERR_STATE;
}

int l2s_loop_bundle(struct l2s_loop *l, uint8_t out[L2S_PREKEY_BUNDLE_BYTES])
{
	pthread_mutex_lock(&l->mu);
	memcpy(out, l->bundle, L2S_PREKEY_BUNDLE_BYTES);
	l2s_loop_unlock(l);
	return L2S_OK;
}

int l2s_loop_renew_prekey(struct l2s_loop *l, const uint8_t seed[L2S_XWING_SK_BYTES], uint64_t not_after_s)
{
	int ret;

	pthread_mutex_lock(&l->mu);
	ret = l2s_node_renew_prekey(l->node, seed, not_after_s);
	if (ret == L2S_OK) /* discovery answers carry it from now on */
		ret = l2s_node_prekey_bundle(l->node, l->bundle);
	l2s_loop_unlock(l);
	return ret;
}

/* Locks, finds pk's peer (or fails with L2S_ERR_NOT_FOUND). */
static struct lpeer *lock_peer(struct l2s_loop *l, const uint8_t *pk)
{
	struct lpeer *pe;

	pthread_mutex_lock(&l->mu);
	if (!(pe = l2s_peer_find(l, pk)))
		l2s_loop_unlock(l);
	return pe;
}

static int unlock_wake(struct l2s_loop *l, int ret)
{
	l2s_loop_unlock(l);
	l2s_loop_wake(l);
	return ret;
}

/* Only a change gives the loop something to do now; a wake-up for nothing
 * costs the caller a round of the loop contending for the lock. */
static void unlock_wake_if(struct l2s_loop *l, int wake)
{
	l2s_loop_unlock(l);
	if (wake)
		l2s_loop_wake(l);
}

/* Whether the loop has something to do now (connect changed). */
static int set_connect(struct lpeer *pe, int connect)
{
	int changed = connect != pe->connect;

	if (connect && !pe->connect && !pe->path)
		pe->reconnect_at = l2s_loop_now(); /* at once */
	pe->connect = connect;
	return changed;
}

int l2s_loop_add_peer(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const struct sockaddr *addr,
		      socklen_t addr_len, int connect)
{
	struct lpeer *pe;
	int wake;

	if (addr_len > sizeof(struct sockaddr_storage) || (connect && (!addr || !addr_len)))
		return L2S_ERR_CONFIG;
	pthread_mutex_lock(&l->mu);
	if (!(pe = l2s_peer_find(l, pk)) && !(pe = l2s_peer_add(l, pk)))
		return unlock_wake(l, L2S_ERR_NOMEM);
	memset(&pe->addr, 0, sizeof(pe->addr));
	if (addr_len)
		memcpy(&pe->addr, addr, addr_len);
	pe->addr_len = addr_len;
	pe->configured = 1;
	pe->closed = 0;
	wake = set_connect(pe, connect);
	l->st.peers = l->npeers;
	unlock_wake_if(l, wake);
	return L2S_OK;
}

int l2s_loop_set_peer_bundle(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const uint8_t *bundle,
			     size_t len)
{
	struct lpeer *pe;
	int ret = l2s_prekey_bundle_verify(bundle, len, pk, l2s_loop_unix_s());

	if (ret != L2S_OK)
		return ret;
	if (!(pe = lock_peer(l, pk)))
		return L2S_ERR_NOT_FOUND;
	memcpy(pe->bundle, bundle, L2S_PREKEY_BUNDLE_BYTES);
	pe->has_bundle = 1;
	l2s_loop_unlock(l); /* used at the next connect: nothing to do now */
	return L2S_OK;
}

/* Under the lock: starts the job of a peer whose full handshake follows,
 * claimed so that the loop does not do it too. 0: nothing to prepare. */
static int claim_prepare(struct l2s_loop *l, struct lpeer *pe, struct l2s_prepare_job *job,
			 uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES])
{
	if (pe->session || !pe->has_bundle || pe->preparing)
		return 0;
	memcpy(bundle, pe->bundle, L2S_PREKEY_BUNDLE_BYTES);
	l2s_node_prepare_begin(l->node, job);
	pe->preparing = PREPARING;
	pe->prepare = 0;
	return 1;
}

/* Under the lock: the finished job into the node, unless the handshake
 * began without it, and a carrier held for it let go. 1: wake the loop. */
static int land_prepare(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], struct l2s_prepare_job *job)
{
	struct lpeer *pe = l2s_peer_find(l, pk);
	int held;

	if (!pe) {
		l2s_wipe(job, sizeof(*job));
		return 0;
	}
	if (pe->preparing && !pe->session && l2s_node_prepare_put(l->node, job, l2s_loop_now()))
		l->st.prepared_by_caller++;
	held = pe->preparing == PREPARING_HELD;
	if (held)
		pe->reconnect_at = l2s_loop_now(); /* the held carrier's handshake, now */
	pe->preparing = PREPARING_NONE;
	l2s_wipe(job, sizeof(*job));
	return held;
}

/* The loop would prepare the INIT after its round's flush (carry.c), on
 * its own thread; here the caller's thread does it while the loop
 * connects. An INIT the loop needs before this is done is made the usual
 * way, and this one dropped. */
int l2s_loop_connect_prepared(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES])
{
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_prepare_job job;
	unsigned delay_ms;
	struct lpeer *pe;
	int wake, claimed;

	if (!(pe = lock_peer(l, pk)))
		return L2S_ERR_NOT_FOUND;
	if (!pe->addr_len) {
		l2s_loop_unlock(l);
		return L2S_ERR_CONFIG;
	}
	wake = set_connect(pe, 1);
	claimed = claim_prepare(l, pe, &job, bundle);
	delay_ms = l->test_prepare_delay_ms;
	unlock_wake_if(l, wake);
	if (!claimed)
		return L2S_OK;

	/* A bundle that fails now (expired since it came) makes nothing; the
	 * handshake that uses it reports that. */
	l2s_prepare_job_make(&job, pk, bundle, sizeof(bundle), l2s_loop_unix_s());
	if (delay_ms)
		usleep(delay_ms * 1000u);
	pthread_mutex_lock(&l->mu);
	unlock_wake_if(l, land_prepare(l, pk, &job));
	return L2S_OK;
}

/* The peer a StoredSession names and the peer's stream it received (its
 * seal is checked here). */
static int stored_peer(struct l2s_loop *l, const uint8_t *stored, size_t len, uint8_t pk[L2S_ED25519_PK_BYTES],
		       uint8_t stream[L2S_STREAM_ID_BYTES])
{
	struct l2s_stored_session st = { 0 };
	uint8_t *dl = malloc(len ? len : 1);
	int ret;

	if (!dl)
		return L2S_ERR_NOMEM;
	ret = l2s_store_open(&st, dl, len, stored, len, l->p.node.storage_key, l2s_loop_now());
	if (ret == L2S_OK)
		ret = l2s_delivery_export_rx_stream(st.delivery, st.delivery_len, stream);
	if (ret == L2S_OK)
		memcpy(pk, st.peer_pk, L2S_ED25519_PK_BYTES);
	l2s_stored_session_wipe(&st);
	l2s_wipe(dl, len);
	free(dl);
	return ret;
}

/* The session goes into the engine at once, before any connection (path 0:
 * its first RESUME_INIT goes nowhere), so that a RESUME_INIT of the peer's,
 * which may come first, finds it; the first connection carries it. */
int l2s_loop_import(struct l2s_loop *l, const uint8_t *stored, size_t len, uint64_t delivered_upto)
{
	uint8_t pk[L2S_ED25519_PK_BYTES], stream[L2S_STREAM_ID_BYTES];
	struct lpeer *pe;
	uint64_t now = l2s_loop_now();
	uint32_t h = 0;
	int ret;

	pthread_mutex_lock(&l->mu);
	ret = stored_peer(l, stored, len, pk, stream);
	l2s_loop_unlock(l);
	if (ret != L2S_OK)
		return ret;
	if (!(pe = lock_peer(l, pk)))
		return L2S_ERR_NOT_FOUND;
	if (pe->session)
		return unlock_wake(l, L2S_ERR_STATE); /* the peer has a session already */
	ret = l2s_node_resume(l->node, stored, len, &l->p.cfg, 0, now, &h);
	if (ret != L2S_OK)
		return unlock_wake(l, ret);
	/* A refused resumption then falls back to a full handshake. */
	if (pe->has_bundle)
		l2s_session_set_bundle(l->node, h, pe->bundle, sizeof(pe->bundle), l2s_loop_unix_s());
	pe->session = h;
	pe->started = STARTED_RESUME;
	pe->imported = 1;
	l2s_peer_set_delivered(pe, stream, delivered_upto);
	pe->resume_from_ms = now;
	if (!pe->path && !pe->quic_try && !pe->tcp_try)
		pe->reconnect_at = now;
	return unlock_wake(l, L2S_OK);
}

int l2s_loop_set_delivered(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES],
			   const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t upto)
{
	struct lpeer *pe = lock_peer(l, pk);

	if (!pe)
		return L2S_ERR_NOT_FOUND;
	l2s_peer_set_delivered(pe, stream, upto);
	l2s_loop_unlock(l);
	return L2S_OK;
}

int l2s_loop_export(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t *out, size_t cap,
		    size_t *len)
{
	struct lpeer *pe = lock_peer(l, pk);
	int ret;

	if (!pe)
		return L2S_ERR_NOT_FOUND;
	ret = pe->session ? l2s_session_export(l->node, pe->session, out, cap, len) : L2S_ERR_NOT_FOUND;
	l2s_loop_unlock(l);
	return ret;
}

/* With the mutex held: the session of pe that can take messages. */
static int sending_session(struct l2s_loop *l, const struct lpeer *pe)
{
	struct l2s_session_info si;

	if (!pe->session || l2s_session_info(l->node, pe->session, &si) != L2S_OK)
		return L2S_ERR_NOT_FOUND;
	return si.state == L2S_FAILED ? L2S_ERR_STATE : L2S_OK;
}

int l2s_loop_send(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const uint8_t *msg, size_t len,
		  uint64_t *seq)
{
	struct iovec v = { .iov_base = (void *)msg, .iov_len = len };
	size_t accepted;

	return l2s_loop_send_many(l, pk, &v, 1, seq, &accepted);
}

int l2s_loop_send_many(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const struct iovec *msgs,
		       size_t n, uint64_t *seqs, size_t *accepted)
{
	struct lpeer *pe = lock_peer(l, pk);
	uint64_t now = l2s_loop_now(), s;
	int ret;

	*accepted = 0;
	if (!pe)
		return L2S_ERR_NOT_FOUND;
	ret = sending_session(l, pe);
	for (size_t i = 0; ret == L2S_OK && i < n; i++) {
		ret = l2s_session_send(l->node, pe->session, msgs[i].iov_base, msgs[i].iov_len, now, &s);
		if (ret != L2S_OK)
			break;
		pe->tx_messages++;
		if (seqs)
			seqs[i] = s;
		(*accepted)++;
	}
	if (*accepted)
		return unlock_wake(l, ret);
	l2s_loop_unlock(l); /* nothing new for the loop */
	return ret;
}

int l2s_loop_rotate(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES])
{
	struct lpeer *pe = lock_peer(l, pk);

	if (!pe)
		return L2S_ERR_NOT_FOUND;
	return unlock_wake(l, pe->session ? l2s_session_rotate(l->node, pe->session, l2s_loop_now())
					  : L2S_ERR_NOT_FOUND);
}

int l2s_loop_close_peer(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES])
{
	struct lpeer *pe = lock_peer(l, pk);
	int ret = L2S_OK;

	if (!pe)
		return L2S_ERR_NOT_FOUND;
	pe->closed = 1;
	pe->reconnect_at = pe->tcp_at = pe->quic_retry_at = 0;
	if (pe->session)
		ret = l2s_session_close(l->node, pe->session, l2s_loop_now());
	return unlock_wake(l, ret);
}

size_t l2s_loop_peer_count(struct l2s_loop *l)
{
	size_t n;

	pthread_mutex_lock(&l->mu);
	n = l->npeers;
	l2s_loop_unlock(l);
	return n;
}

static void fill_info(struct l2s_loop *l, const struct lpeer *pe, struct l2s_loop_peer_info *info)
{
	struct lpath *p = l2s_path_get(l, pe->path);
	struct l2s_quic_conn_stats cs;

	memset(info, 0, sizeof(*info));
	memcpy(info->pk, pe->pk, sizeof(info->pk));
	info->addr = pe->addr;
	info->addr_len = pe->addr_len;
	info->connect = pe->connect;
	info->has_session = pe->session && l2s_session_info(l->node, pe->session, &info->session) == L2S_OK;
	info->transport = p ? p->kind : L2S_TRANSPORT_NONE;
	if (p && p->kind == L2S_TRANSPORT_QUIC && l2s_quic_get_conn_stats(l->quic, p->conn, &cs) == L2S_OK)
		info->rtt_us = cs.smoothed_rtt_us;
	info->established_ms = pe->established_ms;
	info->resume_ms = pe->resume_ms;
	info->handshake_us = pe->handshake_us;
	info->resume_us = pe->resume_us;
	info->fallbacks = pe->fallbacks;
	info->returns = pe->returns;
	info->tx_messages = pe->tx_messages;
	info->rx_messages = pe->rx_messages;
	info->delivered = pe->delivered;
}

int l2s_loop_peer_info(struct l2s_loop *l, size_t i, struct l2s_loop_peer_info *info)
{
	int ret = L2S_ERR_NOT_FOUND;

	pthread_mutex_lock(&l->mu);
	if (i < l->npeers) {
		fill_info(l, l->peers[i], info);
		ret = L2S_OK;
	}
	l2s_loop_unlock(l);
	return ret;
}

void l2s_loop_stats(struct l2s_loop *l, struct l2s_loop_stats *st)
{
	uint32_t sessions = 0;

	pthread_mutex_lock(&l->mu);
	*st = l->st;
	if (l->quic)
		l2s_quic_get_stats(l->quic, &st->quic);
	if (l->tcp)
		l2s_tcp_get_stats(l->tcp, &st->tcp);
	for (uint32_t i = 0; i < l->npeers; i++)
		sessions += l->peers[i]->session != 0;
	st->sessions = sessions;
	st->peers = l->npeers;
	st->handshakes_prepared = l2s_node_handshakes_prepared(l->node);
	st->budget_limit = l->budget.limit;
	st->budget_used = l->budget.used;
	st->budget_peak = l->budget.peak;
	l2s_loop_unlock(l);
}

/* ---- tests only ------------------------------------------------------------------- */

void l2s_loop_test_prepare_delay(struct l2s_loop *l, unsigned delay_ms, unsigned hold_ms)
{
	pthread_mutex_lock(&l->mu);
	l->test_prepare_delay_ms = delay_ms;
	l->test_prepare_hold_ms = hold_ms;
	l2s_loop_unlock(l);
}

void l2s_loop_test_block_quic(struct l2s_loop *l, int block)
{
	pthread_mutex_lock(&l->mu);
	if (l->quic)
		l2s_quic_test_drop_rx(l->quic, block);
	l2s_loop_unlock(l);
}

int l2s_loop_test_binding(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t out[32])
{
	struct lpeer *pe = lock_peer(l, pk);
	struct l2s_session_info si;
	int ret = L2S_ERR_NOT_FOUND;

	if (!pe)
		return ret;
	if (pe->session && l2s_session_info(l->node, pe->session, &si) == L2S_OK) {
		const uint8_t *b = l2s_node_binding(l->node, si.path);

		memset(out, 0, 32);
		if (b)
			memcpy(out, b, 32);
		ret = L2S_OK;
	}
	l2s_loop_unlock(l);
	return ret;
}
