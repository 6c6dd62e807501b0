/* SPDX-License-Identifier: Apache-2.0 */
/* config.h - node.toml, read as l2sess/node/config.py reads it: the same
 * keys, types, ranges, defaults and rules between keys, and a refusal in
 * the same words, one line naming the key ("[session] ttl: must be ...").
 * docs/NODE.md documents the file; tests/python/test_config.py holds both
 * readers to it. */
#ifndef L2SESSD_CONFIG_H
#define L2SESSD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "did.h"
#include "l2s_loop.h"
#include "sbuf.h"

enum node_key {
	NODE_LISTEN, NODE_IDENTITY, NODE_STATE_DIR, NODE_CONTROL, NODE_AUDIT_LOG, NODE_INBOX,
	NODE_INBOX_MAX_BYTES, NODE_INBOX_KEEP, NODE_INBOX_SYNC, NODE_DELIVERY_LOG, NODE_LOG_MAX_BYTES,
	NODE_LOG_KEEP, NODE_METRICS, NODE_ACCEPT_ANY, NODE_TRANSPORTS, NODE_CHECKPOINT_INTERVAL, NODE_KEYS,
};

enum session_key {
	SESSION_TTL, SESSION_HEARTBEAT_INTERVAL, SESSION_HEARTBEAT_TOLERANCE, SESSION_HANDSHAKE_TIMEOUT,
	SESSION_ROTATION_WINDOW, SESSION_QUARANTINE, SESSION_HEARTBEAT_REPLY_TIMEOUT,
	SESSION_CONNECTIVITY_TIMEOUT, SESSION_DEGRADED_TIMEOUT, SESSION_SUSPENDED_RETRY, SESSION_BACKOFF_BASE,
	SESSION_BACKOFF_MAX, SESSION_MAX_RETRIES, SESSION_KEY_GRACE, SESSION_ROTATE_AFTER_MESSAGES,
	SESSION_ROTATE_AFTER_BYTES, SESSION_RETRANSMIT_TIMEOUT, SESSION_SEND_QUEUE_LIMIT,
	SESSION_SEND_QUEUE_BYTES_LIMIT, SESSION_REORDER_WINDOW, SESSION_TICKET_LIFETIME, SESSION_RESUME_DH,
	SESSION_KEYS,
};

enum loop_key {
	LOOP_HAPPY_EYEBALLS_MS, LOOP_PATH_TIMEOUT_MS, LOOP_QUIC_RETRY_MS, LOOP_RECONNECT_BASE_MS,
	LOOP_RECONNECT_MAX_MS, LOOP_EVENT_QUEUE_LIMIT, LOOP_QUIC_IDLE_TIMEOUT_MS, LOOP_QUIC_KEEPALIVE_MS,
	LOOP_MAX_SESSIONS, LOOP_HANDSHAKE_RATE_PER_S, LOOP_MEMORY_BUDGET, LOOP_HANDSHAKE_WORK_PER_S,
	LOOP_QUIC_MAX_CONNECTIONS, LOOP_TCP_MAX_CONNECTIONS, LOOP_KEYS,
};

enum transport_name { TRANSPORT_QUIC, TRANSPORT_UTCP, TRANSPORTS };

/* One key's value: what node.toml says, or its default. */
struct cfg_value {
	int given;          /* written in node.toml */
	int set;            /* has a value (a path or address key may be off) */
	int is_integer;     /* a "seconds" key written as an integer */
	int boolean;
	uint64_t integer;
	double seconds;
	char *text;         /* path (absolute), address */
	int transports[TRANSPORTS];
	size_t ntransports;
};

struct cfg_peer {
	char did[DID_MAX_CHARS + 1];
	uint8_t pk[32];
	char *address;      /* NULL: none */
	int connect;
};

struct node_config {
	char *path;         /* node.toml, as given */
	struct cfg_value node[NODE_KEYS], session[SESSION_KEYS], loop[LOOP_KEYS];
	struct cfg_peer *peers;
	size_t npeers;
};

#define CONFIG_ERROR_BYTES 1024

/* Reads and checks node.toml. 0, or -1 with err the one line to print
 * after "<path>: ". cfg is freed on failure. */
int config_load(const char *path, struct node_config *cfg, char err[CONFIG_ERROR_BYTES]);
/* The same for node.toml's text (data, len): path names the file, for the
 * relative paths in it. */
int config_parse(const char *path, const char *data, size_t len, struct node_config *cfg,
		 char err[CONFIG_ERROR_BYTES]);
void config_free(struct node_config *cfg);
/* The [session] table as the engine's struct l2s_config (durations in ms). */
void config_session(const struct node_config *cfg, struct l2s_config *c);
/* "192.0.2.7:4433" or "[2001:db8::7]:4433", numeric only, port >= lowest.
 * 0, or -1 with err in config.py's words. */
int config_parse_address(const char *text, int lowest_port, struct sockaddr_storage *ss, socklen_t *len,
			 char *err, size_t errlen);
/* Every key's value as JSON (what `l2sessd check` prints). */
void config_json(const struct node_config *cfg, struct sbuf *out);

#endif
