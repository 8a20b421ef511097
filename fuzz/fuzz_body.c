/* fuzz_body.c: the gzip inflater and NDJSON splitter every compressed or
 * NDJSON body goes through (body.c): the input as a gzip body, inflated
 * under a small cap, then split as NDJSON, and split as NDJSON as it is.
 * No crash, the cap holds, and a body answered 200 gives 1..max values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "../tests/unit/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
ndjson_split(struct req *r)
{
	json_object *v;
	long *lines;

	if (body_ndjson_or_reply(r, 50, &v, &lines) == 0) {
		size_t n = json_object_array_length(v);

		if (n == 0 || n > 50 || lines[0] < 1)
			abort();
		for (size_t i = 1; i < n; i++)
			if (lines[i] <= lines[i - 1])
				abort();
		json_object_put(v);
		free(lines);
	} else if (!r->replied || r->status != 400)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed f;
	struct req r;
	char *copy;

	feed_set(&f, data, size);
	cfg.max_body = 1 << 14;
	memset(&r, 0, sizeof(r));
	r.content_encoding = "gzip";
	r.content_length = (long long)size;
	r.body_read = feed_read;
	r.body_ctx = &f;
	if (body_encoding_or_reply(&r, 1) != 1)
		abort();
	if (body_decoded_all_or_reply(&r) == 0) {
		if (r.body_len > (size_t)cfg.max_body || r.replied)
			abort();
		ndjson_split(&r);
	} else if (!r.replied || (r.status != 400 && r.status != 413 && r.status != 503))
		abort();
	body_inflate_free(&r);
	req_free(&r);

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	memset(&r, 0, sizeof(r));
	r.body = copy;
	r.body_len = size;
	ndjson_split(&r);
	req_free(&r);
	return 0;
}
