#!/bin/sh
# run.sh: builds every fuzz harness (fuzz/fuzz_*.c, libFuzzer + ASan + UBSan)
# and runs each for FUZZ_SECONDS (10) from its committed corpus
# (fuzz/corpus/<name>/, crash inputs found once stay there as regression
# inputs, replayed first on every run) with its dictionary
# (fuzz/<name>.dict, fuzz_request uses http.dict). One line per harness with
# its executions, then "N passed, N failed" (tests/run.sh counts it). Skips
# with a reason when clang's libFuzzer runtime is missing.
#
#   FUZZ_SECONDS  seconds per harness (10; also the first argument)
#   FUZZ_ONLY     run only these harnesses (e.g. "fuzz_json fuzz_csv")
#   FUZZ_JOBS     harnesses run at once (the number of CPUs)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
secs=${1:-${FUZZ_SECONDS:-10}}
out=build/fuzz
passed=0
failed=0

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! command -v clang >/dev/null 2>&1 ||
	! clang -fsanitize=fuzzer,address "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	echo "# skip fuzz: clang with libFuzzer is missing (apt-get install clang libclang-rt-14-dev)"
	echo "0 passed, 0 failed"
	exit 0
fi

if ! make --no-print-directory fuzzers >"$probe/build" 2>&1; then
	cat "$probe/build"
	echo "fuzz: the harnesses do not build"
	echo "0 passed, 1 failed"
	exit 1
fi

mkdir -p "$out/corpus" "$out/artifacts"

# One harness, in the background: its log and exit status in $probe.
fuzz_one() {
	h=$1
	name=${h#fuzz_}
	dict=""
	for d in "fuzz/$name.dict" "fuzz/$h.dict"; do
		[ -f "$d" ] && dict="-dict=$d"
	done
	[ "$name" = request ] && [ -z "$dict" ] && dict="-dict=fuzz/http.dict"
	seeds="fuzz/corpus/$name"
	[ -d "$seeds" ] || seeds=""
	mkdir -p "$out/corpus/$name"
	# New inputs go to the first directory (build/), never into the tree.
	# shellcheck disable=SC2086
	"$out/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix="$out/artifacts/$h-" $dict \
	    "$out/corpus/$name" $seeds >"$probe/$h.log" 2>&1
	echo $? >"$probe/$h.rc"
}

# FUZZ_JOBS harnesses at a time (the number of CPUs): each gets a core.
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
harnesses=""
for src in fuzz/fuzz_*.c; do
	h=$(basename "$src" .c)
	if [ -n "${FUZZ_ONLY:-}" ] && ! echo " $FUZZ_ONLY " | grep -q " $h "; then
		continue
	fi
	harnesses="$harnesses $h"
done
n=0
for h in $harnesses; do
	fuzz_one "$h" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait

for h in $harnesses; do
	name=${h#fuzz_}
	rc=$(cat "$probe/$h.rc" 2>/dev/null || echo 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$probe/$h.log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$probe/$h.log" | tail -n 1)
	seeds="fuzz/corpus/$name"
	if [ "$rc" -eq 0 ]; then
		echo "ok $h: ${runs:-0} executions in ${secs} s, ${cov:-cov: ?}, corpus $(ls "$out/corpus/$name" | wc -l) + $(ls "$seeds" 2>/dev/null | wc -l) seeds"
		passed=$((passed + 1))
	else
		echo "not ok $h: exit $rc after ${runs:-?} executions; the input is in $out/artifacts/ (commit it to fuzz/corpus/$name/ with the fix)"
		grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$probe/$h.log" | head -n 20
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
