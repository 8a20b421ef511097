/* client.c: the client's address: the peer, or behind trusted proxies the
 * hop of X-Forwarded-For they vouch for, and the bucket an address counts
 * in. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

/* Parses an IPv4 or IPv6 address (exactly len bytes of s, nothing else)
 * into a as IPv6, IPv4 as IPv4-mapped. Returns 0, or -1 if it is none. */
static int
addr_parse(const char *s, size_t len, unsigned char a[16])
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a + 12) == 1) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		return 0;
	}
	return inet_pton(AF_INET6, buf, a) == 1 ? 0 : -1;
}

static int
addr_is_v4(const unsigned char a[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, mapped, sizeof(mapped)) == 0;
}

/* a in canonical text: IPv4 dotted, else RFC 5952 IPv6. */
static void
addr_format(const unsigned char a[16], char *out, size_t outlen)
{
	char buf[INET6_ADDRSTRLEN];
	size_t n = 0;

	if (addr_is_v4(a)) { /* by hand: glibc's inet_ntop prints IPv4 with sprintf */
		for (int i = 12; i < 16; i++) {
			n = tg_append_num(buf, sizeof(buf), n, a[i]);
			if (i < 15)
				n = tg_append(buf, sizeof(buf), n, ".", 1);
		}
	} else
		inet_ntop(AF_INET6, a, buf, sizeof(buf));
	tg_append(out, outlen, 0, buf, sizeof(buf));
}

/* An X-Forwarded-For entry: an address, "[v6]" or "[v6]:port", or
 * "v4:port". Returns 0, or -1 if it is none of them. */
static int
xff_entry_parse(const char *s, size_t len, unsigned char a[16])
{
	const char *host = s, *port = NULL;
	size_t hostlen = len;

	if (len > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb == NULL)
			return -1;
		host = s + 1;
		hostlen = (size_t)(rb - host);
		if (rb + 1 < s + len) {
			if (rb[1] != ':')
				return -1;
			port = rb + 2;
		}
		if (addr_parse(host, hostlen, a) < 0 || addr_is_v4(a))
			return -1;
	} else {
		const char *colon = memchr(s, ':', len);

		if (colon != NULL &&
		    memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL) {
			hostlen = (size_t)(colon - s);
			port = colon + 1;
		}
		if (addr_parse(host, hostlen, a) < 0)
			return -1;
	}
	if (port != NULL) {
		size_t plen = len - (size_t)(port - s);

		if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen)
			return -1;
	}
	return 0;
}

/* One entry of TOLLGATE_TRUSTED_PROXIES: an address, or address/bits. The
 * prefix length is returned in *bits counted on the IPv6 form. */
static int
cidr_parse(const char *s, size_t len, unsigned char net[16], int *bits)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	long n;

	if (addr_parse(s, alen, net) < 0)
		return -1;
	if (slash == NULL) {
		*bits = 128;
		return 0;
	}
	n = 0;
	for (const char *p = slash + 1; p < s + len; p++) {
		if (*p < '0' || *p > '9' || n > 128)
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (slash + 1 == s + len || n > (addr_is_v4(net) ? 32 : 128))
		return -1;
	*bits = (int)n + (addr_is_v4(net) ? 96 : 0);
	return 0;
}

static int
prefix_equal(const unsigned char a[16], const unsigned char b[16], int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* Whether a is within an entry of list (entries that do not parse match
 * nothing; client_proxies_check refused them at start). */
static int
proxies_match(const char *list, const unsigned char a[16])
{
	unsigned char net[16];
	int bits;

	for (const char *p = list; *(p += strspn(p, ", \t")) != '\0';) {
		size_t len = strcspn(p, ", \t");

		if (cidr_parse(p, len, net, &bits) == 0 && prefix_equal(a, net, bits))
			return 1;
		p += len;
	}
	return 0;
}

/* Whether every entry of list parses; else -1 with err naming the first. */
int
client_proxies_check(const char *list, char *err, size_t errlen)
{
	unsigned char net[16];
	int bits;

	for (const char *p = list; *(p += strspn(p, ", \t")) != '\0';) {
		size_t len = strcspn(p, ", \t");

		if (cidr_parse(p, len, net, &bits) < 0) {
			snprintf(err, errlen,
			    "TOLLGATE_TRUSTED_PROXIES: \"%.*s\" is not an IP address or CIDR",
			    (int)(len > 64 ? 64 : len), p);
			return -1;
		}
		p += len;
	}
	return 0;
}

int
client_ip(const char *remote_addr, const char *xff, char *out, size_t outlen)
{
	unsigned char a[16], hop[16];
	const char *end;
	size_t o = 0;

	if (remote_addr == NULL || addr_parse(remote_addr, strlen(remote_addr), a) < 0) {
		for (const char *p = remote_addr; p != NULL && *p != '\0' && o + 1 < outlen; p++)
			if (isalnum((unsigned char)*p) || strchr(".:-_[]", *p))
				out[o++] = *p;
		snprintf(out + o, outlen - o, "%s", o == 0 ? "unknown" : "");
		return -1;
	}
	/* Right to left: each entry was written by the hop to its right; the
	 * first hop that is not a trusted proxy is the client. */
	if (xff != NULL && proxies_match(cfg.trusted_proxies, a)) {
		end = xff + strlen(xff);
		while (end > xff) {
			const char *start = end, *s, *e;

			while (start > xff && start[-1] != ',')
				start--;
			for (s = start; s < end && (*s == ' ' || *s == '\t'); s++)
				;
			for (e = end; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
				;
			end = start > xff ? start - 1 : xff;
			if (s == e)
				continue;
			if (xff_entry_parse(s, (size_t)(e - s), hop) < 0)
				break;
			memcpy(a, hop, sizeof(a));
			if (!proxies_match(cfg.trusted_proxies, a))
				break;
		}
	}
	addr_format(a, out, outlen);
	return 0;
}

/* The bucket of a client address: itself, or for IPv6 its /64 (one
 * subscriber's network, where each host can take any address). */
void
client_bucket(const char *ip, char *out, size_t outlen)
{
	unsigned char a[16];
	char buf[INET6_ADDRSTRLEN];

	if (addr_parse(ip, strlen(ip), a) < 0)
		snprintf(out, outlen, "%s", ip);
	else if (addr_is_v4(a))
		addr_format(a, out, outlen);
	else {
		memset(a + 8, 0, 8);
		addr_format(a, buf, sizeof(buf));
		snprintf(out, outlen, "%s/64", buf);
	}
}
