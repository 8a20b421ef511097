/* webhooks.h: signed webhooks: the events (webhooks.c), the address check
 * every attempt passes (ssrf.c) and the sender thread (webhook_send.c). */
#ifndef WEBHOOKS_H
#define WEBHOOKS_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "tollgate.h"

#define WEBHOOK_RETRY_WINDOW 86400 /* seconds a delivery is retried before it fails */
#define WEBHOOK_URL_MAX 2000

/* ---- webhooks.c: the routes, the secrets and the outbox ---- */

void handle_webhooks_create(struct req *r);
void handle_webhooks_list(struct req *r);
void handle_webhooks_get(struct req *r);
void handle_webhooks_delete(struct req *r);
void handle_webhook_deliveries_list(struct req *r);
void handle_webhook_delivery_retry(struct req *r);

/* Inside the caller's write transaction: writes an event of type with data
 * (JSON object text) to the outbox, with a pending delivery to every webhook
 * of org that takes it. Nothing is written when none does. With mark not
 * NULL the event happens once: if mark was taken before, nothing is written.
 * DB_OK or a store error (the caller rolls back: what caused the event and
 * the event go together or not at all). */
int webhook_emit(
    struct db *db, const char *org_id, const char *type, const char *mark, const char *data);
/* For meter_add, inside its transaction: st (before n more are taken)
 * reaching 80 % or 100 % of its limit with n emits meter.threshold, once per
 * meter, threshold and month. DB_OK or a store error. */
int webhook_meter_crossed(
    struct db *db, const char *org_id, const struct meter_state *st, int64_t n);
/* session.replaced: session old_sid of user_id ended by new_sid (device). */
int webhook_session_replaced(struct db *db, const char *org_id, const char *user_id,
    const char *old_sid, const char *new_sid, const char *device);
/* job.finished: job id of spinner as status ("succeeded", "failed"). */
int webhook_job_finished(struct db *db, const char *org_id, const char *job_id,
    const char *spinner_id, const char *status, const char *result, const char *reason);

/* Seals secret for webhook id into out (hex: nonce, ciphertext, tag) with a
 * key derived from TOLLGATE_JWT_SECRET (HKDF-SHA256, AES-256-GCM, the id as
 * associated data). 0, or -1. */
int webhook_secret_seal(const char *id, const char *secret, char *out, size_t outlen);
/* Opens what webhook_secret_seal made for id; -1 when it is damaged, of
 * another webhook, or sealed under another TOLLGATE_JWT_SECRET. */
int webhook_secret_open(const char *id, const char *sealed, char *out, size_t outlen);

/* ---- ssrf.c: where a webhook may send ---- */

#define SSRF_ADDRS_MAX 16
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
 * (unless allowed). 0, or -1 with a sentence for the caller in err. */
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

/* ---- webhook_send.c: the sender thread ---- */

/* Starts this process's sender (its own database connection): it delivers
 * due deliveries under a lease and scans for expiring API keys. -1 on
 * failure, with a log line. */
int webhook_sender_start(void);
/* Stops it: a delivery being sent is given back unsent, its attempt not counted. */
void webhook_sender_stop(void);

#endif
