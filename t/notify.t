# NOTIFY liveid_calls: every change of a ledger row is announced, with
# {"uid", "ref", "status", "close_status"}, at commit (async_request_info,
# receive_callback, reject_call, refresh_calls); a poll that changes
# nothing, and a rolled-back change, announce nothing.  A callback whose
# claim differs from the service's word is logged as a warning, and no
# secret reaches the server log.
use strict;
use warnings;
use LiveidCluster;
use SimTest ();
use JSON::PP ();
use Test::More;

my $sim  = liveid_sim();
my $node = liveid_node('node', $sim);
# The receiver's login role, set up as README says: its statements carry
# callback secrets, so they are never logged, whatever the server logs.
$node->safe_psql('postgres', q{
    CREATE ROLE hook LOGIN; GRANT liveid_receiver TO hook;
    ALTER ROLE hook SET log_statement = 'none';
    ALTER ROLE hook SET log_min_duration_statement = -1;
    ALTER ROLE hook SET log_parameter_max_length = 0;
    ALTER ROLE hook SET log_parameter_max_length_on_error = 0;
});

# a started call with a server callback: (uid, ref)
sub start_call {
    my ($ext) = @_;
    my $uid = $node->safe_psql('postgres',
        "SELECT substring(liveid.service_start(liveid.customer('it', 'a\@example.com', 'A', 'B', "
          . "callback_url => 'https://127.0.0.1:9/cb'), organization => 'DEMO', process => '"
          . DEMO_LIVE . "', external_id => '$ext', redirect_url => 'https://bank.example/') "
          . "FROM 'uId=(.*)\$')");
    my $ref = $node->safe_psql('postgres', "SELECT ref FROM liveid.calls WHERE uid = '$uid'");
    return ($uid, $ref);
}

# runs $sql in a session that listens; the payloads it was notified of
sub notified {
    my ($sql, $user) = @_;
    my ($out, $err) = ('', '');
    $node->psql('postgres', "LISTEN liveid_calls;\n$sql;\nSELECT 1;\n",
        stdout => \$out, stderr => \$err, on_error_stop => 0,
        $user ? (extra_params => ['-U', $user]) : ());
    my @p;
    while ($out =~ /Asynchronous notification "liveid_calls" with payload "(.*?)" received/g) {
        push @p, JSON::PP::decode_json($1);
    }
    return (\@p, $err);
}

sub sim_post { my $r = $sim->req('POST', @_); die "$_[0]: $r->{status}\n" unless $r->{status} == 200; $r->{json} }

my ($uid, $ref) = start_call('N-1');

subtest 'async_request_info' => sub {
    my ($p) = notified("SELECT count(*) FROM liveid.async_request_info('$uid')");
    is(scalar @$p, 0, 'a poll before the customer opened the link changes nothing, announces nothing');
    my $conf = sim_post('/sim/open', json => { uId => $uid })->{idConference};
    ($p) = notified("SELECT count(*) FROM liveid.async_request_info('$uid')");
    is_deeply($p, [{ uid => $uid, ref => $ref, status => 'waiting', close_status => undef }],
        'the change to waiting is announced with uid, ref, status and close_status');
    ($p) = notified("SELECT count(*) FROM liveid.async_request_info('$uid')");
    is(scalar @$p, 0, 'polling again changes nothing and announces nothing');
    sim_post('/sim/answer', json => { idConference => $conf });
    ($p) = notified("BEGIN; SELECT count(*) FROM liveid.async_request_info('$uid'); ROLLBACK");
    is(scalar @$p, 0, 'a change rolled back is not announced');
    is($node->safe_psql('postgres', "SELECT status FROM liveid.calls WHERE uid = '$uid'"),
        'waiting', 'and the row is as it was');
    sim_post('/sim/close', json => { idConference => $conf, closeStatus => 'A', abortCode => 'NO_DOC' });
};

my $result = $sim->req('GET', "/sim/requests/$uid")->{json}{redirect}{LiveIDPlusResult};
my $env = JSON::PP::decode_json(SimTest::url_decode($result));
my $token = $env->{otherParams}{liveid_token};
like($token, qr/^[0-9a-f]{64}$/, 'the redirect result carries the call\'s token (the customer can read it)');

subtest 'receive_callback' => sub {
    my $body = JSON::PP->new->canonical->encode($env);
    $body =~ s/'/''/g;
    my ($p, $err) = notified("SELECT liveid.receive_callback('$body') > 0", 'hook');
    is($err, '', 'the receiver\'s role stores the callback');
    is_deeply($p, [{ uid => $uid, ref => $ref, status => 'closed', close_status => 'A' }],
        'the ledger\'s change to closed A is announced');
    ($p) = notified("SELECT liveid.receive_callback('$body') > 0", 'hook');
    is(scalar @$p, 0, 'a repeated delivery changes nothing and announces nothing');

    # the customer replays the result with another closeStatus
    my %forged = %$env;
    $forged{closeStatus} = 'N';
    $forged{message} = { %{ $env->{message} }, closeStatus => 'N' };
    delete $forged{message}{abortCode};
    my $fb = JSON::PP->new->canonical->encode(\%forged);
    $fb =~ s/'/''/g;
    ($p, $err) = notified("SELECT liveid.receive_callback('$fb') > 0", 'hook');
    like($err, qr/WARNING:  server callback for call "\Q$uid\E" claims close status N, but LiveID\+ reports status closed, close status A/,
        'a forged outcome is answered with a warning naming both');
    is(scalar @$p, 0, 'and changes nothing in the ledger');
    is($node->safe_psql('postgres', "SELECT status || ' ' || close_status FROM liveid.calls WHERE uid = '$uid'"),
        'closed A', 'the ledger keeps the service\'s outcome');
};

subtest 'reject_call' => sub {
    my ($u2, $r2) = start_call('R-1');
    my ($p, $err) = notified("SELECT liveid.reject_call('$u2', 'duplicate request')");
    is($err, '', 'reject_call works');
    is_deeply($p, [{ uid => $u2, ref => $r2, status => 'rejected', close_status => undef }],
        'the change to rejected is announced');
    ($p) = notified("SELECT count(*) FROM liveid.async_request_info('$u2')");
    is(scalar @$p, 0, 'a later poll leaves a rejected call as it is, and announces nothing');
};

subtest 'refresh_calls' => sub {
    my ($u3, $r3) = start_call('F-1');
    my ($u4, $r4) = start_call('F-2');
    my $c3 = sim_post('/sim/open', json => { uId => $u3 })->{idConference};
    sim_post('/sim/answer', json => { idConference => $c3 });
    sim_post('/sim/close', json => { idConference => $c3, closeStatus => 'S' });
    sim_post('/sim/open', json => { uId => $u4 });
    my ($p, $err) = notified("SELECT liveid.refresh_calls()");
    is($err, '', 'refresh_calls works');
    is_deeply([ sort { $a->{uid} cmp $b->{uid} } @$p ],
        [ sort { $a->{uid} cmp $b->{uid} }
            { uid => $u3, ref => $r3, status => 'closed', close_status => 'S' },
            { uid => $u4, ref => $r4, status => 'waiting', close_status => undef } ],
        'each row it changed is announced, once');
    ($p) = notified("SELECT liveid.refresh_calls()");
    is(scalar @$p, 0, 'a second refresh changes nothing and announces nothing');
};

subtest 'the server log' => sub {
    my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
    like($log, qr/WARNING:  server callback for call "\Q$uid\E" claims close status N/,
        'the mismatch is in the server log');
    unlike($log, qr/\Q$token\E/, 'the callback token is not');
    my $ctoken = $env->{message}{token};
    ok($ctoken && length $ctoken > 20, 'the callback carried a conference token');
    unlike($log, qr/\Q$ctoken\E/, 'the conference token is not in the log either');
};

done_testing();
