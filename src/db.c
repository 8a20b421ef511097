/* db.c: the store. Every SQL statement Tollgate runs is in stmts[] below;
 * callers name one by its enum stmt and bind values, never build SQL. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>

#include <sqlite3.h>

#include "core.h"
#include "db_pg.h"

#define DB_BUSY_TIMEOUT_MS 5000
#define GROUP_GATHER_US 100 /* a group's leader waits this long for more pieces */

/* The statements, in enum stmt order: every SQL text Tollgate runs (the
 * migrations aside, which are sql/ and sql/pg/). STMT(id, text) is one text
 * for both stores, its ?N placeholders written $N on PostgreSQL;
 * STMT_PG(id, sqlite, postgresql) gives each store its own where their
 * dialects differ. */
struct stmt_def {
	const char *name;
	const char *sql;
	const char *pg; /* NULL: sql */
};
#define STMT(id, text) [id] = { #id, text, NULL }
#define STMT_PG(id, text, pgtext) [id] = { #id, text, pgtext }
static const struct stmt_def stmts[STMT__COUNT] = {
	STMT(STMT_PING, "SELECT 1"),
	STMT(STMT_ORG_INSERT,
	    "INSERT INTO organizations (id, name, plan, created_at) VALUES (?1, ?2, 'trial', "
	    "?3)"),
	STMT(STMT_ORG_SET_PLAN, "UPDATE organizations SET plan = ?2 WHERE id = ?1"),
	STMT(STMT_USER_INSERT,
	    "INSERT INTO users (id, org_id, email, name, role, password_hash, created_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
	STMT(STMT_USER_GET,
	    "SELECT seq, id, email, name, role, created_at, org_id FROM users WHERE id = ?1 "
	    "AND org_id = ?2"),
	STMT(STMT_USER_LIST,
	    "SELECT seq, id, email, name, role, created_at, org_id FROM users WHERE org_id = "
	    "?1 AND seq > ?2 ORDER BY seq LIMIT ?3"),
	/* emails compare as SQLite's NOCASE does: ASCII letters folded (sql/pg/002) */
	STMT_PG(STMT_USER_BY_EMAIL, "SELECT id, org_id, password_hash FROM users WHERE email = ?1",
	    "SELECT id, org_id, password_hash FROM users WHERE nocase(email) = nocase(?1)"),
	STMT(STMT_USER_HASH, "SELECT password_hash FROM users WHERE id = ?1"),
	STMT(STMT_USER_SET_PASSWORD,
	    "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_USER_SET_ROLE, "UPDATE users SET role = ?3 WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_USER_DELETE, "DELETE FROM users WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_USER_COUNT_ADMINS,
	    "SELECT count(*) FROM users WHERE org_id = ?1 AND role = 'admin'"),
	STMT(STMT_SESSION_INSERT,
	    "INSERT INTO sessions (id, user_id, org_id, device, ip, created_at, last_seen_at, "
	    "expires_at, device_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
	STMT(STMT_SESSION_AUTH,
	    "SELECT s.user_id, s.org_id, s.last_seen_at, s.expires_at, s.ended_at, "
	    "s.end_reason, u.role, n.device FROM sessions s JOIN users u ON u.id = s.user_id "
	    "LEFT JOIN sessions n ON n.id = s.replaced_by WHERE s.id = ?1"),
	/* the user row as user_write reads it (columns 0-6), then the session's device and
	 * times and the organization's name and plan. */
	STMT(STMT_SESSION_VIEW,
	    "SELECT u.seq, u.id, u.email, u.name, u.role, u.created_at, u.org_id, s.device, "
	    "s.created_at, s.last_seen_at, s.expires_at, o.name, o.plan FROM sessions s JOIN "
	    "users u ON u.id = s.user_id JOIN organizations o ON o.id = u.org_id WHERE s.id = "
	    "?1"),
	STMT(STMT_SESSION_LIVE_OF_USER,
	    "SELECT id, device, created_at, last_seen_at, expires_at, device_id FROM sessions "
	    "WHERE user_id = ?1 AND ended_at IS NULL"),
	STMT(STMT_SESSION_TOUCH,
	    "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1 AND ended_at IS NULL AND "
	    "last_seen_at < ?2"),
	STMT(STMT_SESSION_END,
	    "UPDATE sessions SET ended_at = ?1, end_reason = ?2 WHERE id = ?3 AND ended_at IS "
	    "NULL"),
	STMT(STMT_SESSION_REPLACE,
	    "UPDATE sessions SET ended_at = ?1, end_reason = 'replaced', replaced_by = ?2 "
	    "WHERE id = ?3 AND ended_at IS NULL"),
	STMT(STMT_SESSION_REVOKE_USER,
	    "UPDATE sessions SET ended_at = ?2, end_reason = 'revoked' WHERE user_id = ?1 AND "
	    "ended_at IS NULL"),
	/* user ?1's live sessions signed in from device ?2 */
	STMT(STMT_SESSION_REVOKE_DEVICE,
	    "UPDATE sessions SET ended_at = ?3, end_reason = 'revoked' WHERE user_id = ?1 AND "
	    "device_id = ?2 AND ended_at IS NULL"),
	/* the device session ?1 was signed in from, if it is not revoked */
	STMT(STMT_SESSION_DEVICE,
	    "SELECT d.id FROM sessions s JOIN devices d ON d.id = s.device_id AND d.user_id = "
	    "s.user_id WHERE s.id = ?1"),
	/* user ?1's sessions signed in before rowid ?2, newest first, with the device of
	 * the session that replaced each and whether it is session ?4 */
	STMT(STMT_SESSION_ACTIVITY,
	    "SELECT s.rowid, s.id, s.device, s.ip, s.created_at, s.last_seen_at, s.expires_at, "
	    "s.ended_at, s.end_reason, n.device, s.device_id, s.id = ?4 FROM sessions s LEFT "
	    "JOIN sessions n ON n.id = s.replaced_by WHERE s.user_id = ?1 AND s.rowid < ?2 "
	    "ORDER BY s.rowid DESC LIMIT ?3"),
	STMT(STMT_DEVICE_INSERT,
	    "INSERT INTO devices (id, user_id, secret_hash, name, created_at, last_used_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?5)"),
	STMT(STMT_DEVICE_BY_HASH, "SELECT id FROM devices WHERE secret_hash = ?1 AND user_id = ?2"),
	STMT(STMT_DEVICE_TOUCH, "UPDATE devices SET last_used_at = ?2 WHERE id = ?1"),
	STMT(STMT_DEVICE_LIST,
	    "SELECT seq, id, name, created_at, last_used_at FROM devices WHERE user_id = ?1 AND "
	    "seq > ?2 ORDER BY seq LIMIT ?3"),
	/* user ?1's devices, most recently used first; the last column: whether session ?2
	 * signed in from it */
	STMT_PG(STMT_DEVICE_LIST_RECENT,
	    "SELECT d.seq, d.id, d.name, d.created_at, d.last_used_at, d.id IS (SELECT "
	    "device_id FROM sessions WHERE id = ?2) FROM devices d WHERE d.user_id = ?1 ORDER "
	    "BY d.last_used_at DESC, d.seq DESC LIMIT ?3",
	    "SELECT d.seq, d.id, d.name, d.created_at, d.last_used_at, d.id IS NOT DISTINCT "
	    "FROM (SELECT device_id FROM sessions WHERE id = ?2) FROM devices d WHERE d.user_id = "
	    "?1 ORDER BY d.last_used_at DESC, d.seq DESC LIMIT ?3"),
	STMT(STMT_DEVICE_DELETE, "DELETE FROM devices WHERE id = ?1 AND user_id = ?2"),
	STMT(STMT_DEVICE_DELETE_USER, "DELETE FROM devices WHERE user_id = ?1"),
	/* all but the ?2 most recently used devices of ?1 */
	STMT(STMT_DEVICE_PRUNE,
	    "DELETE FROM devices WHERE user_id = ?1 AND seq NOT IN (SELECT seq FROM devices "
	    "WHERE user_id = ?1 ORDER BY last_used_at DESC, seq DESC LIMIT ?2)"),
	/* one failure of ?1 (of user ?2) at ?3, in a window of ?4 seconds, if fewer than ?5
	 * are taken: no change when the budget is spent */
	STMT_PG(STMT_LOGIN_BUDGET_TAKE,
	    "INSERT INTO login_budgets (subject, user_id, reset_at, failures) VALUES (?1, ?2, "
	    "?3 + ?4, 1) ON CONFLICT (subject) DO UPDATE SET failures = CASE WHEN reset_at <= "
	    "?3 THEN 1 ELSE failures + 1 END, reset_at = CASE WHEN reset_at <= ?3 THEN ?3 + ?4 "
	    "ELSE reset_at END WHERE reset_at <= ?3 OR failures < ?5",
	    "INSERT INTO login_budgets AS b (subject, user_id, reset_at, failures) VALUES (?1, "
	    "?2, ?3 + ?4, 1) ON CONFLICT (subject) DO UPDATE SET failures = CASE WHEN b.reset_at "
	    "<= ?3 THEN 1 ELSE b.failures + 1 END, reset_at = CASE WHEN b.reset_at <= ?3 THEN ?3 "
	    "+ ?4 ELSE b.reset_at END WHERE b.reset_at <= ?3 OR b.failures < ?5"),
	STMT(STMT_LOGIN_BUDGET_GET,
	    "SELECT failures, reset_at FROM login_budgets WHERE subject = ?1"),
	/* user ?1's windows that ended before ?2 (devices gone) */
	STMT(STMT_LOGIN_BUDGET_PRUNE,
	    "DELETE FROM login_budgets WHERE user_id = ?1 AND reset_at <= ?2"),
	/* back to the window ending at ?2, the one it was taken from */
	STMT(STMT_LOGIN_BUDGET_GIVE,
	    "UPDATE login_budgets SET failures = failures - 1 WHERE subject = ?1 AND reset_at = "
	    "?2 AND failures > 0"),
	/* The cluster limiter's buckets (ratelimit_pg.c, PostgreSQL alone): a unit
	 * from each of the buckets ?1 (a text[] literal; limits ?2, windows ?3,
	 * bigint[] literals), from all or none, on the database's clock; ?4 0
	 * only looks */
	STMT(STMT_RATE_TAKE,
	    "SELECT slot, ok, given, ends_at, clock FROM tollgate_rate_take(?1, ?2, ?3, ?4)"),
	/* at most ?2 buckets whose windows ended by ?1 and by the database's
	 * clock, none another host is taking from or deleting (the clock read
	 * once, in a subquery: the index on reset_at serves the look-up) */
	STMT_PG(STMT_RATE_PRUNE,
	    "DELETE FROM rate_buckets WHERE name IN (SELECT name FROM rate_buckets WHERE "
	    "reset_at <= ?1 LIMIT ?2)",
	    "DELETE FROM rate_buckets WHERE name IN (SELECT name FROM rate_buckets WHERE "
	    "reset_at <= (SELECT LEAST(?1, floor(extract(epoch FROM clock_timestamp()))::bigint)) "
	    "LIMIT ?2 FOR UPDATE SKIP LOCKED)"),
	STMT(STMT_JWT_KEYS_ALL,
	    "SELECT kid, secret FROM jwt_keys ORDER BY created_at DESC, rowid DESC"),
	STMT(STMT_JWT_KEY_INSERT,
	    "INSERT INTO jwt_keys (kid, secret, created_at) VALUES (?1, ?2, ?3)"),
	STMT(STMT_JWT_KEY_SET_SECRET, "UPDATE jwt_keys SET secret = ?2 WHERE kid = ?1"),
	STMT(STMT_JWT_KEY_PRUNE,
	    "DELETE FROM jwt_keys AS k WHERE EXISTS (SELECT 1 FROM jwt_keys n WHERE "
	    "n.created_at > k.created_at AND n.created_at < ?1)"),
	STMT(STMT_AUDIT_INSERT,
	    "INSERT INTO audit (org_id, at, event, actor, target, request_id, ip) VALUES (?1, "
	    "?2, ?3, ?4, ?5, ?6, ?7)"),
	STMT(STMT_AUDIT_LIST,
	    "SELECT seq, at, event, actor, target, request_id, ip FROM audit WHERE org_id = "
	    "?1 AND seq > ?2 ORDER BY seq LIMIT ?3"),
	/* the plan, its limits (NULL: unlimited), and what is used: live projects, users
	 * and live API keys (not revoked at ?3, the time now: an old key in its grace
	 * period after a rotation counts); this month's jobs and records; live webhooks.
	 * Columns in enum meter order (meters.c). */
	STMT(STMT_METERS,
	    "SELECT o.plan, p.name, p.projects, p.users, p.api_keys, p.jobs, p.records, "
	    "p.webhooks, "
	    "(SELECT count(*) FROM projects WHERE org_id = ?1), (SELECT count(*) FROM users "
	    "WHERE org_id = ?1), (SELECT count(*) FROM api_keys WHERE org_id = ?1 AND "
	    "(revoked_at IS NULL OR revoked_at > ?3)), coalesce((SELECT used FROM usage WHERE "
	    "org_id = ?1 AND "
	    "meter = 'jobs' AND period = ?2), 0), coalesce((SELECT used FROM usage WHERE "
	    "org_id = ?1 AND meter = 'records' AND period = ?2), 0), (SELECT count(*) FROM "
	    "webhooks WHERE org_id = ?1) FROM organizations o JOIN "
	    "plans p ON p.id = o.plan WHERE o.id = ?1"),
	STMT_PG(STMT_USAGE_ADD,
	    "INSERT INTO usage (org_id, meter, period, used) VALUES (?1, ?2, ?3, ?4) ON "
	    "CONFLICT (org_id, meter, period) DO UPDATE SET used = used + excluded.used",
	    "INSERT INTO usage AS u (org_id, meter, period, used) VALUES (?1, ?2, ?3, ?4) ON "
	    "CONFLICT (org_id, meter, period) DO UPDATE SET used = u.used + excluded.used"),
	STMT(STMT_APIKEY_INSERT,
	    "INSERT INTO api_keys (id, org_id, name, public_id, secret_hash, scopes, "
	    "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULLIF(?8, 0))"),
	STMT(STMT_APIKEY_BY_PUBLIC,
	    "SELECT id, org_id, secret_hash, scopes, expires_at, revoked_at, "
	    "coalesce(last_used_at, 0) FROM api_keys WHERE public_id = ?1"),
	STMT(STMT_APIKEY_TOUCH, "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1"),
	STMT(STMT_APIKEY_GET,
	    "SELECT seq, id, name, public_id, scopes, created_at, expires_at, last_used_at, "
	    "revoked_at FROM api_keys WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_APIKEY_LIST,
	    "SELECT seq, id, name, public_id, scopes, created_at, expires_at, last_used_at, "
	    "revoked_at FROM api_keys WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"),
	STMT(STMT_APIKEY_REVOKE,
	    "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND org_id = ?2 AND "
	    "(revoked_at IS NULL OR revoked_at > ?3)"),
	STMT(STMT_APIKEY_ROTATE_OLD,
	    "UPDATE api_keys SET revoked_at = ?3, rotated_to = ?4 WHERE id = ?1 AND org_id = "
	    "?2 AND revoked_at IS NULL"),
	/* the meters' limits, then the request budgets (NULL: the default) */
	STMT(STMT_PLANS_ALL,
	    "SELECT id, name, projects, users, api_keys, jobs, records, webhooks, rate_key, "
	    "rate_user, rate_org FROM plans ORDER BY position"),
	/* the request budgets of organization ?1's plan (NULL: the default) */
	STMT(STMT_PLAN_RATES,
	    "SELECT p.rate_key, p.rate_user, p.rate_org FROM organizations o JOIN plans p ON "
	    "p.id = o.plan WHERE o.id = ?1"),
	STMT(STMT_USAGE_HISTORY,
	    "SELECT period, meter, used FROM usage WHERE org_id = ?1 AND period < ?2 ORDER BY "
	    "period DESC, meter"),
	STMT(STMT_PROJECT_INSERT,
	    "INSERT INTO projects (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)"),
	STMT(STMT_PROJECT_GET,
	    "SELECT seq, id, name, created_at FROM projects WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_PROJECT_LIST,
	    "SELECT seq, id, name, created_at FROM projects WHERE org_id = ?1 AND seq > ?2 "
	    "ORDER BY seq LIMIT ?3"),
	STMT(STMT_PROJECT_DELETE, "DELETE FROM projects WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_TABLE_INSERT,
	    "INSERT INTO data_tables (id, org_id, project_id, name, created_at) VALUES (?1, "
	    "?2, ?3, ?4, ?5)"),
	/* ?3 = 1 hides unpublished tables (from API keys) */
	STMT(STMT_TABLE_GET,
	    "SELECT seq, id, name, project_id, schema, published, created_at FROM data_tables "
	    "WHERE id = ?1 AND org_id = ?2 AND published >= ?3"),
	STMT(STMT_TABLE_LIST,
	    "SELECT seq, id, name, project_id, schema, published, created_at FROM data_tables "
	    "WHERE project_id = ?1 AND org_id = ?2 AND published >= ?3 AND seq > ?4 ORDER BY "
	    "seq LIMIT ?5"),
	/* its records go with it (ON DELETE CASCADE) */
	STMT(STMT_TABLE_DELETE, "DELETE FROM data_tables WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_TABLE_PUBLISH,
	    "UPDATE data_tables SET published = 1 WHERE id = ?1 AND org_id = ?2"),
	/* sets the first schema, or confirms it is still ?3 */
	STMT(STMT_TABLE_SET_SCHEMA,
	    "UPDATE data_tables SET schema = ?3 WHERE id = ?1 AND org_id = ?2 AND "
	    "coalesce(schema, ?3) = ?3"),
	STMT(STMT_RECORD_INSERT,
	    "INSERT INTO records (table_id, data, created_at) VALUES (?1, ?2, ?3)"),
	STMT(STMT_RECORD_LIST,
	    "SELECT seq, data FROM records WHERE table_id = ?1 AND seq > ?2 ORDER BY seq "
	    "LIMIT ?3"),
	/* the last seq of a page of ?3 + 1 rows after ?2, and the next one's if there
	 * is more */
	STMT(STMT_RECORD_PAGE_END,
	    "SELECT seq FROM records WHERE table_id = ?1 AND seq > ?2 ORDER BY seq LIMIT 2 "
	    "OFFSET ?3"),
	STMT(STMT_IDEM_GET,
	    "SELECT request_hash, status, response, created_at FROM idempotency WHERE org_id "
	    "= ?1 AND key = ?2"),
	/* a new key, or one expired or abandoned taken over; ?5 names this claim */
	STMT(STMT_IDEM_CLAIM,
	    "INSERT INTO idempotency (org_id, key, request_hash, status, response, "
	    "created_at, claim) VALUES (?1, ?2, ?3, NULL, NULL, ?4, ?5) ON CONFLICT (org_id, "
	    "key) DO UPDATE SET request_hash = excluded.request_hash, status = NULL, response "
	    "= NULL, created_at = excluded.created_at, claim = excluded.claim"),
	/* only by the claim ?3 that holds it */
	STMT(STMT_IDEM_FINISH,
	    "UPDATE idempotency SET status = ?4, response = ?5 WHERE org_id = ?1 AND key = ?2 "
	    "AND claim = ?3 AND status IS NULL"),
	STMT(STMT_IDEM_RELEASE,
	    "DELETE FROM idempotency WHERE org_id = ?1 AND key = ?2 AND claim = ?3 AND status "
	    "IS NULL"),
	/* a few keys past their 24 hours, oldest first */
	STMT(STMT_IDEM_PRUNE,
	    "DELETE FROM idempotency WHERE (org_id, key) IN (SELECT org_id, key FROM "
	    "idempotency WHERE created_at < ?1 ORDER BY created_at LIMIT 32)"),
	STMT(STMT_SPINNER_INSERT,
	    "INSERT INTO spinners (id, org_id, project_id, table_id, name, schedule, "
	    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, 0), ?7)"),
	/* ?3 is 1 when only published spinners are visible (API keys) */
	STMT(STMT_SPINNER_GET,
	    "SELECT seq, id, project_id, table_id, name, schedule, published, next_run_at, "
	    "created_at FROM spinners WHERE id = ?1 AND org_id = ?2 AND published >= ?3"),
	STMT(STMT_SPINNER_LIST,
	    "SELECT seq, id, project_id, table_id, name, schedule, published, next_run_at, "
	    "created_at FROM spinners WHERE project_id = ?1 AND org_id = ?2 AND published >= "
	    "?3 AND seq > ?4 ORDER BY seq LIMIT ?5"),
	/* ?3 NULL keeps the name */
	STMT(STMT_SPINNER_UPDATE,
	    "UPDATE spinners SET name = coalesce(?3, name), schedule = NULLIF(?4, 0), next_run_at "
	    "= "
	    "NULLIF(?5, 0) WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_SPINNER_DELETE, "DELETE FROM spinners WHERE id = ?1 AND org_id = ?2"),
	/* a scheduled spinner first runs one interval after ?3 */
	STMT(STMT_SPINNER_PUBLISH,
	    "UPDATE spinners SET next_run_at = CASE WHEN schedule IS NULL THEN NULL WHEN "
	    "published = 1 THEN next_run_at ELSE ?3 + schedule * 60 END, published = 1 WHERE "
	    "id = ?1 AND org_id = ?2"),
	STMT(STMT_SPINNER_TABLE_IN_PROJECT,
	    "SELECT 1 FROM data_tables WHERE id = ?1 AND project_id = ?2 AND org_id = ?3"),
	STMT(STMT_SPINNER_TRIGGERABLE,
	    "SELECT 1 FROM spinners WHERE id = ?1 AND org_id = ?2 AND published = 1"),
	STMT(STMT_SPINNER_DUE,
	    "SELECT id, org_id, schedule, next_run_at FROM spinners WHERE next_run_at <= ?1 "
	    "AND published = 1 ORDER BY next_run_at LIMIT 1"),
	STMT(STMT_SPINNER_SET_NEXT, "UPDATE spinners SET next_run_at = ?2 WHERE id = ?1"),
	STMT(STMT_JOB_INSERT,
	    "INSERT INTO jobs (id, org_id, spinner_id, trigger, status, created_at) VALUES "
	    "(?1, ?2, ?3, ?4, 'queued', ?5)"),
	STMT(STMT_JOB_GET,
	    "SELECT seq, id, spinner_id, trigger, status, result, reason, created_at, "
	    "started_at, finished_at FROM jobs WHERE id = ?1 AND org_id = ?2"),
	/* ?2 NULL lists the jobs of every spinner */
	STMT_PG(STMT_JOB_LIST,
	    "SELECT seq, id, spinner_id, trigger, status, result, reason, created_at, "
	    "started_at, finished_at FROM jobs WHERE org_id = ?1 AND (?2 IS NULL OR "
	    "spinner_id = ?2) AND seq > ?3 ORDER BY seq LIMIT ?4",
	    "SELECT seq, id, spinner_id, trigger, status, result, reason, created_at, "
	    "started_at, finished_at FROM jobs WHERE org_id = ?1 AND (?2::text IS NULL OR "
	    "spinner_id = ?2::text) AND seq > ?3 ORDER BY seq LIMIT ?4"),
	/* runner ?1 at time ?2 takes the oldest job whose runner's lease ran out (its
	 * process died or stalled): one more attempt; it runs alone */
	STMT_PG(STMT_JOB_RECOVER,
	    "UPDATE jobs SET runner = ?1, lease_until = ?2 + ?3, started_at = ?2, attempts = "
	    "attempts + 1 WHERE seq = (SELECT seq FROM jobs INDEXED BY jobs_spinner_running "
	    "WHERE status = 'running' AND lease_until < ?2 ORDER BY seq LIMIT 1) RETURNING "
	    "id, org_id, spinner_id, attempts, seq",
	    "UPDATE jobs SET runner = ?1, lease_until = ?2 + ?3, started_at = ?2, attempts = "
	    "attempts + 1 WHERE seq = (SELECT seq FROM jobs WHERE status = 'running' AND "
	    "lease_until < ?2 ORDER BY seq LIMIT 1) RETURNING id, org_id, spinner_id, attempts, "
	    "seq"),
	/* runner ?1 at time ?2 takes the oldest queued job of a spinner with no running job
	 * (a spinner's jobs run one at a time, in order); ?4 = 1 counts an attempt and
	 * starts it now (the first job of a batch), 0 leaves both to when it starts.
	 * j.status IN ('queued', 'running') repeats the WHERE of the partial index
	 * jobs_open (sql/006), which SQLite uses only when the query names its condition as
	 * written; AND j.status = 'queued' is the filter itself. */
	STMT(STMT_JOB_CLAIM,
	    "UPDATE jobs SET status = 'running', runner = ?1, lease_until = ?2 + ?3, "
	    "started_at = CASE WHEN ?4 = 1 THEN ?2 END, attempts = attempts + ?4 WHERE seq = "
	    "(SELECT j.seq FROM jobs j WHERE j.status IN ('queued', 'running') AND j.status = "
	    "'queued' AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.spinner_id = j.spinner_id "
	    "AND o.status = 'running') ORDER BY j.seq LIMIT 1) RETURNING id, org_id, "
	    "spinner_id, attempts, seq"),
	/* with a job of spinner ?4 (seq ?5) just claimed, the next ?6 queued jobs of that
	 * spinner too, to run after it in order (RETURNING's order is not promised: the
	 * runner sorts by seq). Not an attempt yet, nor started: a crash while an earlier
	 * job of the batch runs does not count against them. */
	STMT(STMT_JOB_CLAIM_FOLLOWERS,
	    "UPDATE jobs SET status = 'running', runner = ?1, lease_until = ?2 + ?3 WHERE seq "
	    "IN (SELECT seq FROM jobs WHERE spinner_id = ?4 AND seq > ?5 AND status = "
	    "'queued' ORDER BY seq LIMIT ?6) RETURNING id, org_id, spinner_id, attempts, seq"),
	STMT(STMT_JOB_RENEW,
	    "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND runner = ?2 AND status = "
	    "'running'"),
	/* back to the queue, its attempt (?3: 1 if the claim counted one) not counted */
	STMT(STMT_JOB_RELEASE,
	    "UPDATE jobs SET status = 'queued', runner = NULL, lease_until = NULL, started_at "
	    "= NULL, attempts = attempts - ?3 WHERE id = ?1 AND runner = ?2 AND status = "
	    "'running'"),
	/* ?8 when it started (a job claimed behind another has no started_at) */
	STMT(STMT_JOB_FINISH,
	    "UPDATE jobs SET status = ?3, result = ?4, reason = ?5, last_seq = ?6, "
	    "finished_at = ?7, started_at = coalesce(started_at, ?8), lease_until = NULL "
	    "WHERE id = ?1 AND runner = ?2 AND status = 'running'"),
	STMT(STMT_JOB_SOURCE,
	    "SELECT s.table_id, t.schema FROM spinners s JOIN data_tables t ON t.id = "
	    "s.table_id WHERE s.id = ?1"),
	/* the newest record the spinner's succeeded jobs processed */
	STMT(STMT_JOB_FROM_SEQ,
	    "SELECT coalesce(max(last_seq), 0) FROM jobs WHERE spinner_id = ?1 AND status = "
	    "'succeeded'"),
	STMT(
	    STMT_JOB_RECORDS_END, "SELECT coalesce(max(seq), ?2) FROM records WHERE table_id = ?1"),
	/* the seq ?4 + 1 records after ?2 (no row: fewer are left) */
	STMT(STMT_JOB_CHUNK_END,
	    "SELECT seq FROM records WHERE table_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY "
	    "seq LIMIT 1 OFFSET ?4"),
	STMT(STMT_JOB_CHUNK_COUNT,
	    "SELECT count(*) FROM records WHERE table_id = ?1 AND seq > ?2 AND seq <= ?3"),
	/* per field, the records of (?2, ?3] where it is not null */
	STMT_PG(STMT_JOB_CHUNK_NONNULL,
	    "SELECT f.key, count(*) FROM records r, json_each(r.data) f WHERE r.table_id = ?1 "
	    "AND r.seq > ?2 AND r.seq <= ?3 AND f.type <> 'null' GROUP BY f.key",
	    "SELECT f.key, count(*) FROM records r, json_each(r.data::json) f WHERE r.table_id = "
	    "?1 AND r.seq > ?2 AND r.seq <= ?3 AND json_typeof(f.value) <> 'null' GROUP BY f.key "
	    "ORDER BY f.key COLLATE \"C\""),
	/* ---- webhooks.c, outbox.c, webhook_send.c ---- */
	STMT(STMT_WEBHOOK_INSERT,
	    "INSERT INTO webhooks (id, org_id, url, events, secret, created_at) VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6)"),
	STMT(STMT_WEBHOOK_GET,
	    "SELECT seq, id, url, events, created_at FROM webhooks WHERE id = ?1 AND org_id = ?2"),
	STMT(STMT_WEBHOOK_LIST,
	    "SELECT seq, id, url, events, created_at FROM webhooks WHERE org_id = ?1 AND seq > "
	    "?2 ORDER BY seq LIMIT ?3"),
	/* its deliveries go with it (ON DELETE CASCADE) */
	STMT(STMT_WEBHOOK_DELETE, "DELETE FROM webhooks WHERE id = ?1 AND org_id = ?2"),
	/* how many webhooks of org ?1 take events of type ?2 */
	STMT_PG(STMT_WEBHOOK_SUBSCRIBED,
	    "SELECT count(*) FROM webhooks w WHERE w.org_id = ?1 AND EXISTS (SELECT 1 FROM "
	    "json_each(w.events) j WHERE j.value = ?2)",
	    "SELECT count(*) FROM webhooks w WHERE w.org_id = ?1 AND EXISTS (SELECT 1 FROM "
	    "json_array_elements_text(w.events::json) j(value) WHERE j.value = ?2)"),
	/* no change when the mark ?2 was taken before */
	STMT(STMT_WEBHOOK_MARK,
	    "INSERT INTO webhook_marks (org_id, mark, at) VALUES (?1, ?2, ?3) ON CONFLICT "
	    "(org_id, mark) DO NOTHING"),
	STMT(STMT_WEBHOOK_EVENT_INSERT,
	    "INSERT INTO webhook_events (id, org_id, type, body, created_at) VALUES (?1, ?2, ?3, "
	    "?4, ?5)"),
	/* a pending delivery of event ?3 (type ?2) to every webhook of org ?1 that takes
	 * it, due now (?4), given up 24 hours (?5 seconds) later */
	STMT_PG(STMT_WEBHOOK_FAN_OUT,
	    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, next_attempt_at, "
	    "created_at, give_up_at) SELECT 'dlv_' || lower(hex(randomblob(10))), w.id, ?3, "
	    "'pending', ?4, ?4, ?4 + ?5 FROM webhooks w WHERE w.org_id = ?1 AND EXISTS (SELECT "
	    "1 FROM json_each(w.events) j WHERE j.value = ?2) ORDER BY w.seq",
	    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, next_attempt_at, "
	    "created_at, give_up_at) SELECT 'dlv_' || substr(md5(gen_random_uuid()::text), 1, 20), "
	    "w.id, ?3, 'pending', ?4, ?4, ?4 + ?5 FROM webhooks w WHERE w.org_id = ?1 AND EXISTS "
	    "(SELECT 1 FROM json_array_elements_text(w.events::json) j(value) WHERE j.value = "
	    "?2::text) ORDER BY w.seq"),
	/* the deliveries of webhook ?1 of org ?2 */
	STMT(STMT_DELIVERY_LIST,
	    "SELECT d.seq, d.id, d.event_id, e.type, d.status, d.attempts, d.last_status, "
	    "d.last_error, d.last_attempt_at, CASE WHEN d.status = 'pending' THEN "
	    "d.next_attempt_at END, d.created_at FROM webhook_deliveries d JOIN webhooks w ON "
	    "w.id = d.webhook_id JOIN webhook_events e ON e.id = d.event_id WHERE d.webhook_id = "
	    "?1 AND w.org_id = ?2 AND d.seq > ?3 ORDER BY d.seq LIMIT ?4"),
	/* delivery ?1 of webhook ?2 of org ?3, columns as STMT_DELIVERY_LIST */
	STMT(STMT_DELIVERY_GET,
	    "SELECT d.seq, d.id, d.event_id, e.type, d.status, d.attempts, d.last_status, "
	    "d.last_error, d.last_attempt_at, CASE WHEN d.status = 'pending' THEN "
	    "d.next_attempt_at END, d.created_at FROM webhook_deliveries d JOIN webhooks w ON "
	    "w.id = d.webhook_id JOIN webhook_events e ON e.id = d.event_id WHERE d.id = ?1 AND "
	    "d.webhook_id = ?2 AND w.org_id = ?3"),
	/* due now (?4) again, for another 24 hours (?5 seconds), its lease (if a sender
	 * holds it) void */
	STMT(STMT_DELIVERY_RETRY,
	    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?4, give_up_at "
	    "= ?4 + ?5, sender = NULL, lease_until = NULL WHERE id = ?1 AND webhook_id = ?2 AND "
	    "webhook_id IN (SELECT id FROM webhooks WHERE org_id = ?3)"),
	/* sender ?1 at time ?2 leases (for ?3 seconds) up to ?4 due deliveries no live
	 * lease holds: one more attempt each */
	STMT(STMT_DELIVERY_CLAIM,
	    "UPDATE webhook_deliveries SET sender = ?1, lease_until = ?2 + ?3, attempts = "
	    "attempts + 1 WHERE seq IN (SELECT seq FROM webhook_deliveries WHERE status = "
	    "'pending' AND next_attempt_at <= ?2 AND (lease_until IS NULL OR lease_until < ?2) "
	    "ORDER BY next_attempt_at, seq LIMIT ?4) RETURNING id, attempts, give_up_at"),
	/* what an attempt of delivery ?1 sends, and where */
	STMT(STMT_DELIVERY_TARGET,
	    "SELECT w.id, w.url, w.secret, e.id, e.type, e.body FROM webhook_deliveries d JOIN "
	    "webhooks w ON w.id = d.webhook_id JOIN webhook_events e ON e.id = d.event_id WHERE "
	    "d.id = ?1"),
	/* by the sender ?2 that holds it */
	STMT(STMT_DELIVERY_FINISH,
	    "UPDATE webhook_deliveries SET status = ?3, last_status = NULLIF(?4, 0), last_error "
	    "= ?5, last_attempt_at = ?6, next_attempt_at = ?7, sender = NULL, lease_until = NULL "
	    "WHERE id = ?1 AND sender = ?2"),
	/* unsent (the sender stops): its attempt not counted */
	STMT(STMT_DELIVERY_RELEASE,
	    "UPDATE webhook_deliveries SET sender = NULL, lease_until = NULL, attempts = "
	    "attempts - 1 WHERE id = ?1 AND sender = ?2"),
	/* at time ?1, unrevoked keys expiring within 7 days (?2 seconds) of organizations
	 * with a webhook taking key.expiring, whose notice for that time left (7d, or 1d
	 * within ?3 seconds) is not marked yet */
	STMT_PG(STMT_WEBHOOK_KEYS_EXPIRING,
	    "SELECT k.id, k.org_id, k.name, k.expires_at, CASE WHEN k.expires_at - ?1 <= ?3 THEN "
	    "'1d' ELSE '7d' END FROM webhooks w JOIN api_keys k ON k.org_id = w.org_id WHERE "
	    "EXISTS (SELECT 1 FROM json_each(w.events) j WHERE j.value = 'key.expiring') AND "
	    "k.revoked_at IS NULL AND k.expires_at > ?1 AND k.expires_at <= ?1 + ?2 AND NOT "
	    "EXISTS (SELECT 1 FROM webhook_marks m WHERE m.org_id = k.org_id AND m.mark = "
	    "'key.expiring:' || k.id || ':' || CASE WHEN k.expires_at - ?1 <= ?3 THEN '1d' ELSE "
	    "'7d' END) GROUP BY k.id LIMIT 32",
	    "SELECT k.id, k.org_id, k.name, k.expires_at, CASE WHEN k.expires_at - ?1 <= ?3 THEN "
	    "'1d' ELSE '7d' END FROM webhooks w JOIN api_keys k ON k.org_id = w.org_id WHERE "
	    "EXISTS (SELECT 1 FROM json_array_elements_text(w.events::json) j(value) WHERE "
	    "j.value = 'key.expiring') AND k.revoked_at IS NULL AND k.expires_at > ?1 AND "
	    "k.expires_at <= ?1 + ?2 AND NOT EXISTS (SELECT 1 FROM webhook_marks m WHERE m.org_id "
	    "= k.org_id AND m.mark = 'key.expiring:' || k.id || ':' || CASE WHEN k.expires_at - ?1 "
	    "<= ?3 THEN '1d' ELSE '7d' END) GROUP BY k.id, k.org_id, k.name, k.expires_at LIMIT "
	    "32"),
	/* whether STMT_DELIVERY_CLAIM at time ?1 would find one (a read, so an idle sender
	 * takes no write lock) */
	STMT(STMT_DELIVERY_DUE,
	    "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1 "
	    "AND (lease_until IS NULL OR lease_until < ?1) LIMIT 1"),
	/* The store's own. */
	/* A read snapshot (db_read_begin). */
	STMT_PG(STMT_TX_BEGIN, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
	/* A write transaction, one at a time: SQLite's write lock; on PostgreSQL a
	 * transaction-scoped advisory lock (one fixed key) every writer of every
	 * process on every host takes first, so the work of db_write runs alone
	 * as it does on SQLite, and each of its statements sees every write
	 * committed before it (READ COMMITTED). */
	STMT_PG(STMT_TX_BEGIN_IMMEDIATE, "BEGIN IMMEDIATE",
	    "BEGIN; SELECT pg_advisory_xact_lock(8390043843661231205)"),
	STMT(STMT_TX_COMMIT, "COMMIT"),
	STMT(STMT_TX_ROLLBACK, "ROLLBACK"),
	STMT(STMT_TX_SAVEPOINT, "SAVEPOINT work"),
	STMT(STMT_TX_RELEASE, "RELEASE work"),
	STMT(STMT_TX_ROLLBACK_TO, "ROLLBACK TO work"),
	STMT(STMT_PRAGMA_WAL, "PRAGMA journal_mode=WAL"),
	STMT(STMT_PRAGMA_SYNCHRONOUS, "PRAGMA synchronous=NORMAL"),
	STMT(STMT_PRAGMA_FOREIGN_KEYS, "PRAGMA foreign_keys=ON"),
	STMT(STMT_VERSION_GET, "PRAGMA user_version"),
	/* db_migrate appends the version: a PRAGMA takes no parameters. */
	STMT(STMT_VERSION_SET, "PRAGMA user_version = "),
	/* backup.c, on connections of its own. */
	STMT(STMT_BACKUP_SCHEMA_COUNT, "SELECT count(*) FROM sqlite_schema"),
	STMT(STMT_BACKUP_JOURNAL_DELETE, "PRAGMA journal_mode=DELETE"),
	STMT(STMT_BACKUP_INTEGRITY_CHECK, "PRAGMA integrity_check"),
	/* copystore.c: on its SQLite connection, the source's tables in the
	 * order they were made */
	STMT(STMT_COPY_TABLES,
	    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
	    "ESCAPE '\\' ORDER BY rowid"),
	/* the tables table ?1 refers to */
	STMT(STMT_COPY_PARENTS, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)"),
	/* table ?1's columns in order */
	STMT(STMT_COPY_COLUMNS, "SELECT name FROM pragma_table_info(?1) ORDER BY cid"),
	/* copystore.c, on its PostgreSQL connection (libpq's $N): the schema
	 * version applied */
	STMT(STMT_COPY_PG_VERSION, "SELECT coalesce(max(version), 0) FROM tollgate_schema"),
	/* table $1's columns in order, and whether each is an identity column */
	STMT(STMT_COPY_PG_COLUMNS,
	    "SELECT column_name, is_identity FROM information_schema.columns WHERE table_schema = "
	    "current_schema() AND table_name = $1 ORDER BY ordinal_position"),

};

/* The migrations, in order: their text comes from sql/ through migrations.S. */
extern const char tg_sql_001[], tg_sql_002[], tg_sql_003[], tg_sql_004[], tg_sql_005[];
extern const char tg_sql_006[], tg_sql_007[], tg_sql_008[], tg_sql_009[], tg_sql_010[];
extern const char tg_sql_011[], tg_sql_012[], tg_sql_013[], tg_sql_014[], tg_sql_015[];
extern const char tg_pg_001[], tg_pg_002[], tg_pg_003[], tg_pg_004[], tg_pg_005[];
extern const char tg_pg_006[], tg_pg_007[], tg_pg_008[], tg_pg_009[], tg_pg_010[];
extern const char tg_pg_011[], tg_pg_012[], tg_pg_013[], tg_pg_014[], tg_pg_015[];
/* Each step for SQLite (sql/) and for PostgreSQL (sql/pg/): the same
 * schema after the same step on either store. */
static const struct migration {
	const char *name;
	const char *sql, *pg;
} migrations[] = {
	{ "001_foundation", tg_sql_001, tg_pg_001 },
	{ "002_identity", tg_sql_002, tg_pg_002 },
	{ "003_api_keys", tg_sql_003, tg_pg_003 },
	{ "004_projects", tg_sql_004, tg_pg_004 },
	{ "005_tables", tg_sql_005, tg_pg_005 },
	{ "006_spinners", tg_sql_006, tg_pg_006 },
	{ "007_idempotency_expiry", tg_sql_007, tg_pg_007 },
	{ "008_job_indexes", tg_sql_008, tg_pg_008 },
	{ "009_idempotency_claim", tg_sql_009, tg_pg_009 },
	{ "010_devices", tg_sql_010, tg_pg_010 },
	{ "011_plan_rate_limits", tg_sql_011, tg_pg_011 },
	{ "012_session_activity", tg_sql_012, tg_pg_012 },
	{ "013_webhooks", tg_sql_013, tg_pg_013 },
	{ "014_rate_buckets", tg_sql_014, tg_pg_014 },
	{ "015_rate_take_clock", tg_sql_015, tg_pg_015 },
};

struct db {
	struct pg *pg; /* the PostgreSQL store, or NULL for SQLite's conn */
	sqlite3 *conn;
	sqlite3_stmt *prepared[STMT__COUNT];
	char rid[65]; /* the request being served, for the logs (db_log_request) */
	int reading; /* inside db_read_begin's transaction */
	int writing; /* holds writer_lock: between db_begin and commit/rollback */
};

int
db_in_write(const struct db *db)
{
	return db->writing;
}

/* One writer at a time in this process. SQLite lets one connection write
 * at a time and makes the others retry after a sleep (db_busy_wait);
 * threads of one process wait here instead and one is woken the moment the
 * writer before it commits. Writers of other processes on the same file
 * still meet in SQLite's lock: a write can wait DB_BUSY_TIMEOUT_MS here and
 * as long again there. */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;

static int
db_rc_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: return DB_OK;
	case SQLITE_ROW: return DB_ROW;
	case SQLITE_DONE: return DB_DONE;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return DB_BUSY;
	case SQLITE_CONSTRAINT: return DB_CONSTRAINT;
	default: return DB_ERROR;
	}
}

/* Process-wide SQLite settings, before its first use. Memory statistics
 * off: they put one global mutex around every allocation SQLite makes,
 * which the worker threads queued on (futex wake-ups on every request). */
static void
db_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The request id for db's log lines, or NULL outside a request. */
static const char *
db_rid(const struct db *db)
{
	return db->rid[0] != '\0' ? db->rid : NULL;
}

/* The text of statement s on db's store. */
static const char *
db_text_of(const struct db *db, enum stmt s)
{
	return db->pg != NULL && stmts[s].pg != NULL ? stmts[s].pg : stmts[s].sql;
}

/* Inside a transaction (SQLite: not in autocommit mode). */
static int
db_in_tx(struct db *db)
{
	return db->pg != NULL ? pg_in_tx(db->pg) : !sqlite3_get_autocommit(db->conn);
}

static int db_begin(struct db *db);
static int db_commit(struct db *db);
static void db_rollback(struct db *db);

static atomic_ulong busy_retries; /* waits in db_busy_wait (/v1/metrics) */

/* SQLite's busy handler: waits for another process's writer (or a
 * checkpoint) with a growing pause (50 us to 20 ms) for up to
 * DB_BUSY_TIMEOUT_MS in all, counting each wait for /v1/metrics; then the
 * call fails with SQLITE_BUSY (503). Threads of this process do not get
 * here for each other's writes: they queue on writer_lock. */
static int
db_busy_wait(void *unused, int n)
{
	static const long pauses_us[] = { 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000 };
	enum { NPAUSES = sizeof(pauses_us) / sizeof(pauses_us[0]) };
	struct timespec ts;
	long waited = 0, pause = pauses_us[n < NPAUSES ? n : NPAUSES - 1];

	(void)unused;
	for (int i = 0; i < n; i++)
		waited += pauses_us[i < NPAUSES ? i : NPAUSES - 1];
	if (waited >= DB_BUSY_TIMEOUT_MS * 1000L)
		return 0;
	atomic_fetch_add_explicit(&busy_retries, 1, memory_order_relaxed);
	ts.tv_sec = pause / 1000000;
	ts.tv_nsec = pause % 1000000 * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

int
db_files_private(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[4096];
	struct stat st;
	int rc = 0;

	if (path == NULL || *path == '\0' || strcmp(path, ":memory:") == 0 ||
	    strncmp(path, "file:", 5) == 0 || db_is_url(path))
		return 0;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix[i]) >= sizeof(p))
			return -1;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
		    chmod(p, st.st_mode & 0700) < 0) {
			log_msg(NULL, "db: chmod %s: %s", p, strerror(errno));
			rc = -1;
		}
	}
	return rc;
}

struct db *
db_open(const char *path, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct db *db;
	char *msg = NULL;

	pthread_once(&once, db_configure);
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (db_is_url(path)) {
		if ((db->pg = pg_open(path, STMT__COUNT, err, errlen)) == NULL) {
			free(db);
			return NULL;
		}
		return db;
	}
	if (sqlite3_open_v2(path, &db->conn,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		    db->conn ? sqlite3_errmsg(db->conn) : "out of memory");
		goto fail;
	}
	/* Before WAL mode makes the -wal and -shm files, which SQLite creates
	 * with the database's mode: an earlier version's 0644 becomes 0600. */
	(void)db_files_private(path); /* logged; the database still serves */
	sqlite3_busy_handler(db->conn, db_busy_wait, NULL);
	sqlite3_extended_result_codes(db->conn, 1);
	for (enum stmt p = STMT_PRAGMA_WAL; p <= STMT_PRAGMA_FOREIGN_KEYS; p++) {
		if (sqlite3_exec(db->conn, stmts[p].sql, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "cannot set up database %s: %s: %s", path,
			    stmts[p].sql, msg ? msg : "?");
			sqlite3_free(msg);
			goto fail;
		}
	}
	return db;
fail:
	sqlite3_close(db->conn);
	free(db);
	return NULL;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db_rollback(db); /* releases writer_lock if a transaction was left open */
	for (int i = 0; i < STMT__COUNT; i++)
		sqlite3_finalize(db->prepared[i]);
	sqlite3_close(db->conn);
	pg_close(db->pg);
	free(db);
}

int
db_migration_count(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

int
db_version(struct db *db)
{
	sqlite3_stmt *s;
	int v = -1;

	if (db->pg != NULL)
		return pg_schema_version(db->pg);
	if (sqlite3_prepare_v2(db->conn, stmts[STMT_VERSION_GET].sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* db_migrate on PostgreSQL: one process at a time (a session advisory
 * lock), each step in a transaction of its own with its version. */
static int
db_migrate_pg(struct db *db)
{
	int applied = 0, v;

	if (pg_schema_lock(db->pg) < 0 || (v = pg_schema_version(db->pg)) < 0) {
		log_msg(NULL, "migrate: cannot read the schema version");
		return -1;
	}
	for (int i = v; i < db_migration_count(); i++) {
		if (pg_exec(db->pg, NULL, "BEGIN") != DB_OK ||
		    pg_exec(db->pg, NULL, migrations[i].pg) != DB_OK ||
		    pg_schema_set(db->pg, i + 1, migrations[i].name) != DB_OK ||
		    pg_exec(db->pg, NULL, "COMMIT") != DB_OK) {
			log_msg(NULL, "migrate: %s failed", migrations[i].name);
			(void)pg_exec(db->pg, NULL, "ROLLBACK");
			pg_schema_unlock(db->pg);
			return -1;
		}
		log_msg(NULL, "migrate: applied %s", migrations[i].name);
		applied++;
	}
	pg_schema_unlock(db->pg);
	return applied;
}

int
db_migrate(struct db *db)
{
	int applied = 0;

	if (db->pg != NULL)
		return db_migrate_pg(db);

	for (int i = 0; i < db_migration_count(); i++) {
		char *msg = NULL, pragma[64];
		int rc;

		/* Take the write lock first, then look: two processes starting at
		 * once apply each step exactly once. */
		if (db_begin(db) != DB_OK) {
			log_msg(NULL, "migrate: cannot begin: %s", sqlite3_errmsg(db->conn));
			return -1;
		}
		if (db_version(db) > i) {
			db_rollback(db);
			continue;
		}
		snprintf(pragma, sizeof(pragma), "%s%d", stmts[STMT_VERSION_SET].sql, i + 1);
		rc = sqlite3_exec(db->conn, migrations[i].sql, NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db->conn, pragma, NULL, NULL, &msg);
		if (rc != SQLITE_OK || db_commit(db) != DB_OK) {
			log_msg(NULL, "migrate: %s: %s", migrations[i].name,
			    msg ? msg : sqlite3_errmsg(db->conn));
			sqlite3_free(msg);
			db_rollback(db);
			return -1;
		}
		log_msg(NULL, "migrate: applied %s", migrations[i].name);
		applied++;
	}
	return applied;
}

static sqlite3_stmt *db_stmt(struct db *db, enum stmt s);

/* Runs one of the transaction statements (STMT_TX_*): DB_OK, DB_BUSY or
 * DB_ERROR. */
static int
db_tx(struct db *db, enum stmt t)
{
	sqlite3_stmt *st;
	int rc;

	if (db->pg != NULL)
		return pg_exec(db->pg, db_rid(db), db_text_of(db, t));
	st = db_stmt(db, t);
	if (st == NULL)
		return DB_ERROR;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? DB_OK : db_rc_of(rc);
}

/* Takes writer_lock, waiting at most DB_BUSY_TIMEOUT_MS: DB_OK, DB_BUSY, or
 * DB_ERROR for a write transaction begun inside another (a bug). */
static int
writer_enter(struct db *db)
{
	struct timespec until;

	if (db->writing) { /* the thread would wait for itself */
		log_msg(db_rid(db), "db: a write transaction began inside another");
		return DB_ERROR;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DB_BUSY_TIMEOUT_MS / 1000;
	until.tv_nsec += DB_BUSY_TIMEOUT_MS % 1000 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_clocklock(&writer_lock, CLOCK_MONOTONIC, &until) != 0)
		return DB_BUSY;
	db->writing = 1;
	return DB_OK;
}

static void
writer_leave(struct db *db)
{
	if (db->writing) {
		db->writing = 0;
		pthread_mutex_unlock(&writer_lock);
	}
}

static int
db_begin(struct db *db)
{
	int rc;

	db_read_end(db);
	if ((rc = writer_enter(db)) != DB_OK)
		return rc;
	/* On PostgreSQL the BEGIN may stand while its lock timed out: the
	 * rollback ends that failed transaction too. */
	if ((rc = db_tx(db, STMT_TX_BEGIN_IMMEDIATE)) != DB_OK)
		db_rollback(db);
	return rc;
}

int
db_write(struct db *db, db_work_fn *fn, void *arg)
{
	int rc;

	if ((rc = db_begin(db)) != DB_OK)
		return rc;
	if ((rc = fn(db, arg)) != DB_OK) {
		db_rollback(db);
		return rc;
	}
	return db_commit(db); /* on failure it rolled back */
}

/* ---- group commit ----
 * Threads that want a small write transaction at the same moment share
 * one: the first becomes the leader and runs every piece of work queued by
 * then, each in a savepoint of its own, between one BEGIN IMMEDIATE and one
 * COMMIT; the others wait and get their piece's answer. A commit writes
 * each changed page to the WAL once, however many pieces changed it. */

struct work {
	db_work_fn *fn;
	void *arg;
	int rc, ran, done;
	struct work *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct work *head, *tail;
	int leading;
	atomic_long commits, pieces; /* groups and pieces committed (/v1/metrics) */
} group = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Runs the pieces of batch in one transaction on db, setting each one's rc. */
static void
group_run(struct db *db, struct work *batch)
{
	int rc = db_begin(db), n = 0;

	for (struct work *w = batch; w != NULL; w = w->next) {
		if (rc == DB_OK && (rc = db_tx(db, STMT_TX_SAVEPOINT)) == DB_OK) {
			w->ran = 1;
			w->rc = w->fn(db, w->arg);
			if (!db_in_tx(db)) {
				/* The store gave the whole transaction up (an I/O error, a
				 * full disk, a lost connection): nothing of any piece is
				 * kept. */
				rc = w->rc != DB_OK ? w->rc : DB_ERROR;
				break;
			}
			if (w->rc != DB_OK && db_tx(db, STMT_TX_ROLLBACK_TO) != DB_OK)
				rc = DB_ERROR;
			if (rc == DB_OK)
				rc = db_tx(db, STMT_TX_RELEASE);
			n++;
		}
		if (rc != DB_OK)
			break;
	}
	if (rc == DB_OK)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc == DB_OK) {
		atomic_fetch_add(&group.commits, 1);
		atomic_fetch_add(&group.pieces, n);
		return;
	}
	for (struct work *w = batch; w != NULL; w = w->next)
		if (!w->ran || w->rc == DB_OK) /* not run, or undone with the rest */
			w->rc = rc;
}

const char *
db_sql(enum stmt s)
{
	return stmts[s].sql;
}

const char *
db_sql_pg(enum stmt s)
{
	return stmts[s].pg != NULL ? stmts[s].pg : stmts[s].sql;
}

void
db_log_request(struct db *db, const char *rid)
{
	size_t n = rid != NULL ? strnlen(rid, sizeof(db->rid) - 1) : 0;

	if (db == NULL)
		return;
	memcpy(db->rid, rid != NULL ? rid : "", n);
	db->rid[n] = '\0';
}

unsigned long
db_busy_retries(void)
{
	return atomic_load_explicit(&busy_retries, memory_order_relaxed);
}

void
db_group_counts(unsigned long *commits, unsigned long *pieces)
{
	*commits = (unsigned long)atomic_load(&group.commits);
	*pieces = (unsigned long)atomic_load(&group.pieces);
}

int
db_write_grouped(struct db *db, db_work_fn *fn, void *arg)
{
	struct work me = { .fn = fn, .arg = arg };
	struct work *batch;

	db_read_end(db); /* as db_begin: no snapshot held while others write */
	pthread_mutex_lock(&group.mu);
	if (group.tail != NULL)
		group.tail->next = &me;
	else
		group.head = &me;
	group.tail = &me;
	while (!me.done && group.leading)
		pthread_cond_wait(&group.cv, &group.mu);
	if (me.done) {
		pthread_mutex_unlock(&group.mu);
		return me.rc;
	}
	/* Lead: take every piece queued by now, this one among them, after a
	 * moment for the pieces on their way. */
	group.leading = 1;
	pthread_mutex_unlock(&group.mu);
	nanosleep(&(struct timespec){ .tv_nsec = GROUP_GATHER_US * 1000L }, NULL);
	pthread_mutex_lock(&group.mu);
	batch = group.head;
	group.head = group.tail = NULL;
	pthread_mutex_unlock(&group.mu);

	group_run(db, batch);

	pthread_mutex_lock(&group.mu);
	for (struct work *w = batch, *next; w != NULL; w = next) {
		next = w->next; /* w is gone once done is seen */
		w->done = 1;
	}
	group.leading = 0;
	pthread_cond_broadcast(&group.cv);
	pthread_mutex_unlock(&group.mu);
	return me.rc;
}

int
db_read_begin(struct db *db)
{
	int rc;

	if (db != NULL && db->pg != NULL && pg_tx_failed(db->pg))
		db_rollback(db); /* a failed transaction left behind serves nothing */
	if (db == NULL || db_in_tx(db))
		return DB_OK; /* already inside a transaction */
	rc = db_tx(db, STMT_TX_BEGIN);
	db->reading = rc == DB_OK;
	return rc;
}

void
db_read_end(struct db *db)
{
	if (db == NULL || !db->reading)
		return;
	db->reading = 0;
	if (db_in_tx(db) && db_tx(db, STMT_TX_COMMIT) != DB_OK)
		db_rollback(db);
}

static int
db_commit(struct db *db)
{
	/* PostgreSQL answers COMMIT of a failed transaction with a rollback:
	 * nothing of it is kept, which the caller must hear. */
	int rc = db->pg != NULL && pg_tx_failed(db->pg) ? DB_ERROR : db_tx(db, STMT_TX_COMMIT);

	if (rc != DB_OK)
		db_rollback(db);
	writer_leave(db);
	return rc;
}

static void
db_rollback(struct db *db)
{
	if (db_in_tx(db))
		db_tx(db, STMT_TX_ROLLBACK);
	writer_leave(db);
}

/* The prepared statement s, reset with its bindings cleared; NULL on error. */
static sqlite3_stmt *
db_stmt(struct db *db, enum stmt s)
{
	if (db->prepared[s] == NULL) {
		if (sqlite3_prepare_v3(db->conn, stmts[s].sql, -1, SQLITE_PREPARE_PERSISTENT,
		        &db->prepared[s], NULL) != SQLITE_OK) {
			log_msg(db_rid(db), "db: prepare %s: %s", stmts[s].name,
			    sqlite3_errmsg(db->conn));
			return NULL;
		}
	} else {
		sqlite3_reset(db->prepared[s]);
		sqlite3_clear_bindings(db->prepared[s]);
	}
	return db->prepared[s];
}

/* Binds the values of types to st (statement s, just reset) and steps it once. */
static int
db_bind_step(struct db *db, enum stmt s, sqlite3_stmt *st, const char *types, va_list ap)
{
	int rc;

	if (st == NULL)
		return DB_ERROR;
	/* A types string that does not match the statement is a bug: say so. */
	if ((int)strlen(types) != sqlite3_bind_parameter_count(st)) {
		log_msg(db_rid(db), "db: %s takes %d values, given %zu", stmts[s].name,
		    sqlite3_bind_parameter_count(st), strlen(types));
		return DB_ERROR;
	}
	for (int i = 1; types[i - 1] != '\0'; i++) {
		switch (types[i - 1]) {
		case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
		case 'd': rc = sqlite3_bind_double(st, i, va_arg(ap, double)); break;
		case 't': {
			const char *t = va_arg(ap, const char *);

			rc = t ? sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, i);
			break;
		}
		default: rc = SQLITE_MISUSE;
		}
		if (rc != SQLITE_OK) {
			log_msg(db_rid(db), "db: bind %d of %s: %s", i, stmts[s].name,
			    sqlite3_errstr(rc));
			return DB_ERROR;
		}
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		if (db_rc_of(rc) != DB_BUSY && db_rc_of(rc) != DB_CONSTRAINT)
			log_msg(
			    db_rid(db), "db: step %s: %s", stmts[s].name, sqlite3_errmsg(db->conn));
		sqlite3_reset(st);
	}
	return db_rc_of(rc);
}

int
db_query(struct db *db, enum stmt s, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	if (db->pg != NULL)
		rc = pg_query(db->pg, db_rid(db), s, stmts[s].name, db_text_of(db, s), types, ap);
	else
		rc = db_bind_step(db, s, db_stmt(db, s), types, ap);
	va_end(ap);
	return rc;
}

int
db_run(struct db *db, enum stmt s, const char *types, ...)
{
	sqlite3_stmt *st = db->pg != NULL ? NULL : db_stmt(db, s);
	va_list ap;
	int rc, alone = 0;
	int reads = db->pg != NULL ? strncmp(stmts[s].sql, "SELECT", 6) == 0
	                           : st != NULL && sqlite3_stmt_readonly(st);

	/* A write outside a write transaction is a transaction of its own: it
	 * ends a read snapshot (db_read_begin) first, as db_begin does, and
	 * queues on writer_lock like db_begin's. On PostgreSQL it is one
	 * statement, atomic by itself, that takes no advisory lock. */
	if (!db->writing && !reads && (db->pg != NULL || st != NULL)) {
		db_read_end(db);
		if (!db_in_tx(db)) {
			if ((rc = writer_enter(db)) != DB_OK)
				return rc;
			alone = 1;
		}
	}
	va_start(ap, types);
	if (db->pg != NULL)
		rc = pg_query(db->pg, db_rid(db), s, stmts[s].name, db_text_of(db, s), types, ap);
	else
		rc = db_bind_step(db, s, st, types, ap);
	va_end(ap);
	db_end(db, s);
	if (alone)
		writer_leave(db);
	return rc == DB_ROW || rc == DB_DONE ? DB_OK : rc;
}

void
db_batch_begin(struct db *db)
{
	if (db->pg != NULL && db->writing)
		(void)pg_batch_begin(db->pg); /* else each runs at once */
}

int
db_batch_end(struct db *db)
{
	return db->pg != NULL ? pg_batch_end(db->pg, db_rid(db)) : DB_OK;
}

int
db_next(struct db *db, enum stmt s)
{
	int rc;

	if (db->pg != NULL)
		return pg_next(db->pg, s);
	rc = sqlite3_step(db->prepared[s]);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_msg(db_rid(db), "db: step %s: %s", stmts[s].name, sqlite3_errmsg(db->conn));
	return db_rc_of(rc);
}

void
db_end(struct db *db, enum stmt s)
{
	if (db->pg != NULL)
		pg_end(db->pg, s);
	else if (db->prepared[s] != NULL)
		sqlite3_reset(db->prepared[s]);
}

int64_t
db_int(struct db *db, enum stmt s, int col)
{
	const char *v;

	if (db->pg == NULL)
		return sqlite3_column_int64(db->prepared[s], col);
	/* A boolean (a comparison's result) reads as 1 or 0, as on SQLite. */
	if ((v = pg_value(db->pg, s, col)) == NULL || strcmp(v, "f") == 0)
		return 0;
	return strcmp(v, "t") == 0 ? 1 : strtoll(v, NULL, 10);
}

double
db_double(struct db *db, enum stmt s, int col)
{
	const char *v;

	if (db->pg == NULL)
		return sqlite3_column_double(db->prepared[s], col);
	return (v = pg_value(db->pg, s, col)) != NULL ? strtod(v, NULL) : 0;
}

const char *
db_text(struct db *db, enum stmt s, int col)
{
	const unsigned char *t;
	const char *v;

	if (db->pg != NULL)
		return (v = pg_value(db->pg, s, col)) != NULL ? v : "";
	t = sqlite3_column_text(db->prepared[s], col);
	return t ? (const char *)t : "";
}

int
db_isnull(struct db *db, enum stmt s, int col)
{
	if (db->pg != NULL)
		return pg_value(db->pg, s, col) == NULL;
	return sqlite3_column_type(db->prepared[s], col) == SQLITE_NULL;
}

int64_t
db_changes(struct db *db)
{
	return db->pg != NULL ? pg_changes(db->pg) : sqlite3_changes64(db->conn);
}
