# Declarations of csrc/include/l2s.h for Cython.
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from posix.uio cimport iovec

cdef extern from "l2s.h" nogil:
    enum:
        L2S_OK
        L2S_ERR_LENGTH
        L2S_ERR_INVALID_KEY
        L2S_ERR_AUTH
        L2S_ERR_INIT
        L2S_ERR_INTERNAL
        L2S_ERR_DECODE
        L2S_ERR_STATE
        L2S_ERR_QUEUE_FULL
        L2S_ERR_NOT_FOUND
        L2S_ERR_QUARANTINED
        L2S_ERR_REPLAY
        L2S_ERR_EXPIRED
        L2S_ERR_NOMEM
        L2S_ERR_BUSY
        L2S_ERR_CONFIG
        L2S_ERR_IO
        L2S_X25519_BYTES
        L2S_ED25519_PK_BYTES
        L2S_ED25519_SEED_BYTES
        L2S_ED25519_SK_BYTES
        L2S_ED25519_SIG_BYTES
        L2S_AEAD_KEY_BYTES
        L2S_AEAD_NONCE_BYTES
        L2S_AEAD_TAG_BYTES
        L2S_BLAKE3_KEY_BYTES
        L2S_MLKEM768_EK_BYTES
        L2S_MLKEM768_DK_BYTES
        L2S_MLKEM768_CT_BYTES
        L2S_MLKEM_SS_BYTES
        L2S_MLKEM_SEED_BYTES
        L2S_XWING_PK_BYTES
        L2S_XWING_SK_BYTES
        L2S_XWING_CT_BYTES
        L2S_XWING_SS_BYTES
        L2S_XWING_ESEED_BYTES

    const char *l2s_strerror(int err)
    int l2s_init()
    void l2s_random(uint8_t *out, size_t len)
    void l2s_wipe(void *p, size_t len)

    int l2s_x25519_keypair(uint8_t *pk, uint8_t *sk)
    int l2s_x25519_base(uint8_t *pk, const uint8_t *sk)
    int l2s_x25519(uint8_t *out, const uint8_t *sk, const uint8_t *pk)

    int l2s_ed25519_keypair(uint8_t *pk, uint8_t *sk)
    int l2s_ed25519_seed_keypair(uint8_t *pk, uint8_t *sk, const uint8_t *seed)
    int l2s_ed25519_sign(uint8_t *sig, const uint8_t *msg, size_t msg_len, const uint8_t *sk)
    int l2s_ed25519_verify(const uint8_t *sig, const uint8_t *msg, size_t msg_len, const uint8_t *pk)

    int l2s_aead_encrypt(uint8_t *out, const uint8_t *pt, size_t pt_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t *nonce, const uint8_t *key)
    int l2s_aead_decrypt(uint8_t *out, const uint8_t *ct, size_t ct_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t *nonce, const uint8_t *key)

    void l2s_blake3(uint8_t *out, size_t out_len, const uint8_t *inp, size_t in_len)
    void l2s_blake3_keyed(uint8_t *out, size_t out_len, const uint8_t *key, const uint8_t *inp, size_t in_len)
    void l2s_blake3_derive_key(uint8_t *out, size_t out_len, const char *context, size_t context_len,
                               const uint8_t *material, size_t material_len)
    const char *l2s_blake3_backend()

    const char *l2s_mlkem_provider()
    int l2s_mlkem768_keygen_derand(uint8_t *ek, uint8_t *dk, const uint8_t *d, const uint8_t *z)
    int l2s_mlkem768_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *ek, const uint8_t *m)
    int l2s_mlkem768_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *dk)

    int l2s_xwing_keygen_derand(uint8_t *pk, const uint8_t *sk)
    int l2s_xwing_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *eseed)
    int l2s_xwing_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *sk)

    # ---- the session engine (sans-IO node) ----
    enum:
        L2S_IDLE
        L2S_HANDSHAKE_INITIATED
        L2S_HANDSHAKE_RECEIVED
        L2S_ESTABLISHED
        L2S_DEGRADED
        L2S_ROTATING
        L2S_SUSPENDED
        L2S_FAILED
        L2S_STATE_COUNT
        L2S_STATE_END

    enum:
        L2S_REASON_NONE
        L2S_REASON_COUNT

    enum:
        L2S_EV_STATE
        L2S_EV_ACCEPTED
        L2S_EV_MESSAGE
        L2S_EV_DELIVERED
        L2S_EV_WARNING
        L2S_EV_TRANSPORT
        L2S_EV_CLOSED

    enum:
        L2S_PREKEY_BUNDLE_BYTES
        L2S_MAX_MESSAGE
        L2S_MAX_PAYLOAD
        L2S_SESSION_ID_BYTES
        L2S_MAX_ADDR_BYTES

    const uint64_t L2S_DELIVERY_SEQ_RESERVE

    const char *l2s_state_name(int state)
    const char *l2s_reason_name(int reason)

    struct l2s_transition:
        uint8_t from_ "from"
        uint8_t to

    size_t l2s_transition_table(const l2s_transition **table)
    int l2s_transition_allowed(int from_, int to)

    struct l2s_config:
        uint64_t ttl_ms
        uint64_t heartbeat_interval_ms
        uint32_t heartbeat_tolerance
        uint64_t handshake_timeout_ms
        uint64_t rotation_window_ms
        uint64_t heartbeat_reply_timeout_ms
        uint64_t connectivity_timeout_ms
        uint64_t degraded_timeout_ms
        uint64_t suspended_retry_ms
        uint64_t quarantine_ms
        uint64_t backoff_base_ms
        uint64_t backoff_max_ms
        uint32_t max_retries
        uint64_t key_grace_ms
        uint64_t rotate_after_messages
        uint64_t rotate_after_bytes
        uint64_t retransmit_timeout_ms
        uint32_t send_queue_limit
        uint64_t send_queue_bytes_limit
        uint32_t reorder_window
        uint64_t ticket_lifetime_ms
        uint32_t resume_dh

    void l2s_config_default(l2s_config *cfg)
    int l2s_config_check(const l2s_config *cfg)

    struct l2s_node:
        pass

    struct l2s_node_params:
        uint8_t identity_sk[64]
        uint8_t prekey_seed[32]
        uint64_t prekey_not_after_s
        int has_previous_prekey
        uint8_t previous_prekey_seed[32]
        uint8_t storage_key[32]
        int deterministic
        uint8_t rng_seed[32]
        uint32_t max_sessions
        uint32_t handshake_load_limit
        uint32_t handshake_rate_per_s
        uint32_t handshake_work_per_s
        uint64_t handshake_counter

    int l2s_node_new(l2s_node **out, const l2s_node_params *params, uint64_t now_ms)
    void l2s_node_free(l2s_node *node)
    int l2s_node_prekey_bundle(const l2s_node *node, uint8_t *out)
    int l2s_prekey_bundle_verify(const uint8_t *bundle, size_t len, const uint8_t *identity_pk, uint64_t now_s)
    int l2s_node_establish(l2s_node *node, const uint8_t *peer_pk, const uint8_t *bundle, size_t bundle_len,
                           uint64_t now_s, const l2s_config *cfg, uint32_t path, uint64_t now_ms,
                           uint32_t *handle)
    uint64_t l2s_node_handshake_counter(const l2s_node *node)
    int l2s_node_resume(l2s_node *node, const uint8_t *stored, size_t stored_len, const l2s_config *cfg,
                        uint32_t path, uint64_t now_ms, uint32_t *handle)
    int l2s_node_set_accept_config(l2s_node *node, const l2s_config *cfg)
    int l2s_node_receive(l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
                         const uint8_t *msg, size_t len, uint64_t now_ms)
    int l2s_node_path_status(l2s_node *node, uint32_t path, int up, uint64_t now_ms)
    int l2s_node_tick(l2s_node *node, uint64_t now_ms)
    uint64_t l2s_node_next_deadline(const l2s_node *node)

    struct l2s_output:
        uint32_t session
        uint32_t path
        const uint8_t *data
        size_t len

    int l2s_node_next_output(l2s_node *node, l2s_output *out)

    struct l2s_event:
        int type
        uint32_t session
        uint64_t time_ms
        uint8_t peer_pk[32]
        int from_ "from"
        int to
        int reason
        uint64_t seq
        uint32_t path
        const uint8_t *data
        size_t len

    int l2s_node_next_event(l2s_node *node, l2s_event *ev)

    int l2s_session_send(l2s_node *node, uint32_t handle, const uint8_t *msg, size_t len, uint64_t now_ms,
                         uint64_t *seq)

    struct l2s_sinfo "l2s_session_info":
        int state
        int failure_reason
        int initiator
        uint8_t peer_pk[32]
        uint8_t session_id[16]
        uint32_t path
        uint64_t expires_ms
        uint64_t key_established_ms
        uint64_t quarantined_until_ms
        uint64_t next_retry_ms
        uint32_t missed_heartbeats
        uint32_t retries
        uint32_t rotations
        uint64_t queued
        uint64_t unacked
        uint64_t next_send_seq
        uint64_t next_recv_seq
        uint8_t rx_stream[16]

    int l2s_session_info(const l2s_node *node, uint32_t handle, l2s_sinfo *info)
    int l2s_session_rotate(l2s_node *node, uint32_t handle, uint64_t now_ms)
    int l2s_session_set_path(l2s_node *node, uint32_t handle, uint32_t path, uint64_t now_ms)
    int l2s_session_set_bundle(l2s_node *node, uint32_t handle, const uint8_t *bundle, size_t bundle_len,
                               uint64_t now_s)
    int l2s_session_export(const l2s_node *node, uint32_t handle, uint8_t *out, size_t cap, size_t *len)
    int l2s_session_close(l2s_node *node, uint32_t handle, uint64_t now_ms)


# ---- the event loop (csrc/include/l2s_loop.h; library l2s_loop) -------------------------

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        pass
    struct sockaddr_storage:
        unsigned short ss_family

cdef extern from "l2s_transport.h" nogil:
    struct l2s_quic_params:
        uint64_t idle_timeout_ms
        uint64_t keepalive_ms
        uint64_t handshake_timeout_ms
        uint32_t max_connections
    struct l2s_quic_stats:
        uint64_t rx_datagrams, rx_bytes, tx_datagrams, tx_bytes, rx_dropped, rx_conn_errors
        uint64_t version_negotiations, retries_sent, retry_tokens_bad, stateless_resets_sent
        uint64_t answers_withheld
        uint64_t accepted, refused_full, connected, closed, path_changes, framing_errors
        uint64_t tx_blocked, tx_errors, tx_gso_sends, gso_failures, rx_gro_datagrams
        uint64_t own_socket_failures, refused_budget, shed_budget, budget_full
        uint32_t connections, own_sockets

cdef extern from "l2s_transport.h" nogil:
    struct l2s_tcp_params:
        uint32_t max_connections
        uint64_t memory_budget
    struct l2s_tcp_stats:
        uint64_t accepted, refused_full, connects, connected, connect_failures, closed
        uint64_t rx_messages, rx_bytes, tx_messages, tx_bytes, framing_errors, resets, queue_full
        uint64_t shed_not_reading, shed_unauthenticated, shed_for_new, shed_budget
        uint32_t connections, untrusted
        uint64_t held_bytes, memory_budget

cdef extern from "l2s_loop.h" nogil:
    enum:
        L2S_TRANSPORT_NONE
        L2S_TRANSPORT_QUIC
        L2S_TRANSPORT_UTCP
        L2S_LOOP_EV_PEER_ERROR
        L2S_LOOP_EV_INBOX
        L2S_LOOP_EV_REFUSED

    struct l2s_loop:
        pass

    struct l2s_loop_params:
        l2s_node_params node
        l2s_config cfg
        sockaddr_storage listen
        socklen_t listen_len
        int no_quic, no_utcp
        l2s_quic_params quic
        l2s_tcp_params tcp
        uint64_t happy_eyeballs_ms
        uint64_t path_timeout_ms
        uint64_t quic_retry_ms
        uint64_t reconnect_base_ms
        uint64_t reconnect_max_ms
        uint32_t event_queue_limit
        int accept_any
        const char *inbox
        uint64_t inbox_max_bytes
        uint32_t inbox_keep
        int inbox_sync
        uint64_t memory_budget

    void l2s_loop_params_default(l2s_loop_params *p)
    int l2s_loop_new(l2s_loop **out, const l2s_loop_params *p)
    void l2s_loop_free(l2s_loop *l)
    int l2s_loop_local_addr(l2s_loop *l, sockaddr_storage *addr, socklen_t *len)
    int l2s_loop_bundle(l2s_loop *l, uint8_t *out)
    int l2s_loop_renew_prekey(l2s_loop *l, const uint8_t *seed, uint64_t not_after_s)
    int l2s_loop_run(l2s_loop *l)
    int l2s_loop_run_once(l2s_loop *l, int timeout_ms)
    int l2s_loop_poll_fd(l2s_loop *l)
    int l2s_loop_poll_timeout(l2s_loop *l)
    void l2s_loop_stop(l2s_loop *l)
    int l2s_loop_add_peer(l2s_loop *l, const uint8_t *pk, const sockaddr *addr, socklen_t addr_len, int connect)
    int l2s_loop_set_peer_bundle(l2s_loop *l, const uint8_t *pk, const uint8_t *bundle, size_t len)
    int l2s_loop_connect_prepared(l2s_loop *l, const uint8_t *pk)
    int l2s_loop_import(l2s_loop *l, const uint8_t *stored, size_t len, uint64_t delivered_upto)
    int l2s_loop_set_delivered(l2s_loop *l, const uint8_t *pk, const uint8_t *stream, uint64_t upto)
    int l2s_loop_export(l2s_loop *l, const uint8_t *pk, uint8_t *out, size_t cap, size_t *len)
    int l2s_loop_send(l2s_loop *l, const uint8_t *pk, const uint8_t *msg, size_t len, uint64_t *seq)
    int l2s_loop_send_many(l2s_loop *l, const uint8_t *pk, const iovec *msgs, size_t n, uint64_t *seqs,
                           size_t *accepted)
    int l2s_loop_rotate(l2s_loop *l, const uint8_t *pk)
    int l2s_loop_close_peer(l2s_loop *l, const uint8_t *pk)

    struct l2s_loop_event:
        int type
        uint32_t session
        uint64_t time_ms
        uint8_t peer_pk[32]
        uint8_t session_id[16]
        int from_ "from"
        int to
        int reason
        uint64_t seq
        int transport
        int error
        const uint8_t *data
        size_t len

    int l2s_loop_next_event(l2s_loop *l, l2s_loop_event *ev)
    int l2s_loop_next_events(l2s_loop *l, l2s_loop_event *evs, size_t max)
    int l2s_loop_wait_event(l2s_loop *l, int timeout_ms)

    ctypedef struct l2s_lpeer "struct l2s_loop_peer_info":
        uint8_t pk[32]
        sockaddr_storage addr
        socklen_t addr_len
        int connect
        int has_session
        l2s_sinfo session
        int transport
        uint64_t rtt_us
        uint64_t established_ms
        uint64_t resume_ms
        uint64_t handshake_us, resume_us
        uint32_t fallbacks, returns
        uint64_t tx_messages, rx_messages, delivered

    size_t l2s_loop_peer_count(l2s_loop *l)
    int l2s_loop_peer_info(l2s_loop *l, size_t i, l2s_lpeer *info)

    ctypedef struct l2s_lstats "struct l2s_loop_stats":
        l2s_quic_stats quic
        l2s_tcp_stats tcp
        uint64_t rounds
        uint64_t rx_messages
        uint64_t rx_dropped[17]
        uint64_t tx_messages, tx_dropped
        uint64_t disc_probes, disc_answers, disc_dropped
        uint64_t inbox_failures, inbox_refusing
        int inbox_errno
        uint64_t inbox_rotations
        uint64_t paths_unproven_closed
        uint64_t refused
        uint64_t handshakes, resumptions, fallbacks, returns
        uint64_t handshakes_prepared, prepared_by_caller, prepared_by_loop
        uint64_t events_queued, events_peak
        uint32_t sessions, peers
        uint64_t tx_held
        uint64_t budget_limit, budget_used, budget_peak

    void l2s_loop_stats(l2s_loop *l, l2s_lstats *st)
