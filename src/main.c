/* main.c: the tollgate command and its subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <fcgiapp.h>

#include "backup.h"
#include "copystore.h"
#include "ratelimit.h"
#include "api.h"

#define JWT_SECRET_MIN 32

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tollgate [--config FILE] COMMAND [OPTIONS]\n"
	    "\n"
	    "commands:\n"
	    "  serve [--socket PATH|HOST:PORT] [--socket-mode MODE] [--threads N]\n"
	    "        serve the API over FastCGI (migrates first); without --socket,\n"
	    "        accepts on the socket inherited on fd 0 or from systemd\n"
	    "  migrate   apply the database migrations and exit\n"
	    "  create-org --name NAME --email EMAIL [--user-name NAME]\n"
	    "        make an organization (Trial) with its first admin; the password\n"
	    "        comes from TOLLGATE_ADMIN_PASSWORD or the first line of stdin\n"
	    "  set-plan ORG_ID PLAN\n"
	    "        move an organization to trial, starter, pro or enterprise\n"
	    "  rotate-jwt-secret\n"
	    "        make a new signing key; tokens signed before stay valid until expiry\n"
	    "  backup PATH  copy the database to PATH, safely while serving\n"
	    "  copy-store --from PATH --to URL\n"
	    "        copy the SQLite database at PATH into the new PostgreSQL\n"
	    "        database at URL (migrated first), then compare the row counts\n"
	    "  routes    print the route table as JSON (method, pattern, access,\n"
	    "        permission, scope, body)\n"
	    "  version   print the version\n"
	    "  help      print this text\n"
	    "\n"
	    "Settings come from TOLLGATE_* variables (see tollgate(8) and README.md).\n");
}

/* Opens the configured database and brings it to the newest schema; with
 * TOLLGATE_JWT_SECRET set, wraps the signing keys an earlier version stored
 * in clear (a wrapped key is left as it is, so running it again is safe). */
static int
migrate_or_fail(void)
{
	char err[512];
	struct db *db = db_open(cfg.db_path, err, sizeof(err));
	int n, wrapped = 0;

	if (db == NULL) {
		fprintf(stderr, "tollgate: %s\n", err);
		return -1;
	}
	n = db_migrate(db);
	if (n >= 0)
		log_msg(NULL, "migrate: %s at version %d (%d applied)", cfg.db_shown,
		    db_version(db), n);
	if (n >= 0 && cfg.jwt_secret_len >= JWT_SECRET_MIN && (wrapped = jwt_keys_wrap(db)) < 0)
		fprintf(stderr, "tollgate: cannot wrap the stored signing keys\n");
	else if (wrapped > 0)
		log_msg(
		    NULL, "migrate: %d signing key(s) stored in clear are now wrapped", wrapped);
	db_close(db);
	return n < 0 || wrapped < 0 ? -1 : 0;
}

static int
cmd_serve(int argc, char **argv)
{
	const char *socket_spec = NULL;
	int mode = 0660, fd, rc;
	char err[512];

	for (int i = 0; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_spec = argv[++i];
		else if (strcmp(argv[i], "--socket-mode") == 0 && i + 1 < argc) {
			errno = 0;
			mode = (int)strtol(argv[++i], &end, 8);
			if (*end != '\0' || errno || mode < 0 || mode > 0777) {
				fprintf(
				    stderr, "tollgate: --socket-mode must be octal, like 0660\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			long n = strtol(argv[++i], &end, 10);

			if (*end != '\0' || n < 1 || n > 256) {
				fprintf(stderr, "tollgate: --threads must be 1 to 256\n");
				return 2;
			}
			cfg.threads = (int)n;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (cfg.jwt_secret_len < JWT_SECRET_MIN) {
		fprintf(stderr,
		    "tollgate: TOLLGATE_JWT_SECRET must be at least %d bytes (it has %zu); "
		    "make one with: openssl rand -base64 48\n",
		    JWT_SECRET_MIN, cfg.jwt_secret_len);
		return 1;
	}
	/* A path where another server answers is refused before this one
	 * touches the database; the socket itself is made once it is ready. */
	if (fcgi_socket_clear(socket_spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "tollgate: %s\n", err);
		return 1;
	}
	if (migrate_or_fail() < 0)
		return 1;
	if (password_init() < 0) {
		fprintf(stderr, "tollgate: cannot prepare password hashing\n");
		return 1;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "tollgate: FCGX_Init failed\n");
		return 1;
	}
	if (ratelimit_open(cfg.ratelimit_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "tollgate: %s\n", err);
		return 1;
	}
	router_init();
	if ((fd = fcgi_listen(socket_spec, mode, err, sizeof(err))) < 0) {
		fprintf(stderr, "tollgate: %s\n", err);
		return 1;
	}
	rc = fcgi_serve(fd, cfg.threads, socket_spec != NULL);
	ratelimit_close();
	if (socket_spec != NULL && strchr(socket_spec, '/') != NULL)
		unlink(socket_spec);
	return rc == 0 ? 0 : 1;
}

/* Opens and migrates the database for an admin subcommand. */
static struct db *
admin_db(void)
{
	char err[512];
	struct db *db;

	if (migrate_or_fail() < 0)
		return NULL;
	if ((db = db_open(cfg.db_path, err, sizeof(err))) == NULL)
		fprintf(stderr, "tollgate: %s\n", err);
	return db;
}

static int
cmd_create_org(int argc, char **argv)
{
	const char *name = NULL, *email = NULL, *user_name = NULL, *pw;
	char line[1100], org_id[40], user_id[40];
	struct db *db;
	int conflict, rc;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--email") == 0)
			email = argv[i + 1];
		else if (strcmp(argv[i], "--user-name") == 0)
			user_name = argv[i + 1];
	}
	if (name == NULL || email == NULL || argc % 2 != 0 || *name == '\0' ||
	    strchr(email, '@') == NULL) {
		fprintf(stderr,
		    "usage: tollgate create-org --name NAME --email EMAIL [--user-name NAME]\n");
		return 2;
	}
	/* Never from argv, where every user of the machine can read it. */
	if ((pw = getenv("TOLLGATE_ADMIN_PASSWORD")) == NULL) {
		if (fgets(line, sizeof(line), stdin) == NULL) {
			fprintf(stderr,
			    "tollgate: give the password on stdin or in TOLLGATE_ADMIN_PASSWORD\n");
			return 2;
		}
		line[strcspn(line, "\r\n")] = '\0';
		pw = line;
	}
	if (strlen(pw) < 10 || strlen(pw) > 1024) {
		fprintf(stderr, "tollgate: the password must be 10 to 1024 characters\n");
		return 2;
	}
	if ((db = admin_db()) == NULL)
		return 1;
	rc = org_create(db, NULL, name, email, pw, user_name, org_id, user_id, &conflict);
	db_close(db);
	if (conflict) {
		fprintf(stderr, "tollgate: an account with email %s exists already\n", email);
		return 1;
	}
	if (rc != DB_OK) {
		fprintf(
		    stderr, "tollgate: cannot create the organization (database error %d)\n", rc);
		return 1;
	}
	printf("organization %s\nadmin %s\n", org_id, user_id);
	return 0;
}

static int
cmd_set_plan(int argc, char **argv)
{
	struct db *db;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: tollgate set-plan ORG_ID PLAN\n");
		return 2;
	}
	if ((db = admin_db()) == NULL)
		return 1;
	rc = db_run(db, STMT_ORG_SET_PLAN, "tt", argv[0], argv[1]);
	if (rc == DB_OK && db_changes(db) == 0) {
		fprintf(stderr, "tollgate: no organization %s\n", argv[0]);
		rc = -1;
	} else if (rc == DB_CONSTRAINT)
		fprintf(
		    stderr, "tollgate: no plan %s (trial, starter, pro, enterprise)\n", argv[1]);
	else if (rc != DB_OK)
		fprintf(stderr, "tollgate: database error %d\n", rc);
	db_close(db);
	if (rc != DB_OK)
		return 1;
	printf("organization %s is on %s\n", argv[0], argv[1]);
	return 0;
}

static int
cmd_rotate_jwt_secret(void)
{
	char kid[40];
	struct db *db;
	int rc;

	if (cfg.jwt_secret_len < JWT_SECRET_MIN) {
		fprintf(stderr, "tollgate: TOLLGATE_JWT_SECRET must be set (at least %d bytes)\n",
		    JWT_SECRET_MIN);
		return 1;
	}
	if ((db = admin_db()) == NULL)
		return 1;
	rc = jwt_key_rotate(db, kid, sizeof(kid));
	db_close(db);
	if (rc < 0) {
		fprintf(stderr, "tollgate: cannot rotate the signing key\n");
		return 1;
	}
	printf("new signing key %s; running servers sign with it within 5 seconds\n", kid);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *config_path = getenv("TOLLGATE_CONFIG");
	char err[512];
	int i = 1;

	/* Every file Tollgate makes (the database, its -wal and -shm, backups,
	 * the rate-limit file) is its owner's alone, whatever the caller's
	 * umask; the socket gets its own mode (fcgi_listen). */
	umask(077);
	if (i + 1 < argc && strcmp(argv[i], "--config") == 0) {
		config_path = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "version") == 0 || strcmp(argv[i], "--version") == 0) {
		printf("tollgate %s\n", TG_VERSION);
		return 0;
	}
	if (strcmp(argv[i], "routes") == 0) {
		size_t len;
		char *json = router_routes_json(&len);

		if (json == NULL || fwrite(json, 1, len, stdout) != len || putchar('\n') == EOF) {
			free(json);
			fprintf(stderr, "tollgate: cannot print the route table\n");
			return 1;
		}
		free(json);
		return 0;
	}
	if (strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (config_load(config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "tollgate: %s\n", err);
		return 1;
	}
	if (strcmp(argv[i], "serve") == 0)
		return cmd_serve(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "migrate") == 0)
		return migrate_or_fail() == 0 ? 0 : 1;
	if (strcmp(argv[i], "create-org") == 0)
		return cmd_create_org(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "set-plan") == 0)
		return cmd_set_plan(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "rotate-jwt-secret") == 0)
		return cmd_rotate_jwt_secret();
	if (strcmp(argv[i], "backup") == 0)
		return backup_run(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "copy-store") == 0)
		return copystore_run(argc - i - 1, argv + i + 1);
	fprintf(stderr, "tollgate: unknown command \"%s\"\n", argv[i]);
	usage(stderr);
	return 2;
}
