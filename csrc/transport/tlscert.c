// SPDX-License-Identifier: Apache-2.0
/* Ephemeral self-signed certificates, Ed25519 and ECDSA P-256 (see tlscert.h). */
#include <gnutls/x509.h>
#include <string.h>

#include "l2s.h"
#include "transport/tlscert.h"

#define CERT_NOT_BEFORE 1704067200 /* 2024-01-01T00:00:00Z */
#define CERT_CN "l2sess"

static int make_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, gnutls_pk_algorithm_t pk)
{
	unsigned bits = pk == GNUTLS_PK_ECDSA ? GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1) : 0;
	uint8_t serial[16];

	l2s_random(serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive INTEGER */
	serial[0] |= 0x01; /* and no leading zero octet */
	if (gnutls_x509_privkey_generate(key, pk, bits, 0) < 0)
		return L2S_ERR_IO;
	if (gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, CERT_NOT_BEFORE) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, (time_t)-1) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, CERT_CN, strlen(CERT_CN)) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, pk == GNUTLS_PK_ECDSA ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512, 0) < 0)
		return L2S_ERR_IO;
	return L2S_OK;
}

/* Adds a new certificate of kind pk and its key to cred. */
static int add_cert(gnutls_certificate_credentials_t cred, gnutls_pk_algorithm_t pk)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	int rc = L2S_ERR_NOMEM;

	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_privkey_init(&key) < 0)
		goto out;
	rc = make_cert(crt, key, pk);
	if (rc == L2S_OK && gnutls_certificate_set_x509_key(cred, &crt, 1, key) < 0)
		rc = L2S_ERR_IO;
out:
	/* set_x509_key copied both; the credentials own their copies. */
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

int l2s_tls_ephemeral_credentials(gnutls_certificate_credentials_t *out)
{
	gnutls_certificate_credentials_t cred = NULL;
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return L2S_ERR_NOMEM;
	/* GnuTLS presents the first one the peer's signature_algorithms allow:
	 * Ed25519 signs and verifies in a fraction of P-256's time. */
	if ((rc = add_cert(cred, GNUTLS_PK_EDDSA_ED25519)) != L2S_OK || (rc = add_cert(cred, GNUTLS_PK_ECDSA)) != L2S_OK) {
		gnutls_certificate_free_credentials(cred);
		return rc;
	}
	*out = cred;
	return L2S_OK;
}
