/* floor.c: the reference stack of bench/run.sh: a minimal libfcgi responder
 * that answers every request with one constant JSON body. It listens and
 * loops the way `tollgate serve` does (src/fcgi.c: FCGX_OpenSocket with the
 * same backlog and socket mode, N threads each in FCGX_Accept_r on the one
 * socket), so nginx -> FastCGI -> a thread -> an answer is all it costs.
 * It takes the command line deploy/run.sh gives the real binary:
 *
 *   floor migrate                                  (does nothing)
 *   floor serve --socket PATH [--threads N]        (TOLLGATE_THREADS, 4)
 *
 * so the same rendered nginx config serves both stacks. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#define LISTEN_BACKLOG 512 /* as src/fcgi.c */
#define MAX_THREADS 256

static const char answer[] = "Status: 200 OK\r\n"
                             "Cache-Control: no-store\r\n"
                             "Content-Type: application/json; charset=utf-8\r\n"
                             "\r\n"
                             "{\"status\":\"ok\",\"version\":\"0.1.0\",\"database\":\"ok\"}";

static int listen_fd;

static void *
worker(void *arg)
{
	FCGX_Request r;

	(void)arg;
	if (FCGX_InitRequest(&r, listen_fd, 0) != 0)
		return NULL;
	while (FCGX_Accept_r(&r) == 0) {
		FCGX_PutStr(answer, (int)sizeof(answer) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *env = getenv("TOLLGATE_THREADS");
	int n = env != NULL ? atoi(env) : 4;
	pthread_t t[MAX_THREADS];
	sigset_t set;
	mode_t old;
	int sig;

	if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
		return 0;
	if (argc < 2 || strcmp(argv[1], "serve") != 0) {
		fprintf(stderr, "usage: floor serve --socket PATH [--threads N]\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--socket") == 0)
			sock = argv[i + 1];
		else if (strcmp(argv[i], "--threads") == 0)
			n = atoi(argv[i + 1]);
	}
	if (sock == NULL || n < 1 || n > MAX_THREADS || FCGX_Init() != 0) {
		fprintf(stderr, "floor: need --socket PATH and 1..%d threads\n", MAX_THREADS);
		return 2;
	}
	unlink(sock);
	old = umask(0117); /* 0660, as tollgate serve's default --socket-mode */
	listen_fd = FCGX_OpenSocket(sock, LISTEN_BACKLOG);
	umask(old);
	if (listen_fd < 0) {
		fprintf(stderr, "floor: cannot listen on %s\n", sock);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	fprintf(stderr, "floor: ready with %d threads on %s\n", n, sock);
	sigwait(&set, &sig);
	unlink(sock);
	return 0;
}
