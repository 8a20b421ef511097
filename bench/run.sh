#!/bin/sh
# run.sh: `make bench`. Tollgate against its physical floor, side by side in
# one run, as ratios: absolute numbers on a shared 2-core machine mean
# little alone.
#
# Two stacks start from deploy/run.sh with the same rendered nginx config:
# the real one (nginx + tollgate serve) and the floor (nginx + bench/floor.c,
# a libfcgi responder with tollgate's thread count and accept loop that
# answers a constant JSON body). wrk drives each case against both, the two
# stacks alternately (floor, Tollgate, floor, Tollgate, ...: ROUNDS times),
# and the medians are compared. Ingest is compared with bench/ingest_floor.c
# (the same stored records straight into SQLite, 500-row transactions; on
# PostgreSQL bench/ingest_floor_pg.c, the same over libpq from 8
# connections), and the same batch as NDJSON and gzip-compressed (JSON and
# NDJSON) with plain JSON; the trigger also with bench/write_floor.c (the
# trigger's and the runner's own statements through src/db.c, without HTTP),
# login with bench/argon2_floor.c (argon2id verification alone). Then: reads
# while logins run, throughput by thread count, peak RSS.
#
# STORE=sqlite (the default) runs on an SQLite file; STORE=postgresql on a
# throwaway PostgreSQL 15 cluster in the work directory (deploy/pg-local.sh,
# stopped on exit; TOLLGATE_PG_FAST=1 starts it without fsync). The floors
# get copies of Tollgate's database, so they write what it writes.
#
# Each small-request run also reads the server's CPU time (user + system,
# /proc/PID/stat) before and after: CPU per request, the figure that moves
# least with the neighbours' load. The trigger case counts the job runner's
# work too: it waits for the queue to drain before the next case, and takes
# from /v1/metrics how many triggers each group commit carried.
#
#   DURATION  seconds a measurement (5)   CONNS    connections for reads (32)
#   ROUNDS    A/B rounds (3)              THREADS  worker threads (4)
#   LOGIN_CONNS  logins running during the starvation check (= THREADS)
#   SCALING   thread counts to compare ("1 2 4 8"; empty skips)
#   PORT      first of the two nginx ports (18180)
#   PERF=1    record perf on tollgate serve during the first read round
#             (build/bench/perf/CASE.data)
#   STORE     sqlite or postgresql (sqlite)
#   LIMITER   TOLLGATE_RATELIMIT: local (the default here: one host, the
#             cluster limiter has bench/ratelimit_cluster.sh) or postgresql
#   PARTS     what to run ("reads ingest login starve scaling"); CASES the
#             small-request cases ("health key token trigger")
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-4}
LOGIN_CONNS=${LOGIN_CONNS:-$THREADS}
SCALING=${SCALING-1 2 4 8}
PORT=${PORT:-18180}
INGEST_CONNS=8
FLOOR_ROWS=${FLOOR_ROWS:-100000}
PARTS=${PARTS:-reads ingest login starve scaling}
STORE=${STORE:-sqlite}
case $STORE in
sqlite | postgresql) ;;
*)
	echo "bench: STORE is sqlite or postgresql, not $STORE" >&2
	exit 2
	;;
esac
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
tg_port=$PORT
fl_port=$((PORT + 1))

tools="wrk curl jq sqlite3 nginx cc"
[ "$STORE" = postgresql ] && tools="$tools psql pg_dump"
for tool in $tools; do
	command -v "$tool" >/dev/null || {
		echo "bench: needs $tool (apt-get install $tool)" >&2
		exit 1
	}
done
make --no-print-directory all >/dev/null
mkdir -p build/bench
cc -O2 -g -Wall -Wextra -o build/bench/floor bench/floor.c -lfcgi -lpthread
cc -O2 -g -Wall -Wextra -o build/bench/ingest_floor bench/ingest_floor.c -lsqlite3
cc -O2 -g -Wall -Wextra -o build/bench/argon2_floor bench/argon2_floor.c -largon2
cc -O2 -g -Wall -Wextra -I/usr/include/postgresql -o build/bench/ingest_floor_pg \
    bench/ingest_floor_pg.c -lpq -lpthread
# write_floor runs src/db.c's statements: it links the server's own objects.
make --no-print-directory build/libtollgate.a >/dev/null
cc -std=c11 -D_GNU_SOURCE -Isrc -I/usr/include/postgresql -O2 -g -Wall -Wextra \
    -o build/bench/write_floor bench/write_floor.c build/libtollgate.a \
    -lfcgi -ljson-c -lsqlite3 -lpq -ljwt -largon2 -lcurl -lcrypto -lz -lpthread

work=$(mktemp -d)
chmod 0711 "$work"
tg_stack=""
fl_stack=""
bg=""
pg_url=""
stop_stacks() {
	for p in $tg_stack $fl_stack; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $tg_stack $fl_stack; do wait "$p" 2>/dev/null || true; done
	tg_stack=""
	fl_stack=""
}
cleanup() {
	[ -n "$bg" ] && kill "$bg" 2>/dev/null
	stop_stacks
	[ -n "$pg_url" ] && sh deploy/pg-local.sh stop "$work/pg"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export TOLLGATE_JWT_SECRET="bench-secret-0123456789abcdef0123456789abcdef"
# Rate limits out of the way: they must not shape what is measured.
export TOLLGATE_RATE_KEY=1000000000 TOLLGATE_RATE_USER=1000000000 TOLLGATE_RATE_IP=1000000000
export TOLLGATE_RATE_ORG=1000000000
export TOLLGATE_RATE_LOGIN=1000000000 TOLLGATE_RATE_LOGIN_ACCOUNT=1000000000
export TOLLGATE_RATELIMIT="${LIMITER:-local}"
export TOLLGATE_DB="$work/tollgate.db"
if [ "$STORE" = postgresql ]; then
	pg_url=$(sh deploy/pg-local.sh start "$work/pg") || exit 1
	TOLLGATE_DB=$pg_url
fi
export TOLLGATE_METRICS_TOKEN="bench-metrics-token"

wait_up() { # port
	i=0
	until curl -fs "http://127.0.0.1:$1/v1/health" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			cat "$work"/*.log >&2
			exit 1
		fi
		sleep 0.05
	done
}

start_stacks() { # threads
	TOLLGATE_THREADS=$1 PORT=$tg_port TOLLGATE_RUN="$work/run-tg" \
	    sh deploy/run.sh >"$work/tg.log" 2>&1 &
	tg_stack=$!
	TOLLGATE_THREADS=$1 PORT=$fl_port TOLLGATE_RUN="$work/run-floor" \
	    TOLLGATE_BIN="$top/build/bench/floor" TOLLGATE_DB="$work/floor.db" \
	    sh deploy/run.sh >"$work/floor.log" 2>&1 &
	fl_stack=$!
	wait_up $tg_port
	wait_up $fl_port
}

# load OUT PORT PATH CONNS [wrk -H args]: one wrk run; figures in OUT.
load() {
	out=$1 port=$2 path=$3 conns=$4
	shift 4
	wrk -t$((conns < 2 ? 1 : 2)) -c"$conns" -d"${DURATION}s" --timeout 10s -s bench/wrk.lua "$@" \
	    "http://127.0.0.1:$port$path" >"$out" 2>&1 || true
}

get() { sed -n "s/^$1 //p" "$2" | tail -n 1; }

# median FILE...: the median of the numbers in the files, one per file.
median() { cat "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

call() { # method path [curl args...]: the JSON answer
	m=$1 p=$2
	shift 2
	curl -fsS -X "$m" "http://127.0.0.1:$tg_port$p" "$@"
}

# sql SQL: runs SQL on Tollgate's store; its rows, one a line.
sql() {
	if [ "$STORE" = postgresql ]; then
		PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 \
		    -d "$TOLLGATE_DB" -c "$1"
	else
		sqlite3 -cmd ".timeout 5000" "$TOLLGATE_DB" "$1"
	fi
}
# copy_db NAME: a copy of Tollgate's store as it is now for a floor (a file
# in the work directory, or database NAME of the cluster); prints its path
# or URL.
copy_db() {
	if [ "$STORE" = postgresql ]; then
		u="${pg_url%/*}/$1"
		sql "DROP DATABASE IF EXISTS $1" >/dev/null
		sql "CREATE DATABASE $1" >/dev/null
		pg_dump --no-owner "$TOLLGATE_DB" | psql -X -q -v ON_ERROR_STOP=1 -d "$u" >/dev/null
		echo "$u"
	else
		sqlite3 "$TOLLGATE_DB" ".backup '$work/$1.db'"
		echo "$work/$1.db"
	fi
}

echo "bench: store $STORE, rate limiter $TOLLGATE_RATELIMIT; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $THREADS worker threads," \
    "$CONNS connections, ${DURATION}s a measurement, $ROUNDS rounds floor/Tollgate alternately" >&2
start_stacks "$THREADS"

# ---- the data: an Enterprise organization, its admin's token, a key with
# every scope, a published table with a schema, a spinner, a member for logins.
json='Content-Type: application/json'
email="bench@example.test"
pw="bench password 1"
org=$(call POST /v1/signup -H "$json" \
    -d "{\"organization\":\"Bench\",\"email\":\"$email\",\"password\":\"$pw\"}" | jq -r .organization.id)
build/tollgate set-plan "$org" enterprise >/dev/null 2>&1
# The plans' own request budgets cleared: the TOLLGATE_RATE_* above apply.
sql "UPDATE plans SET rate_key = NULL, rate_user = NULL, rate_org = NULL" >/dev/null
token=$(call POST /v1/auth/login -H "$json" -d "{\"email\":\"$email\",\"password\":\"$pw\"}" |
    jq -r .token)
auth="Authorization: Bearer $token"
key=$(call POST /v1/api-keys -H "$auth" -H "$json" \
    -d '{"name":"bench","scopes":["ingest","trigger","read"]}' | jq -r .key)
call POST /v1/users -H "$auth" -H "$json" \
    -d "{\"email\":\"login@example.test\",\"password\":\"$pw\",\"role\":\"member\"}" >/dev/null
project=$(call POST /v1/projects -H "$auth" -H "$json" -d '{"name":"bench"}' | jq -r .id)
table=$(call POST "/v1/projects/$project/tables" -H "$auth" -H "$json" -d '{"name":"events"}' |
    jq -r .id)
printf 'id,user,event,value,ok,at\n0,u0,signup,0.5,true,1700000000\n' |
    call POST "/v1/tables/$table/import" -H "$auth" -H 'Content-Type: text/csv' --data-binary @- >/dev/null
call POST "/v1/tables/$table/publish" -H "$auth" >/dev/null
spinner=$(curl -sS -X POST "http://127.0.0.1:$tg_port/v1/projects/$project/spinners" -H "$auth" \
    -H "$json" -d "{\"name\":\"bench\",\"tableId\":\"$table\"}" | jq -r '.id // empty')
if [ -n "$spinner" ]; then
	call POST "/v1/spinners/$spinner/publish" -H "$auth" >/dev/null
	call POST "/v1/spinners/$spinner/trigger" -H "X-API-Key: $key" >/dev/null
fi
printf '{"email":"login@example.test","password":"%s","device":"bench","force":true}' "$pw" \
    >"$work/login.json"
call POST /v1/auth/login -H "$json" --data-binary @"$work/login.json" >/dev/null
call GET /v1/billing/usage -H "X-API-Key: $key" >/dev/null
call GET /v1/auth/session -H "$auth" >/dev/null
# The write floor's own store: Tollgate's as it is now, the spinner in it.
if [ -n "$spinner" ] && has reads && echo "${CASES:-trigger}" | grep -qw trigger; then
	wf_db=$(copy_db write_floor)
fi

# ---- small requests: each case against the floor and Tollgate, alternately.
cases=${CASES:-health key token trigger}
[ -n "$spinner" ] || cases=$(echo "$cases" | sed 's/trigger//')
has reads || cases=""
run_case() { # case port out
	case $1 in
	health) BENCH_METHOD=GET load "$3" "$2" /v1/health "$CONNS" ;;
	key) BENCH_METHOD=GET load "$3" "$2" /v1/billing/usage "$CONNS" -H "X-API-Key: $key" ;;
	token) BENCH_METHOD=GET load "$3" "$2" /v1/auth/session "$CONNS" -H "$auth" ;;
	trigger) BENCH_METHOD=POST load "$3" "$2" "/v1/spinners/$spinner/trigger" "$CONNS" \
	    -H "X-API-Key: $key" ;;
	esac
}
# cpu_case CASE PORT OUT PID: run_case, and the server's CPU time (user +
# system, all threads) per request it answered, in microseconds, as the
# figure cpu_us in OUT: what the server itself spends, whatever nginx, wrk
# and the neighbours take of the machine.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
cpu_case() {
	t0=$(ticks "$4")
	run_case "$1" "$2" "$3"
	# A trigger's cost includes running its job: wait for the runner to
	# drain the queue (counted in the CPU time), so the next case does not
	# share the machine with a backlog.
	if [ "$1" = trigger ] && [ "$2" = "$tg_port" ]; then
		s0=$(date +%s.%N)
		i=0
		while [ "$(sql "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')" 2>/dev/null || echo 1)" != 0 ] &&
		    [ $i -lt 1200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		awk -v s="$(date +%s.%N)" -v s0="$s0" 'BEGIN { printf "drain_s %.2f\n", s - s0 }' >>"$3"
	fi
	t1=$(ticks "$4")
	awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$(get requests "$3")" \
	    'BEGIN { printf "cpu_us %.1f\n", (n > 0 ? t / hz * 1e6 / n : 0) }' >>"$3"
}
DURATION=1 run_case health $fl_port "$work/warm" # warm-up
DURATION=1 run_case health $tg_port "$work/warm"
tg_pid=$(pgrep -f "serve --socket $work/run-tg/tollgate.sock" | head -n 1)
fl_pid=$(pgrep -f "serve --socket $work/run-floor/tollgate.sock" | head -n 1)
for r in $(seq "$ROUNDS"); do
	for c in $cases; do
		echo "bench: round $r: $c" >&2
		cpu_case "$c" $fl_port "$work/$c.floor.$r" "$fl_pid"
		if [ "${PERF:-0}" = 1 ] && [ "$r" = 1 ]; then
			perf record -e cpu-clock --call-graph dwarf,16384 -F 499 -p "$tg_pid" -o "$work/perf.$c" \
			    -- sleep "$DURATION" >/dev/null 2>&1 &
			bg=$!
		fi
		cpu_case "$c" $tg_port "$work/$c.tg.$r" "$tg_pid"
		if [ -n "$bg" ]; then
			wait "$bg" || true
			bg=""
			mkdir -p build/bench/perf && cp "$work/perf.$c" "build/bench/perf/$c.data"
		fi
		if [ "$c" = trigger ]; then
			build/bench/write_floor "$wf_db" "$org" "$spinner" "$THREADS" "$DURATION" \
			    >"$work/trigger.wf.$r" 2>>"$work/write_floor.log" ||
			    echo "bench: write_floor failed (see its figures below)" >&2
		fi
	done
done

# Triggers per shared write transaction (src/db.c, db_write_grouped), from
# the server's own counters.
if echo "$cases" | grep -qw trigger; then
	curl -fsS -H "Authorization: Bearer $TOLLGATE_METRICS_TOKEN" "http://127.0.0.1:$tg_port/v1/metrics" |
	    awk '/^tollgate_db_group_commits_total/ { c = $2 } /^tollgate_db_group_pieces_total/ { p = $2 }
	    END { if (c > 0) printf "%.2f (%d in %d)\n", p / c, p, c; else print "–" }' >"$work/group" || true
fi

# ---- ingest: 500-record batches from 8 clients against the SQLite floor.
if has ingest; then
echo "bench: ingest" >&2
awk -v n=500 'BEGIN {
	events[0] = "signup"; events[1] = "login"; events[2] = "purchase \\\"gold\\\""; events[3] = "logout";
	printf "{\"records\":[" > "/dev/stdout"
	for (i = 0; i < n; i++) {
		rec = sprintf("{\"id\":%d,\"user\":\"user-%05d@example.test\",\"event\":\"%s\",\"value\":%d.25,\"ok\":%s,\"at\":%d}",
		    i + 1, i * 7919 % 100000, events[i % 4], i * 3, i % 3 ? "true" : "false", 1700000000 + i)
		printf "%s%s", i ? "," : "", rec
		print rec > "/dev/stderr"
	}
	print "]}"
}' >"$work/batch.json" 2>"$work/records.jsonl"
call POST "/v1/tables/$table/records" -H "X-API-Key: $key" -H "$json" \
    --data-binary @"$work/batch.json" >/dev/null
if [ "$STORE" = postgresql ]; then
	# Each round's floor starts from this snapshot (CREATE DATABASE ...
	# TEMPLATE: a file copy, fast whatever the size).
	if_snap=$(copy_db ingest_snapshot)
else
	sqlite3 "$TOLLGATE_DB" ".backup '$work/ingest-floor.db'"
fi
# The same 500 records as NDJSON (records.jsonl is one a line), and both
# bodies gzip-compressed; each is checked once before it is loaded.
ndjson='Content-Type: application/x-ndjson'
gzip='Content-Encoding: gzip'
cp "$work/records.jsonl" "$work/batch.ndjson"
gzip -c "$work/batch.json" >"$work/batch.json.gz"
gzip -c "$work/batch.ndjson" >"$work/batch.ndjson.gz"
call POST "/v1/tables/$table/records" -H "X-API-Key: $key" -H "$ndjson" \
    --data-binary @"$work/batch.ndjson" >/dev/null
call POST "/v1/tables/$table/records" -H "X-API-Key: $key" -H "$json" -H "$gzip" \
    --data-binary @"$work/batch.json.gz" >/dev/null
call POST "/v1/tables/$table/records" -H "X-API-Key: $key" -H "$ndjson" -H "$gzip" \
    --data-binary @"$work/batch.ndjson.gz" >/dev/null
for r in $(seq "$ROUNDS"); do
	if [ "$STORE" = postgresql ]; then
		sql "DROP DATABASE IF EXISTS ingest_floor" >/dev/null
		sql "CREATE DATABASE ingest_floor TEMPLATE ingest_snapshot" >/dev/null
		build/bench/ingest_floor_pg "${if_snap%/*}/ingest_floor" "$table" "$work/records.jsonl" \
		    "$FLOOR_ROWS" $INGEST_CONNS >"$work/ingest.floor.$r"
		sql "DROP DATABASE ingest_floor" >/dev/null
	else
		cp "$work/ingest-floor.db" "$work/ingest-floor.$r.db"
		build/bench/ingest_floor "$work/ingest-floor.$r.db" "$table" "$work/records.jsonl" \
		    "$FLOOR_ROWS" >"$work/ingest.floor.$r"
		rm -f "$work/ingest-floor.$r.db"*
	fi
	BENCH_METHOD=POST BENCH_BODY="$work/batch.json" load "$work/ingest.tg.$r" $tg_port \
	    "/v1/tables/$table/records" $INGEST_CONNS -H "X-API-Key: $key" -H "$json"
	get floor_records_per_s "$work/ingest.floor.$r" >"$work/ingest.floor.rps.$r"
	awk -v v="$(get rps "$work/ingest.tg.$r")" 'BEGIN { print v * 500 }' >"$work/ingest.tg.rps.$r"
	BENCH_METHOD=POST BENCH_BODY="$work/batch.ndjson" load "$work/ingest_nd.tg.$r" $tg_port \
	    "/v1/tables/$table/records" $INGEST_CONNS -H "X-API-Key: $key" -H "$ndjson"
	BENCH_METHOD=POST BENCH_BODY="$work/batch.json.gz" load "$work/ingest_gz.tg.$r" $tg_port \
	    "/v1/tables/$table/records" $INGEST_CONNS -H "X-API-Key: $key" -H "$json" -H "$gzip"
	BENCH_METHOD=POST BENCH_BODY="$work/batch.ndjson.gz" load "$work/ingest_ndgz.tg.$r" $tg_port \
	    "/v1/tables/$table/records" $INGEST_CONNS -H "X-API-Key: $key" -H "$ndjson" -H "$gzip"
	for v in ingest_nd ingest_gz ingest_ndgz; do
		awk -v v="$(get rps "$work/$v.tg.$r")" 'BEGIN { print v * 500 }' >"$work/$v.tg.rps.$r"
	done
done
fi

# ---- login: POST /v1/auth/login at one connection against argon2id alone.
if has login; then
echo "bench: login" >&2
for r in $(seq "$ROUNDS"); do
	build/bench/argon2_floor 15 >"$work/argon2.$r"
	BENCH_METHOD=POST BENCH_BODY="$work/login.json" load "$work/login.tg.$r" $tg_port \
	    /v1/auth/login 1 -H "$json"
	get argon2_verify_p50_ms "$work/argon2.$r" >"$work/login.floor.p50.$r"
	get p50_ms "$work/login.tg.$r" >"$work/login.tg.p50.$r"
done
fi

# ---- starvation: key reads alone, then while LOGIN_CONNS clients log in.
if has starve; then
echo "bench: key reads while logins run" >&2
for r in $(seq "$ROUNDS"); do
	run_case key $tg_port "$work/starve.alone.$r"
	BENCH_METHOD=POST BENCH_BODY="$work/login.json" DURATION=$((DURATION + 2)) \
	    load "$work/starve.logins.$r" $tg_port /v1/auth/login "$LOGIN_CONNS" -H "$json" &
	bg=$!
	sleep 1
	run_case key $tg_port "$work/starve.busy.$r"
	wait "$bg" || true
	bg=""
done
fi

rss_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
tg_rss=$(rss_kb "$tg_pid")
fl_rss=$(rss_kb "$fl_pid")
stop_stacks

# ---- thread scaling: health on both stacks at each thread count.
has scaling || SCALING=""
for n in $SCALING; do
	echo "bench: health with $n threads" >&2
	start_stacks "$n"
	DURATION=1 run_case health $tg_port "$work/warm"
	run_case health $fl_port "$work/scale.floor.$n"
	run_case health $tg_port "$work/scale.tg.$n"
	stop_stacks
done

# ---- the table.
fig() { # case stack figure: the median over the rounds
	for r in $(seq "$ROUNDS"); do get "$3" "$work/$1.$2.$r" >"$work/fig.$r"; done
	median $(for r in $(seq "$ROUNDS"); do echo "$work/fig.$r"; done)
}
bad() { # case stack: non-2xx answers and socket errors over all rounds
	for r in $(seq "$ROUNDS"); do get bad "$work/$1.$2.$r"; done | awk '{ s += $1 } END { print s + 0 }'
}
med() { # file prefix: median of prefix.1 .. prefix.ROUNDS
	median $(for r in $(seq "$ROUNDS"); do echo "$1.$r"; done)
}
{
	echo "| case | reference (floor) | Tollgate | ratio | target | p50 floor / Tollgate | p99 floor / Tollgate |"
	echo "|---|---|---|---|---|---|---|"
	for c in health key token trigger; do
		echo "$cases" | grep -qw "$c" || continue
		echo "$c" >>"$work/cases.cpu"
	done
	for c in health key token trigger; do
		case $c in
		health) name="small JSON answer: GET /v1/health" ;;
		key) name="key-authenticated read: GET /v1/billing/usage" ;;
		token) name="user-token read: GET /v1/auth/session" ;;
		trigger) name="trigger: POST /v1/spinners/{id}/trigger" ;;
		esac
		if ! echo "$cases" | grep -qw "$c"; then
			[ "$c" = trigger ] && [ -z "$spinner" ] &&
			    echo "| $name | – | – | – | not on this branch yet | | |"
			continue
		fi
		awk -v name="$name" -v f="$(fig $c floor rps)" -v t="$(fig $c tg rps)" \
		    -v fp50="$(fig $c floor p50_ms)" -v tp50="$(fig $c tg p50_ms)" \
		    -v fp99="$(fig $c floor p99_ms)" -v tp99="$(fig $c tg p99_ms)" -v bad="$(bad $c tg)" 'BEGIN {
			ok = t / f >= 0.7 && tp99 <= 3 * fp99
			printf "| %s | %.0f req/s | %.0f req/s%s | %.2f | ≥ 0.7, p99 ≤ 3× (%.1f×): %s | %.2f / %.2f ms | %.2f / %.2f ms |\n",
			    name, f, t, (bad > 0 ? " (" bad " non-2xx!)" : ""), t / f, tp99 / fp99,
			    (ok ? "met" : "MISSED"), fp50, tp50, fp99, tp99
		}'
		# The trigger against its write floor: the same database work without
		# HTTP, FastCGI or JSON (bench/write_floor.c).
		[ "$c" = trigger ] && awk -v f="$(fig trigger wf floor_triggers_per_s)" \
		    -v t="$(fig trigger tg rps)" -v store="$STORE" 'BEGIN {
			printf "| trigger against the write floor (its statements and its job on %s, no HTTP) | %.0f triggers/s | %.0f req/s | %.2f | ≥ 0.5: %s | | |\n",
			    store, f, t, (f > 0 ? t / f : 0), (f > 0 && t / f >= 0.5 ? "met" : "MISSED")
		}'
	done
	if has ingest; then
	for r in $(seq "$ROUNDS"); do get p50_ms "$work/ingest.tg.$r" >"$work/ingest.p50.$r"; done
	for r in $(seq "$ROUNDS"); do get p99_ms "$work/ingest.tg.$r" >"$work/ingest.p99.$r"; done
	# SQLite's floor is one writer; PostgreSQL's 8 connections at once.
	if [ "$STORE" = postgresql ]; then aim=0.5; else aim=0.3; fi
	awk -v f="$(med "$work/ingest.floor.rps")" -v t="$(med "$work/ingest.tg.rps")" \
	    -v p50="$(med "$work/ingest.p50")" -v p99="$(med "$work/ingest.p99")" -v bad="$(bad ingest tg)" \
	    -v aim="$aim" 'BEGIN {
		printf "| ingest, records/s: POST /v1/tables/{id}/records, 500 a batch, 8 clients | %.0f records/s | %.0f records/s%s | %.2f | ≥ %s: %s | – / %.1f ms | – / %.1f ms |\n",
		    f, t, (bad > 0 ? " (" bad " non-2xx!)" : ""), t / f, aim, (t / f >= aim ? "met" : "MISSED"), p50, p99
	}'
	# The other bodies against plain JSON (the reference column here).
	for v in ingest_nd ingest_gz ingest_ndgz; do
		case $v in
		ingest_nd) name="ingest NDJSON (application/x-ndjson), same 500 records" ;;
		ingest_gz) name="ingest JSON, Content-Encoding: gzip" ;;
		ingest_ndgz) name="ingest NDJSON, Content-Encoding: gzip" ;;
		esac
		awk -v name="$name" -v f="$(med "$work/ingest.tg.rps")" -v t="$(med "$work/$v.tg.rps")" \
		    -v p50="$(fig $v tg p50_ms)" -v p99="$(fig $v tg p99_ms)" -v bad="$(bad $v tg)" 'BEGIN {
			printf "| %s, records/s | %.0f records/s plain JSON | %.0f records/s%s | %.2f | – (vs plain JSON) | – / %.1f ms | – / %.1f ms |\n",
			    name, f, t, (bad > 0 ? " (" bad " non-2xx!)" : ""), t / f, p50, p99
		}'
	done
	fi
	if has login; then
	for r in $(seq "$ROUNDS"); do get p99_ms "$work/login.tg.$r" >"$work/login.p99.$r"; done
	awk -v f="$(med "$work/login.floor.p50")" -v t="$(med "$work/login.tg.p50")" \
	    -v p99="$(med "$work/login.p99")" -v bad="$(bad login tg)" 'BEGIN {
		printf "| login: POST /v1/auth/login, 1 connection (time, lower is better) | %.1f ms argon2id verify | %.1f ms%s | %.2f | ≤ 1.2: %s | %.1f / %.1f ms | – / %.1f ms |\n",
		    f, t, (bad > 0 ? " (" bad " non-2xx!)" : ""), t / f, (t / f <= 1.2 ? "met" : "MISSED"), f, t, p99
	}'
	fi
	if has starve; then
	for r in $(seq "$ROUNDS"); do get rps "$work/starve.alone.$r" >"$work/sa.$r"; done
	for r in $(seq "$ROUNDS"); do get rps "$work/starve.busy.$r" >"$work/sb.$r"; done
	for r in $(seq "$ROUNDS"); do get rps "$work/starve.logins.$r" >"$work/sl.$r"; done
	for r in $(seq "$ROUNDS"); do get p99_ms "$work/starve.busy.$r" >"$work/sp.$r"; done
	awk -v a="$(med "$work/sa")" -v b="$(med "$work/sb")" -v l="$(med "$work/sl")" \
	    -v p99="$(med "$work/sp")" -v lc="$LOGIN_CONNS" 'BEGIN {
		printf "| key reads while %d clients log in (%.0f logins/s) | %.0f req/s alone | %.0f req/s | %.2f | ≥ 0.5: %s | | – / %.1f ms |\n",
		    lc, l, a, b, b / a, (b / a >= 0.5 ? "met" : "MISSED"), p99
	}'
	fi
	if [ -s "$work/cases.cpu" ]; then
		echo
		echo "| server CPU per request (user + system, all threads) | floor | Tollgate | Tollgate − floor |"
		echo "|---|---|---|---|"
		while read -r c; do
			awk -v c="$c" -v f="$(fig "$c" floor cpu_us)" -v t="$(fig "$c" tg cpu_us)" \
			    'BEGIN { printf "| %s | %.1f µs | %.1f µs | %.1f µs |\n", c, f, t, t - f }'
			[ "$c" = trigger ] && awk -v f="$(fig trigger wf cpu_us)" -v t="$(fig trigger tg cpu_us)" \
			    'BEGIN { printf "| trigger against the write floor (its process, runner included) | %.1f µs | %.1f µs | %.1f µs |\n", f, t, t - f }'
		done <"$work/cases.cpu"
		if grep -qx trigger "$work/cases.cpu"; then
			echo
			echo "Trigger: the CPU per request includes running the jobs; after each ${DURATION}s run" \
			    "the runner took a median $(fig trigger tg drain_s) s more to finish the jobs still queued" \
			    "(the next case waits for it). Triggers per group commit: $(cat "$work/group" 2>/dev/null)." \
			    "The write floor: $(fig trigger wf group_per_commit) triggers per group commit," \
			    "$(fig trigger wf drain_s) s for its runner to finish after each run."
		fi
	fi
	echo
	echo "Peak RSS (VmHWM): tollgate serve $((tg_rss / 1024)) MiB; floor responder $((fl_rss / 1024)) MiB."
	if [ -n "$SCALING" ]; then
		echo
		echo "| threads | floor GET /v1/health | Tollgate GET /v1/health | ratio |"
		echo "|---|---|---|---|"
		for n in $SCALING; do
			awk -v n="$n" -v f="$(get rps "$work/scale.floor.$n")" -v t="$(get rps "$work/scale.tg.$n")" \
			    'BEGIN { printf "| %d | %.0f req/s | %.0f req/s | %.2f |\n", n, f, t, t / f }'
		done
	fi
	echo
	echo "Store: $STORE. Medians of $ROUNDS rounds, floor and Tollgate alternately, ${DURATION}s each, wrk -t2," \
	    "$CONNS connections, $THREADS worker threads, $(nproc) CPUs shared with nginx and wrk;" \
	    "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
} | tee build/bench/last.md
