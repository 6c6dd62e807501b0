/* SPDX-License-Identifier: Apache-2.0
 *
 * l2s.h - the one public header of the l2sess C core.
 *
 * Conventions:
 *   - every function that can fail returns an int: L2S_OK (0) or a negative
 *     enum l2s_err value; outputs are written only on success unless noted;
 *   - buffers are (pointer, length) where the length is not fixed by the type;
 *   - no function keeps hidden global state except libsodium's one-time init.
 */
#ifndef L2S_H
#define L2S_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version; l2s_version() says which one a program runs with. */
#define L2S_VERSION_MAJOR 0
#define L2S_VERSION_MINOR 1
#define L2S_VERSION_PATCH 0
#define L2S_VERSION "0.1.0"

/* What these headers declare is the shared library's interface; the rest of
 * the library is built with hidden visibility and exports nothing. */
#pragma GCC visibility push(default)

enum l2s_err {
	L2S_OK = 0,
	L2S_ERR_LENGTH = -1,      /* a buffer has the wrong length */
	L2S_ERR_INVALID_KEY = -2, /* key fails its validity check */
	L2S_ERR_AUTH = -3,        /* AEAD tag or signature did not verify */
	L2S_ERR_INIT = -4,        /* the crypto library could not start */
	L2S_ERR_INTERNAL = -5,    /* should not happen; a bug */
	L2S_ERR_DECODE = -6,      /* malformed message: wrong version, type, length or field */
	L2S_ERR_STATE = -7,       /* not allowed in the session's state (InvalidState) */
	L2S_ERR_QUEUE_FULL = -8,  /* the bounded send queue is full; nothing was dropped */
	L2S_ERR_NOT_FOUND = -9,   /* no such session, index, prekey or stored state */
	L2S_ERR_QUARANTINED = -10, /* the peer or address is quarantined */
	L2S_ERR_REPLAY = -11,     /* a replayed message, counter or nonce */
	L2S_ERR_EXPIRED = -12,    /* an expired prekey bundle, ticket or stored session */
	L2S_ERR_NOMEM = -13,      /* allocation failed or a table is full */
	L2S_ERR_BUSY = -14,       /* under load: answered with a cookie, no state kept */
	L2S_ERR_CONFIG = -15,     /* an invalid SessionConfig */
	L2S_ERR_IO = -16,         /* a socket or TLS library call failed (transports only) */
};

/* A stable, human-readable name for an enum l2s_err value. */
const char *l2s_strerror(int err);

/* L2S_VERSION of the library the program runs with. */
const char *l2s_version(void);

/* Must be called once before any other function; safe to call again. */
int l2s_init(void);

/* ---- randomness and wiping (libsodium) ---------------------------------- */
void l2s_random(uint8_t *out, size_t len);
/* Zeroes memory in a way the compiler may not elide. */
void l2s_wipe(void *p, size_t len);

/* ---- X25519 (RFC 7748, libsodium) --------------------------------------- */
#define L2S_X25519_BYTES 32
int l2s_x25519_keypair(uint8_t pk[L2S_X25519_BYTES], uint8_t sk[L2S_X25519_BYTES]);
int l2s_x25519_base(uint8_t pk[L2S_X25519_BYTES], const uint8_t sk[L2S_X25519_BYTES]);
/* L2S_ERR_INVALID_KEY when the result is all zero (a small-order peer key). */
int l2s_x25519(uint8_t out[L2S_X25519_BYTES], const uint8_t sk[L2S_X25519_BYTES],
	       const uint8_t pk[L2S_X25519_BYTES]);

/* ---- Ed25519 (RFC 8032, libsodium) -------------------------------------- */
#define L2S_ED25519_PK_BYTES 32
#define L2S_ED25519_SEED_BYTES 32
#define L2S_ED25519_SK_BYTES 64 /* seed || public key */
#define L2S_ED25519_SIG_BYTES 64
int l2s_ed25519_keypair(uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t sk[L2S_ED25519_SK_BYTES]);
int l2s_ed25519_seed_keypair(uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t sk[L2S_ED25519_SK_BYTES],
			     const uint8_t seed[L2S_ED25519_SEED_BYTES]);
int l2s_ed25519_sign(uint8_t sig[L2S_ED25519_SIG_BYTES], const uint8_t *msg, size_t msg_len,
		     const uint8_t sk[L2S_ED25519_SK_BYTES]);
/* L2S_OK or L2S_ERR_AUTH. */
int l2s_ed25519_verify(const uint8_t sig[L2S_ED25519_SIG_BYTES], const uint8_t *msg, size_t msg_len,
		       const uint8_t pk[L2S_ED25519_PK_BYTES]);

/* ---- ChaCha20-Poly1305 IETF (RFC 8439, libsodium) ----------------------- */
#define L2S_AEAD_KEY_BYTES 32
#define L2S_AEAD_NONCE_BYTES 12
#define L2S_AEAD_TAG_BYTES 16
/* out receives pt_len + L2S_AEAD_TAG_BYTES bytes (ciphertext || tag). */
int l2s_aead_encrypt(uint8_t *out, const uint8_t *pt, size_t pt_len, const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[L2S_AEAD_NONCE_BYTES], const uint8_t key[L2S_AEAD_KEY_BYTES]);
/* out receives ct_len - L2S_AEAD_TAG_BYTES bytes; L2S_ERR_AUTH on a bad tag,
 * in which case out is zeroed. */
int l2s_aead_decrypt(uint8_t *out, const uint8_t *ct, size_t ct_len, const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[L2S_AEAD_NONCE_BYTES], const uint8_t key[L2S_AEAD_KEY_BYTES]);

/* ---- BLAKE3 (official C sources, runtime SIMD dispatch) ----------------- */
#define L2S_BLAKE3_KEY_BYTES 32
#define L2S_BLAKE3_OUT_BYTES 32
/* Any output length (extendable output). */
void l2s_blake3(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
void l2s_blake3_keyed(uint8_t *out, size_t out_len, const uint8_t key[L2S_BLAKE3_KEY_BYTES],
		      const uint8_t *in, size_t in_len);
void l2s_blake3_derive_key(uint8_t *out, size_t out_len, const char *context, size_t context_len,
			   const uint8_t *material, size_t material_len);
/* Name of the SIMD back end BLAKE3 picks on this CPU ("avx512", "neon", ...). */
const char *l2s_blake3_backend(void);

/* ---- ML-KEM-768 (FIPS 203) behind a provider interface ------------------ */
#define L2S_MLKEM768_EK_BYTES 1184
#define L2S_MLKEM768_DK_BYTES 2400
#define L2S_MLKEM768_CT_BYTES 1088
#define L2S_MLKEM_SS_BYTES 32
#define L2S_MLKEM_SEED_BYTES 32 /* each of d, z and m */

/* "l2sess-fips203" (the project's own code) or "liboqs". */
const char *l2s_mlkem_provider(void);
int l2s_mlkem768_keygen(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES]);
/* FIPS 203 ML-KEM.KeyGen_internal(d, z). */
int l2s_mlkem768_keygen_derand(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES],
			       const uint8_t d[L2S_MLKEM_SEED_BYTES], const uint8_t z[L2S_MLKEM_SEED_BYTES]);
/* L2S_ERR_INVALID_KEY when ek fails the FIPS 203 §7.2 modulus check. */
int l2s_mlkem768_encaps(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			const uint8_t ek[L2S_MLKEM768_EK_BYTES]);
/* FIPS 203 ML-KEM.Encaps_internal(ek, m), after the §7.2 check. */
int l2s_mlkem768_encaps_derand(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			       const uint8_t ek[L2S_MLKEM768_EK_BYTES], const uint8_t m[L2S_MLKEM_SEED_BYTES]);
/* L2S_ERR_INVALID_KEY when dk fails the FIPS 203 §7.3 hash check. A modified
 * ciphertext is not an error: implicit rejection returns a pseudorandom ss. */
int l2s_mlkem768_decaps(uint8_t ss[L2S_MLKEM_SS_BYTES], const uint8_t ct[L2S_MLKEM768_CT_BYTES],
			const uint8_t dk[L2S_MLKEM768_DK_BYTES]);
/* The input checks alone, L2S_OK or L2S_ERR_INVALID_KEY. */
int l2s_mlkem768_check_ek(const uint8_t ek[L2S_MLKEM768_EK_BYTES]);
int l2s_mlkem768_check_dk(const uint8_t dk[L2S_MLKEM768_DK_BYTES]);

/* ---- X-Wing hybrid KEM (draft-connolly-cfrg-xwing-kem-10) --------------- */
#define L2S_XWING_PK_BYTES 1216 /* ML-KEM-768 ek || X25519 pk */
#define L2S_XWING_SK_BYTES 32   /* the seed */
#define L2S_XWING_CT_BYTES 1120 /* ML-KEM-768 ct || X25519 ephemeral pk */
#define L2S_XWING_SS_BYTES 32
#define L2S_XWING_ESEED_BYTES 64
int l2s_xwing_keygen(uint8_t pk[L2S_XWING_PK_BYTES], uint8_t sk[L2S_XWING_SK_BYTES]);
int l2s_xwing_keygen_derand(uint8_t pk[L2S_XWING_PK_BYTES], const uint8_t sk[L2S_XWING_SK_BYTES]);
int l2s_xwing_encaps(uint8_t ct[L2S_XWING_CT_BYTES], uint8_t ss[L2S_XWING_SS_BYTES],
		     const uint8_t pk[L2S_XWING_PK_BYTES]);
int l2s_xwing_encaps_derand(uint8_t ct[L2S_XWING_CT_BYTES], uint8_t ss[L2S_XWING_SS_BYTES],
			    const uint8_t pk[L2S_XWING_PK_BYTES], const uint8_t eseed[L2S_XWING_ESEED_BYTES]);
int l2s_xwing_decaps(uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t ct[L2S_XWING_CT_BYTES],
		     const uint8_t sk[L2S_XWING_SK_BYTES]);

/* ==== the session engine (sans-IO) =========================================
 *
 * A node holds one local identity, its prekeys and all its sessions. It never
 * reads a clock, sleeps or touches a socket: the caller passes the time
 * (now_ms, any monotonic millisecond clock that starts above 0: the engine
 * uses 0 for "never") and received messages in, and
 * takes messages to send, events and the next deadline out. Sessions are
 * named by a non-zero 32-bit handle. docs/PROTOCOL.md fixes the bytes and
 * docs/STATE_MACHINE.md the states.
 */

enum l2s_state {
	L2S_IDLE,
	L2S_HANDSHAKE_INITIATED,
	L2S_HANDSHAKE_RECEIVED,
	L2S_ESTABLISHED,
	L2S_DEGRADED,
	L2S_ROTATING,
	L2S_SUSPENDED,
	L2S_FAILED,
	L2S_STATE_COUNT,
	L2S_STATE_END = L2S_STATE_COUNT, /* the diagram's [*]: the session is gone */
};

enum l2s_reason {
	L2S_REASON_NONE,
	L2S_REASON_INITIATE_HANDSHAKE,
	L2S_REASON_RECEIVE_HANDSHAKE,
	L2S_REASON_RECEIVE_VALID_RESPONSE,
	L2S_REASON_SEND_RESPONSE_ACK,
	L2S_REASON_TIMEOUT,
	L2S_REASON_AUTHENTICATION_FAILED,
	L2S_REASON_MISSED_HEARTBEATS,
	L2S_REASON_CONNECTIVITY_LOST,
	L2S_REASON_TIME_TO_ROTATE,
	L2S_REASON_CONNECTIVITY_RESTORED,
	L2S_REASON_ROTATION_COMPLETE,
	L2S_REASON_ROTATION_TIMEOUT,
	L2S_REASON_RETRY,
	L2S_REASON_RETRY_WITH_BACKOFF,
	L2S_REASON_TRANSPORT_FAILED,
	L2S_REASON_CLEANUP,
	L2S_REASON_CLOSED,
	L2S_REASON_REPLACED,
	/* Not the diagram's triggers but what an operator needs told apart:
	 * a resumption (RESUME_INIT) rather than a full handshake, and a
	 * rotation the application asked for rather than the schedule's. */
	L2S_REASON_INITIATE_RESUMPTION,
	L2S_REASON_ROTATION_REQUESTED,
	L2S_REASON_COUNT,
};

const char *l2s_state_name(int state);
const char *l2s_reason_name(int reason);

struct l2s_transition {
	uint8_t from, to; /* enum l2s_state; to == L2S_STATE_END for cleanup */
};
/* The transition table the engine enforces (SPEC-018 §3). */
size_t l2s_transition_table(const struct l2s_transition **table);
/* L2S_OK when from -> to is in the table, else L2S_ERR_STATE. */
int l2s_transition_allowed(int from, int to);

/* SessionConfig: the spec's fields first, with its defaults. */
struct l2s_config {
	uint64_t ttl_ms;                     /* 24 h */
	uint64_t heartbeat_interval_ms;      /* 30 s */
	uint32_t heartbeat_tolerance;        /* 3 */
	uint64_t handshake_timeout_ms;       /* 5 s */
	uint64_t rotation_window_ms;         /* 1 h */
	uint64_t heartbeat_reply_timeout_ms; /* 2 s */
	uint64_t connectivity_timeout_ms;    /* 30 s */
	uint64_t degraded_timeout_ms;        /* 60 s */
	uint64_t suspended_retry_ms;         /* 60 s */
	uint64_t quarantine_ms;              /* 60 s */
	uint64_t backoff_base_ms;            /* 1 s */
	uint64_t backoff_max_ms;             /* 60 s */
	uint32_t max_retries;                /* 0: retry for ever */
	uint64_t key_grace_ms;               /* 10 s */
	uint64_t rotate_after_messages;      /* 2^32 frames under one key pair */
	uint64_t rotate_after_bytes;         /* 2^40 bytes under one key pair */
	uint64_t retransmit_timeout_ms;      /* 200 ms, doubled per retry, capped at 5 s */
	uint32_t send_queue_limit;           /* 4096 unacknowledged messages */
	uint64_t send_queue_bytes_limit;     /* 16 MiB */
	uint32_t reorder_window;             /* 1024 messages held out of order */
	uint64_t ticket_lifetime_ms;         /* 24 h */
	uint32_t resume_dh;                  /* 0: resumption adds no X25519 share (see PROTOCOL.md §8) */
};
void l2s_config_default(struct l2s_config *cfg);
/* L2S_OK or L2S_ERR_CONFIG: a zero interval or limit, rotation_window >= ttl,
 * backoff_max < backoff_base, or a heartbeat reply timeout >= its interval. */
int l2s_config_check(const struct l2s_config *cfg);

#define L2S_PREKEY_BUNDLE_BYTES 1321
#define L2S_MAX_MESSAGE 65577 /* TRANSPORT header + DATA frame of L2S_MAX_PAYLOAD + tag */
#define L2S_MAX_PAYLOAD 65536
#define L2S_SESSION_ID_BYTES 16
#define L2S_STREAM_ID_BYTES 16 /* names a direction's stream of seqs (PROTOCOL.md §5) */
#define L2S_MAX_ADDR_BYTES 32

struct l2s_node;

struct l2s_node_params {
	uint8_t identity_sk[L2S_ED25519_SK_BYTES];
	uint8_t prekey_seed[L2S_XWING_SK_BYTES];   /* the current X-Wing prekey */
	uint64_t prekey_not_after_s;               /* bundle expiry, Unix seconds */
	/* The prekey before the last renewal: still accepted, for the peers
	 * that hold its bundle (PROTOCOL.md §3). */
	int has_previous_prekey;
	uint8_t previous_prekey_seed[L2S_XWING_SK_BYTES];
	uint8_t storage_key[32];                   /* seals StoredSession blobs */
	int deterministic;                         /* tests only: all randomness from rng_seed */
	uint8_t rng_seed[32];
	uint32_t max_sessions;                     /* 0: 65536; at most 1 << 20 */
	uint32_t handshake_load_limit;             /* half-open handshakes before cookies; 0: 1024 */
	uint32_t handshake_rate_per_s;             /* token bucket per source address; 0: 20 */
	uint32_t handshake_work_per_s;             /* handshake and resumption requests per second
						    * (answered or not) from which the node is under
						    * load and asks for cookies; 0: 100 */
	uint64_t handshake_counter;                /* the last one used (persisted); 0 for a new identity */
	/* 1: every path delivers in order and loses nothing while it is up (a
	 * QUIC stream, μTCP), as the event loop's do. DATA is then re-sent on a
	 * path change, a resumption or rotation, or when the peer's ACK under
	 * new keys shows it read our SYNC, and on a timeout only after
	 * max(retransmit_timeout_ms, heartbeat_interval_ms): re-sending what
	 * the transport is still delivering would only queue duplicates. */
	int reliable_paths;
};

int l2s_node_new(struct l2s_node **out, const struct l2s_node_params *params, uint64_t now_ms);
void l2s_node_free(struct l2s_node *node);
/* This node's signed prekey bundle (PROTOCOL.md §3). */
int l2s_node_prekey_bundle(const struct l2s_node *node, uint8_t out[L2S_PREKEY_BUNDLE_BYTES]);
/* Renews the prekey: seed becomes the current prekey and its bundle
 * expires at not_after_s; the current one becomes the previous (still
 * accepted), and the previous one is wiped. */
int l2s_node_renew_prekey(struct l2s_node *node, const uint8_t seed[L2S_XWING_SK_BYTES], uint64_t not_after_s);
/* Checks a bundle's signature, identity and expiry (now_s: Unix seconds). */
int l2s_prekey_bundle_verify(const uint8_t *bundle, size_t len, const uint8_t identity_pk[L2S_ED25519_PK_BYTES],
			     uint64_t now_s);

/* Starts a full handshake to peer_pk, whose prekey bundle is given (it is
 * verified here: signature by peer_pk, expiry against now_s, Unix seconds).
 * path: the caller's name for the transport path to send on. On failure no
 * session is left behind and *handle is not set. */
int l2s_node_establish(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES], const uint8_t *bundle,
		       size_t bundle_len, uint64_t now_s, const struct l2s_config *cfg, uint32_t path,
		       uint64_t now_ms, uint32_t *handle);
/* Does the part of a coming full handshake to peer_pk that needs no
 * transport, so that a caller can do it while the transport connects: it
 * verifies the bundle (as l2s_node_establish; its errors), and makes the
 * ephemeral key and the encapsulation to its prekey, most of a
 * HANDSHAKE_INIT's cost. The next l2s_node_establish to peer_pk with the
 * same bundle within 10 s then checks only its expiry, and its INIT uses the
 * prepared part, once. A few peers' are kept, the oldest replaced. Draws 96
 * bytes from the node's rng. */
int l2s_node_prepare_handshake(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES],
			       const uint8_t *bundle, size_t bundle_len, uint64_t now_s, uint64_t now_ms);
/* How many HANDSHAKE_INITs used a prepared part. */
uint64_t l2s_node_handshakes_prepared(const struct l2s_node *node);
/* The last handshake counter used: persist it, pass it back in params. */
uint64_t l2s_node_handshake_counter(const struct l2s_node *node);
/* Resumes from an exported StoredSession (ticket or key derivation). On
 * failure no session is left behind and *handle is not set. */
int l2s_node_resume(struct l2s_node *node, const uint8_t *stored, size_t stored_len,
		    const struct l2s_config *cfg, uint32_t path, uint64_t now_ms, uint32_t *handle);
/* Gives a resumed session the peer's prekey bundle (verified as for
 * establish): when a resumption is refused or times out, the retry falls
 * back to a full handshake with it. */
int l2s_session_set_bundle(struct l2s_node *node, uint32_t handle, const uint8_t *bundle, size_t bundle_len,
			   uint64_t now_s);
/* The config inbound sessions get (accept()). */
int l2s_node_set_accept_config(struct l2s_node *node, const struct l2s_config *cfg);

/* The message types (PROTOCOL.md §2): the second byte of every message. */
enum l2s_msg_type {
	L2S_MSG_HANDSHAKE_INIT = 0x01,
	L2S_MSG_HANDSHAKE_RESP = 0x02,
	L2S_MSG_COOKIE_REPLY = 0x03,
	L2S_MSG_TRANSPORT = 0x04,
	L2S_MSG_RESUME_INIT = 0x05,
	L2S_MSG_RESUME_RESP = 0x06,
	L2S_MSG_DISCOVERY_PROBE = 0x07, /* §11: not the engine's (discovery.h) */
	L2S_MSG_DISCOVERY_ANSWER = 0x08,
};

/* One received message from path; addr identifies the source address (for
 * cookies, rate limits and address quarantine). Returns L2S_OK when the
 * message was used, or why it was dropped (it is counted either way). */
int l2s_node_receive(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
		     const uint8_t *msg, size_t len, uint64_t now_ms);
/* The same for a caller that routes messages (the event loop) and must not
 * parse them itself: *type gets the message's type from the engine's one
 * decode of its header, 0 when that failed. A discovery message
 * (PROTOCOL.md §11.3, in-band) is not the engine's: L2S_ERR_DECODE, not
 * counted, and *type tells the caller where it goes. A TRANSPORT message
 * taken (L2S_OK) was opened by a session's keys: its peer authenticated on
 * this path. */
int l2s_node_receive_typed(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
			   const uint8_t *msg, size_t len, uint64_t now_ms, int *type);
/* A batch of receives: between begin and end, what an established
 * session's DATA and ACK frames make it owe the peer (the ACK, and the
 * data the ACKs let go) is sent once, at end, instead of after each
 * message: one ACK for a burst of DATA. Everything else (handshakes, key
 * confirmation, SYNC, rotation, close) is answered at once. A driver that
 * reads many messages per wake-up wraps them in a batch; without one,
 * every message is answered at once. */
void l2s_node_receive_begin(struct l2s_node *node);
void l2s_node_receive_end(struct l2s_node *node, uint64_t now_ms);
/* Binds handshakes and resumptions on a path to its transport connection:
 * binding is the connection's channel binding (QUIC: the TLS exporter value,
 * PROTOCOL.md §2.1), entering the transcript h0 and the resumption binder
 * and transcript on both sides, so neither can be spliced into another
 * connection. NULL clears it (32 zero bytes are used). */
int l2s_node_path_binding(struct l2s_node *node, uint32_t path, const uint8_t *binding);
/* The transport's view of a path: up = 0 when it has lost connectivity. */
int l2s_node_path_status(struct l2s_node *node, uint32_t path, int up, uint64_t now_ms);
/* Runs every timer due at now_ms. Cost grows with the timers due only. */
int l2s_node_tick(struct l2s_node *node, uint64_t now_ms);
/* The earliest pending deadline, UINT64_MAX when none. */
uint64_t l2s_node_next_deadline(const struct l2s_node *node);

struct l2s_output {
	uint32_t session;
	uint32_t path;
	const uint8_t *data; /* valid until the next call into the node */
	size_t len;
	int type; /* enum l2s_msg_type */
};
/* 1 and the next message to send, or 0 when there is none. */
int l2s_node_next_output(struct l2s_node *node, struct l2s_output *out);

enum l2s_event_type {
	L2S_EV_STATE = 1, /* a transition (the audit event) */
	L2S_EV_ACCEPTED,  /* a new inbound session exists (handle) */
	L2S_EV_MESSAGE,   /* an application message, in order, exactly once */
	L2S_EV_DELIVERED, /* the peer acknowledged message seq */
	L2S_EV_WARNING,   /* e.g. a single missed heartbeat */
	L2S_EV_TRANSPORT, /* the session moved to another path */
	L2S_EV_CLOSED,    /* the peer closed the session */
};

struct l2s_event {
	int type;
	uint32_t session;     /* the handle: this node's name for the session */
	uint64_t time_ms;
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES]; /* both sides' name for it; zero until keys exist */
	int from, to, reason; /* L2S_EV_STATE; reason also for WARNING and CLOSED */
	uint64_t seq;         /* MESSAGE, DELIVERED */
	uint8_t stream[L2S_STREAM_ID_BYTES]; /* MESSAGE: the peer's send stream seq numbers (PROTOCOL.md §5) */
	uint32_t path;        /* the session's path (for TRANSPORT: the new one) */
	const uint8_t *data;  /* MESSAGE payload; valid until the next call into the node */
	size_t len;
};
/* 1 and the next event, or 0 when there is none. */
int l2s_node_next_event(struct l2s_node *node, struct l2s_event *ev);

/* Queues an application message (copied). L2S_ERR_QUEUE_FULL when the queue
 * is at its limit: nothing already accepted is dropped. *seq gets its number. */
int l2s_session_send(struct l2s_node *node, uint32_t handle, const uint8_t *msg, size_t len, uint64_t now_ms,
		     uint64_t *seq);

struct l2s_session_info {
	int state, failure_reason, initiator;
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES];
	uint32_t path;
	uint64_t expires_ms, key_established_ms, quarantined_until_ms, next_retry_ms;
	uint32_t missed_heartbeats, retries, rotations;
	uint64_t queued, unacked, next_send_seq, next_recv_seq;
	uint64_t retransmits;             /* DATA re-sent after a timeout, this session's life */
	/* The peer's send stream that next_recv_seq counts (PROTOCOL.md §5): it
	 * outlives sessions, so a watermark of delivered seqs is kept by it;
	 * zeros until the peer's first SYNC. */
	uint8_t rx_stream[L2S_STREAM_ID_BYTES];
};
int l2s_session_info(const struct l2s_node *node, uint32_t handle, struct l2s_session_info *info);
/* Starts a key rotation now (otherwise the timers and counters do). */
int l2s_session_rotate(struct l2s_node *node, uint32_t handle, uint64_t now_ms);
/* Moves the session to another path (transport fallback) and resumes on it. */
int l2s_session_set_path(struct l2s_node *node, uint32_t handle, uint32_t path, uint64_t now_ms);
/* The application could not take the MESSAGE event with this seq (its inbox
 * cannot be written): call it before l2s_node_receive_end() of the batch
 * that delivered the message, so that no ACK covers it. The session goes
 * back to seq, takes no DATA and acknowledges none (the sender keeps it all
 * and re-sends) until l2s_session_accept_data(). */
int l2s_session_refuse_data(struct l2s_node *node, uint32_t handle, uint64_t seq);
int l2s_session_accept_data(struct l2s_node *node, uint32_t handle);
/* StoredSession: the resumption state and delivery state, sealed with the
 * node's storage key. *len gets the size; L2S_ERR_LENGTH when cap is short.
 * A checkpoint may be restored after more messages were sent: its next send
 * seq is stored L2S_DELIVERY_SEQ_RESERVE ahead, so a session restored from
 * it never reuses a seq as long as fewer messages than that were sent after
 * the export (the peer is told to step over the gap, PROTOCOL.md §5). Restore
 * one checkpoint at most once: export again before sending after a resume. */
#define L2S_DELIVERY_SEQ_RESERVE ((uint64_t)1 << 20)
int l2s_session_export(const struct l2s_node *node, uint32_t handle, uint8_t *out, size_t cap, size_t *len);
/* Sends CLOSE and ends the session (its handle becomes invalid). */
int l2s_session_close(struct l2s_node *node, uint32_t handle, uint64_t now_ms);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* L2S_H */
