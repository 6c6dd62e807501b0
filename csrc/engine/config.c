// SPDX-License-Identifier: Apache-2.0
/* SessionConfig defaults (SPEC-018 §5.1, plus the engine's own settings)
 * and the checks that keep a config from breaking the timers. */
#include <string.h>

#include "l2s.h"

#define SECOND 1000ULL
#define HOUR (3600 * SECOND)

void l2s_config_default(struct l2s_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ttl_ms = 24 * HOUR;
	cfg->heartbeat_interval_ms = 30 * SECOND;
	cfg->heartbeat_tolerance = 3;
	cfg->handshake_timeout_ms = 5 * SECOND;
	cfg->rotation_window_ms = 1 * HOUR;
	cfg->heartbeat_reply_timeout_ms = 2 * SECOND;
	cfg->connectivity_timeout_ms = 30 * SECOND;
	cfg->degraded_timeout_ms = 60 * SECOND;
	cfg->suspended_retry_ms = 60 * SECOND;
	cfg->quarantine_ms = 60 * SECOND;
	cfg->backoff_base_ms = 1 * SECOND;
	cfg->backoff_max_ms = 60 * SECOND;
	cfg->max_retries = 0;
	cfg->key_grace_ms = 10 * SECOND;
	cfg->rotate_after_messages = 1ULL << 32;
	cfg->rotate_after_bytes = 1ULL << 40;
	cfg->retransmit_timeout_ms = 200;
	cfg->send_queue_limit = 4096;
	cfg->send_queue_bytes_limit = 16ULL << 20;
	cfg->reorder_window = 1024;
	cfg->ticket_lifetime_ms = 24 * HOUR;
	/* Resumption is symmetric-only by default: fresh nonces give fresh keys,
	 * the resumption secret is ratcheted each time, and rotation brings
	 * fresh X-Wing keys; a share costs four X25519 operations. */
	cfg->resume_dh = 0;
}

int l2s_config_check(const struct l2s_config *cfg)
{
	/* Zero intervals would make timers fire in a loop; a rotation window as
	 * long as the TTL would rotate at once and for ever. */
	if (!cfg->ttl_ms || !cfg->heartbeat_interval_ms || !cfg->heartbeat_tolerance ||
	    !cfg->handshake_timeout_ms || !cfg->heartbeat_reply_timeout_ms || !cfg->connectivity_timeout_ms ||
	    !cfg->degraded_timeout_ms || !cfg->suspended_retry_ms || !cfg->backoff_base_ms ||
	    !cfg->retransmit_timeout_ms || !cfg->send_queue_limit || !cfg->send_queue_bytes_limit ||
	    !cfg->reorder_window || !cfg->rotate_after_messages || !cfg->rotate_after_bytes ||
	    !cfg->ticket_lifetime_ms)
		return L2S_ERR_CONFIG;
	if (cfg->rotation_window_ms >= cfg->ttl_ms || cfg->backoff_max_ms < cfg->backoff_base_ms)
		return L2S_ERR_CONFIG;
	if (cfg->heartbeat_reply_timeout_ms >= cfg->heartbeat_interval_ms)
		return L2S_ERR_CONFIG;
	return L2S_OK;
}
