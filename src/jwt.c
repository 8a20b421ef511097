/* jwt.c: user tokens. HS256 only, with a kid naming the key: the configured
 * TOLLGATE_JWT_SECRET, or a newer key made by `tollgate rotate-jwt-secret`.
 * libjwt 1.10 signs; verifying (the signature, the header and every claim)
 * is done here by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tollgate.h"

#define JWT_ISSUER "tollgate"
#define JWT_TYPE "access"
#define JWT_MAX_LEN 4096
#define JWT_MAX_KEYS 8
#define JWT_KEYS_TTL 5 /* seconds a thread trusts its copy of the keys */
#define JWT_SKEW 60 /* seconds of clock skew allowed for iat and nbf */

/* Each thread's copy of the keys, newest first; the configured secret last. */
static __thread struct keyring {
	int n;
	int64_t loaded_at;
	struct {
		char kid[32];
		char secret[sizeof(
		    cfg.jwt_secret)]; /* the configured secret fits (found in review) */
		size_t len;
	} k[JWT_MAX_KEYS + 1];
} ring;

static void
env_kid(char *out, size_t outlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)cfg.jwt_secret, cfg.jwt_secret_len, md);
	snprintf(
	    out, outlen, "e%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3], md[4], md[5]);
}

static int
ring_load(struct db *db)
{
	int rc, n = 0;

	for (rc = db_query(db, STMT_JWT_KEYS_ALL, ""); rc == DB_ROW && n < JWT_MAX_KEYS;
	     rc = db_next(db, STMT_JWT_KEYS_ALL), n++) {
		snprintf(
		    ring.k[n].kid, sizeof(ring.k[n].kid), "%s", db_text(db, STMT_JWT_KEYS_ALL, 0));
		snprintf(ring.k[n].secret, sizeof(ring.k[n].secret), "%s",
		    db_text(db, STMT_JWT_KEYS_ALL, 1));
		ring.k[n].len = strlen(ring.k[n].secret);
	}
	db_end(db, STMT_JWT_KEYS_ALL);
	if (rc != DB_ROW && rc != DB_DONE)
		return -1;
	env_kid(ring.k[n].kid, sizeof(ring.k[n].kid));
	memcpy(ring.k[n].secret, cfg.jwt_secret, cfg.jwt_secret_len);
	ring.k[n].len = cfg.jwt_secret_len;
	ring.n = n + 1;
	ring.loaded_at = tg_now_ms() / 1000;
	return 0;
}

/* The key named kid (NULL: the signing key), reloading a stale ring first. */
static int
ring_find(struct db *db, const char *kid)
{
	int64_t now = tg_now_ms() / 1000;

	if ((ring.n == 0 || now - ring.loaded_at >= JWT_KEYS_TTL) && ring_load(db) < 0 &&
	    ring.n == 0)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		if (kid == NULL)
			return 0;
		for (int i = 0; i < ring.n; i++)
			if (strcmp(ring.k[i].kid, kid) == 0)
				return i;
		/* An unknown kid may be a key rotated in a moment ago. */
		if (pass == 0 && now > ring.loaded_at && ring_load(db) < 0)
			return -1;
	}
	return -1;
}

int
jwt_key_rotate(struct db *db, char *kid, size_t kidlen)
{
	unsigned char raw[48];
	char secret[97];

	if (tg_random(raw, sizeof(raw)) < 0 || tg_id_new("k", kid, kidlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(secret + 2 * i, 3, "%02x", raw[i]);
	/* Keys whose tokens can no longer be alive (superseded more than a
	 * session lifetime ago) go. */
	if (db_run(db, STMT_JWT_KEY_PRUNE, "i", tg_now() - cfg.session_ttl) != DB_OK ||
	    db_run(db, STMT_JWT_KEY_INSERT, "tti", kid, secret, tg_now()) != DB_OK)
		return -1;
	ring.n = 0;
	return 0;
}

int
jwt_token_issue(struct db *db, const struct token *t, char *out, size_t outlen)
{
	jwt_t *jwt = NULL;
	char *s = NULL;
	int i, rc = -1;

	if ((i = ring_find(db, NULL)) < 0 || jwt_new(&jwt) != 0)
		goto out;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)ring.k[i].secret,
	        (int)ring.k[i].len) != 0 ||
	    jwt_add_header(jwt, "kid", ring.k[i].kid) != 0 ||
	    jwt_add_grant(jwt, "iss", JWT_ISSUER) != 0 ||
	    jwt_add_grant(jwt, "typ", JWT_TYPE) != 0 || jwt_add_grant(jwt, "sub", t->sub) != 0 ||
	    jwt_add_grant(jwt, "org", t->org) != 0 || jwt_add_grant(jwt, "sid", t->sid) != 0 ||
	    jwt_add_grant(jwt, "jti", t->jti) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)t->iat) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)t->exp) != 0)
		goto out;
	if ((s = jwt_encode_str(jwt)) == NULL || strlen(s) >= outlen)
		goto out;
	memcpy(out, s, strlen(s) + 1);
	rc = 0;
out:
	free(s);
	jwt_free(jwt);
	return rc;
}

/* Decodes base64url (no padding) into out; the length, or -1. */
static long
b64url_decode(const char *in, size_t len, char *out, size_t outlen)
{
	unsigned bits = 0, acc = 0;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i], v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return (long)o;
}

/* HMAC-SHA256 of data under key into out; 0, or -1. The MAC is fetched from
 * OpenSSL once per process, not on every token. */
static EVP_MAC *hmac;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_fetch(void)
{
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static int
hs256(const char *key, size_t keylen, const char *data, size_t len, unsigned char out[32])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *c;
	size_t outlen = 0;
	int ok;

	pthread_once(&hmac_once, hmac_fetch);
	if (hmac == NULL || (c = EVP_MAC_CTX_new(hmac)) == NULL)
		return -1;
	ok = EVP_MAC_init(c, (const unsigned char *)key, keylen, params) &&
	    EVP_MAC_update(c, (const unsigned char *)data, len) &&
	    EVP_MAC_final(c, out, &outlen, 32) && outlen == 32;
	EVP_MAC_CTX_free(c);
	return ok ? 0 : -1;
}

/* Whether sig (siglen characters of base64url, unpadded) is the HS256
 * signature of signed_part under key, compared in constant time. */
static int
signature_valid(const char *key, size_t keylen, const char *signed_part, size_t len,
    const char *sig, size_t siglen)
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char md[33] = { 0 };
	char want[44];
	size_t o = 0;

	if (siglen != 43 || hs256(key, keylen, signed_part, len, md) < 0)
		return 0;
	for (size_t i = 0; i < 33; i += 3) {
		unsigned v =
		    (unsigned)md[i] << 16 | (unsigned)md[i + 1] << 8 | (i + 2 < 33 ? md[i + 2] : 0);

		want[o++] = b64url[v >> 18 & 63];
		want[o++] = b64url[v >> 12 & 63];
		want[o++] = b64url[v >> 6 & 63];
		want[o++] = b64url[v & 63];
	}
	/* 32 bytes are 43 characters; the last one holds 4 bits and 2 zeros. */
	return CRYPTO_memcmp(want, sig, 43) == 0;
}

/* Decodes one base64url segment of the token as a JSON object. */
static json_object *
segment_json(const char *seg, size_t len)
{
	char buf[JWT_MAX_LEN], why[128];
	long n = b64url_decode(seg, len, buf, sizeof(buf));
	json_object *o;

	if (n <= 0 || (o = json_parse_strict(buf, (size_t)n, why, sizeof(why))) == NULL)
		return NULL;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int
claim_str(json_object *o, const char *name, char *out, size_t outlen)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (*s == '\0' || strlen(s) >= outlen)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* An integer claim: a JSON integer, not a float or a string. */
static int
claim_int(json_object *o, const char *name, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

int
jwt_token_verify(struct db *db, const char *s, struct token *t)
{
	json_object *head = NULL, *claims = NULL;
	const char *dot1, *dot2;
	char kid[32], alg[16], typ[16], iss[32];
	int64_t now = tg_now(), nbf;
	int i, rc = -1;

	memset(t, 0, sizeof(*t));
	if (strlen(s) > JWT_MAX_LEN || (dot1 = strchr(s, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL ||
	    dot2[1] == '\0')
		goto out;
	/* The header first: the alg must be HS256 whatever the key would allow. */
	if ((head = segment_json(s, (size_t)(dot1 - s))) == NULL ||
	    claim_str(head, "alg", alg, sizeof(alg)) < 0 || strcmp(alg, "HS256") != 0 ||
	    claim_str(head, "kid", kid, sizeof(kid)) < 0)
		goto out;
	if ((i = ring_find(db, kid)) < 0)
		goto out;
	/* The signature, checked here rather than by libjwt's jwt_decode: that
	 * parsed the token a second time (jansson) and compared with strcmp. */
	if (!signature_valid(
	        ring.k[i].secret, ring.k[i].len, s, (size_t)(dot2 - s), dot2 + 1, strlen(dot2 + 1)))
		goto out;
	/* The claims as signed (the signature covers this very text), with
	 * their JSON types, which libjwt's getters would blur. */
	if ((claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
		goto out;
	if (claim_str(claims, "iss", iss, sizeof(iss)) < 0 || strcmp(iss, JWT_ISSUER) != 0 ||
	    claim_str(claims, "typ", typ, sizeof(typ)) < 0 || strcmp(typ, JWT_TYPE) != 0 ||
	    claim_str(claims, "sub", t->sub, sizeof(t->sub)) < 0 ||
	    claim_str(claims, "org", t->org, sizeof(t->org)) < 0 ||
	    claim_str(claims, "sid", t->sid, sizeof(t->sid)) < 0 ||
	    claim_str(claims, "jti", t->jti, sizeof(t->jti)) < 0 ||
	    claim_int(claims, "iat", &t->iat) < 0 || claim_int(claims, "exp", &t->exp) < 0)
		goto out;
	if (t->iat > now + JWT_SKEW)
		goto out;
	if (json_object_object_get_ex(claims, "nbf", NULL) &&
	    (claim_int(claims, "nbf", &nbf) < 0 || nbf > now + JWT_SKEW))
		goto out;
	rc = t->exp <= now ? JWT_EXPIRED : 0;
out:
	json_object_put(head);
	json_object_put(claims);
	return rc;
}
