/* json.c: strict parsing of JSON from outside, field checks that answer
 * 400 INVALID_BODY themselves so handlers only deal with meaning, and the
 * writer that answers are written with. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* Parses what json_check accepted; NULL only when memory runs out. */
static json_object *
json_tokener_parse_ex_whole(const char *buf, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1);
	json_object *o;

	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "", 1); /* a bare number needs its end */
	json_tokener_free(tok);
	return o;
}

/* A recognizer for RFC 8259 JSON: json-c's strict mode still takes single
 * quotes and NaN, so input is checked here first. */
struct scan {
	const unsigned char *p, *end;
	int depth;
	const char *why;
	long values; /* values seen so far, held to JSON_MAX_VALUES */
};

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int scan_value(struct scan *s);

/* One UTF-8 sequence at s->p (tg_utf8_len). */
static int
scan_utf8(struct scan *s)
{
	size_t n = tg_utf8_len(s->p, s->end);

	if (n == 0) {
		s->why = "The request body is not valid UTF-8.";
		return -1;
	}
	s->p += n;
	return 0;
}

static int
scan_string(struct scan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20) {
			s->why = "The JSON has a control character inside a string.";
			return -1;
		}
		if (c == '\\') {
			if (++s->p >= s->end)
				break;
			if (*s->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (s->p + i >= s->end || !isxdigit(s->p[i])) {
						s->why = "The JSON has a bad \\u escape.";
						return -1;
					}
				/* json-c cuts object keys at \u0000; text never needs NUL. */
				if (memcmp(s->p + 1, "0000", 4) == 0) {
					s->why = "The JSON has a \\u0000 (NUL) escape.";
					return -1;
				}
				s->p += 5;
			} else if (strchr("\"\\/bfnrt", *s->p) != NULL && *s->p != '\0')
				s->p++;
			else {
				s->why = "The JSON has a bad escape in a string.";
				return -1;
			}
			continue;
		}
		if (scan_utf8(s) < 0)
			return -1;
	}
	s->why = "The JSON ends too early.";
	return -1;
}

static int
scan_number(struct scan *s)
{
	const unsigned char *p = s->p;

	if (p < s->end && *p == '-')
		p++;
	if (p < s->end && *p == '0')
		p++;
	else if (p < s->end && *p >= '1' && *p <= '9')
		while (p < s->end && isdigit(*p))
			p++;
	else
		goto bad;
	if (p < s->end && *p == '.') {
		if (++p >= s->end || !isdigit(*p))
			goto bad;
		while (p < s->end && isdigit(*p))
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || !isdigit(*p))
			goto bad;
		while (p < s->end && isdigit(*p))
			p++;
	}
	s->p = p;
	return 0;
bad:
	s->why = "The JSON has a malformed number.";
	return -1;
}

static int
scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
		s->why =
		    s->end - s->p < (ptrdiff_t)n && memcmp(s->p, word, (size_t)(s->end - s->p)) == 0
		    ? "The JSON ends too early."
		    : "The request body is not valid JSON.";
		return -1;
	}
	s->p += n;
	return 0;
}

/* An object or array: open is '{' or '['. */
static int
scan_container(struct scan *s, unsigned char open)
{
	unsigned char close = open == '{' ? '}' : ']';

	if (++s->depth > JSON_MAX_DEPTH) {
		s->why = "The JSON is nested too deeply.";
		return -1;
	}
	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		scan_ws(s);
		if (open == '{') {
			if (s->p >= s->end || *s->p != '"') {
				s->why = s->p >= s->end
				    ? "The JSON ends too early."
				    : "The JSON has an object key that is not a string.";
				return -1;
			}
			if (scan_string(s) < 0)
				return -1;
			scan_ws(s);
			if (s->p >= s->end || *s->p != ':') {
				s->why = s->p >= s->end
				    ? "The JSON ends too early."
				    : "The JSON is missing a ':' after an object key.";
				return -1;
			}
			s->p++;
		}
		if (scan_value(s) < 0)
			return -1;
		scan_ws(s);
		if (s->p >= s->end) {
			s->why = "The JSON ends too early.";
			return -1;
		}
		if (*s->p == close) {
			s->p++;
			s->depth--;
			return 0;
		}
		if (*s->p != ',') {
			s->why = "The JSON is missing a ',' between values.";
			return -1;
		}
		s->p++;
	}
}

static int
scan_value(struct scan *s)
{
	scan_ws(s);
	if (s->p >= s->end) {
		s->why = "The JSON ends too early.";
		return -1;
	}
	/* A tree is built from what passes here: its size is bounded before any
	 * of it is allocated (a small gzip body can inflate to many values). */
	if (++s->values > JSON_MAX_VALUES) {
		s->why = "The JSON has too many values.";
		return -1;
	}
	switch (*s->p) {
	case '{':
	case '[': return scan_container(s, *s->p);
	case '"': return scan_string(s);
	case 't': return scan_literal(s, "true");
	case 'f': return scan_literal(s, "false");
	case 'n': return scan_literal(s, "null");
	default:
		if (*s->p == '-' || isdigit(*s->p))
			return scan_number(s);
		s->why = "The request body is not valid JSON.";
		return -1;
	}
}

int
json_check(const char *buf, size_t len, char *why, size_t whylen)
{
	struct scan s = { (const unsigned char *)buf, (const unsigned char *)buf + len, 0, NULL,
		0 };

	if (memchr(buf, '\0', len) != NULL)
		s.why = "The request body contains a NUL byte.";
	else if (len == 0)
		s.why = "The request body is empty; a JSON object is expected.";
	else if (scan_value(&s) == 0) {
		scan_ws(&s);
		if (s.p == s.end)
			return 0;
		s.why = "The request body has text after the JSON value.";
	}
	snprintf(why, whylen, "%s", s.why);
	return -1;
}

json_object *
json_parse_strict(const char *buf, size_t len, char *why, size_t whylen)
{
	json_object *o;

	if (json_check(buf, len, why, whylen) < 0)
		return NULL;
	if (len > INT32_MAX || (o = json_tokener_parse_ex_whole(buf, len)) == NULL) {
		/* json-c's null is a NULL object: valid JSON, but no value to use. */
		snprintf(why, whylen, "The request body is %s.",
		    strspn(buf, " \t\r\n") + 4 <= len &&
		            memcmp(buf + strspn(buf, " \t\r\n"), "null", 4) == 0
		        ? "null; a JSON object is expected"
		        : "not valid JSON");
		return NULL;
	}
	return o;
}

json_object *
json_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

json_object *
json_time(int64_t t)
{
	char buf[32];

	if (t == 0)
		return NULL;
	tg_time_format(t, buf, sizeof(buf));
	return json_object_new_string(buf);
}

/* ---- writing answers ---- */

void
jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
}

static void
jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 512;
		char *bigger;

		while (w->len + n + 1 > cap)
			cap *= 2;
		if ((bigger = realloc(w->buf, cap)) == NULL) {
			w->failed = 1;
			return;
		}
		w->buf = bigger;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void
jw_quoted(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	jw_put(w, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7] = { '\\', 0 };
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_put(w, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		jw_put(w, esc, n);
	}
	jw_put(w, run, (size_t)(s - run));
	jw_put(w, "\"", 1);
}

/* The comma before a value and its key, if it is a member. */
static void
jw_member(struct jw *w, const char *key)
{
	if (w->more[w->depth])
		jw_put(w, ",", 1);
	w->more[w->depth] = 1;
	if (key != NULL) {
		jw_quoted(w, key);
		jw_put(w, ":", 1);
	}
}

static void
jw_open(struct jw *w, const char *key, const char *bracket)
{
	jw_member(w, key);
	jw_put(w, bracket, 1);
	if (w->depth + 1 >= JW_DEPTH) {
		w->failed = 1; /* a bug: nothing Tollgate answers is this deep */
		return;
	}
	w->more[++w->depth] = 0;
}

static void
jw_close(struct jw *w, const char *bracket)
{
	if (w->depth > 0)
		w->depth--;
	jw_put(w, bracket, 1);
}

void
jw_object(struct jw *w, const char *key)
{
	jw_open(w, key, "{");
}

void
jw_object_end(struct jw *w)
{
	jw_close(w, "}");
}

void
jw_array(struct jw *w, const char *key)
{
	jw_open(w, key, "[");
}

void
jw_array_end(struct jw *w)
{
	jw_close(w, "]");
}

void
jw_string(struct jw *w, const char *key, const char *s)
{
	jw_member(w, key);
	if (s == NULL)
		jw_put(w, "null", 4);
	else
		jw_quoted(w, s);
}

void
jw_int(struct jw *w, const char *key, int64_t v)
{
	char digits[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = sizeof(digits);

	do
		digits[--n] = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		digits[--n] = '-';
	jw_member(w, key);
	jw_put(w, digits + n, sizeof(digits) - n);
}

void
jw_bool(struct jw *w, const char *key, int v)
{
	jw_member(w, key);
	jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void
jw_null(struct jw *w, const char *key)
{
	jw_member(w, key);
	jw_put(w, "null", 4);
}

void
jw_time(struct jw *w, const char *key, int64_t t)
{
	char buf[32];

	tg_time_format(t, buf, sizeof(buf));
	if (t == 0 || *buf == '\0') { /* none, or past year 9999 */
		jw_null(w, key);
		return;
	}
	jw_member(w, key);
	jw_put(w, "\"", 1);
	jw_put(w, buf, strlen(buf));
	jw_put(w, "\"", 1);
}

void
jw_raw(struct jw *w, const char *key, const char *json)
{
	jw_member(w, key);
	if (json == NULL)
		jw_put(w, "null", 4);
	else
		jw_put(w, json, strlen(json));
}

void
jw_stored(struct jw *w, const char *key, const char *json)
{
	if (json == NULL || json_check(json, strlen(json), NULL, 0) != 0)
		jw_null(w, key);
	else
		jw_raw(w, key, json);
}

void
jw_value(struct jw *w, const char *key, json_object *v)
{
	size_t n = 0;
	const char *s = v == NULL
	    ? "null"
	    : json_object_to_json_string_length(
	          v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	jw_member(w, key);
	jw_put(w, s, v == NULL ? 4 : n);
	json_object_put(v);
}

char *
jw_finish(struct jw *w, size_t *len)
{
	char *s = w->buf;

	if (w->failed || s == NULL) {
		free(s);
		s = NULL;
	}
	*len = s != NULL ? w->len : 0;
	w->buf = NULL;
	w->len = w->cap = 0;
	return s;
}

void
jw_discard(struct jw *w)
{
	size_t len;

	free(jw_finish(w, &len));
}
