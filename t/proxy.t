# liveid ignores the server's proxy environment (http_proxy, https_proxy,
# ALL_PROXY, NO_PROXY...): requests go to liveid.url, and only the setting
# liveid.proxy sends them through a proxy, whatever NO_PROXY says.
#
# A tiny listener stands in for a proxy: it records each request line and
# answers {"via": "proxy"}.  scripts/with-sim.sh starts a cluster whose
# server has the proxy variables pointing at it in its environment, and
# psql runs the calls there.  Self-contained: no shared helpers.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Test::More;

my $root = "$FindBin::Bin/..";
my $tmp  = tempdir('liveid-proxy-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $seen = "$tmp/request-lines";

# the stand-in proxy, in a child process
my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 16, ReuseAddr => 1) or die "listen: $!";
my $proxy_port = $listener->sockport;
my $proxy_pid  = fork // die "fork: $!";
if (!$proxy_pid) {
    while (my $c = $listener->accept) {
        my $line = <$c> // '';
        open(my $fh, '>>', $seen) or POSIX::_exit(1);
        print $fh $line;
        close $fh;
        while (my $h = <$c>) { last if $h =~ /^\r?\n$/ }
        my $body = '{"via": "proxy"}';
        print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
        close $c;
    }
    POSIX::_exit(0);
}
close $listener;
END { kill 'TERM', $proxy_pid if $proxy_pid; }

my $proxy = "http://127.0.0.1:$proxy_port";

# The calls, one result line each ("name|value").  The direct ones go to
# 127.0.0.1, which NO_PROXY does not name; the proxied one to localhost,
# which it does: liveid.proxy must win over both.
my $sql = <<'SQL';
\set ON_ERROR_STOP 1
CREATE EXTENSION liveid;
SELECT 'direct_http|' || (liveid.request('GET', '/sim/health') ? 'version');
SET liveid.url = :'tls_url';
SET liveid.ca_file = :'ca_file';
SELECT 'direct_https|' || (liveid.request('GET', '/sim/health') ? 'version');
RESET liveid.url;
RESET liveid.ca_file;
SET liveid.proxy = :'proxy';
SET liveid.url = :'localhost_url';
SELECT 'proxied|' || (liveid.request('GET', '/sim/health') ->> 'via');
SQL
open(my $fh, '>', "$tmp/calls.sql") or die;
print $fh $sql;
close $fh;
chmod 0644, "$tmp/calls.sql";
chmod 0755, $tmp;

my $bindir = $ENV{PG_CONFIG} ? `$ENV{PG_CONFIG} --bindir` : '';
chomp $bindir;
my $psql = $bindir && -x "$bindir/psql" ? "$bindir/psql" : 'psql';

# the server inherits this environment through with-sim.sh and pg_ctl
local $ENV{http_proxy}  = $proxy;
local $ENV{https_proxy} = $proxy;
local $ENV{HTTPS_PROXY} = $proxy;
local $ENV{ALL_PROXY}   = $proxy;
local $ENV{all_proxy}   = $proxy;
local $ENV{NO_PROXY}    = 'localhost';
local $ENV{no_proxy}    = 'localhost';

# the URLs come from with-sim.sh's environment, so they are read in there
open($fh, '>', "$tmp/run.sh") or die;
print $fh <<"SH";
set -e
tls=\$(echo "\$LIVEID_SIM_TLS_URL" | sed 's/localhost/127.0.0.1/')
lh=\$(echo "\$LIVEID_SIM_URL" | sed 's/127\\.0\\.0\\.1/localhost/')
exec "$psql" -X -At -v proxy="$proxy" -v tls_url="\$tls" -v ca_file="\$LIVEID_TEST_CA" \\
  -v localhost_url="\$lh" -f "$tmp/calls.sql" 2>&1
SH
close $fh;
open(my $run, '-|', "$root/scripts/with-sim.sh", 'bash', "$tmp/run.sh") or die "with-sim.sh: $!";
my $out = do { local $/; <$run> } // '';
close $run;
my $rc = $? >> 8;
is($rc, 0, 'the calls ran') or diag $out;

my %got = map { /^(\w+)\|(.*)$/ ? ($1 => $2) : () } split /\n/, $out;
is($got{direct_http}, 'true',
    'with http_proxy and ALL_PROXY in the environment, an http call reaches liveid.url itself');
is($got{direct_https}, 'true',
    'with https_proxy and ALL_PROXY in the environment, an https call reaches liveid.url itself');
is($got{proxied}, 'proxy',
    'with liveid.proxy set, the call goes through it, even to a host NO_PROXY names');

my @lines = -e $seen ? do { open(my $s, '<', $seen) or die; <$s> } : ();
s/\r?\n$// for @lines;
is(scalar @lines, 1, 'the proxy saw one request: the one liveid.proxy sent it')
  or diag explain \@lines;
like($lines[0] // '', qr{^GET http://localhost:\d+/sim/health HTTP/1\.1$},
    'asking for liveid.url || path');

done_testing;
