# handover.pl BIN SOCKET: holds a listening UNIX socket as systemd does, starts
# `BIN serve` on it (fd 0), stops it with SIGTERM, starts a second one on the
# same socket, prints "ready PID" and waits to be killed. SIGTERM or the end
# of its 60 s stops the second server too; the test runs it in its own
# process group and kills the group, so nothing outlives a failed test.
use strict; use Socket; use POSIX ":sys_wait_h";
my ($bin, $path) = @ARGV;
unlink $path;
socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($path)) or die "bind: $!";
listen($s, 64) or die "listen: $!";
sub start { my $pid = fork(); if ($pid == 0) { open(STDIN, "<&", $s) or die; exec($bin, "serve") or die; } return $pid; }
my $a = start(); sleep 1; kill 'TERM', $a; waitpid($a, 0);
print "first exited $?\n";
my $b = start(); $| = 1;
$SIG{TERM} = sub { kill 'TERM', $b; waitpid($b, 0); exit 0; };
print "ready $b\n";
sleep 60;
kill 'TERM', $b; waitpid($b, 0);
