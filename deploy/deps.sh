#!/bin/sh
# deps.sh: installs the Debian 12 packages Tollgate needs that this machine
# lacks. `deps.sh` for building and running on SQLite (the binary links
# libpq either way); `deps.sh postgres` adds the PostgreSQL 15 server that
# `make run-postgres` starts (deploy/pg-local.sh); `deps.sh check` adds the
# tests' (the server among them: the suite runs on both stores);
# `deps.sh bench` the benchmarks' (`deps.sh bench postgres` for
# `make bench STORE=postgresql`). Several sets may be named at once.
set -eu

sets=" $* "
wants() { case $sets in *" $1 "*) return 0 ;; esac; return 1; }

want="gcc make pkg-config libc6-dev libfcgi-dev libjson-c-dev libsqlite3-dev libjwt-dev
libargon2-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libpq-dev nginx-light openssl sqlite3 curl"
if wants postgres || wants check; then
	want="$want postgresql-15" # initdb, pg_ctl, psql: deploy/pg-local.sh, tests/pg_schema.py
fi
if wants check; then
	want="$want libfcgi-bin procps" # cgi-fcgi; pgrep for the fault tests
	want="$want jq" # the README's quick start (tests/integration/quickstart.test.mjs)
	# The web server tests (webservers.test.mjs) and the deploy/ checks.
	want="$want apache2 libapache2-mod-fcgid lighttpd lighttpd-modules-lua spawn-fcgi systemd mandoc"
	command -v node >/dev/null 2>&1 || want="$want nodejs"
	command -v npm >/dev/null 2>&1 || want="$want npm"
	want="$want chromium" # the browser tests drive it headless (tests/browser/)
	# The fuzz harnesses (fuzz/run.sh: libFuzzer), make check SANITIZE=1,
	# make valgrind.
	want="$want clang libclang-rt-14-dev valgrind"
	want="$want python3" # tests/layers.py
fi
if wants bench; then
	want="$want wrk jq"
fi

missing=""
for p in $want; do
	# nginx-light is one of several nginx flavours; any of them will do.
	if [ "$p" = nginx-light ] && command -v nginx >/dev/null 2>&1; then
		continue
	fi
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
