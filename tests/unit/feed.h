/* feed.h: a request body in memory, read the way the web server hands one
 * over (body_read_fn), for the unit tests and fuzz harnesses. */
#ifndef TOLLGATE_FEED_H
#define TOLLGATE_FEED_H

#include <string.h>

struct feed {
	const char *data;
	size_t len, at;
	int reads; /* calls of feed_read */
};

static inline void
feed_set(struct feed *f, const void *data, size_t len)
{
	f->data = data;
	f->len = len;
	f->at = 0;
	f->reads = 0;
}

static inline int
feed_read(void *ctx, char *buf, int n)
{
	struct feed *f = ctx;
	size_t k = f->len - f->at < (size_t)n ? f->len - f->at : (size_t)n;

	f->reads++;
	memcpy(buf, f->data + f->at, k);
	f->at += k;
	return (int)k;
}

#endif
