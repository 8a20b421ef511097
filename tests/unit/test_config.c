/* test_config.c: settings are read, checked, and bad ones refused. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "../../src/config.c"
#include "unit.h"

static void
test_defaults(void)
{
	char err[256];

	CHECK(config_load(NULL, err, sizeof(err)) == 0);
	CHECK(cfg.rate_key == 600 && cfg.rate_ip == 100 && cfg.rate_user == 600);
	CHECK(cfg.session_idle == 1800 && cfg.session_ttl == 43200);
	CHECK(cfg.max_body == 8 << 20 && cfg.signup_open == 1 && cfg.threads == 4);
}

static void
test_env(void)
{
	char err[256];

	setenv("TOLLGATE_MAX_BODY", "512k", 1);
	setenv("TOLLGATE_THREADS", "8", 1);
	setenv("TOLLGATE_SIGNUP", "closed", 1);
	CHECK(config_load(NULL, err, sizeof(err)) == 0);
	CHECK(cfg.max_body == 512 * 1024 && cfg.threads == 8 && cfg.signup_open == 0);

	setenv("TOLLGATE_THREADS", "eight", 1);
	CHECK(config_load(NULL, err, sizeof(err)) < 0 && strstr(err, "TOLLGATE_THREADS") != NULL);
	setenv("TOLLGATE_THREADS", "0", 1);
	CHECK(config_load(NULL, err, sizeof(err)) < 0 && strstr(err, "between") != NULL);
	unsetenv("TOLLGATE_THREADS");
	setenv("TOLLGATE_SIGNUP", "maybe", 1);
	CHECK(config_load(NULL, err, sizeof(err)) < 0 && strstr(err, "TOLLGATE_SIGNUP") != NULL);
	unsetenv("TOLLGATE_SIGNUP");
	setenv("TOLLGATE_MAX_BODY", "8X", 1);
	CHECK(config_load(NULL, err, sizeof(err)) < 0);
	unsetenv("TOLLGATE_MAX_BODY");
}

static void
test_file(void)
{
	char err[256], path[] = "/tmp/tollgate-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "# comment\n\nTOLLGATE_RATE_IP = 7\nTOLLGATE_DB=/tmp/x.db\n");
	fclose(f);
	setenv("TOLLGATE_RATE_KEY", "9", 1);
	CHECK(config_load(path, err, sizeof(err)) == 0);
	CHECK(cfg.rate_ip == 7 && cfg.rate_key == 9 && strcmp(cfg.db_path, "/tmp/x.db") == 0);
	unsetenv("TOLLGATE_RATE_KEY");

	f = fopen(path, "w");
	fprintf(f, "TOLLGATE_NOPE=1\n");
	fclose(f);
	CHECK(
	    config_load(path, err, sizeof(err)) < 0 && strstr(err, ":1: unknown setting") != NULL);
	unlink(path);
	CHECK(config_load(path, err, sizeof(err)) < 0 && strstr(err, "cannot open") != NULL);
}

/* A PostgreSQL URL's password is never shown, and a config file holding
 * one must be its owner's alone. */
static void
test_database_url(void)
{
	char err[256], shown[256], path[] = "/tmp/tollgate-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	db_shown("postgresql://tg:s3cret@db.example:5432/tg", shown, sizeof(shown));
	CHECK(strcmp(shown, "postgresql://tg:***@db.example:5432/tg") == 0);
	db_shown("postgres://tg@db.example/tg?sslmode=require&password=s3cret&x=1", shown,
	    sizeof(shown));
	CHECK(strcmp(shown, "postgres://tg@db.example/tg?sslmode=require&password=***&x=1") == 0);
	/* libpq ends the user information at the '@' before any '/': a '?'
	 * may be in the password; a query key may be percent-encoded. */
	db_shown("postgresql://tg:pa?ss@db.example/tg", shown, sizeof(shown));
	CHECK(strcmp(shown, "postgresql://tg:***@db.example/tg") == 0);
	db_shown("postgresql://db.example/tg?user=tg&pass%77ord=s3cret", shown, sizeof(shown));
	CHECK(strcmp(shown, "postgresql://db.example/tg?user=tg&pass%77ord=***") == 0);
	CHECK(db_url_has_password("postgresql://db.example/tg?PASSWORD=x"));
	db_shown("postgresql://db.example/tg?passwords=x&password", shown, sizeof(shown));
	CHECK(strcmp(shown, "postgresql://db.example/tg?passwords=x&password") == 0);
	db_shown("var/tollgate.db", shown, sizeof(shown));
	CHECK(strcmp(shown, "var/tollgate.db") == 0);
	CHECK(db_is_url("postgresql://h/d") && db_is_url("postgres://h/d"));
	CHECK(!db_is_url("var/postgresql.db") && !db_is_url("postgresql:/x"));
	CHECK(db_url_has_password("postgresql://tg:pw@h/d"));
	CHECK(!db_url_has_password("postgresql://tg@h/d"));

	fprintf(f, "TOLLGATE_DB=postgresql://tg:s3cret@127.0.0.1:5432/tg\n");
	fclose(f);
	CHECK(chmod(path, 0644) == 0);
	CHECK(config_load(path, err, sizeof(err)) < 0 && strstr(err, "chmod 600") != NULL &&
	    strstr(err, "s3cret") == NULL);
	CHECK(chmod(path, 0600) == 0);
	CHECK(config_load(path, err, sizeof(err)) == 0);
	CHECK(strcmp(cfg.db_shown, "postgresql://tg:***@127.0.0.1:5432/tg") == 0);
	CHECK(strncmp(cfg.ratelimit_file, "/dev/shm/tollgate-", 18) == 0 &&
	    strstr(cfg.ratelimit_file, "s3cret") == NULL);
	unlink(path);
	CHECK(config_load(NULL, err, sizeof(err)) == 0);
	CHECK(strcmp(cfg.ratelimit_file, "var/tollgate.db-ratelimit") == 0);
}

/* TOLLGATE_RATELIMIT: local on SQLite, postgresql on PostgreSQL unless
 * set; postgresql on SQLite and redis are refused with a sentence. */
static void
test_ratelimit_where(void)
{
	char err[256], path[] = "/tmp/tollgate-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	unsetenv("TOLLGATE_RATELIMIT");
	setenv("TOLLGATE_DB", "/tmp/x.db", 1);
	CHECK(config_load(NULL, err, sizeof(err)) == 0 && cfg.ratelimit == RATELIMIT_LOCAL);
	setenv("TOLLGATE_DB", "postgresql://tg@127.0.0.1/tg", 1);
	CHECK(config_load(NULL, err, sizeof(err)) == 0 && cfg.ratelimit == RATELIMIT_POSTGRESQL);
	setenv("TOLLGATE_RATELIMIT", "local", 1);
	CHECK(config_load(NULL, err, sizeof(err)) == 0 && cfg.ratelimit == RATELIMIT_LOCAL);
	setenv("TOLLGATE_RATELIMIT", "redis", 1);
	CHECK(config_load(NULL, err, sizeof(err)) < 0 &&
	    strstr(err, "TOLLGATE_RATELIMIT=redis is not part of this build") != NULL);
	setenv("TOLLGATE_RATELIMIT", "memcached", 1);
	CHECK(config_load(NULL, err, sizeof(err)) < 0 &&
	    strstr(err, "must be \"local\" or \"postgresql\"") != NULL);
	setenv("TOLLGATE_RATELIMIT", "postgresql", 1);
	setenv("TOLLGATE_DB", "/tmp/x.db", 1);
	CHECK(config_load(NULL, err, sizeof(err)) < 0 &&
	    strstr(err, "TOLLGATE_RATELIMIT=postgresql needs the PostgreSQL store") != NULL);
	unsetenv("TOLLGATE_RATELIMIT");
	/* The same key in a config file. */
	fprintf(f, "TOLLGATE_DB=/tmp/x.db\nTOLLGATE_RATELIMIT=postgresql\n");
	fclose(f);
	unsetenv("TOLLGATE_DB");
	CHECK(
	    config_load(path, err, sizeof(err)) < 0 && strstr(err, "needs the PostgreSQL") != NULL);
	unlink(path);
}

int
main(void)
{
	TEST(test_defaults);
	TEST(test_env);
	TEST(test_file);
	TEST(test_database_url);
	TEST(test_ratelimit_where);
	return unit_done();
}
