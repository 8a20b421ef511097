#!/bin/sh
# ingest.sh: how fast 500-record batches go through nginx into Tollgate,
# next to the raw floor measured in the same run (bench/ingest_floor.c: the
# same stored records inserted straight into SQLite in 500-row transactions).
# Prints records/s for both and their ratio; then records/s of the same
# batch as NDJSON and gzip-compressed, against plain JSON (FORMATS).
#
#   sh bench/ingest.sh            (from the top of the tree; builds first)
#
#   DURATION  seconds of load (10)      CONNS    concurrent clients (8)
#   THREADS   wrk threads (2)           WORKERS  tollgate worker threads (4)
#   PORT      nginx port (18090)        FLOOR_ROWS  rows for the floor (200000)
#   PERF=1    also record `perf` on the server during the load
#   FORMATS   the other bodies to compare ("ndjson json.gz ndjson.gz"; empty skips)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-4}
PORT=${PORT:-18090}
FLOOR_ROWS=${FLOOR_ROWS:-200000}
FORMATS=${FORMATS-ndjson json.gz ndjson.gz}
BATCH=500

for tool in wrk curl jq sqlite3 nginx cc; do
	command -v "$tool" >/dev/null || { echo "ingest.sh: needs $tool (apt-get install $tool)" >&2; exit 1; }
done
make --no-print-directory all >/dev/null
work=$(mktemp -d)
stack_pid=""
cleanup() {
	[ -n "$stack_pid" ] && kill -TERM "$stack_pid" 2>/dev/null && wait "$stack_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
cc -O2 -o "$work/ingest_floor" bench/ingest_floor.c -lsqlite3

# The stack, as `make run` starts it, with rate limits out of the way and its
# own database.
export TOLLGATE_DB="$work/bench.db"
export TOLLGATE_JWT_SECRET="bench-secret-0123456789abcdef0123456789abcdef"
export TOLLGATE_RATE_KEY=100000000 TOLLGATE_RATE_USER=100000000 TOLLGATE_RATE_IP=100000000
export TOLLGATE_RATE_ORG=100000000
export TOLLGATE_THREADS="$WORKERS"
PORT=$PORT TOLLGATE_RUN="$work/run" sh deploy/run.sh >"$work/stack.log" 2>&1 &
stack_pid=$!
base="http://127.0.0.1:$PORT"
i=0
until curl -fs "$base/v1/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && { cat "$work/stack.log" >&2; exit 1; }
	sleep 0.1
done

call() { # method path [curl args...]: the JSON answer
	m=$1 p=$2
	shift 2
	curl -fsS -X "$m" "$base$p" "$@"
}
email="bench-$$@example.test"
org=$(call POST /v1/signup -H 'Content-Type: application/json' \
    -d "{\"organization\":\"Bench\",\"email\":\"$email\",\"password\":\"bench password 1\"}" | jq -r .organization.id)
token=$(call POST /v1/auth/login -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"bench password 1\"}" | jq -r .token)
build/tollgate set-plan "$org" enterprise >/dev/null 2>&1
# The plans' own request budgets cleared: the TOLLGATE_RATE_* above apply.
sqlite3 -cmd ".timeout 5000" "$TOLLGATE_DB" "UPDATE plans SET rate_key = NULL, rate_user = NULL, rate_org = NULL"
auth="Authorization: Bearer $token"
project=$(call POST /v1/projects -H "$auth" -H 'Content-Type: application/json' -d '{"name":"bench"}' | jq -r .id)
table=$(call POST "/v1/projects/$project/tables" -H "$auth" -H 'Content-Type: application/json' \
    -d '{"name":"events"}' | jq -r .id)
printf 'id,user,event,value,ok,at\n0,u0,signup,0.5,true,1700000000\n' |
    call POST "/v1/tables/$table/import" -H "$auth" -H 'Content-Type: text/csv' --data-binary @- >/dev/null
call POST "/v1/tables/$table/publish" -H "$auth" >/dev/null
key=$(call POST /v1/api-keys -H "$auth" -H 'Content-Type: application/json' \
    -d '{"name":"bench","scopes":["ingest"]}' | jq -r .key)

# One batch of 500 records (~100 bytes each), and the same records as
# Tollgate stores them, one a line, for the floor.
awk -v n=$BATCH 'BEGIN {
	events[0] = "signup"; events[1] = "login"; events[2] = "purchase \\\"gold\\\""; events[3] = "logout";
	printf "{\"records\":[" > "/dev/stdout"
	for (i = 0; i < n; i++) {
		rec = sprintf("{\"id\":%d,\"user\":\"user-%05d@example.test\",\"event\":\"%s\",\"value\":%d.25,\"ok\":%s,\"at\":%d}",
		    i + 1, i * 7919 % 100000, events[i % 4], i * 3, i % 3 ? "true" : "false", 1700000000 + i)
		printf "%s%s", i ? "," : "", rec
		print rec > "/dev/stderr"
	}
	print "]}"
}' >"$work/body.json" 2>"$work/records.jsonl"
# Check the body is accepted before loading, and keep a copy of the database
# for the floor (same schema, same table).
curl -fsS -X POST "$base/v1/tables/$table/records" -H "X-API-Key: $key" \
    -H 'Content-Type: application/json' --data-binary @"$work/body.json" >/dev/null
sqlite3 "$TOLLGATE_DB" ".backup '$work/floor1.db'"
cp "$work/floor1.db" "$work/floor2.db"
# The floor runs before and after the load and the faster run counts: on a
# shared machine this keeps the ratio from flattering Tollgate.
"$work/ingest_floor" "$work/floor1.db" "$table" "$work/records.jsonl" "$FLOOR_ROWS" >"$work/floor1.out"

before=$(sqlite3 "$TOLLGATE_DB" "SELECT count(*) FROM records")
tg_pid=$(pgrep -P "$stack_pid" -f 'tollgate serve' | head -n 1 || true)
if [ "${PERF:-0}" = 1 ] && [ -n "$tg_pid" ]; then
	perf record --call-graph "${PERF_CALLGRAPH:-dwarf,32768}" -F 499 -p "$tg_pid" -o "$work/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
	perf_pid=$!
fi
BENCH_BODY="$work/body.json" BENCH_KEY="$key" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" \
    -s bench/ingest.lua "$base/v1/tables/$table/records" >"$work/wrk.out"
after=$(sqlite3 "$TOLLGATE_DB" "SELECT count(*) FROM records")
if [ "${PERF:-0}" = 1 ] && [ -n "${perf_pid:-}" ]; then
	wait "$perf_pid" || true
	echo "== perf: tollgate serve, self time (functions above 1.5%)"
	perf report -i "$work/perf.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null |
	    grep -E '^ +[0-9.]+%' | head -n 30 || true
	echo "== perf: time spent inside each stage (with what it calls)"
	perf report -i "$work/perf.data" --children --stdio -g none 2>/dev/null |
	    grep -E '^ +[0-9.]+% +[0-9.]+% .* (fcgi_worker|router_handle|body_read_or_reply|json_parse_strict|json_check|json_tokener_parse_ex|access_or_reply|apikey_verify_or_reply|handle_records_ingest|ingest_check_or_reply|schema_check_record|schema_record_json|json_object_to_json_string_ext|meter_take_or_reply|db_run|db_write|sqlite3_step|json_object_put|req_write|req_free|FCGX_Accept_r|idem_claim_or_reply)$' || true
	[ -n "${PERF_DATA:-}" ] && cp "$work/perf.data" "$PERF_DATA"
fi
# The same records as NDJSON (records.jsonl is one a line) and gzip-compressed,
# each checked once, then loaded as long as the JSON batch was.
cp "$work/records.jsonl" "$work/body.ndjson"
for f in $FORMATS; do
	case $f in
	ndjson) type=application/x-ndjson enc= file="$work/body.ndjson" ;;
	json.gz) type=application/json enc=gzip file="$work/body.json.gz" ;;
	ndjson.gz) type=application/x-ndjson enc=gzip file="$work/body.ndjson.gz" ;;
	*) echo "ingest.sh: unknown format $f" >&2; exit 1 ;;
	esac
	[ -n "$enc" ] && gzip -c "${file%.gz}" >"$file"
	curl -fsS -X POST "$base/v1/tables/$table/records" -H "X-API-Key: $key" -H "Content-Type: $type" \
	    ${enc:+-H "Content-Encoding: $enc"} --data-binary @"$file" >/dev/null
	n0=$(sqlite3 "$TOLLGATE_DB" "SELECT count(*) FROM records")
	BENCH_BODY="$file" BENCH_KEY="$key" BENCH_TYPE="$type" BENCH_ENCODING="$enc" \
	    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s bench/ingest.lua \
	    "$base/v1/tables/$table/records" >"$work/wrk.$f.out"
	n1=$(sqlite3 "$TOLLGATE_DB" "SELECT count(*) FROM records")
	echo "$f $(sed -n 's/^wrk_ok //p' "$work/wrk.$f.out") $(sed -n 's/^wrk_other //p' "$work/wrk.$f.out") $(sed -n 's/^wrk_seconds //p' "$work/wrk.$f.out") $((n1 - n0)) $(wc -c <"$file")" >>"$work/formats"
done
kill -TERM "$stack_pid" 2>/dev/null && wait "$stack_pid" 2>/dev/null || true
stack_pid=""

get() { sed -n "s/^$1 //p" "$2"; }
"$work/ingest_floor" "$work/floor2.db" "$table" "$work/records.jsonl" "$FLOOR_ROWS" >"$work/floor2.out"
ok=$(get wrk_ok "$work/wrk.out")
other=$(get wrk_other "$work/wrk.out")
secs=$(get wrk_seconds "$work/wrk.out")
floor1=$(get floor_records_per_s "$work/floor1.out")
floor2=$(get floor_records_per_s "$work/floor2.out")
floor=$((floor1 > floor2 ? floor1 : floor2))
stored=$((after - before))
awk -v f1="$floor1" -v f2="$floor2" -v stored="$stored" -v ok="$ok" -v other="$other" -v secs="$secs" -v floor="$floor" \
    -v conns="$CONNS" -v p50="$(get wrk_p50_ms "$work/wrk.out")" -v p99="$(get wrk_p99_ms "$work/wrk.out")" 'BEGIN {
	tg = ok * 500 / secs
	printf "%-34s %12s\n", "", "records/s"
	printf "%-34s %12.0f\n", "floor (SQLite, 500-row txns)", floor
	printf "%-34s %12s\n", "  (before / after the load)", f1 " / " f2
	printf "%-34s %12.0f\n", sprintf("tollgate (nginx, %d clients)", conns), tg
	printf "%-34s %12.2f\n", "ratio tollgate / floor", tg / floor
	printf "\n%d batches of 500 answered 200 (%d other) in %.1f s; %d records stored; latency p50 %.1f ms, p99 %.1f ms\n",
	    ok, other, secs, stored, p50, p99
	# Requests in flight when wrk stops still finish on the server.
	if (stored < ok * 500 || stored > (ok + conns) * 500) {
		print "ingest.sh: stored records do not match the 200 answers" > "/dev/stderr"; exit 1
	}
}'
[ -s "$work/formats" ] || exit 0
printf '\n%-34s %12s %8s %10s\n' "same batch as" "records/s" "vs JSON" "body bytes"
awk -v ok="$ok" -v secs="$secs" -v conns="$CONNS" -v jsonbytes="$(wc -c <"$work/body.json")" 'BEGIN {
	json = ok * 500 / secs
	printf "%-34s %12.0f %8.2f %10d\n", "json", json, 1, jsonbytes
}
{
	f = $1; fok = $2; fother = $3; fsecs = $4; fstored = $5; bytes = $6
	rps = fok * 500 / fsecs
	printf "%-34s %12.0f %8.2f %10d%s\n", f, rps, rps / json, bytes, (fother > 0 ? sprintf(" (%d other answers!)", fother) : "")
	if (fstored < fok * 500 || fstored > (fok + conns) * 500) {
		print "ingest.sh: " f ": stored records do not match the 200 answers" > "/dev/stderr"; bad = 1
	}
}
END { exit bad }' "$work/formats"

