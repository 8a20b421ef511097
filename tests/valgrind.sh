#!/bin/sh
# valgrind.sh: runs each unit test given (make valgrind: all of them) under
# valgrind memcheck; fails on any error or definite, indirect or possible
# leak. Prints one line per test and "N passed, N failed".
set -u
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	if valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible \
	    --track-origins=yes --quiet "$t" >"$log" 2>&1; then
		echo "ok $t"
		passed=$((passed + 1))
	else
		echo "not ok $t"
		grep -v '^[0-9]* passed' "$log" | head -n 60
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
