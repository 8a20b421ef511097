#!/bin/sh
# ratelimit_cluster.sh: what the cluster limiter (TOLLGATE_RATELIMIT=
# postgresql) costs a request against the host's own table (local), both on
# the PostgreSQL store. Starts a throwaway PostgreSQL (deploy/pg-local.sh),
# one stack of each kind on the same database, and runs GET /v1/health
# through nginx against each in turns (A B A B ...) with wrk. Prints, per
# kind, the median req/s and, over all its runs, the CPU time per request
# of its `tollgate serve` and of PostgreSQL's processes (utime + stime from
# /proc before and after), and the ratios. Loopback only; needs wrk.
#
#   DURATION (5 s a run)  CONNS (32)  ROUNDS (3)
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null 2>&1 || { echo "ratelimit_cluster: needs wrk (apt-get install wrk)" >&2; exit 1; }
make --no-print-directory -s all
tmp=$(mktemp -d)
chmod 0711 "$tmp"
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	sh deploy/pg-local.sh stop "$tmp/pg" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

url=$(TOLLGATE_PG_FAST=1 sh deploy/pg-local.sh start "$tmp/pg")
postmaster=$(head -n 1 "$tmp/pg/data/postmaster.pid")

start() { # kind port
	mkdir -p "$tmp/$1"
	PORT=$2 TOLLGATE_BIN="$PWD/build/tollgate" TOLLGATE_RUN="$tmp/$1/run" TOLLGATE_DB="$url" \
	    TOLLGATE_RATELIMIT=$1 TOLLGATE_RATELIMIT_FILE="$tmp/$1/ratelimit" \
	    TOLLGATE_JWT_SECRET=bench-secret-0123456789abcdef0123456789 \
	    TOLLGATE_RATE_IP=1000000000 sh deploy/run.sh >"$tmp/$1/log" 2>&1 &
	pids="$pids $!"
	i=0
	until curl -sf "http://127.0.0.1:$2/v1/health" >/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "ratelimit_cluster: $1 did not start" >&2; cat "$tmp/$1/log" >&2; exit 1; }
		sleep 0.1
	done
}
# ticks of utime + stime of the processes pids (fields 14 and 15 of stat)
ticks() {
	for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done |
	    sed 's/^.*) //' | awk '{ t += $12 + $13 } END { print t + 0 }'
}
serve_pids() { # kind: its tollgate serve processes
	grep -lsF "TOLLGATE_RUN=$tmp/$1/run" /proc/[0-9]*/environ | sed 's|^/proc/\([0-9]*\)/.*|\1|' |
	    while read -r p; do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = tollgate ] && echo "$p"; done
}
pg_pids() { # the cluster's postmaster and its children
	echo "$postmaster"
	for s in /proc/[0-9]*/stat; do
		sed 's/^.*) //' "$s" 2>/dev/null | awk -v pm="$postmaster" -v f="$s" '$2 == pm { split(f, a, "/"); print a[3] }'
	done
}
run() { # kind port: one wrk run; appends "req/s requests serve-ticks pg-ticks" to $tmp/$1.runs
	sp=$(serve_pids "$1")
	pp=$(pg_pids)
	# shellcheck disable=SC2086
	s0=$(ticks $sp)
	# shellcheck disable=SC2086
	p0=$(ticks $pp)
	out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$2/v1/health")
	# shellcheck disable=SC2086
	s1=$(ticks $sp)
	# shellcheck disable=SC2086
	p1=$(ticks $pp)
	echo "$out" | awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) \
	    '/requests in/ { n = $1 } /^Requests\/sec/ { r = int($2) } END { print r, n, s, p }' >>"$tmp/$1.runs"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

start local 18941
start postgresql 18942
: >"$tmp/local.runs"
: >"$tmp/postgresql.runs"
for r in $(seq "$ROUNDS"); do
	run local 18941
	run postgresql 18942
done
hz=$(getconf CLK_TCK)
summary() { # kind: "req/s serve-us/request pg-us/request"
	rps=$(awk '{ print $1 }' "$tmp/$1.runs" | median)
	awk -v hz="$hz" -v rps="$rps" '{ n += $2; s += $3; p += $4 }
	    END { printf "%d %.1f %.1f\n", rps, s / hz / n * 1e6, p / hz / n * 1e6 }' "$tmp/$1.runs"
}
set -- $(summary local)
l_rps=$1 l_s=$2 l_p=$3
set -- $(summary postgresql)
p_rps=$1 p_s=$2 p_p=$3
printf '| GET /v1/health, %s connections, PostgreSQL store | local | postgresql | ratio |\n|---|---|---|---|\n' "$CONNS"
printf '| req/s (median of %s runs of %s s) | %s | %s | %s |\n' "$ROUNDS" "$DURATION" "$l_rps" "$p_rps" \
    "$(awk -v a="$p_rps" -v b="$l_rps" 'BEGIN { printf "%.2f", a / b }')"
printf '| tollgate serve CPU a request (us) | %s | %s | %s |\n' "$l_s" "$p_s" \
    "$(awk -v a="$p_s" -v b="$l_s" 'BEGIN { printf "%.2f", a / b }')"
printf '| PostgreSQL CPU a request (us) | %s | %s | %s |\n' "$l_p" "$p_p" \
    "$(awk -v a="$p_p" -v b="$l_p" 'BEGIN { printf "%.2f", a / b }')"
