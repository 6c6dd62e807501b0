// SPDX-License-Identifier: Apache-2.0
/* An ephemeral self-signed ECDSA P-256 certificate (see tlscert.h). */
#include <gnutls/x509.h>
#include <string.h>

#include "l2s.h"
#include "transport/tlscert.h"

#define CERT_NOT_BEFORE 1704067200 /* 2024-01-01T00:00:00Z */
#define CERT_CN "l2sess"

static int make_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
	uint8_t serial[16];

	l2s_random(serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive INTEGER */
	serial[0] |= 0x01; /* and no leading zero octet */
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
		return L2S_ERR_IO;
	if (gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, CERT_NOT_BEFORE) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, (time_t)-1) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, CERT_CN, strlen(CERT_CN)) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		return L2S_ERR_IO;
	return L2S_OK;
}

int l2s_tls_ephemeral_credentials(gnutls_certificate_credentials_t *out)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_certificate_credentials_t cred = NULL;
	int rc = L2S_ERR_NOMEM;

	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_certificate_allocate_credentials(&cred) < 0)
		goto out;
	rc = make_cert(crt, key);
	if (rc == L2S_OK && gnutls_certificate_set_x509_key(cred, &crt, 1, key) < 0)
		rc = L2S_ERR_IO;
	if (rc == L2S_OK) {
		*out = cred;
		cred = NULL;
	}
out:
	/* set_x509_key copied both; the credentials own their copies. */
	if (cred)
		gnutls_certificate_free_credentials(cred);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return rc;
}
