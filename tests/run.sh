#!/bin/sh
# run.sh: every test of `make check`: the layers of src/ (tests/layers.py),
# the C unit tests, a bounded run of
# every fuzz harness (fuzz/run.sh, one pass or fail each), then the
# integration and browser tests (Node's test runner against the real
# stack), and the integration tests once more on PostgreSQL
# (TOLLGATE_STORES names the stores to run them on: "sqlite postgresql").
# Ends with one line "N passed, N failed" and fails if anything failed.
# TOLLGATE_LONG=1 runs the long variants (crash: 50 kills, load:
# 60 s, fuzz: 60 s a harness).
#
# No test hangs the suite: each test, and each test file as a whole (node
# applies the one limit to both), ends within TOLLGATE_TEST_TIMEOUT ms
# (600000; a test may set a shorter limit of its own), a test file once
# its tests are done (--test-force-exit), and
# each node run within TOLLGATE_SUITE_TIMEOUT s (3600). Every temp dir
# a test makes is under this run's own TMPDIR, so whatever a test left
# running is found by it (in its environment or command line), named and
# killed at the end.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out=$(mktemp -d)
# The web servers' users traverse it to the sockets under it.
chmod 0711 "$out"
mkdir -m 1777 "$out/tmp"
pg="" # set while this run's PostgreSQL runs (in $out/pg)
node_pid="" # the node run going on
trap '[ -n "$pg" ] && sh deploy/pg-local.sh stop "$out/pg"; rm -rf "$out"' EXIT
# Interrupted: the node run (timeout passes the signal on) and whatever
# its tests started end first, then the EXIT trap.
trap '[ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid"; kill_left; exit 130' INT TERM
passed=0
failed=0

count() { # file: adds its "N passed, N failed" or TAP "# pass/# fail" lines
	p=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1/p; s/^# pass \([0-9][0-9]*\)$/\1/p' "$1" | tail -n 1)
	f=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2/p; s/^# fail \([0-9][0-9]*\)$/\1/p' "$1" | tail -n 1)
	# a test cancelled (its timeout ran out, or its file's) failed too
	c=$(sed -n 's/^# cancelled \([0-9][0-9]*\)$/\1/p' "$1" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1} + ${c:-0}))
}

echo "== layers (tests/layers.py: no cycle, no call to a layer above)"
python3 tests/layers.py src >"$out/layers" 2>&1
cat "$out/layers"
count "$out/layers"

echo "== schemas (tests/pg_schema.py: sql/ and sql/pg/ agree after every step)"
timeout -k 5 300 python3 tests/pg_schema.py >"$out/schema" 2>&1
cat "$out/schema"
count "$out/schema"

echo "== unit tests"
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	echo "-- $t"
	"$t" >"$out/unit" 2>&1
	cat "$out/unit"
	count "$out/unit"
done

echo "== fuzzing (libFuzzer; make fuzz for long runs)"
if [ -n "${TESTS:-}" ] && [ -z "${FUZZ_SECONDS:-}" ]; then
	echo "# skip fuzz: TESTS names the integration tests to run"
elif [ "$BUILD" = build/sanitize ] && [ -z "${FUZZ_SECONDS:-}" ]; then
	# CI runs make check twice; the harnesses are ASan + UBSan builds in both.
	echo "# skip fuzz: the plain make check runs the harnesses (ASan + UBSan builds already)"
else
	[ "${TOLLGATE_LONG:-}" = 1 ] && FUZZ_SECONDS=${FUZZ_SECONDS:-60}
	FUZZ_SECONDS=${FUZZ_SECONDS:-10} sh fuzz/run.sh >"$out/fuzz" 2>&1
	sed 's/^/  /' "$out/fuzz"
	count "$out/fuzz"
fi

echo "== integration tests (through nginx)"
export TOLLGATE_BIN="$top/$BUILD/tollgate"
# The Node packages of package.json (the contract checks, the OpenAPI lint,
# playwright-core for the browser tests), installed from package-lock.json
# when any is missing.
node -e 'const fs = require("fs"); const p = require("./package.json");
	for (const d in p.devDependencies) if (!fs.existsSync("node_modules/" + d)) process.exit(1)' ||
	npm ci --no-audit --no-fund --loglevel=error
# kill_left: kills whatever a test left running: every process a test
# starts inherits TMPDIR (or names a path under it).
kill_left() {
	left=$(grep -lsF -e "TMPDIR=$out/tmp" -e "$out/tmp/" /proc/[0-9]*/environ /proc/[0-9]*/cmdline |
		sed 's|^/proc/\([0-9]*\)/.*|\1|' | sort -u | grep -vx "$$")
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086
		ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" | sed 's/^/  # left running, killed: /'
		# shellcheck disable=SC2086
		kill -9 $left 2>/dev/null
	fi
}

# node_run OUT FILES...: one run of the node tests, its TAP in OUT and the
# summary of it printed and counted. It runs in the background so that a
# signal reaches this shell's trap at once (timeout puts node in a process
# group of its own, out of reach of Ctrl-C).
node_run() {
	o=$1
	shift
	TMPDIR="$out/tmp" timeout -k 10 "${TOLLGATE_SUITE_TIMEOUT:-3600}" \
	    node --test --test-reporter=tap --test-concurrency=2 --test-force-exit \
	    --test-timeout="${TOLLGATE_TEST_TIMEOUT:-600000}" "$@" >"$o" 2>&1 &
	node_pid=$!
	wait "$node_pid"
	rc=$?
	node_pid=""
	[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] &&
		echo "not ok - the tests did not end within ${TOLLGATE_SUITE_TIMEOUT:-3600} s" >>"$o"
	kill_left
	grep -v '^ *duration_ms\|^ *\.\.\.$\|^ *---$' "$o" | grep -E '^ *(not ok|ok|#)|^    [a-z]+:|Error' | sed 's/^/  /'
	# The failures again at the end, with what the runner said of each.
	if grep -q '^ *not ok' "$o"; then
		echo "== failures"
		grep -n -A 30 '^ *not ok' "$o" | grep -v 'duration_ms' | head -300 | sed 's/^/  /'
	fi
	count "$o"
}

files=$(ls tests/integration/*.test.mjs tests/browser/*.test.mjs 2>/dev/null)
if [ -n "${TESTS:-}" ]; then files=$TESTS; fi
stores=${TOLLGATE_STORES:-sqlite postgresql}
if [ "${stores#*sqlite}" != "$stores" ]; then
	# shellcheck disable=SC2086
	node_run "$out/node" $files
fi

# The integration tests once more on PostgreSQL (the browser tests run on
# SQLite only): one throwaway cluster for the whole run
# (deploy/pg-local.sh, without fsync), in which each stack makes its own
# database (tests/lib/stack.mjs).
pgfiles=$(for f in $files; do case $f in tests/integration/*) echo "$f" ;; esac; done)
if [ "${stores#*postgresql}" != "$stores" ] && [ -n "$pgfiles" ]; then
	echo "== integration tests on PostgreSQL (through nginx)"
	pg=1
	if url=$(TOLLGATE_PG_FAST=1 sh deploy/pg-local.sh start "$out/pg" 2>"$out/pg-start"); then
		TOLLGATE_TEST_PG=${url%/*}/ TOLLGATE_STORE=postgresql
		export TOLLGATE_TEST_PG TOLLGATE_STORE
		# shellcheck disable=SC2086
		node_run "$out/node-pg" $pgfiles
		unset TOLLGATE_TEST_PG TOLLGATE_STORE
	else
		sed 's/^/  # /' "$out/pg-start"
		echo "  not ok - deploy/pg-local.sh did not start PostgreSQL"
		failed=$((failed + 1))
	fi
	sh deploy/pg-local.sh stop "$out/pg"
	pg=""
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
