/* config.c: Tollgate's settings, from defaults, a config file and TOLLGATE_* variables. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

struct config cfg;

enum kind { K_STR, K_SECRET, K_LONG, K_SIZE, K_SIGNUP, K_RATELIMIT };

/* One row a setting: the variable, its kind, where it goes and its range. */
static const struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	long long min, max;
	size_t size; /* K_STR / K_SECRET: buffer size */
} settings[] = {
	{ "TOLLGATE_DB", K_STR, offsetof(struct config, db_path), 1, 0, sizeof(cfg.db_path) },
	{ "TOLLGATE_RATELIMIT", K_RATELIMIT, offsetof(struct config, ratelimit), 0, 0, 0 },
	{ "TOLLGATE_RATELIMIT_FILE", K_STR, offsetof(struct config, ratelimit_file), 1, 0,
	    sizeof(cfg.ratelimit_file) },
	{ "TOLLGATE_JWT_SECRET", K_SECRET, offsetof(struct config, jwt_secret), 0, 0,
	    sizeof(cfg.jwt_secret) },
	{ "TOLLGATE_RATE_KEY", K_LONG, offsetof(struct config, rate_key), 1, 1000000000, 0 },
	{ "TOLLGATE_RATE_IP", K_LONG, offsetof(struct config, rate_ip), 1, 1000000000, 0 },
	{ "TOLLGATE_RATE_USER", K_LONG, offsetof(struct config, rate_user), 1, 1000000000, 0 },
	{ "TOLLGATE_RATE_ORG", K_LONG, offsetof(struct config, rate_org), 1, 1000000000, 0 },
	{ "TOLLGATE_RATE_LOGIN", K_LONG, offsetof(struct config, rate_login), 1, 1000000000, 0 },
	{ "TOLLGATE_RATE_LOGIN_ACCOUNT", K_LONG, offsetof(struct config, rate_login_account), 1,
	    1000000000, 0 },
	{ "TOLLGATE_RATE_LOGIN_DEVICE", K_LONG, offsetof(struct config, rate_login_device), 1,
	    1000000000, 0 },
	{ "TOLLGATE_RATE_WINDOW", K_LONG, offsetof(struct config, rate_window), 1, 3600, 0 },
	{ "TOLLGATE_SESSION_IDLE", K_LONG, offsetof(struct config, session_idle), 1, 31536000, 0 },
	{ "TOLLGATE_SESSION_TTL", K_LONG, offsetof(struct config, session_ttl), 1, 31536000, 0 },
	{ "TOLLGATE_SIGNUP", K_SIGNUP, offsetof(struct config, signup_open), 0, 0, 0 },
	{ "TOLLGATE_THREADS", K_LONG, offsetof(struct config, threads), 1, 256, 0 },
	{ "TOLLGATE_MAX_BODY", K_SIZE, offsetof(struct config, max_body), 1024, 1LL << 30, 0 },
	{ "TOLLGATE_TRUSTED_PROXIES", K_STR, offsetof(struct config, trusted_proxies), 0, 0,
	    sizeof(cfg.trusted_proxies) },
	{ "TOLLGATE_METRICS_TOKEN", K_STR, offsetof(struct config, metrics_token), 0, 0,
	    sizeof(cfg.metrics_token) },
	{ "TOLLGATE_NOW", K_LONG, offsetof(struct config, now), 0, 4102444800LL, 0 },
	{ "TOLLGATE_CLOCK_OFFSET", K_LONG, offsetof(struct config, clock_offset), -315360000,
	    315360000, 0 },
	{ "TOLLGATE_WEBHOOK_ALLOW_HOSTS", K_STR, offsetof(struct config, webhook_allow_hosts), 0, 0,
	    sizeof(cfg.webhook_allow_hosts) },
	{ "TOLLGATE_WEBHOOK_BACKOFF_BASE", K_LONG, offsetof(struct config, webhook_backoff_base), 1,
	    3600, 0 },
};

static void
config_defaults(void)
{
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.db_path, sizeof(cfg.db_path), "var/tollgate.db");
	cfg.rate_key = 600;
	cfg.rate_ip = 100;
	cfg.rate_user = 600;
	cfg.rate_org = 1200;
	cfg.rate_login = 20;
	cfg.rate_login_account = 100; /* OWASP ASVS: at most 100 failures an hour */
	cfg.rate_login_device = 10;
	cfg.rate_window = 60;
	cfg.session_idle = 30 * 60;
	cfg.session_ttl = 12 * 60 * 60;
	cfg.signup_open = 1;
	cfg.threads = 4;
	cfg.max_body = 8LL << 20;
	cfg.webhook_backoff_base = 30;
}

/* Parses "8388608", "512k", "8M" or "1G" into *out. Returns -1 if malformed. */
static int
parse_size(const char *v, long long *out)
{
	char *end;
	long long n, mul = 1;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno || n < 0)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0': break;
	case 'k':
		mul = 1LL << 10;
		end++;
		break;
	case 'm':
		mul = 1LL << 20;
		end++;
		break;
	case 'g':
		mul = 1LL << 30;
		end++;
		break;
	default: return -1;
	}
	if (*end != '\0' || n > LLONG_MAX / mul)
		return -1;
	*out = n * mul;
	return 0;
}

/* Stores value v of setting s into cfg. On a bad value returns -1 with err. */
static int
setting_apply(const struct setting *s, const char *v, char *err, size_t errlen)
{
	char *field = (char *)&cfg + s->offset;
	long long n;
	char *end;

	switch (s->kind) {
	case K_STR:
	case K_SECRET:
		if (strlen(v) >= s->size) {
			snprintf(err, errlen, "%s is too long (at most %zu bytes)", s->name,
			    s->size - 1);
			return -1;
		}
		if (s->min > 0 && *v == '\0') {
			snprintf(err, errlen, "%s must not be empty", s->name);
			return -1;
		}
		snprintf(field, s->size, "%s", v);
		if (s->kind == K_SECRET)
			cfg.jwt_secret_len = strlen(v);
		return 0;
	case K_SIGNUP:
		if (strcmp(v, "open") == 0)
			cfg.signup_open = 1;
		else if (strcmp(v, "closed") == 0)
			cfg.signup_open = 0;
		else {
			snprintf(err, errlen, "%s must be \"open\" or \"closed\", not \"%s\"",
			    s->name, v);
			return -1;
		}
		return 0;
	case K_RATELIMIT:
		if (strcmp(v, "local") == 0)
			cfg.ratelimit = RATELIMIT_LOCAL;
		else if (strcmp(v, "postgresql") == 0)
			cfg.ratelimit = RATELIMIT_POSTGRESQL;
		else if (strcmp(v, "redis") == 0) {
			snprintf(err, errlen,
			    "%s=redis is not part of this build: limits exact across hosts are "
			    "\"postgresql\", in the database the hosts already share",
			    s->name);
			return -1;
		} else {
			snprintf(err, errlen, "%s must be \"local\" or \"postgresql\", not \"%s\"",
			    s->name, v);
			return -1;
		}
		return 0;
	case K_LONG:
	case K_SIZE:
		errno = 0;
		if (s->kind == K_SIZE) {
			if (parse_size(v, &n) < 0)
				goto bad_number;
		} else {
			n = strtoll(v, &end, 10);
			if (end == v || *end != '\0' || errno)
				goto bad_number;
		}
		if (n < s->min || n > s->max) {
			snprintf(err, errlen, "%s must be between %lld and %lld, not %s", s->name,
			    s->min, s->max, v);
			return -1;
		}
		if (s->offset == offsetof(struct config, threads))
			cfg.threads = (int)n;
		else if (s->kind == K_SIZE || s->offset == offsetof(struct config, now))
			*(long long *)field = n;
		else
			*(long *)field = (long)n;
		return 0;
	}
bad_number:
	snprintf(err, errlen, "%s must be a whole number%s, not \"%s\"", s->name,
	    s->kind == K_SIZE ? " of bytes (k, M, G allowed)" : "", v);
	return -1;
}

static const struct setting *
setting_find(const char *name)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

/* Reads NAME=value lines ('#' comments, blank lines) from path. */
static int
config_file_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	struct stat st;
	int lineno = 0, rc = -1;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *eq, *end;
		const struct setting *s;
		char sub[256];

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected NAME=value", path, lineno);
			goto out;
		}
		*eq = '\0';
		for (end = eq; end > p && isspace((unsigned char)end[-1]); end--)
			end[-1] = '\0';
		if ((s = setting_find(p)) == NULL) {
			snprintf(err, errlen, "%s:%d: unknown setting %s", path, lineno, p);
			goto out;
		}
		if (setting_apply(s, eq + 1, sub, sizeof(sub)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
			goto out;
		}
		/* A database password in a file others may read is refused, as
		 * ssh refuses such a key. */
		if (s->offset == offsetof(struct config, db_path) && db_is_url(eq + 1) &&
		    db_url_has_password(eq + 1) && fstat(fileno(f), &st) == 0 &&
		    (st.st_mode & 077) != 0) {
			snprintf(err, errlen,
			    "%s:%d: TOLLGATE_DB holds a password and %s has mode %04o: chmod 600 "
			    "it",
			    path, lineno, path, (unsigned)(st.st_mode & 0777));
			goto out;
		}
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int
config_load(const char *path, char *err, size_t errlen)
{
	config_defaults();
	if (path != NULL && config_file_load(path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const char *v = getenv(settings[i].name);

		if (v != NULL && setting_apply(&settings[i], v, err, errlen) < 0)
			return -1;
	}
	db_shown(cfg.db_path, cfg.db_shown, sizeof(cfg.db_shown));
	if (cfg.ratelimit == RATELIMIT_UNSET)
		cfg.ratelimit = db_is_url(cfg.db_path) ? RATELIMIT_POSTGRESQL : RATELIMIT_LOCAL;
	if (cfg.ratelimit == RATELIMIT_POSTGRESQL && !db_is_url(cfg.db_path)) {
		snprintf(err, errlen,
		    "TOLLGATE_RATELIMIT=postgresql needs the PostgreSQL store "
		    "(TOLLGATE_DB=postgresql://...); on SQLite the limiter is local");
		return -1;
	}
	if (cfg.ratelimit_file[0] == '\0' && !db_is_url(cfg.db_path) &&
	    (size_t)snprintf(cfg.ratelimit_file, sizeof(cfg.ratelimit_file), "%s-ratelimit",
	        cfg.db_path) >= sizeof(cfg.ratelimit_file)) {
		snprintf(err, errlen, "TOLLGATE_DB is too long");
		return -1;
	}
	if (cfg.ratelimit_file[0] == '\0') {
		/* Every process of this host and user that serves this database
		 * shares one table, in shared memory (its name: the URL's hash). */
		char hash[65];

		tg_sha256_hex(cfg.db_path, hash);
		snprintf(cfg.ratelimit_file, sizeof(cfg.ratelimit_file),
		    "/dev/shm/tollgate-%u-%.16s-ratelimit", (unsigned)geteuid(), hash);
	}
	return 0;
}
