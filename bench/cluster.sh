#!/bin/sh
# cluster.sh: `make bench-cluster`. Tollgate as 1, 2 and 3 hosts on one
# PostgreSQL (deploy/cluster.sh: a throwaway PostgreSQL, N deploy/run.sh
# stacks, a round-robin nginx in front), driven by wrk through the
# balancer: key reads (GET /v1/billing/usage), ingest (POST
# /v1/tables/{id}/records, 500 records a batch, 8 clients) and triggers
# (POST /v1/spinners/{id}/trigger, the job runners' work included: each run
# waits for the queue to drain). Each host count starts a fresh cluster and
# a fresh Enterprise organization.
#
# Besides rate and latency, each run reads CPU time (user + system,
# /proc/PID/stat) before and after: of every `tollgate serve` of the
# cluster, and of its PostgreSQL (the postmaster, its live children, and
# the children that ended meanwhile, through the postmaster's cutime and
# cstime). The key read is also run against the floor (bench/floor.c
# behind one nginx, deploy/run.sh, started once for the whole run), before
# each host count, so the figures read as ratios.
#
# All of it shares this machine's CPUs: more hosts add no CPU here, so the
# figures show the per-request cost and that several hosts work, not how
# throughput scales.
#
#   HOSTS     host counts to run ("1 2 3")
#   DURATION  seconds a measurement (5)   CONNS    connections for reads (32)
#   ROUNDS    rounds a host count (1)     THREADS  worker threads a host (4)
#   PORT      the balancer's port (18280); hosts on PORT+1.., floor on PORT+9
#   LIMITER   the rate limiter (postgresql, or local: each host its own)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
HOSTS=${HOSTS:-1 2 3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-4}
PORT=${PORT:-18280}
INGEST_CONNS=8
lb_port=$PORT
fl_port=$((PORT + 9))

for tool in wrk curl jq nginx cc psql; do
	command -v "$tool" >/dev/null || {
		echo "bench-cluster: needs $tool (apt-get install $tool)" >&2
		exit 1
	}
done
[ -f deploy/cluster.sh ] || {
	echo "bench-cluster: needs deploy/cluster.sh (make cluster)" >&2
	exit 1
}
make --no-print-directory all >/dev/null
mkdir -p build/bench
cc -O2 -g -Wall -Wextra -o build/bench/floor bench/floor.c -lfcgi -lpthread

work=$(mktemp -d)
chmod 0711 "$work"
cluster=""
fl_stack=""
cleanup() {
	for p in $cluster $fl_stack; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $cluster $fl_stack; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export TOLLGATE_JWT_SECRET="bench-secret-0123456789abcdef0123456789abcdef"
export TOLLGATE_THREADS="$THREADS"
# Rate limits out of the way: they must not shape what is measured.
export TOLLGATE_RATE_KEY=1000000000 TOLLGATE_RATE_USER=1000000000 TOLLGATE_RATE_IP=1000000000
export TOLLGATE_RATE_ORG=1000000000
export TOLLGATE_RATE_LOGIN=1000000000 TOLLGATE_RATE_LOGIN_ACCOUNT=1000000000
# The limiter the hosts count in: the cluster's (postgresql, the default on
# that store) or each host's own table (LIMITER=local).
export TOLLGATE_RATELIMIT="${LIMITER:-postgresql}"

wait_up() { # port tries
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v1/health")" = 200 ]; do
		i=$((i + 1))
		if [ "$i" -gt "$2" ]; then
			echo "bench-cluster: nothing answers on port $1" >&2
			cat "$work"/*.log >&2
			exit 1
		fi
		sleep 0.1
	done
}

# load OUT PORT PATH CONNS [wrk -H args]: one wrk run; figures in OUT.
load() {
	out=$1 port=$2 path=$3 conns=$4
	shift 4
	wrk -t2 -c"$conns" -d"${DURATION}s" --timeout 10s -s bench/wrk.lua "$@" \
	    "http://127.0.0.1:$port$path" >"$out" 2>&1 || true
}
get() { sed -n "s/^$1 //p" "$2" | tail -n 1; }

# CPU ticks (user + system) of processes: of the PIDs; of a PostgreSQL
# cluster, its postmaster with its children alive and ended.
ticks() { for p in "$@"; do cat "/proc/$p/stat"; done | awk '{ s += $14 + $15 } END { print s + 0 }'; }
pg_ticks() {
	{
		awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"
		for c in $(pgrep -P "$1"); do awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null; done
	} | awk '{ s += $1 } END { print s + 0 }'
}
# per_req OUT NAME TICKS: TICKS as microseconds per request of OUT.
per_req() {
	awk -v t="$3" -v hz="$(getconf CLK_TCK)" -v n="$(get requests "$1")" -v k="$2" \
	    'BEGIN { printf "%s %.1f\n", k, (n > 0 ? t / hz * 1e6 / n : 0) }' >>"$1"
}

# The batch: 500 records of the bench table's schema (as bench/run.sh).
awk -v n=500 'BEGIN {
	events[0] = "signup"; events[1] = "login"; events[2] = "purchase \\\"gold\\\""; events[3] = "logout";
	printf "{\"records\":["
	for (i = 0; i < n; i++)
		printf "%s{\"id\":%d,\"user\":\"user-%05d@example.test\",\"event\":\"%s\",\"value\":%d.25,\"ok\":%s,\"at\":%d}",
		    i ? "," : "", i + 1, i * 7919 % 100000, events[i % 4], i * 3, i % 3 ? "true" : "false", 1700000000 + i
	print "]}"
}' >"$work/batch.json"

echo "bench-cluster: hosts $HOSTS; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
    "$THREADS worker threads a host, $CONNS connections, ${DURATION}s a measurement, $ROUNDS round(s)" >&2
TOLLGATE_THREADS=$THREADS PORT=$fl_port TOLLGATE_RUN="$work/run-floor" \
    TOLLGATE_BIN="$top/build/bench/floor" TOLLGATE_DB="$work/floor.db" \
    sh deploy/run.sh >"$work/floor.log" 2>&1 &
fl_stack=$!
wait_up "$fl_port" 100
fl_pid=$(cat "$work/run-floor/tollgate.pid")

json='Content-Type: application/json'
for n in $HOSTS; do
	ports=""
	for i in $(seq "$n"); do ports="$ports $((PORT + i))"; done
	dir="$work/cluster-$n"
	PORT=$lb_port HOST_PORTS="${ports# }" CLUSTER_DIR="$dir" \
	    sh deploy/cluster.sh >"$work/cluster-$n.log" 2>&1 &
	cluster=$!
	wait_up "$lb_port" 600
	url="postgresql://tollgate:$(cat "$dir/pg/password")@127.0.0.1:$(cat "$dir/pg/port")/tollgate"
	sql() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$url" -c "$1"; }
	call() { # method path [curl args...]: the JSON answer, through the balancer
		m=$1 p=$2
		shift 2
		curl -fsS -X "$m" "http://127.0.0.1:$lb_port$p" "$@"
	}

	# An Enterprise organization, its admin, a key with every scope, a
	# published table with a schema and a published spinner on it.
	email="bench@example.test"
	pw="bench password 1"
	org=$(call POST /v1/signup -H "$json" \
	    -d "{\"organization\":\"Bench\",\"email\":\"$email\",\"password\":\"$pw\"}" | jq -r .organization.id)
	TOLLGATE_DB=$url build/tollgate set-plan "$org" enterprise >"$work/set-plan.log" 2>&1 || {
		cat "$work/set-plan.log" >&2
		exit 1
	}
	sql "UPDATE plans SET rate_key = NULL, rate_user = NULL, rate_org = NULL" >/dev/null
	token=$(call POST /v1/auth/login -H "$json" -d "{\"email\":\"$email\",\"password\":\"$pw\"}" |
	    jq -r .token)
	auth="Authorization: Bearer $token"
	key=$(call POST /v1/api-keys -H "$auth" -H "$json" \
	    -d '{"name":"bench","scopes":["ingest","trigger","read"]}' | jq -r .key)
	project=$(call POST /v1/projects -H "$auth" -H "$json" -d '{"name":"bench"}' | jq -r .id)
	table=$(call POST "/v1/projects/$project/tables" -H "$auth" -H "$json" -d '{"name":"events"}' |
	    jq -r .id)
	printf 'id,user,event,value,ok,at\n0,u0,signup,0.5,true,1700000000\n' |
	    call POST "/v1/tables/$table/import" -H "$auth" -H 'Content-Type: text/csv' --data-binary @- >/dev/null
	call POST "/v1/tables/$table/publish" -H "$auth" >/dev/null
	spinner=$(call POST "/v1/projects/$project/spinners" -H "$auth" -H "$json" \
	    -d "{\"name\":\"bench\",\"tableId\":\"$table\"}" | jq -r .id)
	call POST "/v1/spinners/$spinner/publish" -H "$auth" >/dev/null
	call POST "/v1/spinners/$spinner/trigger" -H "X-API-Key: $key" >/dev/null
	call POST "/v1/tables/$table/records" -H "X-API-Key: $key" -H "$json" \
	    --data-binary @"$work/batch.json" >/dev/null

	tg_pids=""
	for p in $ports; do tg_pids="$tg_pids $(cat "$dir/host-$p/tollgate.pid")"; done
	pg_pid=$(head -n 1 "$dir/pg/data/postmaster.pid")
	BENCH_METHOD=GET load "$work/warm" "$lb_port" /v1/health "$CONNS"
	for r in $(seq "$ROUNDS"); do
		echo "bench-cluster: $n host(s), round $r" >&2
		t0=$(ticks "$fl_pid")
		BENCH_METHOD=GET load "$work/floor.$n.$r" "$fl_port" /v1/billing/usage "$CONNS" -H "X-API-Key: $key"
		per_req "$work/floor.$n.$r" tg_us $(($(ticks "$fl_pid") - t0))
		for c in key ingest trigger; do
			out="$work/$c.$n.$r"
			# shellcheck disable=SC2086 # one pid a word
			t0=$(ticks $tg_pids)
			for h in $tg_pids; do echo "$h $(ticks "$h")"; done >"$work/t0"
			p0=$(pg_ticks "$pg_pid")
			case $c in
			key) BENCH_METHOD=GET load "$out" "$lb_port" /v1/billing/usage "$CONNS" -H "X-API-Key: $key" ;;
			ingest) BENCH_METHOD=POST BENCH_BODY="$work/batch.json" load "$out" "$lb_port" \
			    "/v1/tables/$table/records" "$INGEST_CONNS" -H "X-API-Key: $key" -H "$json" ;;
			trigger)
				BENCH_METHOD=POST load "$out" "$lb_port" "/v1/spinners/$spinner/trigger" "$CONNS" \
				    -H "X-API-Key: $key"
				s0=$(date +%s.%N)
				i=0
				while [ "$(sql "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')" ||
				    echo 1)" != 0 ] && [ $i -lt 1200 ]; do
					sleep 0.1
					i=$((i + 1))
				done
				awk -v s="$(date +%s.%N)" -v s0="$s0" 'BEGIN { printf "drain_s %.2f\n", s - s0 }' >>"$out"
				;;
			esac
			# shellcheck disable=SC2086 # one pid a word
			per_req "$out" tg_us $(($(ticks $tg_pids) - t0))
			# Each host's share of the servers' CPU: the balancer spread the load.
			for h in $tg_pids; do
				printf '%s ' "$(($(ticks "$h") - $(grep -x "$h .*" "$work/t0" | cut -d' ' -f2)))"
			done | awk '{ for (i = 1; i <= NF; i++) s += $i
				printf "shares"; for (i = 1; i <= NF; i++) printf " %.0f%%", (s > 0 ? 100 * $i / s : 0); print "" }' >>"$out"
			per_req "$out" pg_us $(($(pg_ticks "$pg_pid") - p0))
		done
	done
	kill -TERM "$cluster"
	wait "$cluster" || true
	cluster=""
done

# ---- the table: medians over the rounds.
fig() { # case n figure
	for r in $(seq "$ROUNDS"); do get "$3" "$work/$1.$2.$r" >"$work/fig.$r"; done
	cat "$work"/fig.* | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
bad() { # case n: non-2xx answers and socket errors over the rounds
	for r in $(seq "$ROUNDS"); do get bad "$work/$1.$2.$r"; done | awk '{ s += $1 } END { print s + 0 }'
}
{
	echo "| hosts | case | floor | Tollgate | ratio | p50 / p99 | server CPU a request | PostgreSQL CPU a request |"
	echo "|---|---|---|---|---|---|---|---|"
	for n in $HOSTS; do
		for c in key ingest trigger; do
			case $c in
			key) name="key read" unit="req/s" mul=1 ;;
			ingest) name="ingest, 500 a batch" unit="records/s" mul=500 ;;
			trigger) name="trigger (jobs run)" unit="req/s" mul=1 ;;
			esac
			awk -v n="$n" -v name="$name" -v unit="$unit" -v mul="$mul" -v t="$(fig $c "$n" rps)" \
			    -v f="$([ $c = key ] && fig floor "$n" rps || echo 0)" -v fcpu="$(fig floor "$n" tg_us)" \
			    -v p50="$(fig $c "$n" p50_ms)" -v p99="$(fig $c "$n" p99_ms)" -v bad="$(bad $c "$n")" \
			    -v tcpu="$(fig $c "$n" tg_us)" -v pcpu="$(fig $c "$n" pg_us)" 'BEGIN {
				fl = f > 0 ? sprintf("%.0f req/s (%.0f µs CPU)", f, fcpu) : "–"
				ra = f > 0 ? sprintf("%.2f", t / f) : "–"
				printf "| %d | %s | %s | %.0f %s%s | %s | %.2f / %.2f ms | %.0f µs | %.0f µs |\n",
				    n, name, fl, t * mul, unit, (bad > 0 ? " (" bad " non-2xx!)" : ""), ra,
				    p50, p99, tcpu, pcpu
			}'
		done
	done
	echo
	for n in $HOSTS; do
		echo "$n host(s): rate limiter: $TOLLGATE_RATELIMIT; each host's share of the servers' CPU," \
		    "key read: $(get shares "$work/key.$n.1"), ingest: $(get shares "$work/ingest.$n.1")," \
		    "trigger: $(get shares "$work/trigger.$n.1") (round 1); the trigger queue empty" \
		    "$(fig trigger "$n" drain_s) s after the run."
	done
	echo
	echo "Server CPU: all the hosts' \`tollgate serve\` together (user + system); an ingest request is a" \
	    "batch of 500. The floor's CPU is its responder's. Medians of $ROUNDS round(s), ${DURATION}s each," \
	    "wrk -t2 through the balancer, $CONNS connections ($INGEST_CONNS for ingest), $THREADS worker threads" \
	    "a host, $(nproc) CPUs shared by the hosts, PostgreSQL, nginx and wrk; load average" \
	    "$(cut -d' ' -f1-3 /proc/loadavg) at the end."
} | tee build/bench/cluster.md
