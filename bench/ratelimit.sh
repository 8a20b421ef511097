#!/bin/sh
# ratelimit.sh: builds bench/ratelimit_bench.c against build/libtollgate.a and
# prints what a take costs beside the same hashing without the table (ratio),
# then the system calls of the whole program for 1,000 and for 4,000,000
# takes (perf, else strace): equal counts mean the hot path makes none.
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory build/libtollgate.a >/dev/null
cc -std=c11 -D_GNU_SOURCE -Isrc -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Werror \
	-o build/ratelimit_bench bench/ratelimit_bench.c build/libtollgate.a \
	-lfcgi -ljson-c -lsqlite3 -ljwt -largon2 -lcrypto -lz -lpthread
build/ratelimit_bench

out=build/ratelimit_bench.calls
syscalls() { # bench arguments: prints the system calls made, or "?"
	if perf stat -x, -e raw_syscalls:sys_enter -o $out build/ratelimit_bench "$@" 2>/dev/null; then
		awk -F, '/raw_syscalls/ { print $1 }' $out
	elif command -v strace >/dev/null 2>&1; then
		strace -f -c -o $out build/ratelimit_bench "$@"
		awk '$NF == "total" { print $(NF-2) }' $out
	else
		echo "?"
	fi
}
for n in 1000 4000000; do
	echo "system calls, $n takes on one thread (open and exit included): $(syscalls --takes $n)"
done
for n in 1000 4000000; do
	echo "system calls, $n takes by two threads on one bucket: $(syscalls --takes $n --hot)"
done
