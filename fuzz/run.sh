#!/bin/sh
# run.sh [SECONDS]: builds the fuzz harnesses into build/fuzz/ with clang
# (libFuzzer, ASan, UBSan) and runs each for SECONDS (default 30) on its seed
# corpus in fuzz/corpus/ plus what earlier runs found in build/fuzz/corpus/.
# Prints each harness's executions; exits non-zero when one crashes, leaving
# the input in build/fuzz/ (make it a unit test, then fix it).
set -u
secs=${1:-30}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out=build/fuzz
CC=${CC:-clang}
CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -D_GNU_SOURCE -Isrc -Wall -Wextra -Werror"
mkdir -p "$out/corpus/csv" "$out/corpus/schema"

# shellcheck disable=SC2086
$CC $CFLAGS -o "$out/fuzz_csv" fuzz/fuzz_csv.c src/csv.c src/schema.c -ljson-c || exit 1
# shellcheck disable=SC2086
$CC $CFLAGS -o "$out/fuzz_schema" fuzz/fuzz_schema.c src/json.c src/schema.c -ljson-c || exit 1

status=0
for h in csv schema; do
	log="$out/fuzz_$h.log"
	"$out/fuzz_$h" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
	    -dict="fuzz/$h.dict" -artifact_prefix="$out/$h-" \
	    "$out/corpus/$h" "fuzz/corpus/$h" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -ne 0 ]; then
		status=1
		echo "fuzz_$h: CRASH after ${runs:-?} executions (log $log)"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 20
	else
		echo "fuzz_$h: ${runs:-?} executions in ${secs}s, no crash"
	fi
done
exit $status
