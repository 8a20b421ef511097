/* test_jwt.c: a token this server signs verifies; anything else, however
 * close, does not: a changed byte, another alg, a claim of the wrong type,
 * a nested value, a repeated name, text outside ASCII. Rotated keys are
 * stored wrapped, and every one of them keeps verifying. */
#include <string.h>

#include "../../src/jwt.c"
#include "unit.h"

static struct db *db;

static void
b64url(const char *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 |
		    (unsigned char)in[i + 2];

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned char)in[i] << 16;

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

/* A token of header and claims (JSON text), signed HS256 with the signing key. */
static void
forge(const char *header, const char *claims, char *out)
{
	unsigned char md[32];
	int k = ring_find(db, NULL);
	size_t n;

	b64url(header, strlen(header), out);
	n = strlen(out);
	out[n++] = '.';
	b64url(claims, strlen(claims), out + n);
	n = strlen(out);
	hmac_sha256(&ring.k[k].mac, out, n, md);
	out[n++] = '.';
	b64url((const char *)md, sizeof(md), out + n);
}

static char head_ok[128];

static void
claims_with(const char *extra, char *out, size_t outlen, int64_t exp)
{
	snprintf(out, outlen,
	    "{\"iss\":\"tollgate\",\"typ\":\"access\",\"sub\":\"usr_1\",\"org\":\"org_1\","
	    "\"sid\":\"ses_1\",\"jti\":\"jti_1\",\"iat\":%lld,\"exp\":%lld%s}",
	    (long long)tg_now() - 10, (long long)exp, extra);
}

static int
verify_forged(const char *header, const char *claims)
{
	char tok[2048];
	struct token t;

	forge(header, claims, tok);
	return jwt_token_verify(db, tok, &t);
}

static void
test_issued_token_verifies(void)
{
	struct token in = { .iat = tg_now(), .exp = tg_now() + 3600 }, out;
	char tok[2048];

	snprintf(in.sub, sizeof(in.sub), "usr_a");
	snprintf(in.org, sizeof(in.org), "org_b");
	snprintf(in.sid, sizeof(in.sid), "ses_c");
	snprintf(in.jti, sizeof(in.jti), "jti_d");
	CHECK(jwt_token_issue(db, &in, tok, sizeof(tok)) == 0);
	CHECK(jwt_token_verify(db, tok, &out) == 0);
	CHECK(strcmp(out.sub, "usr_a") == 0 && strcmp(out.org, "org_b") == 0);
	CHECK(strcmp(out.sid, "ses_c") == 0 && strcmp(out.jti, "jti_d") == 0);
	CHECK(out.iat == in.iat && out.exp == in.exp);
	/* Every single changed character of it is refused. */
	for (size_t i = 0; i < strlen(tok); i++) {
		char bad[2048];

		memcpy(bad, tok, strlen(tok) + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (bad[i] == tok[i])
			continue;
		CHECK(jwt_token_verify(db, bad, &out) < 0);
	}
	/* Expired: told apart, so the answer can say SESSION_EXPIRED. */
	in.exp = tg_now() - 1;
	CHECK(jwt_token_issue(db, &in, tok, sizeof(tok)) == 0);
	CHECK(jwt_token_verify(db, tok, &out) == JWT_EXPIRED);
}

static void
test_forged_shapes(void)
{
	char claims[1024];
	int64_t exp = tg_now() + 600;

	claims_with("", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) == 0); /* the forge itself is right */
	/* Another alg, whatever the signature. */
	CHECK(verify_forged("{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"x\"}", claims) < 0);
	CHECK(verify_forged("{\"alg\":\"none\"}", claims) < 0);
	/* A nested value, a repeated claim, an integer claim as a fraction. */
	claims_with(",\"x\":{\"a\":1}", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	claims_with(",\"x\":[1]", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	claims_with(",\"sub\":\"usr_2\"", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	snprintf(claims, sizeof(claims),
	    "{\"iss\":\"tollgate\",\"typ\":\"access\",\"sub\":\"u\",\"org\":\"o\",\"sid\":\"s\","
	    "\"jti\":\"j\",\"iat\":1.7e9,\"exp\":%lld}",
	    (long long)exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	/* Other claims of flat kinds are let through. */
	claims_with(",\"x\":true,\"y\":null,\"z\":-1.5e3,\"w\":\"\\u0041\\/\"", claims,
	    sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) == 0);
	/* Outside ASCII, raw or escaped. */
	claims_with(",\"x\":\"\xc3\xa9\"", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	claims_with(",\"x\":\"\\u00e9\"", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	claims_with(",\"x\":\"\\u0000\"", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	/* nbf in the future. */
	claims_with(",\"nbf\":99999999999", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
	claims_with(",\"nbf\":\"0\"", claims, sizeof(claims), exp);
	CHECK(verify_forged(head_ok, claims) < 0);
}

static int
parse(const char *text, struct segment *seg)
{
	return seg_parse(text, strlen(text), seg);
}

static void
test_segment_parser(void)
{
	static struct segment seg;
	static const char *const bad[] = { "", "{", "}", "[]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
		"{\"a\":1}x", "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}", "{\"a\":tru}",
		"{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\t\"}", "{'a':1}",
		"{\"a\":1 \"b\":2}", "{\"a\":NaN}", "{\"a\":1}{}", "{\"a\":\"\\u101g\"}",
		"{\"a\":\"\\u101\"}", "{\"a\":\"\\n\"}", "{\"a\":\"\\u001f\"}" };
	char many[512] = "{";

	CHECK(parse(" { } ", &seg) == 0 && seg.n == 0);
	CHECK(parse("{\"a\" : -12 , \"b\":\"x\\\"y\"}", &seg) == 0 && seg.n == 2);
	CHECK(seg.m[0].type == V_INT && seg.m[0].num == -12);
	CHECK(seg.m[1].type == V_STRING && strcmp(seg.m[1].str, "x\"y") == 0);
	CHECK(parse("{\"a\":9223372036854775807}", &seg) == 0 && seg.m[0].type == V_INT &&
	    seg.m[0].num == INT64_MAX);
	CHECK(parse("{\"a\":9223372036854775808}", &seg) == 0 && seg.m[0].type == V_OTHER);
	CHECK(parse("{\"a\":-9223372036854775808}", &seg) == 0 && seg.m[0].type == V_INT &&
	    seg.m[0].num == INT64_MIN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &seg);

		if (rc == 0)
			printf("#   parsed: %s\n", bad[i]);
		CHECK(rc < 0);
	}
	/* More members than the parser holds: refused, not cut short. */
	for (int i = 0; i <= SEG_MEMBERS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"m%d\":%d",
		    i ? "," : "", i, i);
	strcat(many, "}");
	CHECK(parse(many, &seg) < 0);
	/* A value longer than a claim can be. */
	memset(many, 'v', sizeof(many));
	memcpy(many, "{\"a\":\"", 6);
	memcpy(many + 300, "\"}", 3);
	CHECK(parse(many, &seg) < 0);
}

static void
use_secret(const char *secret)
{
	cfg.jwt_secret_len = strlen(secret);
	memcpy(cfg.jwt_secret, secret, cfg.jwt_secret_len + 1);
	ring.loaded_at = 0;
}

static void
test_key_wrap(void)
{
	static const char secret[] =
	    "00ff11ee22dd33cc44bb55aa66997788ff00ee11dd22cc33bb44aa5599668877"
	    "00ff11ee22dd33cc44bb55aa669977";
	char w[256], w2[256], out[256];
	size_t len = 0;

	CHECK(key_wrap("k_1", secret, strlen(secret), w, sizeof(w)) == 0);
	CHECK(strncmp(w, WRAP_PREFIX, strlen(WRAP_PREFIX)) == 0);
	CHECK(strstr(w, secret) == NULL && strstr(w, "00ff11ee") == NULL);
	CHECK(key_unwrap("k_1", w, out, sizeof(out), &len) == 0);
	CHECK(len == strlen(secret) && strcmp(out, secret) == 0);
	/* A fresh nonce each time: the same secret never looks the same. */
	CHECK(key_wrap("k_1", secret, strlen(secret), w2, sizeof(w2)) == 0);
	CHECK(strcmp(w, w2) != 0);
	/* Another row's kid, a changed byte anywhere, a cut: refused. */
	CHECK(key_unwrap("k_2", w, out, sizeof(out), &len) < 0);
	CHECK(out[0] == '\0');
	for (size_t i = strlen(WRAP_PREFIX); w[i] != '\0' && w[i] != '='; i++) {
		memcpy(w2, w, sizeof(w));
		w2[i] = w2[i] == 'A' ? 'B' : 'A';
		CHECK(key_unwrap("k_1", w2, out, sizeof(out), &len) < 0);
	}
	memcpy(w2, w, sizeof(w));
	w2[strlen(w2) - 4] = '\0';
	CHECK(key_unwrap("k_1", w2, out, sizeof(out), &len) < 0);
	CHECK(key_unwrap("k_1", secret, out, sizeof(out), &len) < 0); /* in clear */
	/* Another TOLLGATE_JWT_SECRET opens nothing. */
	use_secret("another-secret-0123456789abcdef0123456789");
	CHECK(key_unwrap("k_1", w, out, sizeof(out), &len) < 0);
	use_secret("unit-secret-0123456789abcdef0123456789");
	CHECK(key_unwrap("k_1", w, out, sizeof(out), &len) == 0);
}

/* What the store holds of a rotated key: wrapped text, none of it the
 * secret the ring signs with, in clear or in hex. */
static void
test_rotated_key_stored_wrapped(void)
{
	char kid[40];
	int k, found = 0;

	CHECK(jwt_key_rotate(db, kid, sizeof(kid)) == 0);
	CHECK((k = ring_find(db, kid)) >= 0);
	if (k < 0)
		return;
	CHECK(ring.k[k].len == 96);
	for (int rc = db_query(db, STMT_JWT_KEYS_ALL, ""); rc == DB_ROW;
	     rc = db_next(db, STMT_JWT_KEYS_ALL)) {
		const char *stored = db_text(db, STMT_JWT_KEYS_ALL, 1);
		char piece[17];

		if (strcmp(db_text(db, STMT_JWT_KEYS_ALL, 0), kid) != 0)
			continue;
		found = 1;
		CHECK(strncmp(stored, WRAP_PREFIX, strlen(WRAP_PREFIX)) == 0);
		/* No 16 characters of the hex secret anywhere in the column. */
		for (size_t i = 0; i + 16 <= ring.k[k].len; i++) {
			memcpy(piece, ring.k[k].secret + i, 16);
			piece[16] = '\0';
			CHECK(strstr(stored, piece) == NULL);
		}
	}
	db_end(db, STMT_JWT_KEYS_ALL);
	CHECK(found);
}

/* A key stored in clear (by an earlier version) is wrapped once, keeps its
 * secret, and a token it signed keeps verifying; wrapping again changes
 * nothing. Under another TOLLGATE_JWT_SECRET the key is left out. */
static void
test_clear_keys_wrapped(void)
{
	static const char clear[] =
	    "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	    "abcdef0123456789abcdef01234567";
	struct token in = { .iat = tg_now(), .exp = tg_now() + 3600 }, out;
	char tok[2048], stored[256] = "";
	int k;

	CHECK(db_run(db, STMT_JWT_KEY_INSERT, "tti", "k_clear", clear, tg_now() + 5) == DB_OK);
	CHECK(jwt_keys_wrap(db) == 1);
	CHECK(jwt_keys_wrap(db) == 0); /* idempotent */
	if (db_query(db, STMT_JWT_KEYS_ALL, "") == DB_ROW)
		snprintf(stored, sizeof(stored), "%s", db_text(db, STMT_JWT_KEYS_ALL, 1));
	db_end(db, STMT_JWT_KEYS_ALL);
	CHECK(strncmp(stored, WRAP_PREFIX, strlen(WRAP_PREFIX)) == 0);
	CHECK(strstr(stored, "abcdef01") == NULL);
	ring.loaded_at = 0;
	CHECK((k = ring_find(db, NULL)) >= 0 && strcmp(ring.k[k].kid, "k_clear") == 0);
	CHECK(
	    ring.k[k].len == strlen(clear) && memcmp(ring.k[k].secret, clear, strlen(clear)) == 0);
	snprintf(in.sub, sizeof(in.sub), "usr_a");
	snprintf(in.org, sizeof(in.org), "org_b");
	snprintf(in.sid, sizeof(in.sid), "ses_c");
	snprintf(in.jti, sizeof(in.jti), "jti_d");
	CHECK(jwt_token_issue(db, &in, tok, sizeof(tok)) == 0);
	CHECK(jwt_token_verify(db, tok, &out) == 0);
	use_secret("another-secret-0123456789abcdef0123456789");
	CHECK(jwt_token_verify(db, tok, &out) < 0);
	CHECK((k = ring_find(db, NULL)) >= 0 && ring.k[k].kid[0] == 'e'); /* the configured one */
	use_secret("unit-secret-0123456789abcdef0123456789");
	CHECK(jwt_token_verify(db, tok, &out) == 0);
}

/* A token signed with a rotated key still verifies after ten more
 * rotations: the ring holds every stored key, not the 8 newest. */
static void
test_many_rotations(void)
{
	struct token in = { .iat = tg_now(), .exp = tg_now() + 3600 }, out;
	char tok[2048], kid[40];

	snprintf(in.sub, sizeof(in.sub), "usr_a");
	snprintf(in.org, sizeof(in.org), "org_b");
	snprintf(in.sid, sizeof(in.sid), "ses_c");
	snprintf(in.jti, sizeof(in.jti), "jti_d");
	CHECK(jwt_key_rotate(db, kid, sizeof(kid)) == 0);
	CHECK(jwt_token_issue(db, &in, tok, sizeof(tok)) == 0);
	CHECK(strcmp(ring.k[ring_find(db, NULL)].kid, kid) == 0); /* signed with it */
	for (int i = 0; i < 10; i++)
		CHECK(jwt_key_rotate(db, kid, sizeof(kid)) == 0);
	CHECK(jwt_token_verify(db, tok, &out) == 0);
	CHECK(ring.n >= 12);
}

int
main(void)
{
	char err[256];
	int k;

	config_load(NULL, err, sizeof(err));
	memcpy(cfg.jwt_secret, "unit-secret-0123456789abcdef0123456789", 38);
	cfg.jwt_secret_len = 38;
	db = db_open(":memory:", err, sizeof(err));
	CHECK(db != NULL && db_migrate(db) > 0);
	k = ring_find(db, NULL);
	CHECK(k >= 0);
	snprintf(head_ok, sizeof(head_ok), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
	    ring.k[k].kid);
	TEST(test_issued_token_verifies);
	TEST(test_forged_shapes);
	TEST(test_segment_parser);
	TEST(test_key_wrap);
	TEST(test_rotated_key_stored_wrapped);
	TEST(test_many_rotations);
	TEST(test_clear_keys_wrapped);
	jwt_thread_end();
	db_close(db);
	return unit_done();
}
