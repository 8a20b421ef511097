#!/bin/sh
# keepconn.sh: measures nginx's fastcgi_keep_conn in front of one
# `tollgate serve --threads 4`: the shipped deploy/nginx/tollgate.conf
# (keep_conn off), then the same with keep_conn on and an upstream
# `keepalive` pool of 1 a worker process and of 32. wrk runs GET /v1/health
# over 64 connections for 10 s each and reports req/s, p50 and p99.
# Loopback only; needs wrk (apt-get install wrk) and nginx.
#
#   THREADS (4)  CONNS (64)  DURATION (10s)  TOLLGATE_BIN (build/tollgate)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${TOLLGATE_BIN:-$top/build/tollgate}
threads=${THREADS:-4}
conns=${CONNS:-64}
duration=${DURATION:-10s}
command -v wrk >/dev/null 2>&1 || { echo "keepconn: needs wrk (apt-get install wrk)" >&2; exit 1; }

dir=$(mktemp -d)
chmod 0711 "$dir"
sock=$dir/tollgate.sock
port=$((20000 + $$ % 20000))
tg_pid=""
nginx_pid=""
cleanup() {
	[ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null
	[ -n "$tg_pid" ] && kill -TERM "$tg_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

TOLLGATE_DB=$dir/tollgate.db TOLLGATE_JWT_SECRET=bench-secret-0123456789abcdef0123456789abcdef \
    TOLLGATE_RATE_IP=1000000000 "$bin" serve --socket "$sock" --threads "$threads" 2>"$dir/tollgate.log" &
tg_pid=$!
i=0
until [ -S "$sock" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$dir/tollgate.log" >&2; exit 1; }
	sleep 0.05
done
workers=$(nproc)
user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
ln -s /etc/nginx/fastcgi_params "$dir/fastcgi_params"
mkdir -p "$dir/tmp"

# run NAME KEEP_CONN KEEPALIVE: one wrk run against nginx configured so.
run() {
	sed -e "s|listen 80;|listen 127.0.0.1:$port;|" -e 's|listen \[::\]:80;||' \
	    -e "s|/run/tollgate/tollgate.sock|$sock|" -e "s|/usr/local/share/tollgate/www|$top/www|" \
	    "$top/deploy/nginx/tollgate.conf" >"$dir/site.conf"
	if [ "$2" = on ]; then
		sed -i -e 's|fastcgi_keep_conn off;|fastcgi_keep_conn on;|' \
		    -e "s|^\(\tserver unix:.*;\)$|\1\n\tkeepalive $3;|" "$dir/site.conf"
	fi
	cat >"$dir/nginx.conf" <<-CONF
	$user
	worker_processes $workers;
	daemon off;
	pid $dir/nginx.pid;
	error_log $dir/nginx-error.log warn;
	events { worker_connections 1024; }
	http {
		include /etc/nginx/mime.types;
		access_log off;
		client_body_temp_path $dir/tmp/body;
		fastcgi_temp_path $dir/tmp/fastcgi;
		include $dir/site.conf;
	}
	CONF
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
	nginx_pid=$!
	i=0
	until curl -fs "http://127.0.0.1:$port/v1/health" >/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$dir/nginx-error.log" >&2; exit 1; }
		sleep 0.05
	done
	wrk -t2 -c"$conns" -d2s "http://127.0.0.1:$port/v1/health" >/dev/null # warm-up
	wrk -t2 -c"$conns" -d"$duration" --timeout 30s --latency "http://127.0.0.1:$port/v1/health" >"$dir/wrk.out"
	kill -QUIT "$nginx_pid"
	wait "$nginx_pid" 2>/dev/null || true
	nginx_pid=""
	awk -v name="$1" '
		/Requests\/sec/ { rps = $2 }
		$1 == "50%" { p50 = $2 }
		$1 == "99%" { p99 = $2 }
		/Non-2xx/ { bad = $NF }
		/Socket errors/ { errs = $0 }
		END { printf "%-34s %10s req/s  p50 %9s  p99 %9s  non-2xx %s%s\n", name, rps, p50, p99,
		    bad == "" ? 0 : bad, errs == "" ? "" : "  (" errs ")" }' "$dir/wrk.out"
}

echo "nginx $workers worker(s), tollgate serve --threads $threads, wrk -c$conns -d$duration, GET /v1/health"
run "keep_conn off (shipped)" off 0
run "keep_conn on, keepalive 1/worker" on 1
run "keep_conn on, keepalive 32/worker" on 32
