# HTTPS: --tls-cert / --tls-key with a throwaway CA made at test time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use SimTest;

my $dir = tempdir('liveid-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub openssl {
    my @args = @_;
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', "$dir/openssl.err";
        exec('openssl', @args) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    die "openssl @args failed: " . do { local (@ARGV, $/) = "$dir/openssl.err"; <> } if $?;
}

# a CA, and a server certificate it signs for 127.0.0.1 and localhost
sub make_ca {
    my ($name) = @_;
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-nodes', '-keyout', "$dir/$name.key", '-out', "$dir/$name.crt", '-days', '2',
        '-subj', "/CN=liveid-sim test $name",
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    return "$dir/$name.crt";
}
my $ca    = make_ca('ca');
my $other = make_ca('other-ca');
open(my $ext, '>', "$dir/server.ext") or die;
print $ext "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
  . "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
close $ext;
openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', "$dir/server.key", '-out', "$dir/server.csr", '-subj', '/CN=127.0.0.1');
openssl('x509', '-req', '-in', "$dir/server.csr", '-CA', $ca, '-CAkey', "$dir/ca.key",
    '-CAcreateserial', '-out', "$dir/server.crt", '-days', '2', '-extfile', "$dir/server.ext");

my $sim = start_sim({ tls => 1, cacert => $ca },
    '--tls-cert', "$dir/server.crt", '--tls-key', "$dir/server.key");
my $port = $sim->port;

subtest 'with the CA: HTTPS works' => sub {
    like($sim->base, qr{^https://127\.0\.0\.1:\d+$}, 'an https base URL');
    my $h = req('GET', '/sim/health');
    is($h->{status}, 200, '/sim/health over HTTPS: 200');
    is($h->{curl_exit}, 0, 'the certificate verifies');
    my $q = req('POST', '/api/service/getQueue', apikey => DEMO_KEY, json => { id_process => DEMO_LIVE });
    is($q->{status}, 200, 'getQueue over HTTPS: 200');
    is(jtype($q->{json}{queue}), 'integer', 'with its queue');
    my $push = push_async_call();
    is($push->{status}, 200, 'pushAsyncCall over HTTPS: 200');
    my $link = req('GET', "/app/service-asyncall?uId=$push->{uId}");
    is($link->{status}, 302, 'the link: 302');
    my $loc = $link->{headers}{location} // '';
    ok($loc =~ m{^/} || $loc =~ m{^https://}, 'the Location stays on HTTPS (relative or https)')
      or diag $loc;
    my $l = req('GET', "https://localhost:$port/sim/health");
    is($l->{status}, 200, 'https://localhost: 200 (the certificate names localhost)');
};

subtest 'without the CA, or with another CA: verification fails' => sub {
    my $r = req('GET', '/sim/health', cacert => undef);
    is($r->{status}, 0, 'system CAs only: no answer');
    is($r->{curl_exit}, 60, 'curl: the peer certificate cannot be verified (60)') or diag $r->{curl_error};
    $r = req('GET', '/sim/health', cacert => $other);
    is($r->{curl_exit}, 60, 'another CA: 60');
    $r = req('GET', '/sim/health', cacert => undef, insecure => 1);
    is($r->{status}, 200, 'not verifying (-k): 200, it is TLS all the same');
};

subtest 'plain HTTP to the HTTPS port gets no HTTP answer' => sub {
    my $r = req('GET', "http://127.0.0.1:$port/sim/health", timeout => 3);
    isnt($r->{status}, 200, 'not a 200');
    is(req('GET', '/sim/health')->{status}, 200, 'HTTPS still works afterwards');
};

# An HTTPS callback receiver for one connection: openssl s_server with our
# server certificate, answering 204 (its stdout records the request).
sub tls_receiver {
    my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp');
    my $port = $probe->sockport;
    close $probe;
    my $out = "$dir/s_server-$port.out";
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    if (!$pid) {
        open STDIN, '<&', $r;
        close $w;
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        exec('openssl', 's_server', '-accept', "127.0.0.1:$port", '-cert', "$dir/server.crt",
            '-key', "$dir/server.key", '-naccept', '1') or POSIX::_exit(127);
    }
    close $r;
    syswrite($w, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    my $ready = wait_until(sub { SimTest::_slurp($out) =~ /ACCEPT/ }, 5);
    return { pid => $pid, port => $port, out => $out, w => $w, ready => $ready };
}

sub stop_tls_receiver {
    my ($t) = @_;
    close $t->{w};
    kill 'TERM', $t->{pid};
    waitpid($t->{pid}, 0);
    return SimTest::_slurp($t->{out});
}

sub https_callback {
    my ($s, $t) = @_;
    my $url = "https://127.0.0.1:$t->{port}/cb";
    my ($uid, $conf) = new_call(sim => $s,
        fields => [ json => ssj_b64(liveid_servercallback => { url => $url, otherParams => { k => 'v' } }) ]);
    req('POST', '/sim/answer', sim => $s, json => { idConference => $conf });
    req('POST', '/sim/close', sim => $s, json => { idConference => $conf, closeStatus => 'N', note => 'n' });
    return wait_until(sub {
        my $j = req('GET', '/sim/callbacks', sim => $s)->{json};
        my @all = ref $j eq 'HASH' ? map { ref $_ eq 'ARRAY' ? @$_ : () } values %$j : ();
        my ($d) = grep { ref $_ eq 'HASH' && ($_->{idConference} // '') eq $conf
              && ($_->{delivered} || $_->{gaveUp}) } @all;
        return $d;
    }, 8);
}

subtest 'https callbacks: verified with --callback-ca' => sub {
    my $t = tls_receiver();
    ok($t->{ready}, 'an HTTPS receiver (openssl s_server) is listening');
    my $s = start_sim('--callback-ca', $ca, '--callback-attempts', '1');
    my $d = https_callback($s, $t);
    my $seen = stop_tls_receiver($t);
    ok($d && $d->{delivered}, 'with --callback-ca our CA: delivered') or diag explain $d;
    is(($d || {})->{lastStatus}, 204, 'lastStatus 204');
    like($seen, qr{POST /cb HTTP/1\.1}, 'the receiver got the POST');
    like($seen, qr{"event"\s*:\s*"close"}, 'with the close event');

    $t = tls_receiver();
    my $s2 = start_sim('--callback-attempts', '1');
    $d = https_callback($s2, $t);
    $seen = stop_tls_receiver($t);
    ok($d && !$d->{delivered} && $d->{gaveUp}, 'without it (system CAs): not delivered, given up')
      or diag explain $d;
    like(($d || {})->{lastError} // '', qr/certificate|SSL|verif/i, 'lastError: a certificate problem');
    unlike($seen, qr{POST /cb}, 'the receiver got no request');
    $s->stop;
    $s2->stop;
};

subtest 'unusable TLS options do not start a server' => sub {
    my $r = run_sim('--port', '0', '--quiet', '--tls-cert', "$dir/server.crt");
    is($r->{exit}, 2, '--tls-cert without --tls-key: a bad option, exit 2') or diag $r->{stderr};
    $r = run_sim('--port', '0', '--quiet', '--tls-cert', "$dir/missing.crt", '--tls-key', "$dir/server.key");
    ok(!$r->{timed_out} && ($r->{exit} // 0) != 0, 'a missing certificate file: a non-zero exit')
      or diag "exit " . ($r->{exit} // 'none') . ": $r->{stderr}";
    is($r->{stdout}, '', 'and no port printed');
};

done_testing;
