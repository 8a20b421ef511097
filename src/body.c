/* body.c: a request body as handlers read it: its Content-Encoding undone
 * (gzip inflated as it arrives, never past TOLLGATE_MAX_BODY once
 * inflated, so a small compressed body cannot unpack into a large one) and
 * NDJSON split into its lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "core.h"

#define BODY_CHUNK (16 * 1024) /* compressed bytes read at a time */

/* A gzip body's inflater and the compressed bytes it has not taken yet. */
struct body_inflate {
	z_stream z;
	int eof; /* the compressed body is all read */
	int ended; /* the last gzip member ended and nothing followed */
	unsigned char in[BODY_CHUNK];
};

/* Whether the header value v names coding (case aside, blanks around). */
static int
body_coding_is(const char *v, const char *coding)
{
	size_t n = strlen(coding);

	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, coding, n) != 0)
		return 0;
	for (v += n; *v == ' ' || *v == '\t'; v++)
		;
	return *v == '\0';
}

int
body_encoding_or_reply(struct req *r, int gzip_ok)
{
	const char *v = r->content_encoding;
	json_object *d;

	if (v == NULL || body_coding_is(v, "identity"))
		return 0;
	if (gzip_ok && (body_coding_is(v, "gzip") || body_coding_is(v, "x-gzip"))) {
		if ((r->inflate = calloc(1, sizeof(*r->inflate))) == NULL) {
			reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
			return -1;
		}
		/* 15 + 16: a gzip wrapper, any window size. */
		if (inflateInit2(&r->inflate->z, 15 + 16) != Z_OK) {
			free(r->inflate);
			r->inflate = NULL;
			reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
			return -1;
		}
		return 1;
	}
	d = json_object_new_object();
	json_object_object_add(d, "field", json_object_new_string("Content-Encoding"));
	reply_error(r,
	    gzip_ok ? ERR_UNSUPPORTED_MEDIA_TYPE_ENCODING : ERR_UNSUPPORTED_MEDIA_TYPE_NO_ENCODING,
	    NULL, d);
	return -1;
}

void
body_inflate_free(struct req *r)
{
	if (r->inflate == NULL)
		return;
	inflateEnd(&r->inflate->z);
	free(r->inflate);
	r->inflate = NULL;
}

static void
reply_bad_gzip(struct req *r, const char *why)
{
	char msg[200];
	json_object *d = json_object_new_object();

	snprintf(msg, sizeof(msg), "The gzip body cannot be decompressed: %s.", why);
	json_object_object_add(d, "field", json_object_new_string("Content-Encoding"));
	reply_error(r, ERR_INVALID_BODY, msg, d);
}

static void
reply_decoded_too_large(struct req *r)
{
	char msg[160];
	json_object *d = json_object_new_object();

	snprintf(msg, sizeof(msg), "The request body is larger than %lld bytes once decompressed.",
	    cfg.max_body);
	json_object_object_add(d, "limit", json_object_new_int64(cfg.max_body));
	reply_error(r, ERR_PAYLOAD_TOO_LARGE, msg, d);
}

/* Inflates into buf[0..n): the count (> 0), 0 at the end of the body, -1
 * once answered. Asks zlib for at most one byte past the cap, so a bomb
 * stops there. */
static long
body_inflate_read_or_reply(struct req *r, char *buf, size_t n)
{
	struct body_inflate *b = r->inflate;
	size_t cap = (size_t)cfg.max_body, room = cap + 1 - r->body_decoded, got;
	long k;
	int rc;

	if (n > room)
		n = room;
	if (n > 1u << 30)
		n = 1u << 30;
	for (;;) {
		if (b->ended)
			return 0;
		if (b->z.avail_in == 0 && !b->eof) {
			if ((k = req_body_read_or_reply(r, (char *)b->in, sizeof(b->in))) < 0)
				return -1;
			if (k == 0)
				b->eof = 1;
			b->z.next_in = b->in;
			b->z.avail_in = (uInt)k;
		}
		if (b->z.avail_in == 0 && b->eof) {
			reply_bad_gzip(r, "it ends early (truncated)");
			return -1;
		}
		b->z.next_out = (Bytef *)buf;
		b->z.avail_out = (uInt)n;
		rc = inflate(&b->z, Z_NO_FLUSH);
		got = n - b->z.avail_out;
		if (rc == Z_STREAM_END) {
			/* Another member may follow (RFC 1952 allows several). */
			if (b->z.avail_in == 0 && !b->eof) {
				if ((k = req_body_read_or_reply(r, (char *)b->in, sizeof(b->in))) <
				    0)
					return -1;
				b->eof = k == 0;
				b->z.next_in = b->in;
				b->z.avail_in = (uInt)k;
			}
			if (b->z.avail_in == 0)
				b->ended = 1;
			else if (inflateReset(&b->z) != Z_OK) {
				reply_bad_gzip(r, "it cannot be read");
				return -1;
			}
		} else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
			reply_bad_gzip(r, b->z.msg != NULL ? b->z.msg : "the data is damaged");
			return -1;
		} else if (rc == Z_MEM_ERROR) {
			log_msg(r->request_id, "body: inflate: out of memory");
			reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
			return -1;
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			reply_bad_gzip(r, "it cannot be read");
			return -1;
		}
		if (got > 0) {
			r->body_decoded += got;
			if (r->body_decoded > cap) {
				reply_decoded_too_large(r);
				return -1;
			}
			return (long)got;
		}
	}
}

long
body_decoded_read_or_reply(struct req *r, char *buf, size_t n)
{
	long k;

	if (r->replied) /* refused already (413, say): nothing more is read */
		return -1;
	if (n == 0)
		return 0;
	if (r->inflate != NULL)
		return body_inflate_read_or_reply(r, buf, n);
	if ((k = req_body_read_or_reply(r, buf, n)) > 0)
		r->body_decoded += (size_t)k;
	return k;
}

int
body_decoded_all_or_reply(struct req *r)
{
	size_t cap = (size_t)cfg.max_body, size, have = 0;
	char *buf, *grown;
	long k;

	/* A plain body's Content-Length says what it needs; a compressed one
	 * starts at 64 KiB and doubles. */
	size = r->inflate == NULL && r->content_length >= 0 ? (size_t)r->content_length + 1
	                                                    : 64 * 1024;
	if ((buf = malloc(size)) == NULL) {
		reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
		return -1;
	}
	for (;;) {
		/* A plain body of a known length is whole once that much came. */
		if (r->inflate == NULL && r->content_length >= 0 &&
		    have == (size_t)r->content_length)
			break;
		if (have + 1 >= size) {
			size = size * 2 > cap + 2 ? cap + 2 : size * 2;
			if ((grown = realloc(buf, size)) == NULL) {
				free(buf);
				reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
				return -1;
			}
			buf = grown;
		}
		if ((k = body_decoded_read_or_reply(r, buf + have, size - 1 - have)) < 0) {
			free(buf);
			return -1;
		}
		if (k == 0)
			break;
		have += (size_t)k;
	}
	buf[have] = '\0';
	free(r->body);
	r->body = buf;
	r->body_len = have;
	return 0;
}

/* ---- NDJSON ---- */

static void
reply_ndjson_line(struct req *r, long line, const char *why)
{
	char msg[300];
	json_object *d = json_object_new_object();

	snprintf(msg, sizeof(msg), "Line %ld is not valid JSON: %s", line, why);
	json_object_object_add(d, "line", json_object_new_int64(line));
	reply_error(r, ERR_INVALID_BODY, msg, d);
}

/* Whether s[0..n) holds only blanks (and a CR). */
static int
ndjson_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int
body_ndjson_or_reply(struct req *r, size_t max, json_object **values, long **lines)
{
	const char *p = r->body, *end = r->body + r->body_len, *nl;
	json_object *a = NULL, *v, *d;
	long line = 0, *at = NULL;
	size_t count = 0, len;
	char why[160];

	*values = NULL;
	*lines = NULL;
	/* Counted first: a batch past max is refused before any line is read. */
	for (const char *q = p; q < end; q = nl + 1) {
		nl = memchr(q, '\n', (size_t)(end - q));
		if (nl == NULL)
			nl = end;
		count += !ndjson_blank(q, (size_t)(nl - q));
	}
	if (count == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "field", json_object_new_string("records"));
		reply_error(r, ERR_INVALID_BODY_NDJSON_EMPTY, NULL, d);
		return -1;
	}
	if (count > max) {
		d = json_object_new_object();
		json_object_object_add(d, "limit", json_object_new_int64((int64_t)max));
		json_object_object_add(d, "received", json_object_new_int64((int64_t)count));
		reply_error(r, ERR_BATCH_TOO_LARGE_NDJSON, NULL, d);
		return -1;
	}
	if ((a = json_object_new_array_ext((int)count)) == NULL ||
	    (at = malloc(count * sizeof(*at))) == NULL)
		goto oom;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		line++;
		len = (size_t)(nl - p);
		if (ndjson_blank(p, len))
			continue;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (json_check(p, len, why, sizeof(why)) < 0) {
			reply_ndjson_line(r, line, why);
			goto fail;
		}
		/* NULL for a null line (json-c's null), which the schema check
		 * refuses as "not an object", as in a JSON batch. */
		v = json_parse_strict(p, len, why, sizeof(why));
		at[json_object_array_length(a)] = line;
		if (json_object_array_put_idx(a, json_object_array_length(a), v) < 0) {
			json_object_put(v);
			goto oom;
		}
	}
	*values = a;
	*lines = at;
	return 0;
oom:
	reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
fail:
	json_object_put(a);
	free(at);
	return -1;
}
