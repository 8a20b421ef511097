/* ratelimit.h: the host-wide rate limiter: fixed-window counters in a file
 * that every worker thread and every `tollgate serve` process on the host
 * maps, the policy that picks a request's bucket, and the failed sign-in
 * budgets of accounts and devices, kept in the database (and of emails no
 * account has, in the table). */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct req;
struct db;

/* The windows of the failed sign-in budgets: an account's (from unknown
 * devices: cfg.rate_login_account) and a device credential's
 * (cfg.rate_login_device). */
#define RATELIMIT_LOGIN_ACCOUNT_WINDOW (60 * 60)
#define RATELIMIT_LOGIN_DEVICE_WINDOW (15 * 60)

/* What one look at a bucket found. */
struct rl_result {
	int allowed; /* 1: the request may go on */
	long limit; /* units a window */
	long remaining; /* units left in the window after this one */
	int64_t reset; /* unix time the window ends and the budget returns */
	long reset_in; /* reset - now: seconds, >= 1 */
	long retry_after; /* seconds, >= 1 when !allowed, else 0 */
	long window; /* seconds */
	char policy[16]; /* the bucket name up to ':' ("key", "ip", ...) */
};

/* Maps the table file (cfg.ratelimit_file; mode 0600 whatever the umask), creating it or
 * replacing one of another layout or an earlier boot; one whose mode lets
 * group or others in is made 0600 in place (logged); refuses one owned by
 * another user. Checks
 * cfg.trusted_proxies. Call
 * once per process, before its threads start. On error returns -1 with a
 * sentence in err and the limiter stays closed. */
int ratelimit_open(const char *file, char *err, size_t errlen);
/* Unmaps the table; the file stays for the other processes. */
void ratelimit_close(void);

/* Takes one unit from bucket name (limit units per window seconds) at unix
 * time now. Never refuses a request the budget allows; when the bucket is
 * spent, fills out with allowed 0. A new bucket in a full stripe takes the
 * slot of the live bucket with the fewest takes. Returns 0, or -1 (out untouched) when the limiter
 * is not open or its lock cannot be had within 2 seconds. No allocation, no system call unless
 * another thread holds the same stripe. */
int ratelimit_take(const char *name, long limit, long window, int64_t now, struct rl_result *out);

/* One budget a request takes a unit from: bucket name, limit units per
 * window seconds. */
struct rl_budget {
	const char *name;
	long limit;
	long window;
};

#define RATELIMIT_BUDGETS_MAX 4

/* Takes one unit from each of the n budgets b (1..RATELIMIT_BUDGETS_MAX) at
 * unix time now, all at once or not at all: with every stripe they live in
 * locked, each is looked at, then a unit is taken from all of them only if
 * each has one left. Fills out[i] for b[i] (a spent one has allowed 0).
 * Returns 1 when taken, 0 when refused (nothing was taken from any), -1
 * (out untouched) as ratelimit_take. */
int ratelimit_take_all(const struct rl_budget *b, size_t n, int64_t now, struct rl_result *out);

/* Replaces r's rate-limit fields with res's: X-RateLimit-Limit, -Remaining,
 * -Reset (unix time), RateLimit-Policy and RateLimit (IETF draft 10); when
 * res refuses, answers 429 RATE_LIMITED with Retry-After and "Rate limit
 * exceeded. Try again in N seconds." */
void ratelimit_headers(struct req *r, const struct rl_result *res);
/* The same for a request that took from the n budgets res: RateLimit-Policy
 * lists each ("key";q=600;w=60, "org";q=1200;w=60), every other field is
 * that of res[shown], the one that binds first. */
void ratelimit_headers_all(struct req *r, const struct rl_result *res, size_t n, size_t shown);
/* Takes a unit from name and sets the headers. Returns 0 if r may go on, -1
 * when it answered (429, or 503 UNAVAILABLE if the limiter failed). */
int ratelimit_check_or_reply(struct req *r, const char *name, long limit, long window);

/* An organization's request budgets a window, from its plan: per API key,
 * per signed-in user, and for the organization as a whole. */
struct rl_plan {
	long key;
	long user;
	long org;
};

/* Reads the budgets of org_id's plan (sql/011) into out, each the plan sets
 * none of (NULL) being the default: cfg.rate_key, cfg.rate_user,
 * cfg.rate_org. Read fresh on every call, so a plan change counts from the
 * next request. Returns DB_OK; on a database error (or db NULL, or no such
 * organization) out holds the defaults and the error is returned. */
int ratelimit_plan_read(struct db *db, const char *org_id, struct rl_plan *out);
/* A plan's budget in column col of the row at stmt's cursor, or dflt when
 * the plan sets none (NULL) or an impossible one. */
long ratelimit_plan_column(struct db *db, int stmt, int col, long dflt);

/* The request's budgets, by r->who, from its organization's plan
 * (ratelimit_plan_read): an API key takes from "key:<id>" and
 * "org:<org id>", a signed-in user from "user:<id>" and "org:<org id>",
 * anyone else from "ip:<r->client_ip>" (cfg.rate_ip; an IPv6 client counts
 * by its /64); POST /v1/auth/login and /v1/signup also take from
 * "login-ip:<ip>" (cfg.rate_login). A window (cfg.rate_window) each, taken
 * all together or not at all (ratelimit_take_all), the headers naming the
 * one that binds first. Returns 0 or -1 as ratelimit_check_or_reply. */
int ratelimit_request_or_reply(struct req *r);

/* The failed sign-in budgets, kept in the store (sql/010): */
enum signin_budget {
	SIGNIN_ACCOUNT, /* an account's, from unknown devices: "login-acct",
	                 * cfg.rate_login_account an hour */
	SIGNIN_DEVICE, /* a device credential's: "login-device",
	                * cfg.rate_login_device in 15 minutes */
	SIGNIN_PASSWORD, /* POST /v1/auth/password from a session of no known
	                  * device: "password", cfg.rate_login_account an hour */
};

/* Before checking a password: takes one failure from budget's subject (a
 * user id, a device id, or "password:<user id>") of user_id. user_id NULL
 * (no such account): subject is the email typed, whose budget, as large as
 * an account's, is "login-acct:email:<SHA-256 of it in lower case>" in the
 * shared table; the store does the same work as for an account. Answers
 * 429 RATE_LIMITED (with the budget's policy) and returns -1 when none is
 * left, 503 or 500 when the store fails. */
int ratelimit_signin_take_or_reply(
    struct req *r, const char *subject, const char *user_id, enum signin_budget budget);
/* The attempt was not a wrong password (it was right, or the store
 * failed): gives the failure back to the window it was taken from
 * (r->login_window), so only failures count. A busy store is tried again
 * (3 times); a give-back still lost is logged. */
void ratelimit_signin_refund(const struct req *r, const char *subject);

#endif
