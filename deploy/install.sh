#!/bin/sh
# install.sh: the deploy/ part of `make install`: the web server configs and
# tollgate-spawn under PREFIX/share/tollgate/deploy, the systemd units where
# systemd looks (PREFIX/lib/systemd/system), tollgatectl in PREFIX/sbin,
# and tollgate(8). Every
# /usr/local in them becomes PREFIX, so the installed files name the
# installed paths.
#
#   PREFIX   /usr/local
#   DESTDIR  prepended to every path (staging, packaging)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
share=$DESTDIR$PREFIX/share/tollgate/deploy

# put MODE SRC DST: SRC (relative to the top) with PREFIX for /usr/local.
put() {
	install -d "$(dirname "$3")"
	sed "s|/usr/local|$PREFIX|g" "$top/$2" >"$3.tmp"
	chmod "$1" "$3.tmp"
	mv "$3.tmp" "$3"
}

for f in nginx/tollgate.conf nginx/dev.conf.in apache/tollgate.conf apache/tollgate-fcgid.conf \
    lighttpd/tollgate.conf lighttpd/errors.lua; do
	put 0644 "deploy/$f" "$share/$f"
done
put 0755 deploy/spawn-fcgi/tollgate-spawn "$share/spawn-fcgi/tollgate-spawn"
# Admin commands against the live database of the systemd installation.
put 0755 deploy/tollgatectl "$DESTDIR$PREFIX/sbin/tollgatectl"
for f in tollgate.socket tollgate.service; do
	put 0644 "deploy/systemd/$f" "$DESTDIR$PREFIX/lib/systemd/system/$f"
done
put 0644 man/tollgate.8 "$DESTDIR$PREFIX/share/man/man8/tollgate.8"
