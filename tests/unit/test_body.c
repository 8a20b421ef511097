/* test_body.c: body.c's gzip inflater (held to the cap once inflated, a
 * bomb stopped at the cap, damaged and truncated streams refused) and its
 * NDJSON splitting. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../../src/body.c"
#include "feed.h"
#include "unit.h"

/* A body in memory, handed out in pieces; counts what was read. */
/* gzip of text[0..len) in a malloc'd buffer, its size in *out_len. */
static unsigned char *
gzip_of(const char *text, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = len / 2 + 1024;
	unsigned char *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)text;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* Ends r as the router does: its decoder, then the rest. */
static void
req_end(struct req *r)
{
	body_inflate_free(r);
	req_free(r);
}

static void
req_gzip(struct req *r, struct feed *f, const unsigned char *gz, size_t len)
{
	memset(r, 0, sizeof(*r));
	feed_set(f, gz, len);
	r->content_length = (long long)len;
	r->content_encoding = "gzip";
	r->body_read = feed_read;
	r->body_ctx = f;
}

static void
test_gzip_round_trip(void)
{
	const char *text = "{\"records\": [{\"n\": 1}]}";
	size_t len;
	unsigned char *gz = gzip_of(text, strlen(text), &len);
	struct feed f;
	struct req r;

	cfg.max_body = 1024;
	req_gzip(&r, &f, gz, len);
	CHECK(body_encoding_or_reply(&r, 1) == 1 && r.inflate != NULL);
	CHECK(body_decoded_all_or_reply(&r) == 0 && !r.replied);
	CHECK(r.body_len == strlen(text) && strcmp(r.body, text) == 0);
	req_end(&r);
	CHECK(r.inflate == NULL);

	/* Codings other than gzip (and gzip where none is taken) are 415. */
	memset(&r, 0, sizeof(r));
	r.content_encoding = "br";
	CHECK(body_encoding_or_reply(&r, 1) == -1 && r.status == 415);
	req_end(&r);
	memset(&r, 0, sizeof(r));
	r.content_encoding = "gzip";
	CHECK(body_encoding_or_reply(&r, 0) == -1 && r.status == 415);
	req_end(&r);
	memset(&r, 0, sizeof(r));
	r.content_encoding = " GZIP ";
	CHECK(body_encoding_or_reply(&r, 1) == 1);
	req_end(&r);
	memset(&r, 0, sizeof(r));
	r.content_encoding = "identity";
	CHECK(body_encoding_or_reply(&r, 1) == 0 && r.inflate == NULL && !r.replied);
	free(gz);
}

/* 64 MiB of zeros, 64 KiB compressed: inflated to one byte past the 1 MiB
 * cap and no further, with a fraction of the compressed body read. */
static void
test_gzip_bomb(void)
{
	size_t n = 64u << 20, len;
	char *zeros = calloc(1, n);
	unsigned char *gz = gzip_of(zeros, n, &len);
	struct feed f;
	struct req r;

	cfg.max_body = 1 << 20;
	req_gzip(&r, &f, gz, len);
	CHECK(body_encoding_or_reply(&r, 1) == 1);
	CHECK(body_decoded_all_or_reply(&r) == -1 && r.status == 413);
	CHECK(r.body_decoded == (size_t)cfg.max_body + 1);
	CHECK(len > 3 * BODY_CHUNK && f.at <= 2 * BODY_CHUNK);
	CHECK(strstr(r.resp_body, "once decompressed") != NULL);
	req_end(&r);
	free(gz);
	free(zeros);
}

static void
test_gzip_damaged(void)
{
	const char *text = "n,name\n1,a\n2,b\n3,c\n";
	size_t len;
	unsigned char *gz = gzip_of(text, strlen(text), &len);
	struct feed f;
	struct req r;

	cfg.max_body = 1024;
	/* Cut short: the stream never ends. */
	req_gzip(&r, &f, gz, len - 5);
	CHECK(body_encoding_or_reply(&r, 1) == 1);
	CHECK(body_decoded_all_or_reply(&r) == -1 && r.status == 400);
	CHECK(strstr(r.resp_body, "truncated") != NULL);
	req_end(&r);
	/* The CRC-32 of the member no longer matches. */
	gz[len - 7] ^= 0x55;
	req_gzip(&r, &f, gz, len);
	CHECK(body_encoding_or_reply(&r, 1) == 1);
	CHECK(body_decoded_all_or_reply(&r) == -1 && r.status == 400);
	CHECK(strstr(r.resp_body, "INVALID_BODY") != NULL);
	req_end(&r);
	/* Not gzip at all. */
	req_gzip(&r, &f, (const unsigned char *)text, strlen(text));
	CHECK(body_encoding_or_reply(&r, 1) == 1);
	CHECK(body_decoded_all_or_reply(&r) == -1 && r.status == 400);
	req_end(&r);
	free(gz);
}

static void
test_ndjson(void)
{
	char text[] = "{\"a\": 1}\r\n\n  \n[2]\nnull\n\n";
	json_object *v;
	long *lines;
	struct req r;

	memset(&r, 0, sizeof(r));
	r.body = text;
	r.body_len = strlen(text);
	CHECK(body_ndjson_or_reply(&r, 500, &v, &lines) == 0 && !r.replied);
	CHECK(json_object_array_length(v) == 3);
	CHECK(lines[0] == 1 && lines[1] == 4 && lines[2] == 5);
	CHECK(json_object_array_get_idx(v, 2) == NULL); /* null */
	json_object_put(v);
	free(lines);

	CHECK(body_ndjson_or_reply(&r, 2, &v, &lines) == -1 && r.status == 400);
	CHECK(strstr(r.resp_body, "BATCH_TOO_LARGE") != NULL);
	r.body = NULL, req_free(&r);

	memset(&r, 0, sizeof(r));
	r.body = text;
	r.body_len = 4; /* {"a" */
	CHECK(body_ndjson_or_reply(&r, 500, &v, &lines) == -1 && r.status == 400);
	CHECK(strstr(r.resp_body, "\"line\":1") != NULL);
	r.body = NULL, req_free(&r);
}

int
main(void)
{
	TEST(test_gzip_round_trip);
	TEST(test_gzip_bomb);
	TEST(test_gzip_damaged);
	TEST(test_ndjson);
	return unit_done();
}
