# liveid-receiver's command line: --help, bad options (exit 2), refusing to
# start without TLS, the port printed, IPv6, the DSN kept out of ps and of
# the log, SIGINT.  No database is needed: the receiver connects on demand.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use ReceiverTest;
use SimTest qw(wait_until);

my $dir = tempdir('liveid-rcv-cli-XXXXXX', TMPDIR => 1, CLEANUP => 1);
# a DSN that reaches no server: requests get 503
my $NODB = "host=$dir/nowhere dbname=cb connect_timeout=2";

subtest '--help' => sub {
    my $r = run_receiver('--help');
    is($r->{exit}, 0, 'exit 0');
    like($r->{stdout}, qr/^Usage: liveid-receiver --listen ADDR:PORT --dsn CONNINFO/, 'the usage line');
    for my $opt (qw(--listen --dsn --path --tls-cert --tls-key --plain-http --max-body
        --connections --timeout --pool --query-timeout --connect-timeout --help)) {
        like($r->{stdout}, qr/^\s+(?:--\S+ \S+ )?\Q$opt\E\b/m, "$opt is explained");
    }
};

subtest 'bad command lines: exit 2, a message, no port' => sub {
    my @L = ('--listen', '127.0.0.1:0');
    my @D = ('--dsn', $NODB);
    for my $case (
        [ 'nothing', [], qr/--listen ADDR:PORT is required/ ],
        [ 'no --dsn', [ @L, '--plain-http' ], qr/--dsn CONNINFO .* is required/ ],
        [ 'no port', [ '--listen', '127.0.0.1', @D ], qr/--listen: expected ADDR:PORT/ ],
        [ 'a port over 65535', [ '--listen', '127.0.0.1:65536', @D ], qr/port: expected a whole number from 0 to 65535/ ],
        [ 'a host name', [ '--listen', 'localhost:80', @D ], qr/not a numeric IPv4 address/ ],
        [ 'IPv6 without brackets', [ '--listen', '::1:80', @D ], qr/not a numeric IPv4 address/ ],
        [ 'IPv6 without the port', [ '--listen', '[::1]80', @D ], qr/--listen: expected ADDR:PORT/ ],
        [ '--max-body 0', [ @L, @D, '--plain-http', '--max-body', '0' ], qr/--max-body: expected a whole number from 16/ ],
        [ '--max-body 10k', [ @L, @D, '--plain-http', '--max-body', '10k' ], qr/--max-body: .*got "10k"/ ],
        [ '--max-body -5', [ @L, @D, '--plain-http', '--max-body', '-5' ], qr/--max-body: .*got "-5"/ ],
        [ '--connections 0', [ @L, @D, '--plain-http', '--connections', '0' ], qr/--connections: expected/ ],
        [ '--timeout 0', [ @L, @D, '--plain-http', '--timeout', '0' ], qr/--timeout: expected/ ],
        [ '--pool 0', [ @L, @D, '--plain-http', '--pool', '0' ], qr/--pool: expected/ ],
        [ '--query-timeout x', [ @L, @D, '--plain-http', '--query-timeout', 'x' ], qr/--query-timeout: expected/ ],
        [ '--connect-timeout 1 (libpq waits 2 s at least)', [ @L, @D, '--plain-http', '--connect-timeout', '1' ],
          qr/--connect-timeout: expected a whole number from 2/ ],
        [ 'a relative --path', [ @L, @D, '--plain-http', '--path', 'cb' ], qr/--path: expected an absolute path/ ],
        [ 'a --path with a query', [ @L, @D, '--plain-http', '--path', '/cb?x=1' ], qr/--path: only printable ASCII/ ],
        [ 'an unknown option', [ @L, @D, '--plain-http', '--bogus' ], qr/bad option or missing argument: "--bogus"/ ],
        [ 'a missing argument', [ @L, @D, '--plain-http', '--pool' ], qr/bad option or missing argument/ ],
        [ 'a stray argument', [ @L, @D, '--plain-http', 'extra' ], qr/unexpected argument: "extra"/ ],
        [ '--tls-cert without --tls-key', [ @L, @D, '--tls-cert', "$dir/c.pem" ], qr/--tls-cert and --tls-key go together/ ],
        [ '--plain-http with a certificate', [ @L, @D, '--plain-http', '--tls-cert', "$dir/c.pem", '--tls-key', "$dir/k.pem" ],
          qr/--plain-http and --tls-cert exclude each other/ ],
        [ 'neither TLS nor --plain-http', [ @L, @D ], qr/no TLS certificate: give --tls-cert and --tls-key, or --plain-http/ ],
      )
    {
        my ($what, $args, $msg) = @$case;
        my $r = run_receiver(@$args);
        is($r->{exit}, 2, "$what: exit 2") or diag $r->{stderr};
        like($r->{stderr}, $msg, "$what: says why");
        is($r->{stdout}, '', "$what: no port printed");
    }
};

subtest 'a DSN libpq cannot parse: exit 2, and the DSN is not echoed' => sub {
    my $r = run_receiver('--listen', '127.0.0.1:0', '--plain-http',
        '--dsn', "host=x password=hunter2-secret 'unterminated");
    is($r->{exit}, 2, 'exit 2');
    like($r->{stderr}, qr/--dsn is not a valid libpq connection string/, 'says so');
    unlike($r->{stderr}, qr/hunter2/, 'without the password');
};

subtest 'start-up failures: exit 1, no port' => sub {
    open(my $fh, '>', "$dir/garbage.pem") or die;
    print $fh "not a certificate\n";
    close $fh;
    my $r = run_receiver('--listen', '127.0.0.1:0', '--dsn', $NODB,
        '--tls-cert', "$dir/missing.pem", '--tls-key', "$dir/missing.key");
    is($r->{exit}, 1, 'an unreadable certificate: exit 1');
    like($r->{stderr}, qr/cannot read --tls-cert \S+missing\.pem: No such file/, 'says which file');
    is($r->{stdout}, '', 'no port');
    $r = run_receiver('--listen', '127.0.0.1:0', '--dsn', $NODB,
        '--tls-cert', "$dir/garbage.pem", '--tls-key', "$dir/garbage.pem");
    is($r->{exit}, 1, 'a file that is no certificate: exit 1');
    like($r->{stderr}, qr/TLS certificate or key is unusable/, 'says so');

    my $first = start_receiver({}, '--dsn', $NODB);
    $r = run_receiver('--listen', '127.0.0.1:' . $first->port, '--plain-http', '--dsn', $NODB);
    is($r->{exit}, 1, 'a port already taken: exit 1');
    like($r->{stderr}, qr/cannot listen on 127\.0\.0\.1:\d+/, 'says so');
    $first->stop;
};

subtest 'port 0: a free port, printed alone on stdout; answers without a database' => sub {
    my $rcv = start_receiver({}, '--dsn', $NODB);
    like($rcv->{first_line}, qr/^\d+\n$/, 'the first stdout line is the port');
    isnt($rcv->port, 0, 'not 0');
    my $res = post($rcv, callback_body());
    is($res->{status}, 503, 'a callback while the database is unreachable: 503');
    like($rcv->log_text, qr/listening on 127\.0\.0\.1:0 port ${\ $rcv->port} \(plain HTTP\), path \/liveid\/callback/,
        'the start-up line says where it listens');
};

subtest '--listen [::1]:0: IPv6' => sub {
    my $rcv = start_receiver({ host => '::1' }, '--dsn', $NODB);
    my $res = post($rcv, callback_body());
    is($res->{status}, 503, 'answered over IPv6');
    my ($l) = request_lines($rcv);
    is($l && $l->{addr}, '::1', 'the log names the IPv6 client');
};

subtest 'the DSN: its password neither in ps nor in the log; LIVEID_RECEIVER_DSN' => sub {
    my $pw = 'pw-' . int(rand(1e9));
    my $rcv = start_receiver({}, '--dsn', "host=$dir/nowhere dbname=argv password=$pw");
    my $cmdline = SimTest::_slurp('/proc/' . $rcv->pid . '/cmdline');
    like($cmdline, qr/--dsn\0\*+\0/, '/proc/PID/cmdline: the --dsn value is overwritten');
    unlike($cmdline, qr/\Q$pw\E/, 'without the password');
    post($rcv, callback_body());
    like($rcv->log_text, qr/database host=\S+ dbname=argv;/, 'the log names the database');
    unlike($rcv->log_text, qr/\Q$pw\E/, 'but never the password');

    my $env = start_receiver({ env => { LIVEID_RECEIVER_DSN => "host=$dir/nowhere dbname=fromenv" } });
    like($env->log_text, qr/database host=\S+ dbname=fromenv;/, 'without --dsn, LIVEID_RECEIVER_DSN is used');
    is(post($env, callback_body())->{status}, 503, 'and it answers');
};

subtest 'the systemd unit: valid, hardened, no secret in it' => sub {
    my $unit = "$ReceiverTest::ROOT/receiver/liveid-receiver.service";
    my $text = SimTest::_slurp($unit);
    like($text, qr/^ExecStart=\/usr\/local\/bin\/liveid-receiver --listen \S+ --tls-cert %d\/tls\.crt --tls-key %d\/tls\.key$/m,
        'ExecStart: HTTPS with the credentials, and no --dsn');
    like($text, qr/^EnvironmentFile=/m, 'the DSN from an EnvironmentFile');
    unlike($text, qr/password=|--dsn/, 'no password or DSN in the unit');
    for my $d ('DynamicUser=yes', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes',
        'Restart=on-failure', 'CapabilityBoundingSet=', 'LoadCredential=tls.key:') {
        like($text, qr/^\Q$d\E/m, $d);
    }
  SKIP: {
        skip 'no systemd-analyze', 2 unless grep { -x "$_/systemd-analyze" } split /:/, $ENV{PATH};
        # verify wants the binary where ExecStart says
        (my $copy = $text) =~ s{/usr/local/bin/liveid-receiver}{$ReceiverTest::BIN};
        open(my $fh, '>', "$dir/liveid-receiver.service") or die;
        print $fh $copy;
        close $fh;
        my $out = `systemd-analyze verify $dir/liveid-receiver.service 2>&1`;
        is($?, 0, 'systemd-analyze verify: exit 0');
        is($out, '', 'and not one warning (an unknown or misspelt key is one)');
    }
};

subtest 'SIGINT: a clean stop, exit 0' => sub {
    my $rcv = start_receiver({}, '--dsn', $NODB);
    my $st = $rcv->stop('INT');
    is($st->{exit}, 0, 'exit 0') or diag $st->{desc};
    like($rcv->log_text, qr/stopping on SIGINT.*\n.*stopped\n\z/, 'logs the stop, and "stopped" last');
};

done_testing;
