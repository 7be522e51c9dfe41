# HTTPS: --tls-cert / --tls-key with a throwaway CA made here; plain HTTP
# to the TLS port gets no answer; unusable key files do not start it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use ReceiverTest;

my $dir = tempdir('liveid-rcv-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my ($ca, $cert, $key) = make_certs($dir);
my $db  = callback_db('tls');
my $rcv = start_receiver({ tls => 1, cacert => $ca },
    '--dsn', $db->{dsn}, '--tls-cert', $cert, '--tls-key', $key);

subtest 'HTTPS with the test certificate' => sub {
    like($rcv->base, qr{^https://127\.0\.0\.1:\d+$}, 'an https URL');
    like($rcv->log_text, qr/\(HTTPS\)/, 'the start-up line says HTTPS');
    my $res = post($rcv, callback_body(conf => 'tls-1'));
    is($res->{curl_exit}, 0, 'the certificate verifies against the test CA') or diag $res->{curl_error};
    is($res->{status}, 200, 'a callback over HTTPS: 200');
    is($db->{node}->safe_psql('cb', "SELECT count(*) FROM liveid.call_events WHERE id_conference = 'tls-1'"),
        1, 'stored');
    $res = post($rcv, callback_body(conf => 'tls-2'), cacert => undef, no_line => 1);
    is($res->{curl_exit}, 60, 'without the test CA: the certificate does not verify (curl 60)');
};

subtest 'plain HTTP to the TLS port: no HTTP answer' => sub {
    my $res = SimTest::req('POST', 'http://127.0.0.1:' . $rcv->port . '/liveid/callback',
        body => callback_body(conf => 'tls-plain'), timeout => 3);
    is($res->{status}, 0, 'no HTTP status');
    is($db->{node}->safe_psql('cb', "SELECT count(*) FROM liveid.call_events WHERE id_conference = 'tls-plain'"),
        0, 'nothing stored');
    is(post($rcv, callback_body(conf => 'tls-3'))->{status}, 200, 'HTTPS still works afterwards');
};

subtest 'a certificate file with its chain: the whole chain is sent' => sub {
    open(my $fh, '>', "$dir/chain.pem") or die;
    print $fh SimTest::_slurp($cert), SimTest::_slurp($ca);
    close $fh;
    my $chained = start_receiver({ tls => 1, cacert => $ca },
        '--dsn', $db->{dsn}, '--tls-cert', "$dir/chain.pem", '--tls-key', $key);
    my $port = $chained->port;
    my $shown = `openssl s_client -connect 127.0.0.1:$port -showcerts </dev/null 2>/dev/null`;
    my $n = () = $shown =~ /-----BEGIN CERTIFICATE-----/g;
    is($n, 2, 'the server certificate and the CA certificate after it');
    is(post($chained, callback_body(conf => 'tls-chain'))->{status}, 200, 'and a callback: 200');
    $chained->stop;
};

subtest 'a key that does not match the certificate: exit 1' => sub {
    my (undef, $other_cert) = make_certs(tempdir(DIR => $dir));
    my $r = run_receiver('--listen', '127.0.0.1:0', '--dsn', $db->{dsn},
        '--tls-cert', $other_cert, '--tls-key', $key);
    is($r->{exit}, 1, 'exit 1');
    like($r->{stderr}, qr/TLS certificate or key is unusable/, 'says so');
    is($r->{stdout}, '', 'no port');
    $r = run_receiver('--listen', '127.0.0.1:0', '--dsn', $db->{dsn},
        '--tls-cert', $cert, '--tls-key', "$dir/none.key");
    is($r->{exit}, 1, 'a missing key file: exit 1');
    like($r->{stderr}, qr/cannot read --tls-key \S+none\.key/, 'names it');
};

subtest 'the log holds no token over HTTPS either' => sub {
    unlike($rcv->log_text, qr/\Q${\ TOKEN}\E/, 'no token');
    # tls-1 and tls-3; the one without the CA and the plain one never made
    # a request
    is_deeply([ map { $_->{status} } request_lines($rcv) ], [ 200, 200 ],
        'one line for each of the two HTTPS requests that arrived');
};

done_testing;
