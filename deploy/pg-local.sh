#!/bin/sh
# pg-local.sh: a throwaway PostgreSQL 15 cluster for development and tests
# (`make run-postgres`, tests/run.sh), all of it inside one directory.
#
#   pg-local.sh start DIR [PORT]   initialises DIR the first time, starts the
#                                  cluster and prints the URL of database
#                                  tollgate: postgresql://tollgate:PASS@127.0.0.1:PORT/tollgate
#   pg-local.sh stop DIR           stops it (fast shutdown); nothing running
#                                  is no error
#
# DIR holds the cluster (DIR/data), its log (DIR/log), its unix socket
# (DIR/.s.PGSQL.PORT), the port it last listened on (DIR/port) and the
# password of role tollgate (DIR/password, mode 0600). The cluster listens
# on 127.0.0.1 only, on PORT, else on the port of the last start if that is
# free, else on a free one. Role tollgate (LOGIN CREATEDB, owner of database
# tollgate) signs in over TCP with scram-sha-256; the superuser postgres
# signs in over the socket without a password, and DIR (mode 0700) keeps
# everyone but its owner and root from that socket. Run as root, the
# cluster runs as the system user postgres and DIR is chowned to it.
#
#   TOLLGATE_PG_FAST=1   fsync, synchronous_commit and full_page_writes off
#                        (tests: a crash may lose or corrupt the data, which
#                        they throw away anyway); off by default
set -eu

bindir=${TOLLGATE_PG_BIN:-/usr/lib/postgresql/15/bin}
usage() {
	echo "usage: pg-local.sh start DIR [PORT] | pg-local.sh stop DIR" >&2
	exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
data="$dir/data"

# as_owner CMD...: runs CMD as the cluster's owner (postgres under root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
# port_free PORT: whether 127.0.0.1:PORT can be bound.
port_free() {
	perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or exit 2;
		setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
		bind($s, sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) or exit 1' "$1"
}
free_port() {
	perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
		bind($s, sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
		print((sockaddr_in(getsockname($s)))[0])'
}
running() {
	[ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}
# The owner's commands start in DIR: root's working directory may be closed
# to user postgres.
cd "$dir"

case $cmd in
stop)
	running || exit 0
	as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
	exit 0
	;;
start) ;;
*) usage ;;
esac

[ -x "$bindir/initdb" ] || {
	echo "pg-local: no $bindir/initdb (apt-get install postgresql-15)" >&2
	exit 1
}
chmod 0700 "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"

if [ ! -s "$dir/password" ]; then
	(umask 077 && openssl rand -hex 24 >"$dir/password")
fi
pass=$(cat "$dir/password")

if [ ! -f "$data/PG_VERSION" ]; then
	as_owner "$bindir/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
	    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	cat >>"$data/postgresql.conf" <<-EOF
		# pg-local.sh
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir'
		max_connections = 300
		password_encryption = 'scram-sha-256'
	EOF
fi

if running; then
	port=$(cat "$dir/port")
else
	port=${3:-}
	if [ -z "$port" ] && [ -s "$dir/port" ] && port_free "$(cat "$dir/port")"; then
		port=$(cat "$dir/port")
	fi
	[ -n "$port" ] || port=$(free_port)
	opts="-p $port"
	if [ "${TOLLGATE_PG_FAST:-}" = 1 ]; then
		opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/log" -w -t 60 -o "$opts" start >/dev/null || {
		echo "pg-local: PostgreSQL did not start (see $dir/log):" >&2
		tail -n 20 "$dir/log" >&2
		exit 1
	}
	echo "$port" >"$dir/port"
fi

# Role and database tollgate, made the first time (and given the password
# of DIR/password every time).
psql_su() {
	"$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"
}
if [ -z "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = 'tollgate'")" ]; then
	psql_su -c "CREATE ROLE tollgate LOGIN CREATEDB" >/dev/null
fi
psql_su -c "ALTER ROLE tollgate PASSWORD '$pass'" >/dev/null
if [ -z "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = 'tollgate'")" ]; then
	psql_su -c "CREATE DATABASE tollgate OWNER tollgate" >/dev/null
fi
echo "postgresql://tollgate:$pass@127.0.0.1:$port/tollgate"
