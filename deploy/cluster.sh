#!/bin/sh
# cluster.sh: Tollgate as several hosts on one PostgreSQL, on one machine
# (`make cluster`): a throwaway PostgreSQL (deploy/pg-local.sh), three
# hosts (each a deploy/run.sh stack: nginx + `tollgate serve` on a UNIX
# socket, with a run directory and a rate-limit table of its own) and a
# load-balancing nginx in front of them, round robin. Serves until Ctrl-C
# (or SIGTERM), then stops everything it started and exits 0. A port in
# use ends it with exit 1 before anything starts.
#
#   PORT          the load balancer's port (8080)
#   HOST_PORTS    the hosts' ports ("PORT+1 PORT+2 PORT+3")
#   CLUSTER_DIR   the hosts' run directories (host-PORT), the balancer's
#                 (lb), the shared jwt-secret and PostgreSQL's data (pg)
#                 (var/cluster)
#   TOLLGATE_BIN  the binary (build/tollgate)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
HOST_PORTS=${HOST_PORTS:-"$((PORT + 1)) $((PORT + 2)) $((PORT + 3))"}
dir=${CLUSTER_DIR:-$top/var/cluster}
export TOLLGATE_BIN="${TOLLGATE_BIN:-$top/build/tollgate}"

port_free() {
	perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or exit 2;
		setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
		bind($s, sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) or exit 1' "$1"
}
taken() {
	echo "cluster: port $1 on 127.0.0.1 is in use (another make cluster or make run?); pick others: PORT=$((PORT + 10)) make cluster" >&2
	exit 1
}
for p in $PORT $HOST_PORTS; do
	port_free "$p" || taken "$p"
done

mkdir -p "$dir/lb/tmp"
dir=$(cd "$dir" && pwd)
lb="$dir/lb"
# One cluster a directory.
exec 9>"$dir/lock"
if ! flock -n 9; then
	echo "cluster: $dir is in use by another make cluster" >&2
	exit 1
fi

# Every host signs and checks tokens with the same secret: made once, kept
# beside the hosts' run directories.
if [ -z "${TOLLGATE_JWT_SECRET:-}" ]; then
	if [ ! -s "$dir/jwt-secret" ]; then
		(umask 077 && openssl rand -base64 48 | tr -d '\n' >"$dir/jwt-secret")
	fi
	TOLLGATE_JWT_SECRET=$(cat "$dir/jwt-secret")
fi
export TOLLGATE_JWT_SECRET

hosts="" # the run.sh pids
pg=""    # set while the PostgreSQL this started runs
lb_pid=""
stop() {
	rc=$1
	trap - INT TERM EXIT
	if [ -n "$lb_pid" ]; then
		kill -QUIT "$lb_pid" 2>/dev/null || true
	fi
	# Each host stops as run.sh does on Ctrl-C: requests and job steps in
	# flight finish, then its processes end.
	for h in $hosts; do
		kill -TERM "$h" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -n "$pg" ] && sh "$top/deploy/pg-local.sh" stop "$dir/pg"
	exit "$rc"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

pg=1
url=$(sh "$top/deploy/pg-local.sh" start "$dir/pg") || exit 1
shown=$(printf '%s\n' "$url" | sed 's|^\([a-z]*://[^:/@]*\):[^@/]*@|\1:***@|')
# Migrated once before the hosts start, so that no host's start waits on
# another's migration.
if ! TOLLGATE_DB="$url" "$TOLLGATE_BIN" migrate >"$dir/migrate.log" 2>&1; then
	cat "$dir/migrate.log" >&2
	exit 1
fi

# A host: its own run directory and rate-limit table, as on a machine of
# its own; the database and the secret are the cluster's. It believes the
# X-Forwarded-For of the balancer, which connects from 127.0.0.2.
servers=""
for p in $HOST_PORTS; do
	mkdir -p "$dir/host-$p"
	PORT=$p TOLLGATE_DB="$url" TOLLGATE_RUN="$dir/host-$p" \
	    TOLLGATE_RATELIMIT_FILE="$dir/host-$p/ratelimit" \
	    TOLLGATE_TRUSTED_PROXIES=127.0.0.2 \
	    sh "$top/deploy/run.sh" >"$dir/host-$p/run.log" 2>&1 &
	hosts="$hosts $!"
	servers="$servers		server 127.0.0.1:$p max_fails=1 fail_timeout=5s;\\
"
done
for p in $HOST_PORTS; do
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/v1/health")" = 200 ]; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "cluster: the host on port $p did not start:" >&2
			tail -n 20 "$dir/host-$p/run.log" >&2
			exit 1
		fi
		sleep 0.05
	done
done

user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
sed -e "s|@USER@|$user|" -e "s|@RUN@|$lb|g" -e "s|@PORT@|$PORT|g" \
    -e "s|@MAX_BODY@|${TOLLGATE_MAX_BODY:-8M}|g" -e "s|^@SERVERS@\$|$servers|" \
    "$top/deploy/cluster/lb-dev.conf.in" >"$lb/nginx.conf"
rm -f "$lb/nginx.pid"
: >"$lb/nginx-error.log"
nginx -p "$lb" -c "$lb/nginx.conf" -e "$lb/nginx-error.log" &
lb_pid=$!
i=0
until [ -s "$lb/nginx.pid" ]; do
	i=$((i + 1))
	if ! kill -0 "$lb_pid" 2>/dev/null; then
		lb_pid=""
		grep -q 'Address already in use' "$lb/nginx-error.log" 2>/dev/null && taken "$PORT"
		echo "cluster: the load balancer did not start on port $PORT (see $lb/nginx-error.log)" >&2
		exit 1
	fi
	if [ $i -gt 200 ]; then
		echo "cluster: the load balancer did not listen on port $PORT within 10 s" >&2
		exit 1
	fi
	sleep 0.05
done
echo "Tollgate cluster on http://127.0.0.1:$PORT/: hosts on ports $(echo "$HOST_PORTS" | tr ' ' ','), database $shown; Ctrl-C stops it."
wait
