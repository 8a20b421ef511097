/* jwt.c: user tokens. HS256 only, with a kid naming the key: the configured
 * TOLLGATE_JWT_SECRET, or a newer key made by `tollgate rotate-jwt-secret`,
 * stored wrapped (AES-256-GCM under a key derived from the configured
 * secret) so that the database alone signs nothing. libjwt 1.10 signs;
 * verifying (the signature, the header and every claim) is done here by
 * hand. */
/* SHA256_Init/Update/Final: deprecated in OpenSSL 3 in favour of EVP, but
 * the only way to keep HMAC's keyed inner and outer states in a plain
 * struct and copy them per token; EVP fetched the digest, allocated two
 * contexts and hashed the key pads again on every token. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>

#include "mw.h"

#define JWT_ISSUER "tollgate"
#define JWT_TYPE "access"
#define JWT_MAX_LEN 4096
#define JWT_KEYS_TTL 5 /* seconds a thread trusts its copy of the keys */
#define JWT_SKEW 60 /* seconds of clock skew allowed for iat and nbf */
/* A wrapped key in jwt_keys.secret: the prefix, then base64 of the 12-byte
 * nonce, the ciphertext and the 16-byte GCM tag; the kid is the associated
 * data, so a wrapped secret moved to another row does not open. */
#define WRAP_PREFIX "aes256gcm:"
#define WRAP_INFO "tollgate jwt_keys wrap v1" /* the HKDF info label */
#define WRAP_NONCE 12
#define WRAP_TAG 16
#define WRAP_SECRET_MAX 128 /* bytes of a rotated key's secret */

/* HMAC-SHA256 (RFC 2104) with its key already hashed into the two pads. */
struct hmac_key {
	SHA256_CTX inner, outer;
};

static void
hmac_key_init(struct hmac_key *h, const char *key, size_t len)
{
	unsigned char k[SHA256_CBLOCK] = { 0 }, pad[SHA256_CBLOCK];

	if (len > sizeof(k))
		SHA256((const unsigned char *)key, len, k);
	else
		memcpy(k, key, len);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&h->inner);
	SHA256_Update(&h->inner, pad, sizeof(pad));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&h->outer);
	SHA256_Update(&h->outer, pad, sizeof(pad));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
}

static void
hmac_sha256(const struct hmac_key *h, const char *data, size_t len, unsigned char out[32])
{
	SHA256_CTX c = h->inner;

	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
	c = h->outer;
	SHA256_Update(&c, out, 32);
	SHA256_Final(out, &c);
	OPENSSL_cleanse(&c, sizeof(c));
}

/* One key of the ring: its kid, its secret and the secret ready to verify with. */
struct ring_key {
	char kid[32];
	char secret[sizeof(cfg.jwt_secret)]; /* the configured secret fits */
	size_t len;
	struct hmac_key mac;
};

/* Each thread's copy of the keys, newest first; the configured secret last.
 * Every stored key is in it: the store keeps exactly the keys that can
 * still verify a live token (jwt_key_rotate prunes the others). */
static __thread struct keyring {
	int n;
	int64_t loaded_at;
	struct ring_key *k; /* n of them, malloc'd */
} ring;

static void
ring_free(struct keyring *kr)
{
	if (kr->k != NULL) {
		OPENSSL_cleanse(kr->k, sizeof(kr->k[0]) * (size_t)kr->n);
		free(kr->k);
	}
	kr->k = NULL;
	kr->n = 0;
}

void
jwt_thread_end(void)
{
	ring_free(&ring);
}

/* ---- wrapping rotated keys ---- */

/* The wrapping key: HKDF-SHA256 (RFC 5869) of the configured secret, no
 * salt, info WRAP_INFO. 0, or -1. */
static int
wrap_key(unsigned char out[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 32;
	int rc = -1;

	if (c != NULL && cfg.jwt_secret_len > 0 && EVP_PKEY_derive_init(c) > 0 &&
	    EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set1_hkdf_key(
	        c, (const unsigned char *)cfg.jwt_secret, (int)cfg.jwt_secret_len) > 0 &&
	    EVP_PKEY_CTX_add1_hkdf_info(
	        c, (const unsigned char *)WRAP_INFO, (int)strlen(WRAP_INFO)) > 0 &&
	    EVP_PKEY_derive(c, out, &len) > 0 && len == 32)
		rc = 0;
	EVP_PKEY_CTX_free(c);
	return rc;
}

/* AES-256-GCM of in (len bytes) under the wrapping key with kid as the
 * associated data; enc 1 seals (tag written), 0 opens (tag checked). The
 * output length, or -1 (a wrong key or a changed byte among them). */
static int
wrap_gcm(int enc, const char *kid, const unsigned char nonce[WRAP_NONCE], const unsigned char *in,
    int len, unsigned char *out, unsigned char tag[WRAP_TAG])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char key[32];
	int n = 0, fin = 0, rc = -1;

	if (c == NULL || wrap_key(key) < 0)
		goto out;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, WRAP_NONCE, NULL) <= 0 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) <= 0 ||
	    EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)kid, (int)strlen(kid)) <= 0 ||
	    EVP_CipherUpdate(c, out, &n, in, len) <= 0)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, WRAP_TAG, tag) <= 0)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &fin) <= 0)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, WRAP_TAG, tag) <= 0)
		goto out;
	rc = n + fin;
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* secret (len bytes, at most WRAP_SECRET_MAX) sealed for the row kid, as
 * the text jwt_keys.secret holds, in out (at least 256 bytes); -1 on
 * failure. */
static int
key_wrap(const char *kid, const char *secret, size_t len, char *out, size_t outlen)
{
	unsigned char buf[WRAP_NONCE + WRAP_SECRET_MAX + WRAP_TAG];
	size_t plen = strlen(WRAP_PREFIX), total = WRAP_NONCE + len + WRAP_TAG;
	int rc = -1;

	if (len == 0 || len > WRAP_SECRET_MAX || outlen < plen + 4 * ((total + 2) / 3) + 1 ||
	    tg_random(buf, WRAP_NONCE) < 0 ||
	    wrap_gcm(1, kid, buf, (const unsigned char *)secret, (int)len, buf + WRAP_NONCE,
	        buf + WRAP_NONCE + len) != (int)len)
		goto out;
	memcpy(out, WRAP_PREFIX, plen);
	EVP_EncodeBlock((unsigned char *)out + plen, buf, (int)total);
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* 1 if stored (b64len characters) is exactly the base64 of bytes[0..n). */
static int
wrap_canonical(const unsigned char *bytes, size_t n, const char *stored, size_t b64len)
{
	unsigned char again[(WRAP_NONCE + WRAP_SECRET_MAX + WRAP_TAG + 3) / 3 * 4 + 1];

	if (b64len >= sizeof(again))
		return 0;
	return EVP_EncodeBlock(again, bytes, (int)n) == (int)b64len &&
	    memcmp(again, stored, b64len) == 0;
}

/* The secret of stored (from key_wrap for the same kid) in out,
 * NUL-terminated, and its length; -1 when it does not open (another
 * TOLLGATE_JWT_SECRET, another row's, cut or changed), out then cleared. */
static int
key_unwrap(const char *kid, const char *stored, char *out, size_t outlen, size_t *len)
{
	unsigned char buf[WRAP_NONCE + WRAP_SECRET_MAX + WRAP_TAG + 3];
	size_t plen = strlen(WRAP_PREFIX), b64len;
	int n, clen, rc = -1;

	if (strncmp(stored, WRAP_PREFIX, plen) != 0)
		return -1;
	stored += plen;
	b64len = strlen(stored);
	if (b64len == 0 || b64len % 4 != 0 || b64len / 4 * 3 > sizeof(buf) ||
	    (n = EVP_DecodeBlock(buf, (const unsigned char *)stored, (int)b64len)) < 0)
		goto out;
	/* EVP_DecodeBlock counts the padding's bytes too. */
	if (b64len >= 1 && stored[b64len - 1] == '=')
		n--;
	if (b64len >= 2 && stored[b64len - 2] == '=')
		n--;
	clen = n - WRAP_NONCE - WRAP_TAG;
	/* Only the canonical encoding opens: a padding bit changed decodes to
	 * the same bytes, so it is refused by encoding them again. */
	if (clen > 0 && !wrap_canonical(buf, (size_t)n, stored, b64len))
		goto out;
	if (clen <= 0 || (size_t)clen >= outlen ||
	    wrap_gcm(0, kid, buf, buf + WRAP_NONCE, clen, (unsigned char *)out,
	        buf + WRAP_NONCE + clen) != clen)
		goto out;
	out[clen] = '\0';
	*len = (size_t)clen;
	rc = 0;
out:
	if (rc < 0)
		OPENSSL_cleanse(out, outlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static void
env_kid(char *out, size_t outlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)cfg.jwt_secret, cfg.jwt_secret_len, md);
	snprintf(
	    out, outlen, "e%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3], md[4], md[5]);
}

/* Reads the keys into a copy and replaces the ring only when all were read:
 * a store error leaves the ring as it was, never kids with other keys. A
 * key that does not unwrap (wrapped under another TOLLGATE_JWT_SECRET, or
 * damaged) is left out, with a log line. */
static int
ring_load(struct db *db)
{
	static int warned;
	struct keyring next = { 0 };
	int rc, cap = 0, skipped = 0;

	for (rc = db_query(db, STMT_JWT_KEYS_ALL, ""); rc == DB_ROW;
	     rc = db_next(db, STMT_JWT_KEYS_ALL)) {
		struct ring_key *k;

		if (next.n + 1 >= cap) { /* room for this key and the configured one */
			struct ring_key *grown;
			int n = next.n;

			cap = cap == 0 ? 8 : cap * 2;
			if ((grown = calloc((size_t)cap, sizeof(*grown))) == NULL) {
				rc = DB_ERROR;
				break;
			}
			if (next.k != NULL)
				memcpy(grown, next.k, sizeof(*grown) * (size_t)n);
			ring_free(&next); /* cleansed, as every copy of a secret */
			next.k = grown;
			next.n = n;
		}
		k = &next.k[next.n];
		snprintf(k->kid, sizeof(k->kid), "%s", db_text(db, STMT_JWT_KEYS_ALL, 0));
		if (key_unwrap(k->kid, db_text(db, STMT_JWT_KEYS_ALL, 1), k->secret,
		        sizeof(k->secret), &k->len) < 0) {
			skipped++;
			continue;
		}
		hmac_key_init(&k->mac, k->secret, k->len);
		next.n++;
	}
	db_end(db, STMT_JWT_KEYS_ALL);
	if (rc != DB_DONE) {
		ring_free(&next);
		return -1;
	}
	if (skipped > 0 && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		log_msg(NULL,
		    "jwt: %d signing key(s) do not unwrap with this TOLLGATE_JWT_SECRET; "
		    "tokens they signed are refused",
		    skipped);
	if (next.k == NULL && (next.k = calloc(1, sizeof(*next.k))) == NULL)
		return -1;
	env_kid(next.k[next.n].kid, sizeof(next.k[next.n].kid));
	memcpy(next.k[next.n].secret, cfg.jwt_secret, cfg.jwt_secret_len);
	next.k[next.n].len = cfg.jwt_secret_len;
	hmac_key_init(&next.k[next.n].mac, next.k[next.n].secret, next.k[next.n].len);
	next.n++;
	next.loaded_at = tg_now_ms() / 1000;
	ring_free(&ring);
	ring = next;
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

/* A rotated key to store, wrapped. */
struct key_new {
	const char *kid, *wrapped;
};

/* Stores the new key and drops the keys whose tokens can no longer be alive
 * (superseded more than a session lifetime ago), in one transaction. */
static int
key_insert_work(struct db *db, void *arg)
{
	const struct key_new *k = arg;
	int rc = db_run(db, STMT_JWT_KEY_PRUNE, "i", tg_now() - cfg.session_ttl);

	if (rc == DB_OK)
		rc = db_run(db, STMT_JWT_KEY_INSERT, "tti", k->kid, k->wrapped, tg_now());
	return rc;
}

int
jwt_key_rotate(struct db *db, char *kid, size_t kidlen)
{
	unsigned char raw[48];
	char secret[97], wrapped[256];
	int rc = -1;

	if (tg_random(raw, sizeof(raw)) < 0 || tg_id_new("k", kid, kidlen) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(secret + 2 * i, 3, "%02x", raw[i]);
	if (key_wrap(kid, secret, strlen(secret), wrapped, sizeof(wrapped)) < 0)
		goto out;
	struct key_new k = { kid, wrapped };

	if (db_write(db, key_insert_work, &k) != DB_OK)
		goto out;
	ring.loaded_at = 0; /* the next use reloads */
	rc = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

/* A key stored before keys were wrapped, read out to be wrapped. */
struct plain_key {
	char kid[32];
	char *secret;
};

struct plain_keys {
	struct plain_key *k;
	size_t n, cap;
};

static void
plain_keys_free(struct plain_keys *p)
{
	for (size_t i = 0; i < p->n; i++) {
		OPENSSL_cleanse(p->k[i].secret, strlen(p->k[i].secret));
		free(p->k[i].secret);
	}
	p->n = 0;
}

/* The write of jwt_keys_wrap: reads the keys in clear, then stores each
 * wrapped; DB_OK or the first failure (then nothing is kept). */
static int
keys_wrap_work(struct db *db, void *arg)
{
	struct plain_keys *p = arg;
	int rc;

	plain_keys_free(p);
	for (rc = db_query(db, STMT_JWT_KEYS_ALL, ""); rc == DB_ROW;
	     rc = db_next(db, STMT_JWT_KEYS_ALL)) {
		const char *secret = db_text(db, STMT_JWT_KEYS_ALL, 1);

		if (strncmp(secret, WRAP_PREFIX, strlen(WRAP_PREFIX)) == 0)
			continue; /* wrapped already */
		if (p->n == p->cap) {
			size_t cap = p->cap == 0 ? 8 : p->cap * 2;
			struct plain_key *grown = realloc(p->k, cap * sizeof(*grown));

			if (grown == NULL) {
				rc = DB_ERROR;
				break;
			}
			p->k = grown;
			p->cap = cap;
		}
		snprintf(p->k[p->n].kid, sizeof(p->k[p->n].kid), "%s",
		    db_text(db, STMT_JWT_KEYS_ALL, 0));
		if ((p->k[p->n].secret = strdup(secret)) == NULL) {
			rc = DB_ERROR;
			break;
		}
		p->n++;
	}
	db_end(db, STMT_JWT_KEYS_ALL);
	if (rc != DB_DONE)
		return rc;
	for (size_t i = 0; i < p->n; i++) {
		char w[256];

		if (key_wrap(p->k[i].kid, p->k[i].secret, strlen(p->k[i].secret), w, sizeof(w)) < 0)
			return DB_ERROR;
		if ((rc = db_run(db, STMT_JWT_KEY_SET_SECRET, "tt", p->k[i].kid, w)) != DB_OK)
			return rc;
	}
	return DB_OK;
}

int
jwt_keys_wrap(struct db *db)
{
	struct plain_keys p = { NULL, 0, 0 };
	int wrapped = -1;

	if (db_write(db, keys_wrap_work, &p) == DB_OK) {
		wrapped = (int)p.n;
		ring.loaded_at = 0;
	}
	plain_keys_free(&p);
	free(p.k);
	return wrapped;
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

/* Whether sig (siglen characters of base64url, unpadded) is the HS256
 * signature of signed_part under key, compared in constant time. */
static int
signature_valid(
    const struct hmac_key *key, const char *signed_part, size_t len, const char *sig, size_t siglen)
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char md[33] = { 0 };
	char want[44];
	size_t o = 0;

	if (siglen != 43)
		return 0;
	hmac_sha256(key, signed_part, len, md);
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

/* ---- the header and the claims ----
 * Both are flat JSON objects of strings and integers, in ASCII. They are
 * read by the small parser below, not by json-c (a tree of a dozen
 * allocations per segment, two segments a request): a member whose value
 * is an object or an array, a repeated name, a byte outside ASCII or a
 * \u escape to one, a control character (raw or escaped), anything but
 * strict JSON, and the token is refused. Tokens this server signs never have them. */

#define SEG_MEMBERS 16
#define SEG_NAME_MAX 16
#define SEG_VALUE_MAX 128

struct member {
	char name[SEG_NAME_MAX];
	enum { V_STRING, V_INT, V_OTHER } type; /* V_OTHER: true, false, null, a fraction */
	char str[SEG_VALUE_MAX];
	int64_t num;
};

struct segment {
	int n;
	struct member m[SEG_MEMBERS];
};

static const char *
seg_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int
hex4(const char *p, const char *end)
{
	int v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + c - '0';
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A string at *pp (at its opening quote) into out (outlen, NUL-terminated;
 * out NULL skips it). Moves *pp past the closing quote; 0, or -1. */
static int
seg_string(const char **pp, const char *end, char *out, size_t outlen)
{
	const char *p = *pp + 1;
	size_t o = 0;

	for (;;) {
		int c;

		if (p >= end)
			return -1;
		c = (unsigned char)*p++;
		if (c == '"')
			break;
		if (c < 0x20 || c >= 0x7f)
			return -1;
		if (c == '\\') {
			if (p >= end)
				return -1;
			switch (*p++) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'u':
				if ((c = hex4(p, end)) < 0 || c >= 0x7f)
					return -1;
				p += 4;
				break;
			default: return -1;
			}
			if (c < 0x20) /* escaped or not, no control characters */
				return -1;
		}
		if (out != NULL) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
		}
	}
	if (out != NULL)
		out[o] = '\0';
	*pp = p;
	return 0;
}

/* A number at *pp (RFC 8259's grammar) into m: V_INT when it is a whole
 * number that fits in 64 bits, V_OTHER otherwise. */
static int
seg_number(const char **pp, const char *end, struct member *m)
{
	const char *p = *pp;
	int neg = 0, whole = 1;
	uint64_t v = 0, limit = (uint64_t)INT64_MAX;

	if (p < end && *p == '-') {
		neg = 1;
		limit++;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0') {
		p++;
	} else {
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (v > (limit - (uint64_t)(*p - '0')) / 10)
				whole = 0;
			v = v * 10 + (uint64_t)(*p - '0');
		}
	}
	if (p < end && *p == '.') {
		whole = 0;
		if (++p >= end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		whole = 0;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	m->type = whole ? V_INT : V_OTHER;
	m->num = !whole ? 0 : neg ? (int64_t)(0 - v) : (int64_t)v;
	*pp = p;
	return 0;
}

/* Parses a flat object of len bytes at s into seg; 0, or -1. */
static int
seg_parse(const char *s, size_t len, struct segment *seg)
{
	const char *p = s, *end = s + len;

	seg->n = 0;
	p = seg_ws(p, end);
	if (p >= end || *p++ != '{')
		return -1;
	p = seg_ws(p, end);
	if (p < end && *p == '}')
		return seg_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		struct member *m = &seg->m[seg->n];
		char name[SEG_NAME_MAX];

		if (seg->n >= SEG_MEMBERS || p >= end || *p != '"' ||
		    seg_string(&p, end, name, sizeof(name)) < 0)
			return -1;
		for (int i = 0; i < seg->n; i++)
			if (strcmp(seg->m[i].name, name) == 0)
				return -1; /* a repeated name */
		memcpy(m->name, name, sizeof(name));
		p = seg_ws(p, end);
		if (p >= end || *p++ != ':')
			return -1;
		p = seg_ws(p, end);
		if (p >= end)
			return -1;
		if (*p == '"') {
			m->type = V_STRING;
			if (seg_string(&p, end, m->str, sizeof(m->str)) < 0)
				return -1;
		} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
			if (seg_number(&p, end, m) < 0)
				return -1;
		} else {
			static const char *const words[] = { "true", "false", "null" };
			size_t w = 0;

			for (; w < 3; w++)
				if ((size_t)(end - p) >= strlen(words[w]) &&
				    memcmp(p, words[w], strlen(words[w])) == 0)
					break;
			if (w == 3)
				return -1; /* an object, an array, or not JSON */
			m->type = V_OTHER;
			p += strlen(words[w]);
		}
		seg->n++;
		p = seg_ws(p, end);
		if (p < end && *p == ',') {
			p = seg_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return seg_ws(p + 1, end) == end ? 0 : -1;
		return -1;
	}
}

/* Decodes one base64url segment of the token and parses it. */
static int
segment_read(const char *seg, size_t len, struct segment *out)
{
	char buf[JWT_MAX_LEN];
	long n = b64url_decode(seg, len, buf, sizeof(buf));

	return n <= 0 ? -1 : seg_parse(buf, (size_t)n, out);
}

static const struct member *
seg_get(const struct segment *seg, const char *name)
{
	for (int i = 0; i < seg->n; i++)
		if (strcmp(seg->m[i].name, name) == 0)
			return &seg->m[i];
	return NULL;
}

static int
claim_str(const struct segment *seg, const char *name, char *out, size_t outlen)
{
	const struct member *m = seg_get(seg, name);
	size_t n;

	if (m == NULL || m->type != V_STRING || (n = strlen(m->str)) == 0 || n >= outlen)
		return -1;
	memcpy(out, m->str, n + 1);
	return 0;
}

/* An integer claim: a JSON integer, not a fraction or a string. */
static int
claim_int(const struct segment *seg, const char *name, int64_t *out)
{
	const struct member *m = seg_get(seg, name);

	if (m == NULL || m->type != V_INT)
		return -1;
	*out = m->num;
	return 0;
}

int
jwt_token_verify(struct db *db, const char *s, struct token *t)
{
	/* Per thread: two segments are ~5 KiB, too much for a worker's stack
	 * frame next to the rest of a request. */
	static __thread struct segment head, claims;
	const char *dot1, *dot2;
	char kid[32], alg[16], typ[16], iss[32];
	int64_t now = tg_now(), nbf;
	int i;

	memset(t, 0, sizeof(*t));
	if (strlen(s) > JWT_MAX_LEN || (dot1 = strchr(s, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL ||
	    dot2[1] == '\0')
		return -1;
	/* The header first: the alg must be HS256 whatever the key would allow. */
	if (segment_read(s, (size_t)(dot1 - s), &head) < 0 ||
	    claim_str(&head, "alg", alg, sizeof(alg)) < 0 || strcmp(alg, "HS256") != 0 ||
	    claim_str(&head, "kid", kid, sizeof(kid)) < 0)
		return -1;
	if ((i = ring_find(db, kid)) < 0)
		return -1;
	/* The signature, checked here rather than by libjwt's jwt_decode: that
	 * parsed the token a second time (jansson) and compared with strcmp. */
	if (!signature_valid(&ring.k[i].mac, s, (size_t)(dot2 - s), dot2 + 1, strlen(dot2 + 1)))
		return -1;
	/* The claims as signed (the signature covers this very text), with
	 * their JSON types, which libjwt's getters would blur. */
	if (segment_read(dot1 + 1, (size_t)(dot2 - dot1 - 1), &claims) < 0)
		return -1;
	if (claim_str(&claims, "iss", iss, sizeof(iss)) < 0 || strcmp(iss, JWT_ISSUER) != 0 ||
	    claim_str(&claims, "typ", typ, sizeof(typ)) < 0 || strcmp(typ, JWT_TYPE) != 0 ||
	    claim_str(&claims, "sub", t->sub, sizeof(t->sub)) < 0 ||
	    claim_str(&claims, "org", t->org, sizeof(t->org)) < 0 ||
	    claim_str(&claims, "sid", t->sid, sizeof(t->sid)) < 0 ||
	    claim_str(&claims, "jti", t->jti, sizeof(t->jti)) < 0 ||
	    claim_int(&claims, "iat", &t->iat) < 0 || claim_int(&claims, "exp", &t->exp) < 0)
		return -1;
	if (t->iat > now + JWT_SKEW)
		return -1;
	if (seg_get(&claims, "nbf") != NULL &&
	    (claim_int(&claims, "nbf", &nbf) < 0 || nbf > now + JWT_SKEW))
		return -1;
	return t->exp <= now ? JWT_EXPIRED : 0;
}
