/* SPDX-License-Identifier: Apache-2.0 */
/* The QUIC endpoint's TLS identity: ephemeral self-signed certificates.
 *
 * QUIC needs TLS 1.3 and so a certificate, but l2sess authenticates peers in
 * its own handshake (PROTOCOL.md §4) and binds that handshake to the TLS
 * session through the exporter (quic.h). The certificate therefore carries
 * no identity: a fresh Ed25519 key per endpoint, and a fresh ECDSA P-256
 * one for a peer whose TLS does not offer Ed25519 signatures, never
 * verified by the peer. Its validity dates are fixed (2024-01-01 to "no well-defined
 * expiration", RFC 5280 §4.1.2.5), so making it reads no clock. */
#ifndef L2S_TLSCERT_H
#define L2S_TLSCERT_H

#include <gnutls/gnutls.h>

/* A credentials object holding the new certificates and keys, for both
 * the server and the client side. L2S_OK, L2S_ERR_NOMEM or L2S_ERR_IO. */
int l2s_tls_ephemeral_credentials(gnutls_certificate_credentials_t *out);

#endif /* L2S_TLSCERT_H */
