/* fcgi.c: the worker loop. N threads each accept FastCGI requests on one
 * listening socket with their own database connection, until SIGTERM or
 * SIGINT, after which in-flight requests finish and the process exits. */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "api.h"

#define LISTEN_BACKLOG 512
#define KDF_THREADS_MAX 16

static volatile sig_atomic_t stopping;

struct worker {
	pthread_t thread;
	int listen_fd;
	int index;
	atomic_int idle; /* in FCGX_Accept_r: may be woken by SIGUSR1 to stop */
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

/* ---- the KDF threads ----
 * A request whose route runs argon2id (tens of milliseconds of CPU and
 * 19 MiB each) is handed by the worker that accepted it to a few KDF
 * threads, and the worker goes back to accepting. However many clients log
 * in at once, the workers stay free for everything else (bench/run.sh
 * measures it: "key reads while clients log in"). */

#define KDF_QUEUE_MAX 256

static struct {
	pthread_mutex_t mu;
	pthread_cond_t ready;
	FCGX_Request *queue[KDF_QUEUE_MAX];
	int head, len, closing, nthreads;
	pthread_t threads[KDF_THREADS_MAX];
} kdf = { .mu = PTHREAD_MUTEX_INITIALIZER, .ready = PTHREAD_COND_INITIALIZER };

static FCGX_Request *
request_new(int listen_fd)
{
	FCGX_Request *fr = malloc(sizeof(*fr));

	if (fr != NULL && FCGX_InitRequest(fr, listen_fd, 0) != 0) {
		free(fr);
		fr = NULL;
	}
	return fr;
}

/* Queues an accepted request for the KDF threads; -1 (the caller serves it
 * itself) when there are none or the queue is full. */
static int
kdf_push(FCGX_Request *fr)
{
	int rc = -1;

	pthread_mutex_lock(&kdf.mu);
	if (kdf.nthreads > 0 && !kdf.closing && kdf.len < KDF_QUEUE_MAX) {
		kdf.queue[(kdf.head + kdf.len++) % KDF_QUEUE_MAX] = fr;
		pthread_cond_signal(&kdf.ready);
		rc = 0;
	}
	pthread_mutex_unlock(&kdf.mu);
	return rc;
}

/* Serves one accepted request on db. With may_defer, a KDF route is handed
 * to the KDF threads instead: returns 1, and fr then belongs to them. */
static int
serve_one(FCGX_Request *fr, struct db *db, int may_defer)
{
	struct req r;

	req_init(&r, fr->envp, db);
	if (may_defer && router_route_kdf(&r) && kdf_push(fr) == 0)
		return 1;
	r.out_put = fcgi_write;
	r.out_ctx = fr->out;
	router_handle(&r, fcgi_read, fr->in);
	req_write(&r, fcgi_write, fr->out);
	req_log(&r); /* before Finish: r points into fr's params */
	metrics_request(router_route_index(&r), r.status, tg_now_ms() - r.start_ms);
	req_free(&r);
	FCGX_Finish_r(fr);
	return 0;
}

static void *
kdf_main(void *arg)
{
	struct db *db = arg;

	for (;;) {
		FCGX_Request *fr;

		pthread_mutex_lock(&kdf.mu);
		while (kdf.len == 0 && !kdf.closing)
			pthread_cond_wait(&kdf.ready, &kdf.mu);
		if (kdf.len == 0) { /* closing, and nothing left in flight */
			pthread_mutex_unlock(&kdf.mu);
			break;
		}
		fr = kdf.queue[kdf.head];
		kdf.head = (kdf.head + 1) % KDF_QUEUE_MAX;
		kdf.len--;
		pthread_mutex_unlock(&kdf.mu);
		serve_one(fr, db, 0);
		if (fr->ipcFd >= 0) /* kept open (fastcgi_keep_conn): this thread's to close */
			FCGX_Free(fr, 1);
		free(fr);
	}
	jwt_thread_end();
	db_close(db);
	return NULL;
}

static void
kdf_start(int nworkers)
{
	int want = nworkers / 4 < 1 ? 1 : nworkers / 4;
	char err[256];

	want = want > KDF_THREADS_MAX ? KDF_THREADS_MAX : want;
	for (int i = 0; i < want; i++) {
		/* A thread that cannot have its database is not started: the
		 * workers then serve those requests themselves. */
		struct db *db = db_open(cfg.db_path, err, sizeof(err));

		if (db == NULL) {
			log_msg(NULL, "serve: KDF thread %d: %s", i, err);
			break;
		}
		if (pthread_create(&kdf.threads[i], NULL, kdf_main, db) != 0) {
			log_msg(NULL, "serve: cannot start KDF thread %d", i);
			db_close(db);
			break;
		}
		kdf.nthreads++;
	}
}

/* Lets the KDF threads finish what is queued, then joins them. */
static void
kdf_stop(void)
{
	pthread_mutex_lock(&kdf.mu);
	kdf.closing = 1;
	pthread_cond_broadcast(&kdf.ready);
	pthread_mutex_unlock(&kdf.mu);
	for (int i = 0; i < kdf.nthreads; i++)
		pthread_join(kdf.threads[i], NULL);
	kdf.nthreads = 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	FCGX_Request *fr;
	struct db *db;
	char err[256];

	if ((db = db_open(cfg.db_path, err, sizeof(err))) == NULL) {
		log_msg(NULL, "worker %d: %s", w->index, err);
		return NULL;
	}
	if ((fr = request_new(w->listen_fd)) == NULL) {
		log_msg(NULL, "worker %d: FCGX_InitRequest failed", w->index);
		db_close(db);
		return NULL;
	}
	for (unsigned failures = 0;;) {
		int rc;

		atomic_store(&w->idle, 1);
		rc = stopping ? -1 : FCGX_Accept_r(fr);
		atomic_store(&w->idle, 0);
		if (rc < 0) {
			if (stopping)
				break;
			/* An accept error libfcgi does not retry (EMFILE, ENOBUFS,
			 * ENOMEM): the worker waits and tries again, never dies. */
			if (failures++ % 100 == 0)
				log_msg(NULL, "worker %d: accept failed (%d); trying again",
				    w->index, rc);
			usleep(100 * 1000);
			continue;
		}
		failures = 0;
		if (serve_one(fr, db, 1) == 0)
			continue;
		/* Handed to a KDF thread: this one takes a fresh request. */
		if ((fr = request_new(w->listen_fd)) == NULL) {
			log_msg(NULL, "worker %d: out of memory; stops accepting", w->index);
			break;
		}
	}
	if (fr != NULL) {
		FCGX_Free(fr, 0);
		free(fr);
	}
	jwt_thread_end();
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
fcgi_socket_clear(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (path == NULL || strchr(path, '/') == NULL)
		return 0; /* not a UNIX socket path */
	if (lstat(path, &st) < 0)
		return 0; /* bind reports a path it cannot use */
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not replacing it", path);
		return -1;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
		    "a server is listening on %s already; stop it or choose another --socket",
		    path);
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(
		    err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
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
		mode_t old;

		if (fcgi_socket_clear(spec, err, errlen) < 0)
			return -1;
		old = umask((mode_t)(~mode & 0777));
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

/* SIGUSR1 only interrupts a worker's accept() (no SA_RESTART). */
static void
wake(int sig)
{
	(void)sig;
}

/* Joins every worker; a socket handed over by systemd or a web server is
 * not shut down (it outlives this process, with its backlog), so each
 * worker still idle in accept() is woken by SIGUSR1 until it has gone. */
static void
workers_join(struct worker *workers, int n)
{
	for (int i = 0; i < n; i++) {
		for (;;) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(workers[i].thread, NULL, &ts) == 0)
				break;
			for (int j = i; j < n; j++)
				if (atomic_load(&workers[j].idle))
					pthread_kill(workers[j].thread, SIGUSR1);
		}
	}
}

int
fcgi_serve(int listen_fd, int nthreads, int owned)
{
	struct sigaction sa;
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
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wake;
	sigaction(SIGUSR1, &sa, NULL);
	if (runner_start() < 0)
		log_msg(NULL, "serve: no job runner in this process; jobs wait for another");
	if (webhook_sender_start() < 0)
		log_msg(
		    NULL, "serve: no webhook sender in this process; deliveries wait for another");
	kdf_start(nthreads);

	for (int i = 0; i < nthreads; i++) {
		workers[i].listen_fd = listen_fd;
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			log_msg(NULL, "serve: cannot start thread %d", i);
			break;
		}
		started++;
	}
	log_msg(NULL,
	    "serve: tollgate %s ready with %d threads (and %d for password hashing), "
	    "database %s",
	    TG_VERSION, started, kdf.nthreads, cfg.db_shown);
	while (started > 0) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	log_msg(NULL, "serve: signal %d: finishing requests in flight", sig);
	stopping = 1;
	FCGX_ShutdownPending();
	/* A socket of its own is shut down, which wakes every thread blocked
	 * in accept(); busy ones finish their request first. */
	if (owned)
		shutdown(listen_fd, SHUT_RDWR);
	workers_join(workers, started);
	kdf_stop();
	runner_stop();
	webhook_sender_stop();
	close(listen_fd);
	free(workers);
	log_msg(NULL, "serve: stopped");
	return started > 0 ? 0 : -1;
}
