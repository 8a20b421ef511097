#!/bin/sh
# run.sh: serves Tollgate through a real nginx on 127.0.0.1:$PORT until
# Ctrl-C (or SIGTERM), then stops everything it started and exits 0. `make
# run` and the integration tests both start the stack this way. A port in
# use, or a run directory another instance holds, ends it with exit 1
# before it touches anything of that instance's.
#
#   PORT          nginx port (8080)
#   TOLLGATE_DB   the database: a SQLite file (var/tollgate.db) or a
#                 PostgreSQL URL postgresql://user:pass@host:port/db
#   TOLLGATE_BIN  the binary (build/tollgate)
#   TOLLGATE_RUN  where the socket, rendered config and logs go (var/run-$PORT)
#   TOLLGATE_SERVE_ARGS  more arguments for `tollgate serve`
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
bin=${TOLLGATE_BIN:-$top/build/tollgate}
run=${TOLLGATE_RUN:-$top/var/run-$PORT}
export TOLLGATE_DB="${TOLLGATE_DB:-$top/var/tollgate.db}"
# var: what is kept beside the database (jwt-secret): the SQLite file's
# directory, or for a PostgreSQL URL the run directory's parent.
case $TOLLGATE_DB in
postgresql://* | postgres://*)
	var=$(dirname "$run")
	# What this prints of the URL: its password as ***.
	shown=$(printf '%s\n' "$TOLLGATE_DB" | sed 's|^\([a-z]*://[^:/@]*\):[^@/]*@|\1:***@|')
	;;
*)
	var=$(dirname "$TOLLGATE_DB")
	shown=$TOLLGATE_DB
	;;
esac

# port_free PORT: whether 127.0.0.1:PORT can be bound (as nginx binds it,
# SO_REUSEADDR), so a taken port stops this before anything is touched.
port_free() {
	perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or exit 2;
		setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
		bind($s, sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) or exit 1' "$1"
}
# answers PATH: whether a server accepts connections on the UNIX socket PATH.
answers() {
	perl -MSocket -e 'socket(my $s, PF_UNIX, SOCK_STREAM, 0) or exit 2;
		connect($s, pack_sockaddr_un($ARGV[0])) or exit 1' "$1"
}
taken() {
	echo "run: port $PORT on 127.0.0.1 is in use (another make run?); pick another: PORT=$((PORT + 1)) make run" >&2
	exit 1
}

port_free "$PORT" || taken
mkdir -p "$run/tmp" "$var"
# One instance a run directory: its socket, config and pid files are this
# instance's alone while it runs.
exec 9>"$run/lock"
if ! flock -n 9; then
	echo "run: $run is in use by another make run" >&2
	exit 1
fi

# A development secret, made once and kept beside the database.
if [ -z "${TOLLGATE_JWT_SECRET:-}" ]; then
	secret_file="$var/jwt-secret"
	if [ ! -s "$secret_file" ]; then
		(umask 077 && openssl rand -base64 48 | tr -d '\n' >"$secret_file")
	fi
	TOLLGATE_JWT_SECRET=$(cat "$secret_file")
	export TOLLGATE_JWT_SECRET
fi

max_body=${TOLLGATE_MAX_BODY:-8M}
user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
sock="$run/tollgate.sock"
sed -e "s|@USER@|$user|" -e "s|@RUN@|$run|g" -e "s|@PORT@|$PORT|g" \
    -e "s|@WWW@|$top/www|g" -e "s|@SOCKET@|$sock|g" -e "s|@MAX_BODY@|$max_body|g" \
    "$top/deploy/nginx/dev.conf.in" >"$run/nginx.conf"

tg_pid=""
nginx_pid=""
stop() {
	rc=$1
	trap - INT TERM EXIT
	: >"$run/stopping"
	[ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null || true
	# The server finishes what it is doing (requests, a job step): wait for
	# the process itself, whatever became of the supervisor.
	pid=$(cat "$run/tollgate.pid" 2>/dev/null)
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do
			sleep 0.05
			i=$((i + 1))
		done
	fi
	wait 2>/dev/null
	exit "$rc"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

# `tollgate serve` migrates the database before it listens.
# The supervisor: a server that dies of a signal (a crash, kill -9) is
# started again; one that exits by itself (SIGTERM, a bad setting) is not.
# It notes the server's pid for stop(), which does the waiting.
supervise() {
	while :; do
		# shellcheck disable=SC2086
		"$bin" serve --socket "$sock" ${TOLLGATE_SERVE_ARGS:-} &
		echo $! >"$run/tollgate.pid"
		rc=0
		wait $! || rc=$? # set -e must not end the supervisor here
		if [ -e "$run/stopping" ] || [ "$rc" -le 128 ]; then
			exit "$rc"
		fi
		echo "run: tollgate serve died (status $rc); starting it again" >&2
		sleep 0.1
	done
}
rm -f "$run/stopping" "$run/tollgate.pid" "$run/nginx.pid"
supervise &
tg_pid=$!
i=0
until [ -S "$sock" ] && answers "$sock"; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$tg_pid" 2>/dev/null; then
		echo "run: tollgate serve did not start" >&2
		exit 1
	fi
	sleep 0.05
done
# nginx writes its pid file once it listens; it retries a taken port for
# about 2.5 s and then exits, so wait for one or the other.
: >"$run/nginx-error.log"
nginx -p "$run" -c "$run/nginx.conf" -e "$run/nginx-error.log" &
nginx_pid=$!
i=0
until [ -s "$run/nginx.pid" ]; do
	i=$((i + 1))
	if ! kill -0 "$nginx_pid" 2>/dev/null; then
		nginx_pid=""
		grep -q 'Address already in use' "$run/nginx-error.log" 2>/dev/null && taken
		echo "run: nginx did not start on port $PORT (see $run/nginx-error.log)" >&2
		exit 1
	fi
	if [ $i -gt 200 ]; then
		echo "run: nginx did not listen on port $PORT within 10 s" >&2
		exit 1
	fi
	sleep 0.05
done
echo "Tollgate on http://127.0.0.1:$PORT/ (database $shown); Ctrl-C stops it."
wait
