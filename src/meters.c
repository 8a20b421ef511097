/* meters.c: the plan meters. projects, users and apiKeys count live
 * objects (an API key is live until its revokedAt, so an old key in its
 * grace period after a rotation holds its slot); jobs and records count per calendar month (UTC) in
 * the usage table, keyed by month so the reset on the 1st needs no job. A meter is read and taken
 * inside the same BEGIN IMMEDIATE transaction as what it counts, so limits hold exactly under
 * concurrency. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mw.h"

/* In enum meter order, as STMT_METERS answers them: for meter m, the
 * limit is column 2 + m and the use column 7 + m. Only the meters of live
 * objects can be freed; monthly ones reset. */
static const struct {
	const char *name; /* in the API */
	const char *usage; /* in the usage table, for monthly meters */
	const char *one, *many; /* in people's words */
	const char *free; /* how to free capacity; NULL: monthly */
} meters[METER__COUNT] = {
	[METER_PROJECTS] = { "projects", NULL, "project", "projects",
	    "delete a project you no longer need" },
	[METER_USERS] = { "users", NULL, "user", "users",
	    "remove a user who no longer needs access" },
	[METER_API_KEYS] = { "apiKeys", NULL, "API key", "API keys",
	    "revoke a key you no longer use" },
	[METER_JOBS] = { "jobs", "jobs", "job", "jobs", NULL },
	[METER_RECORDS] = { "records", "records", "record", "records", NULL },
};

const char *
meter_name(enum meter m)
{
	return meters[m].name;
}

void
meter_period(int64_t t, char *out, size_t outlen, int64_t *next_start)
{
	if (tg_month(t, out, outlen, next_start) < 0) { /* not a date this side of 9999 */
		snprintf(out, outlen, "0000-00");
		if (next_start != NULL)
			*next_start = 0;
	}
}

int
meter_read_all(struct db *db, const char *org_id, struct meter_state st[METER__COUNT],
    char *plan_id, char *plan_name, size_t planlen)
{
	char period[32];
	int64_t resets;
	int rc;

	meter_period(tg_now(), period, sizeof(period), &resets);
	rc = db_query(db, STMT_METERS, "tti", org_id, period, tg_now());
	if (rc == DB_ROW) {
		if (plan_id != NULL)
			snprintf(plan_id, planlen, "%s", db_text(db, STMT_METERS, 0));
		if (plan_name != NULL)
			snprintf(plan_name, planlen, "%s", db_text(db, STMT_METERS, 1));
		for (int m = 0; m < METER__COUNT; m++) {
			st[m].meter = (enum meter)m;
			st[m].limit =
			    db_isnull(db, STMT_METERS, 2 + m) ? -1 : db_int(db, STMT_METERS, 2 + m);
			st[m].used = db_int(db, STMT_METERS, 7 + m);
			st[m].resets_at = meters[m].usage != NULL ? resets : 0;
		}
	}
	db_end(db, STMT_METERS);
	return rc == DB_ROW ? DB_OK : rc == DB_DONE ? DB_ERROR : rc;
}

int
meter_read(struct db *db, const char *org_id, enum meter m, struct meter_state *st)
{
	struct meter_state all[METER__COUNT];
	int rc = meter_read_all(db, org_id, all, NULL, NULL, 0);

	if (rc == DB_OK)
		*st = all[m];
	return rc;
}

/* The members of meter st's object. */
static void
meter_members(struct jw *w, const struct meter_state *st)
{
	jw_string(w, "meter", meters[st->meter].name);
	jw_int(w, "used", st->used);
	if (st->limit < 0)
		jw_null(w, "limit");
	else
		jw_int(w, "limit", st->limit);
	jw_time(w, "resetsAt", st->resets_at);
}

void
meter_write(struct jw *w, const char *key, const struct meter_state *st)
{
	jw_object(w, key);
	meter_members(w, st);
	jw_object_end(w);
}

int
meter_take(struct db *db, const char *org_id, enum meter m, int64_t n, struct meter_state *st)
{
	int rc = meter_read(db, org_id, m, st);

	return rc != DB_OK ? rc : meter_add(db, org_id, st, n);
}

int
meter_add(struct db *db, const char *org_id, struct meter_state *st, int64_t n)
{
	enum meter m = st->meter;
	char period[32];
	int rc;

	if (st->limit >= 0 && st->used + n > st->limit)
		return METER_FULL;
	if (meters[m].usage != NULL && n > 0) {
		meter_period(tg_now(), period, sizeof(period), NULL);
		rc = db_run(db, STMT_USAGE_ADD, "ttti", org_id, meters[m].usage, period, n);
		if (rc != DB_OK)
			return rc;
	}
	st->used += n;
	return DB_OK;
}

/* n with a comma between thousands ("10,000"). */
static void
num_format(int64_t n, char *out, size_t outlen)
{
	char digits[32];
	size_t len, o = 0;

	snprintf(digits, sizeof(digits), "%lld", (long long)(n < 0 ? 0 : n));
	len = strlen(digits);
	for (size_t i = 0; i < len && o + 2 < outlen; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

void
reply_plan_limit(struct req *r, const struct meter_state *st, int64_t requested)
{
	const char *how = meters[st->meter].free;
	char msg[512], limit[32], used[32], asked[64] = "", resets[16] = "";
	struct jw w;
	struct tm tm;
	time_t t = (time_t)st->resets_at;

	num_format(st->limit, limit, sizeof(limit));
	num_format(st->used, used, sizeof(used));
	/* What the request asked, when the meter alone is not full. */
	if (st->used < st->limit) {
		if (requested >= 0) {
			char n[32];

			num_format(requested, n, sizeof(n));
			snprintf(asked, sizeof(asked), ", and this request would add %s", n);
		} else
			snprintf(asked, sizeof(asked), ", and this request would pass it");
	}
	if (st->resets_at > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(resets, sizeof(resets), "%Y-%m-%d", &tm);
	if (how != NULL)
		snprintf(msg, sizeof(msg),
		    "Your plan allows %s %s; %s %s in use%s. To go on, free capacity (%s) or "
		    "upgrade your plan in Billing → Usage.",
		    limit, st->limit == 1 ? meters[st->meter].one : meters[st->meter].many, used,
		    st->used == 1 ? "is" : "are", asked, how);
	else
		snprintf(msg, sizeof(msg),
		    "Your plan allows %s %s a month; %s %s used%s. To go on, upgrade your plan "
		    "in Billing → Usage%s%s%s.",
		    limit, st->limit == 1 ? meters[st->meter].one : meters[st->meter].many, used,
		    st->used == 1 ? "is" : "are", asked,
		    resets[0] ? ", or wait until the meter resets on " : "", resets,
		    resets[0] ? " (UTC)" : "");
	jw_init(&w);
	jw_object(&w, NULL);
	meter_members(&w, st);
	if (requested >= 0)
		jw_int(&w, "requested", requested);
	jw_object_end(&w);
	reply_error_jw(r, ERR_PLAN_LIMIT, msg, &w);
}

int
meter_take_or_reply(struct req *r, enum meter m, int64_t n, struct meter_state *after)
{
	struct meter_state st;
	int rc = meter_take(r->db, r->who.org_id, m, n, &st);

	if (rc == METER_FULL) {
		reply_plan_limit(r, &st, n);
		return -1;
	}
	if (rc != DB_OK) {
		reply_db_error(r, rc, "meter: take");
		return -1;
	}
	if (after != NULL)
		*after = st;
	return 0;
}
