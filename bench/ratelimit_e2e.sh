#!/bin/sh
# ratelimit_e2e.sh: what the rate limiter costs a request, end to end. Runs
# GET /v1/health through nginx against tollgate as built and against the
# same source built without the limiter (make BENCH_NO_RATELIMIT=1), in
# turns (A B A B A B), with wrk; prints the medians and the ratio.
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
make --no-print-directory -s all
make --no-print-directory -s BENCH_NO_RATELIMIT=1 all
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

start() { # name bin port
	mkdir -p "$tmp/$1"
	PORT=$3 TOLLGATE_BIN=$2 TOLLGATE_RUN="$tmp/$1/run" TOLLGATE_DB="$tmp/$1/db" \
	    TOLLGATE_JWT_SECRET=bench-secret-0123456789abcdef0123456789 \
	    TOLLGATE_RATE_IP=1000000000 sh deploy/run.sh >"$tmp/$1/log" 2>&1 &
	pids="$pids $!"
	i=0
	until curl -sf "http://127.0.0.1:$3/v1/health" >/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "ratelimit_e2e: $1 did not start" >&2; cat "$tmp/$1/log" >&2; exit 1; }
		sleep 0.1
	done
}
rps() { # port: requests/s of one wrk run
	wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$1/v1/health" |
	    awk '/^Requests\/sec/ { print int($2) }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

start limited "$PWD/build/tollgate" 18931
start unlimited "$PWD/build/nolimit/tollgate" 18932
: >"$tmp/a"
: >"$tmp/b"
for r in $(seq "$ROUNDS"); do
	rps 18931 >>"$tmp/a"
	rps 18932 >>"$tmp/b"
done
a=$(median <"$tmp/a")
b=$(median <"$tmp/b")
printf '| case | without the limiter | with it | ratio |\n|---|---|---|---|\n'
printf '| GET /v1/health, %s connections, req/s (median of %s) | %s | %s | %s |\n' \
    "$CONNS" "$ROUNDS" "$b" "$a" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
