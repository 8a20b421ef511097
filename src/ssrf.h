/* ssrf.h: where a webhook may send (ssrf.c), checked when it is made and
 * at every delivery attempt. A core module: it calls nothing above it. */
#ifndef TOLLGATE_SSRF_H
#define TOLLGATE_SSRF_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>

#define WEBHOOK_URL_MAX 2000
#define SSRF_ADDRS_MAX 16
#define SSRF_PRIVATE (-2) /* ssrf_url_check: a literal address in a refused range */

/* Resolves host into up to max addresses at out (*n of them, port 0): 0, or
 * an EAI_* code for gai_strerror. Tests pass a stub. */
typedef int ssrf_resolve_fn(const char *host, struct sockaddr_storage *out, size_t max, size_t *n);
/* The system's resolver (getaddrinfo). */
int ssrf_resolve_system(const char *host, struct sockaddr_storage *out, size_t max, size_t *n);

struct ssrf_target {
	char url[WEBHOOK_URL_MAX + 1]; /* as libcurl parsed and normalised it */
	char host[256]; /* without IPv6 brackets */
	int port;
	char addr[64]; /* the address checked, numeric */
	struct sockaddr_storage sa; /* the same, with port: the only one connected to */
	size_t salen;
};

/* Checks url without any look-up, for POST /v1/webhooks: an absolute
 * https:// URL (http:// only to a host of allow, a comma list), no user
 * name or password, and a literal address only if not in a private range
 * (unless allowed). 0; SSRF_PRIVATE for a refused literal address; -1 for
 * any other refusal; a sentence saying why in err either way. */
int ssrf_url_check(const char *url, const char *allow, char *err, size_t errlen);
/* ssrf_url_check, then resolves the host with resolve and picks its first
 * address outside loopback, private, link-local, unique-local, CGNAT,
 * multicast, reserved and unspecified ranges (IPv4, IPv6, IPv4 in IPv6),
 * any address for a host of allow. 0 with t filled, or -1 with the reason
 * in err (for the delivery, not for the caller). */
int ssrf_target_resolve(const char *url, const char *allow, ssrf_resolve_fn *resolve,
    struct ssrf_target *t, char *err, size_t errlen);
/* Whether a webhook must not reach address sa (AF_INET or AF_INET6). */
int ssrf_addr_blocked(const struct sockaddr *sa);

#endif
