/* test_jwt.c: a token this server signs verifies; anything else, however
 * close, does not: a changed byte, another alg, a claim of the wrong type,
 * a nested value, a repeated name, text outside ASCII. */
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
	db_close(db);
	return unit_done();
}
