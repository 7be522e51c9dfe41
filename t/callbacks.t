# End to end: the simulator closes calls and posts their server callbacks
# over TLS to a running liveid-receiver, which hands them to
# liveid.receive_callback() in a real cluster.  Nothing is lost and
# nothing is duplicated when the receiver is killed with SIGKILL, when
# PostgreSQL restarts, or over 1,000 callbacks; forged, malformed,
# oversized and slow requests are refused; and no secret reaches a log.
use strict;
use warnings;
use FindBin;
use LiveidCluster;
use SimTest qw(wait_until);
use File::Temp ();
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More;

my $bin = "$FindBin::Bin/../receiver/liveid-receiver";
die "receiver/liveid-receiver is not built (make -C receiver)\n" unless -x $bin;

my $tmp = File::Temp->newdir('liveid-callbacks-XXXXXX', TMPDIR => 1);
# a throwaway CA and a certificate for 127.0.0.1, which the simulator trusts
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=test CA' "
      . "-keyout $tmp/ca.key -out $tmp/ca.pem 2>/dev/null") == 0 or die "openssl CA\n";
system("openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout $tmp/r.key "
      . "-out $tmp/r.csr 2>/dev/null") == 0 or die "openssl CSR\n";
open(my $ext, '>', "$tmp/san.ext") or die; print $ext "subjectAltName=IP:127.0.0.1\n"; close $ext;
system("openssl x509 -req -in $tmp/r.csr -CA $tmp/ca.pem -CAkey $tmp/ca.key -CAcreateserial "
      . "-days 1 -extfile $tmp/san.ext -out $tmp/r.pem 2>/dev/null") == 0 or die "openssl sign\n";

my $sim = liveid_sim('--callback-ca', "$tmp/ca.pem", '--callback-backoff-ms', '200',
    '--callback-attempts', '40');
my $node = liveid_node('node', $sim);
# the receiver's role, as README's Security section sets it up
$node->safe_psql('postgres', q{
    CREATE ROLE liveid_hook LOGIN IN ROLE liveid_receiver;
    ALTER ROLE liveid_hook SET log_statement = 'none';
    ALTER ROLE liveid_hook SET log_min_duration_statement = -1;
    ALTER ROLE liveid_hook SET log_parameter_max_length = 0;
    ALTER ROLE liveid_hook SET log_parameter_max_length_on_error = 0;
});

# --------------------------------------------------------------- the receiver
my ($rpid, $rport, $rlog) = (0, 0, "$tmp/receiver.log");
sub start_receiver {
    my ($port) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        open STDOUT, '>&', $w;
        open STDERR, '>>', $rlog;
        exec($bin, '--listen', '127.0.0.1:' . ($port // 0),
            '--dsn', 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=liveid_hook',
            '--tls-cert', "$tmp/r.pem", '--tls-key', "$tmp/r.key",
            '--timeout', '2', '--pool', '4') or POSIX::_exit(127);
    }
    close $w;
    my $line = <$r>;
    die "liveid-receiver did not start:\n" . PostgreSQL::Test::Utils::slurp_file($rlog)
      unless defined $line && $line =~ /(\d+)\s*$/;
    ($rpid, $rport) = ($pid, $1);
    return $rport;
}
sub stop_receiver {
    my ($sig) = @_;
    return unless $rpid;
    kill $sig // 'TERM', $rpid;
    waitpid($rpid, 0);
    my $st = $?;
    $rpid = 0;
    return $st;
}
END { kill 'KILL', $rpid if $rpid }

start_receiver();
my $cb_url = "https://127.0.0.1:$rport/liveid/callback";
$node->safe_psql('postgres',
    "ALTER SYSTEM SET liveid.callback_url = '$cb_url'; SELECT pg_reload_conf();");

# --------------------------------------------------------------- helpers
sub sim_post {
    my ($path, $body) = @_;
    my $r = $sim->req('POST', $path, json => $body);
    die "$path: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return $r->{json};
}
# starts $n calls (external ids "$prefix-1".."$prefix-$n"); their uids
sub start_calls {
    my ($prefix, $n) = @_;
    my $out = $node->safe_psql('postgres', "SELECT substring(liveid.service_start("
          . "liveid.customer('it', 'a\@example.com', 'A', 'B'), organization => 'DEMO', process => '"
          . DEMO_LIVE . "', external_id => '$prefix-' || i) FROM 'uId=(.*)\$') "
          . "FROM generate_series(1, $n) i ORDER BY i");
    return split /\n/, $out;
}
# the customer opens, an operator answers and closes (K: an error)
sub end_call {
    my ($uid, $cs, $abort) = @_;
    my $conf = sim_post('/sim/open', { uId => $uid })->{idConference};
    sim_post('/sim/answer', { idConference => $conf });
    if ($cs eq 'K') { sim_post('/sim/error', { idConference => $conf, error => 'media lost' }) }
    else {
        sim_post('/sim/close', { idConference => $conf, closeStatus => $cs,
            $abort ? (abortCode => $abort) : () });
    }
    return $conf;
}
sub deliveries { $sim->req('GET', '/sim/callbacks')->{json}{callbacks} // [] }
sub all_delivered {
    my ($n, $secs) = @_;
    return wait_until(sub {
        my $d = deliveries();
        return @$d >= $n && !grep { !$_->{delivered} } @$d;
    }, $secs // 60, 0.1);
}
sub sql { $node->safe_psql('postgres', $_[0]) }

# --------------------------------------------------------------- the four endings
my @uids = start_calls('END', 4);
my %conf;
$conf{N} = end_call($uids[0], 'N');
$conf{S} = end_call($uids[1], 'S');
$conf{A} = end_call($uids[2], 'A', 'DOC_EXPIRED');
$conf{K} = end_call($uids[3], 'K');
ok(all_delivered(4), 'the simulator delivered its four callbacks over TLS');
is(sql("SELECT string_agg(external_id || ' ' || status || ' ' || close_status, ', ' ORDER BY external_id) "
      . "FROM liveid.calls WHERE external_id LIKE 'END-%'"),
    'END-1 closed N, END-2 closed S, END-3 closed A, END-4 closed K',
    'the ledger has each outcome');
is(sql("SELECT string_agg(c.external_id || ' ' || e.event || ' ' || e.close_status || ' ' "
      . "|| coalesce(e.abort_code, '-') || ' ' || e.mismatch, ', ' ORDER BY c.external_id) "
      . "FROM liveid.call_events e JOIN liveid.calls c USING (uid) WHERE c.external_id LIKE 'END-%'"),
    'END-1 close N - false, END-2 close S - false, END-3 close A DOC_EXPIRED false, END-4 error K - false',
    'one confirmed event per call, with its abort code');

# --------------------------------------------------------------- kill -9
subtest 'the receiver killed with SIGKILL and restarted' => sub {
    stop_receiver('KILL');
    my @k = start_calls('KILL', 3);
    end_call($_, 'N') for @k;
    ok(wait_until(sub { (grep { !$_->{delivered} && $_->{attempts} >= 1 } @{ deliveries() }) == 3 }, 20, 0.1),
        'the deliveries fail while the receiver is down');
    start_receiver($rport);
    ok(all_delivered(7), 'the simulator\'s retries are delivered after the restart');
    is(sql("SELECT count(*) || ' ' || count(DISTINCT uid) FROM liveid.call_events e "
          . "JOIN liveid.calls c USING (uid) WHERE c.external_id LIKE 'KILL-%'"), '3 3',
        'nothing lost, nothing duplicated');
};

# --------------------------------------------------------------- PostgreSQL restarts
subtest 'PostgreSQL restarts while callbacks arrive' => sub {
    my @r = start_calls('PGDOWN', 2);
    $node->stop('fast');
    end_call($_, 'S') for @r;
    ok(wait_until(sub { (grep { ($_->{lastStatus} // 0) == 503 } @{ deliveries() }) >= 2 }, 20, 0.1),
        'the receiver answers 503 while the database is down');
    $node->start;
    ok(all_delivered(9), 'the retries are delivered once it is back, the receiver not restarted');
    is(sql("SELECT count(*) FROM liveid.call_events e JOIN liveid.calls c USING (uid) "
          . "WHERE c.external_id LIKE 'PGDOWN-%' AND e.close_status = 'S'"), '2', 'both stored once');
};

# --------------------------------------------------------------- 1,000
subtest '1,000 callbacks' => sub {
    my @many = start_calls('MANY', 1000);
    is(scalar @many, 1000, '1,000 calls started');
    # the customers open, the operators answer and close, driven from SQL
    sql(q{CREATE TABLE many_conf AS
          SELECT uid, liveid.request('POST', '/sim/open', jsonb_build_object('uId', uid)) ->> 'idConference' AS conf
            FROM liveid.calls WHERE external_id LIKE 'MANY-%'});
    sql(q{SELECT count(liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', conf))) FROM many_conf});
    sql(q{SELECT count(liveid.request('POST', '/sim/close', jsonb_build_object('idConference', conf, 'closeStatus', 'N')))
            FROM many_conf});
    ok(all_delivered(1009, 180), 'every callback delivered');
    is(sql("SELECT count(*) || ' ' || count(DISTINCT e.uid) || ' ' || bool_and(c.status = 'closed' AND NOT e.mismatch) "
          . "FROM liveid.call_events e JOIN liveid.calls c USING (uid) WHERE c.external_id LIKE 'MANY-%'"),
        '1000 1000 true', 'none lost, none twice, each confirmed and closed');
};

# --------------------------------------------------------------- refused
sub post {
    my (%o) = @_;
    my @h = map { ('-H', $_) } @{ $o{headers} // [] };
    my $data = "$tmp/body";
    open(my $fh, '>:raw', $data) or die; print $fh $o{body} // ''; close $fh;
    open(my $ph, '-|', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert',
        "$tmp/ca.pem", @h, '--data-binary', "\@$data", $cb_url) or die "curl: $!";
    local $/;
    my $code = <$ph>;
    close $ph;
    return $code;
}
subtest 'forged, malformed, oversized, slow' => sub {
    my ($uid) = start_calls('FORGED', 1);
    my $conf = end_call($uid, 'A', 'NO_FACE');
    ok(all_delivered(1010), 'the genuine callback arrives');
    my $events = sql("SELECT count(*) FROM liveid.call_events");
    my $ref = sql("SELECT ref FROM liveid.calls WHERE uid = '$uid'");
    my $forged = JSON::PP->new->encode({ event => 'close', callID => $conf, idConference => $conf,
        closeStatus => 'N', otherParams => { liveid_ref => $ref, liveid_token => 'f' x 64 },
        message => { closeStatus => 'N' } });
    is(post(body => $forged, headers => ['Content-Type: application/json']), '403', 'a guessed token is 403');
    is(post(body => '{"closeStatus": "N"', headers => ['Content-Type: application/json']), '400', 'malformed JSON is 400');
    is(post(body => '{"hello": "world"}'), '400', 'a JSON object that is no callback is 400');
    # the receiver answers a Content-Length over the cap at once, without
    # reading the body: a client that waits for that answer (Expect) gets
    # it; one that keeps sending may see the connection reset instead
    is(post(body => '{"x": "' . ('y' x 70000) . '"}', headers => ['Expect: 100-continue']), '413',
        'a body over 64 KiB is 413');
    is(sql("SELECT count(*) FROM liveid.call_events"), $events, 'none of them stored anything');
    is(sql("SELECT status || ' ' || close_status FROM liveid.calls WHERE uid = '$uid'"), 'closed A',
        'the ledger kept the genuine outcome');

    # a client that sends half its headers and stalls is dropped, and does
    # not keep others out meanwhile
    my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $rport, Timeout => 5)
      or die "connect: $!";
    print $slow "\x16\x03\x01";    # the start of a TLS hello, then nothing
    is(post(body => $forged), '403', 'another client is served while one stalls');
    my $closed = wait_until(sub {
        my $buf;
        my $n = sysread($slow, $buf, 1);
        return defined $n && $n == 0;
    }, 10, 0.2);
    ok($closed, 'the stalled connection is closed by the receiver');
};

# --------------------------------------------------------------- logs
subtest 'no secret in any log' => sub {
    my $tokens = $node->safe_psql('postgres', 'SELECT count(*) FROM liveid.call_tokens');
    cmp_ok($tokens, '>=', 1000, 'the calls had secrets');
    my $rl = PostgreSQL::Test::Utils::slurp_file($rlog);
    like($rl, qr/POST \/liveid\/callback 200/, 'the receiver logs its requests');
    unlike($rl, qr/[0-9a-f]{64}/, 'the receiver log has no token');
    unlike($rl, qr/eyJ[A-Za-z0-9_-]{10,}/, 'nor a conference token');
    my $pl = PostgreSQL::Test::Utils::slurp_file($node->logfile);
    unlike($pl, qr/liveid_token"\s*:\s*"[0-9a-f]{64}/, 'the server log has no callback token');
};

is(stop_receiver('TERM') >> 8, 0, 'SIGTERM stops the receiver cleanly');
done_testing();
