/* seal.c: AES-256-GCM under keys derived from TOLLGATE_JWT_SECRET, one key
 * per label, so that the database alone opens nothing: jwt.c wraps rotated
 * signing keys with it, webhooks.c seals webhook signing secrets. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "core.h"

/* The key of label: HKDF-SHA256 (RFC 5869) of the configured secret, no
 * salt, info label. 0, or -1. */
static int
seal_key(const char *label, unsigned char out[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 32;
	int rc = -1;

	if (c != NULL && cfg.jwt_secret_len > 0 && EVP_PKEY_derive_init(c) > 0 &&
	    EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set1_hkdf_key(
	        c, (const unsigned char *)cfg.jwt_secret, (int)cfg.jwt_secret_len) > 0 &&
	    EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)label, (int)strlen(label)) > 0 &&
	    EVP_PKEY_derive(c, out, &len) > 0 && len == 32)
		rc = 0;
	EVP_PKEY_CTX_free(c);
	return rc;
}

int
seal_gcm(int enc, const char *label, const char *aad, const unsigned char nonce[SEAL_NONCE],
    const unsigned char *in, int len, unsigned char *out, unsigned char tag[SEAL_TAG])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char key[32];
	int n = 0, fin = 0, rc = -1;

	if (c == NULL || seal_key(label, key) < 0)
		goto out;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE, NULL) <= 0 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) <= 0 ||
	    EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) <= 0 ||
	    EVP_CipherUpdate(c, out, &n, in, len) <= 0)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, tag) <= 0)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &fin) <= 0)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, tag) <= 0)
		goto out;
	rc = n + fin;
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(c);
	return rc;
}
