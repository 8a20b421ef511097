/* fcgi.c: the worker loop. N threads each accept FastCGI requests on one
 * listening socket with their own database connection, until SIGTERM or
 * SIGINT, after which in-flight requests finish and the process exits. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "tollgate.h"

#define LISTEN_BACKLOG 512

static volatile sig_atomic_t stopping;

struct worker {
	pthread_t thread;
	int listen_fd;
	int index;
};

static int
fcgi_read(void *ctx, char *buf, int n)
{
	return FCGX_GetStr(buf, n, (FCGX_Stream *)ctx);
}

static int
fcgi_write(void *ctx, const char *buf, int n)
{
	return FCGX_PutStr(buf, n, (FCGX_Stream *)ctx);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	FCGX_Request fr;
	struct db *db;
	char err[256];

	if ((db = db_open(cfg.db_path, err, sizeof(err))) == NULL) {
		log_msg(NULL, "worker %d: %s", w->index, err);
		return NULL;
	}
	if (FCGX_InitRequest(&fr, w->listen_fd, 0) != 0) {
		log_msg(NULL, "worker %d: FCGX_InitRequest failed", w->index);
		db_close(db);
		return NULL;
	}
	while (!stopping && FCGX_Accept_r(&fr) == 0) {
		struct req r;

		req_init(&r, fr.envp, db);
		router_handle(&r, fcgi_read, fr.in);
		req_write(&r, fcgi_write, fr.out);
		req_log(&r); /* before Finish: r points into fr's params */
		metrics_request(router_route_index(&r), r.status, tg_now_ms() - r.start_ms);
		req_free(&r);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 0);
	db_close(db);
	return NULL;
}

/* The listening socket systemd or a web server handed over: LISTEN_FDS
 * (fd 3) or fd 0 when it is a socket. -1 when there is none. */
static int
fcgi_inherited(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct stat st;

	if (pid != NULL && fds != NULL && atol(pid) == (long)getpid() && atoi(fds) >= 1)
		return 3;
	if (fstat(0, &st) == 0 && S_ISSOCK(st.st_mode))
		return 0;
	return -1;
}

int
fcgi_listen(const char *spec, int mode, char *err, size_t errlen)
{
	int fd;

	if (spec == NULL) {
		if ((fd = fcgi_inherited()) < 0)
			snprintf(err, errlen,
			    "no --socket given and no listening socket on fd 0 or from systemd");
		return fd;
	}
	if (strchr(spec, '/') != NULL) {
		/* Create the socket with the final mode: no window where others
		 * could connect (libfcgi trusts whoever can reach it). */
		mode_t old = umask((mode_t)(~mode & 0777));

		unlink(spec);
		fd = FCGX_OpenSocket(spec, LISTEN_BACKLOG);
		umask(old);
		if (fd >= 0 && chmod(spec, (mode_t)mode) < 0) {
			snprintf(err, errlen, "chmod %s: %s", spec, strerror(errno));
			close(fd);
			return -1;
		}
	} else
		fd = FCGX_OpenSocket(spec, LISTEN_BACKLOG);
	if (fd < 0)
		snprintf(err, errlen, "cannot listen on %s: %s", spec, strerror(errno));
	return fd;
}

int
fcgi_serve(int listen_fd, int nthreads)
{
	struct worker *workers = calloc((size_t)nthreads, sizeof(*workers));
	sigset_t set;
	int sig = 0, started = 0;

	if (workers == NULL)
		return -1;
	/* Every thread inherits this mask; only this one waits for the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (runner_start() < 0)
		log_msg(NULL, "serve: no job runner in this process; jobs wait for another");

	for (int i = 0; i < nthreads; i++) {
		workers[i].listen_fd = listen_fd;
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			log_msg(NULL, "serve: cannot start thread %d", i);
			break;
		}
		started++;
	}
	log_msg(NULL, "serve: tollgate %s ready with %d threads, database %s", TG_VERSION, started,
	    cfg.db_path);
	while (started > 0) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	log_msg(NULL, "serve: signal %d: finishing requests in flight", sig);
	stopping = 1;
	FCGX_ShutdownPending();
	/* Wakes every thread blocked in accept(); busy ones finish first. */
	shutdown(listen_fd, SHUT_RDWR);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	runner_stop();
	close(listen_fd);
	free(workers);
	log_msg(NULL, "serve: stopped");
	return started > 0 ? 0 : -1;
}
