# liveid.enqueue_start(), the outbox and the background worker, in a real
# cluster: a start follows its transaction (sent after commit, never after
# a rollback, a rolled-back savepoint or an error), 10,000 starts drain,
# an immediate stop loses none and sends at most liveid.max_concurrency
# twice, 5xx are retried up to liveid.outbox_max_attempts and 4xx fail at
# once, never more than liveid.max_concurrency requests are in flight, the
# calls of rolled-back service_start() transactions are rejected by the
# worker after the abort (which waits on nothing; also after a released
# savepoint's parent rolled back, a disconnect, a refused PREPARE, in any
# database, with retries of a 503), a start the ledger refuses fails and
# its call is rejected, the worker rereads max_concurrency at reload,
# comes back after a crash and after pg_terminate_backend, stops cleanly
# (nothing sent twice), never runs on a standby and runs as the bootstrap
# superuser.
use strict;
use warnings;
use LiveidCluster;
use IPC::Run ();
use JSON::PP ();
use SimTest qw(wait_until now_hires);
use Test::More;

my $MAXC = 8;
my $sim  = liveid_sim('--latency-ms', 0);
my $node = liveid_node('node', $sim, allows_streaming => 1, conf => <<"EOC");
liveid.worker_database = 'postgres'
liveid.outbox_retry_delay = 100
liveid.outbox_max_attempts = 4
liveid.max_concurrency = $MAXC
restart_after_crash = on
max_prepared_transactions = 2
EOC

my $base = $sim->base;
my $CUSTOMER = "liveid.customer('it', 'a\@example.com', 'A', 'B')";

# the SQL of one enqueue_start; $ext is an SQL expression
sub enqueue_sql {
    my ($ext, $org) = @_;
    $org //= 'DEMO';
    return "liveid.enqueue_start($CUSTOMER, organization => '$org', process => '"
      . DEMO_LIVE . "', external_id => $ext)";
}

sub pg { $node->safe_psql('postgres', $_[0]) }

# runs $sql (psql script) as $user, going on after errors; (the SQLSTATE
# of the last error or '', stdout, stderr)
sub run_as {
    my ($sql, $user) = @_;
    my ($out, $err) = ('', '');
    $node->psql('postgres', "$sql\n\\echo SQLSTATE=:LAST_ERROR_SQLSTATE\n",
        stdout => \$out, stderr => \$err, on_error_stop => 0,
        $user ? (extra_params => ['-U', $user]) : ());
    my ($state) = $out =~ /SQLSTATE=(\w+)\s*$/;
    $out =~ s/\n?SQLSTATE=\w+\s*$//;
    return (($state // '') eq '00000' ? '' : ($state // '?'), $out, $err);
}

sub psql_cmd {
    my ($user) = @_;
    return [ $node->installed_command('psql'), '-X', '-qAt', '-v', 'ON_ERROR_STOP=1',
        '-d', $node->connstr('postgres'), ($user ? ('-U', $user) : ()), '-f', '-' ];
}

# the simulator
sub stats  { sim_stats($sim) }
sub pushes { stats()->{pushes} }
sub held {    # requests the simulator holds, for one external_id or all
    my ($ext) = @_;
    my $r = $sim->req('GET', '/sim/requests' . (defined $ext ? "?externalId=$ext" : ''),
        timeout => 60);
    die "GET /sim/requests: $r->{status}\n" unless $r->{status} == 200;
    return $r->{json}{requests};
}
sub sim_request { $sim->req('GET', "/sim/requests/$_[0]")->{json} }
sub rejected { my $j = sim_request($_[0]); return $j && $j->{rejected} ? 1 : 0 }

# apiPeakInFlight restarts at each POST /sim/latency: keep the highest
# reading of the whole file
my $peak = 0;
sub note_peak { my $p = stats()->{apiPeakInFlight}; $peak = $p if $p > $peak; return $p }
sub set_latency {
    note_peak();
    my $r = $sim->req('POST', '/sim/latency', json => { ms => $_[0] });
    die "POST /sim/latency: $r->{status}\n" unless $r->{status} == 200;
}

sub worker_pid {
    return pg("SELECT pid FROM pg_stat_activity WHERE backend_type = 'liveid worker'");
}
sub log_since { PostgreSQL::Test::Utils::slurp_file($node->logfile, $_[0]) }

# states of the outbox rows whose external_id is LIKE $pattern: "state=n ..."
sub states {
    my ($pattern) = @_;
    return pg("SELECT coalesce(string_agg(state || '=' || n, ' ' ORDER BY state), '') FROM "
          . "(SELECT state, count(*) n FROM liveid.outbox WHERE external_id LIKE '$pattern' "
          . "GROUP BY state) s");
}
sub count_where { pg("SELECT count(*) FROM liveid.outbox WHERE $_[0]") }
sub drained {
    my ($pattern, $timeout) = @_;
    return wait_until(sub {
        count_where("external_id LIKE '$pattern' AND state IN ('queued', 'sending')") == 0
    }, $timeout // 60, 0.2);
}

# a session listening on liveid_calls: finish() returns the payloads
sub listener {
    my ($in, $out, $err) = ("LISTEN liveid_calls;\nSELECT 'listening';\n", '', '');
    my $h = IPC::Run::start(psql_cmd(), '<', \$in, '>', \$out, '2>', \$err);
    PostgreSQL::Test::Utils::pump_until($h, IPC::Run::timeout(60), \$out, qr/listening/)
      or die "the listener did not start: $err\n";
    return sub {
        $in .= "SELECT 'done';\n";
        PostgreSQL::Test::Utils::pump_until($h, IPC::Run::timeout(60), \$out, qr/^done$/m);
        $in .= "\\q\n";
        $h->finish;
        my @p;
        while ($out =~ /Asynchronous notification "liveid_calls" with payload "(.*?)" received/g) {
            push @p, JSON::PP::decode_json($1);
        }
        return \@p;
    };
}

$node->safe_psql('postgres', q{
    CREATE ROLE alice LOGIN; GRANT liveid_user TO alice;
    CREATE ROLE bob LOGIN; GRANT liveid_user TO bob;
});

subtest 'the worker runs as the bootstrap superuser' => sub {
    my $pid = wait_until(\&worker_pid, 30);
    ok($pid, 'a liveid worker is in pg_stat_activity');
    like(PostgreSQL::Test::Utils::slurp_file($node->logfile),
        qr/liveid worker started for database "postgres"/, 'it logged its start');
    my $initdb_user = getpwuid($<);
    is(pg("SELECT usename FROM pg_stat_activity WHERE backend_type = 'liveid worker'"),
        $initdb_user, "its usename is the initdb user ($initdb_user)");
    is(pg("SELECT r.oid FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename "
          . "WHERE a.backend_type = 'liveid worker'"), '10', 'the bootstrap superuser (oid 10)');
};

subtest 'commit: sent after commit, not before' => sub {
    my $finish = listener();
    my $before = pushes();
    my ($in, $out, $err) = ('', '', '');
    $in = "BEGIN;\n"
      . join('', map { "SELECT " . enqueue_sql("'commit-$_'") . ";\n" } 1 .. 3)
      . "SELECT pg_sleep(2);\nCOMMIT;\n";
    my $h = IPC::Run::start(psql_cmd('alice'), '<', \$in, '>', \$out, '2>', \$err,
        IPC::Run::timeout(60));
    $h->pump while length $in;    # psql has the whole script
    my $in_sleep = sub {
        pg("SELECT count(*) FROM pg_stat_activity WHERE usename = 'alice' "
          . "AND state = 'active' AND query LIKE '%pg_sleep%'") == 1
    };
    ok(wait_until($in_sleep, 30), 'the enqueuing transaction is open (in pg_sleep)') or diag($err);
    # each reading counts only if the transaction was still open after it
    my ($p, $rows) = (pushes(), count_where("external_id LIKE 'commit-%'"));
    SKIP: {
        skip 'the transaction ended before the reading was confirmed', 2 unless $in_sleep->();
        is($p, $before, 'no pushAsyncCall reached the simulator before COMMIT');
        is($rows, 0, 'the rows are not visible before COMMIT');
    }
    Time::HiRes::sleep(0.5);
    $p = pushes();
    SKIP: {
        skip 'the transaction ended within half a second', 1 unless $in_sleep->();
        is($p, $before, 'still none half a second later, before COMMIT');
    }
    $h->finish;
    is($h->full_result(0), 0, 'the transaction committed') or diag($err);
    my @refs = grep { /^[0-9a-f-]{36}$/ } split /\n/, $out;
    is(scalar @refs, 3, 'enqueue_start returned three refs');
    my $refs = join(',', map { "'$_'" } @refs);

    ok(wait_until(sub { count_where("ref IN ($refs) AND state = 'sent'") == 3 }, 30),
        'after COMMIT the three are sent') or diag(states('commit-%'));
    is(pushes(), $before + 3, 'three pushes reached the simulator');
    is(pg("SELECT count(*) FROM liveid.outbox o JOIN liveid.calls c ON c.ref = o.ref "
          . "WHERE o.ref IN ($refs) AND o.uid IS NOT NULL AND o.sent_at IS NOT NULL "
          . "AND c.uid = o.uid AND c.launch_url = '$base/app/service-asyncall?uId=' || o.uid "
          . "AND c.created_by = 'alice' AND o.queued_by = 'alice' AND o.attempts = 1 "
          . "AND o.last_error IS NULL"),
        3, 'each has uid, sent_at and a liveid.calls row with its ref, uid, launch URL, created_by');
    is(pg("SELECT count(*) FROM liveid.outbox_requests WHERE ref IN ($refs)"), 0,
        'their request bodies are deleted');
    for my $i (1 .. 3) {
        my $h = held("commit-$i");
        my $uid = pg("SELECT uid FROM liveid.outbox WHERE external_id = 'commit-$i'");
        is_deeply([ map { $_->{uId} } @$h ], [$uid], "commit-$i: the simulator holds its one request");
    }

    my ($state, $o) = run_as("SELECT count(*) FROM liveid.outbox WHERE ref IN ($refs);", 'alice');
    is("$state|$o", '|3', 'alice sees her three outbox rows');
    ($state, $o) = run_as("SELECT count(*) FROM liveid.outbox;", 'bob');
    is("$state|$o", '|0', 'bob (another liveid_user) sees none (RLS)');
    ($state) = run_as("SELECT count(*) FROM liveid.outbox_requests;", 'alice');
    is($state, '42501', 'liveid.outbox_requests: 42501 for alice');

    my $notes = $finish->();
    my %by_ref = map { $_->{ref} => $_ } @$notes;
    is(scalar(grep { my $r = $_; grep { $_->{ref} eq $r } @$notes } @refs), 3,
        'the listener got a notification for each ref') or diag(explain($notes));
    is(scalar(@$notes), 3, 'and no other');
    for my $r (@refs) {
        my $uid = pg("SELECT uid FROM liveid.outbox WHERE ref = '$r'");
        is_deeply($by_ref{$r}, { uid => $uid, ref => $r, status => 'created', close_status => undef },
            "notification of $r: created, its uid");
    }
};

subtest 'a start with a server callback keeps its token' => sub {
    my $ref = pg("SELECT liveid.enqueue_start(liveid.customer('it', 'a\@example.com', 'A', 'B', "
          . "callback_url => 'https://127.0.0.1:9/cb'), organization => 'DEMO', process => '"
          . DEMO_LIVE . "', external_id => 'token-1', redirect_url => 'https://bank.example/')");
    ok(wait_until(sub { count_where("ref = '$ref' AND state = 'sent'") == 1 }, 30), 'sent');
    my $uid = pg("SELECT uid FROM liveid.outbox WHERE ref = '$ref'");
    my $conf = $sim->req('POST', '/sim/open', json => { uId => $uid })->{json}{idConference};
    ok($conf, 'the customer opens the link');
    $sim->req('POST', '/sim/answer', json => { idConference => $conf });
    $sim->req('POST', '/sim/close', json => { idConference => $conf, closeStatus => 'N' });
    my $result = sim_request($uid)->{redirect}{LiveIDPlusResult};
    my $env = $result ? JSON::PP::decode_json(SimTest::url_decode($result)) : {};
    my $token = $env->{otherParams}{liveid_token} // '';
    like($token, qr/^[0-9a-f]{64}$/, 'the service has the call\'s token');
    is(pg("SELECT encode(token_sha256, 'hex') = encode(sha256('$token'::bytea), 'hex') "
          . "FROM liveid.call_tokens WHERE ref = '$ref'"), 't',
        'liveid.call_tokens has the SHA-256 of the token the worker sent');
};

subtest 'enqueue_start needs the worker of its database' => sub {
    $node->safe_psql('postgres', 'CREATE DATABASE other');
    $node->safe_psql('other', 'CREATE EXTENSION liveid');
    my ($state, $out, $err) = sql_state($node, "SELECT " . enqueue_sql("'other-1'"), 'other');
    is($state, '55000', 'in another database: 55000');
    like($err, qr/worker_database/, 'the message names liveid.worker_database');
    # the worker rejects the rolled-back calls of every database
    my $out2 = $node->safe_psql('other', "BEGIN; SELECT substring(liveid.service_start($CUSTOMER, "
          . "organization => 'DEMO', process => '" . DEMO_LIVE . "', external_id => 'other-2') "
          . "FROM 'uId=(.*)\$'); ROLLBACK;");
    my ($uid) = $out2 =~ /^(\S+)$/m;
    ok($uid, 'a service_start rolled back in another database');
    ok(wait_until(sub { rejected($uid) }, 20), 'its call is rejected too');
};

subtest 'rollback: nothing sent' => sub {
    my $before = pushes();
    my ($state, $out, $err) = run_as("BEGIN;\nSELECT " . enqueue_sql("'rollback-1'") . ";\nROLLBACK;");
    is($state, '', 'enqueue then ROLLBACK') or diag($err);
    sleep 1;
    is(count_where("external_id = 'rollback-1'"), 0, 'no outbox row');
    is(pushes(), $before, 'no pushAsyncCall after a second');
    is(scalar @{ held('rollback-1') }, 0, 'the simulator holds nothing for it');
};

subtest 'savepoint rolled back: only what it did not hold is sent' => sub {
    my $before = pushes();
    my ($state, $out, $err) = run_as("BEGIN;\nSELECT " . enqueue_sql("'sp-A'")
          . ";\nSAVEPOINT s;\nSELECT " . enqueue_sql("'sp-B'")
          . ";\nROLLBACK TO s;\nCOMMIT;");
    is($state, '', 'the transaction commits') or diag($err);
    ok(wait_until(sub { count_where("external_id = 'sp-A' AND state = 'sent'") == 1 }, 30),
        'A is sent');
    sleep 1;
    is(count_where("external_id = 'sp-B'"), 0, 'B has no outbox row');
    is(pushes(), $before + 1, 'exactly one push');
    is(scalar @{ held('sp-A') }, 1, 'the simulator holds A');
    is(scalar @{ held('sp-B') }, 0, 'B never reached the simulator');
};

subtest 'an error after enqueue: nothing sent' => sub {
    my $before = pushes();
    my ($state, $out, $err) = run_as("BEGIN;\nSELECT " . enqueue_sql("'error-1'")
          . ";\nSELECT 1/0;\nCOMMIT;");
    is($state, '22012', 'the transaction failed (division by zero)') or diag($err);
    sleep 1;
    is(count_where("external_id = 'error-1'"), 0, 'no outbox row');
    is(pushes(), $before, 'no pushAsyncCall');
    is(scalar @{ held('error-1') }, 0, 'the simulator holds nothing for it');
};

subtest 'retries: a transient 503, then an organization that always answers 503' => sub {
    my $r = $sim->req('POST', '/sim/outage', json => { status => 503, requests => 2 });
    is($r->{status}, 200, 'POST /sim/outage 503 x2');
    pg("SELECT " . enqueue_sql("'retry-1'"));
    ok(wait_until(sub { count_where("external_id = 'retry-1' AND state = 'sent'") == 1 }, 30),
        'the start is sent in the end') or diag(states('retry-1'));
    is(pg("SELECT attempts || '|' || coalesce(last_error, 'NULL') FROM liveid.outbox "
          . "WHERE external_id = 'retry-1'"), '3|NULL', 'after 3 attempts, last_error NULL');
    is(scalar @{ held('retry-1') }, 1, 'the simulator holds it once');
    is(stats()->{outageAnswers} // 2, 2, 'the outage answered twice');

    my $finish = listener();
    my $ref = pg("SELECT " . enqueue_sql("'retry-503'", 'FAULT-STATUS-503'));
    ok(wait_until(sub { count_where("ref = '$ref' AND state = 'failed'") == 1 }, 60),
        'FAULT-STATUS-503: failed in the end') or diag(states('retry-503'));
    is(pg("SELECT attempts FROM liveid.outbox WHERE ref = '$ref'"), 4,
        'after exactly liveid.outbox_max_attempts (4) attempts');
    like(pg("SELECT last_error FROM liveid.outbox WHERE ref = '$ref'"), qr/503/,
        'last_error mentions 503');
    is(pg("SELECT count(*) FROM liveid.calls WHERE ref = '$ref'"), 0, 'no ledger row');
    is(pg("SELECT count(*) FROM liveid.outbox_requests WHERE ref = '$ref'"), 0, 'its body is deleted');
    my $p = $finish->();
    is_deeply([ grep { $_->{ref} eq $ref } @$p ],
        [ { uid => undef, ref => $ref, status => 'failed', close_status => undef } ],
        'one NOTIFY with status failed and no uid') or diag(explain($p));
};

subtest 'a 4xx fails at once' => sub {
    my $before = sim_count($sim, 'pushAsyncCall');
    my $ref = pg("SELECT " . enqueue_sql("'fail-400'", 'FAULT-STATUS-400'));
    ok(wait_until(sub { count_where("ref = '$ref' AND state = 'failed'") == 1 }, 30),
        'FAULT-STATUS-400: failed') or diag(states('fail-400'));
    is(pg("SELECT attempts FROM liveid.outbox WHERE ref = '$ref'"), 1, 'after one attempt');
    like(pg("SELECT last_error FROM liveid.outbox WHERE ref = '$ref'"), qr/400/,
        'last_error mentions 400');
    sleep 1;
    is(sim_count($sim, 'pushAsyncCall'), $before + 1, 'exactly one pushAsyncCall for it');
};

subtest 'a start the ledger refuses fails, and its call is rejected' => sub {
    pg(q{
        CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$BEGIN RAISE EXCEPTION 'refused by the test'; END$$;
        CREATE TRIGGER refuse BEFORE INSERT ON liveid.calls FOR EACH ROW
            WHEN (NEW.external_id = 'refuse-me') EXECUTE FUNCTION public.refuse();
    });
    my $finish = listener();
    my $ref = pg("SELECT " . enqueue_sql("'refuse-me'"));
    my $ok_ref = pg("SELECT " . enqueue_sql("'refuse-not-me'"));
    ok(wait_until(sub { count_where("ref = '$ref' AND state = 'failed'") == 1 }, 30),
        'the refused start failed') or diag(states('refuse-%'));
    ok(wait_until(sub { count_where("ref = '$ok_ref' AND state = 'sent'") == 1 }, 30),
        'the other start of the round is sent');
    is(pg("SELECT attempts FROM liveid.outbox WHERE ref = '$ref'"), 1, 'after one attempt (never resent)');
    like(pg("SELECT last_error FROM liveid.outbox WHERE ref = '$ref'"), qr/refused by the test/,
        'last_error says why');
    is(pg("SELECT count(*) FROM liveid.calls WHERE ref = '$ref'"), 0, 'no ledger row');
    my $h = held('refuse-me');
    is(scalar @$h, 1, 'the service got it once');
    ok(wait_until(sub { rejected($h->[0]{uId}) }, 20), 'and the worker rejected that call') if @$h;
    my $p = $finish->();
    is_deeply([ grep { $_->{ref} eq $ref } @$p ],
        [ { uid => undef, ref => $ref, status => 'failed', close_status => undef } ],
        'one NOTIFY with status failed') or diag(explain($p));
    pg('DROP TRIGGER refuse ON liveid.calls; DROP FUNCTION public.refuse()');
};

# a synchronous start in a transaction that does not commit: (uid, state,
# stderr) of "BEGIN; $pre service_start $post"
sub start_in {
    my ($ext, $pre, $post) = @_;
    my ($state, $out, $err) = run_as("BEGIN;\n$pre\nSELECT substring(liveid.service_start($CUSTOMER, "
          . "organization => 'DEMO', process => '" . DEMO_LIVE . "', external_id => '$ext') "
          . "FROM 'uId=(.*)\$');\n$post");
    my ($uid) = $out =~ /^([^\s]+)$/m;
    return ($uid // '', $state, $err);
}

subtest 'the calls of rolled-back service_start transactions are rejected' => sub {
    # (a) ROLLBACK
    my $off = -s $node->logfile;
    my ($uid, $state, $err) = start_in('rej-a', '', 'ROLLBACK;');
    ok($uid, '(a) service_start returned a uId') or diag($err);
    is(pg("SELECT count(*) FROM liveid.calls WHERE external_id = 'rej-a'"), 0, '(a) no ledger row');
    ok(wait_until(sub { rejected($uid) }, 20), '(a) the simulator\'s request is rejected');
    ok(wait_until(sub { log_since($off) =~ /liveid worker: rejected the call "\Q$uid\E", whose transaction rolled back/ }, 10),
        '(a) the worker logged the rejection');

    # (b) the abort does not wait on the network
    set_latency(3000);
    my $rc_before = sim_count($sim, 'rejectCall');
    ($uid, $state, $err) = start_in('rej-b', '', 'ROLLBACK;');
    my $rc_after = sim_count($sim, 'rejectCall');
    ok($uid, '(b) service_start returned a uId (3 s latency)') or diag($err);
    is($rc_after, $rc_before, '(b) right after ROLLBACK returned no rejectCall had been answered');
    ok(wait_until(sub { rejected($uid) && sim_count($sim, 'rejectCall') == $rc_before + 1 }, 30),
        '(b) later the call is rejected');
    set_latency(0);

    # (c) a savepoint
    $off = -s $node->logfile;
    my ($out, $o);
    ($state, $out, $err) = run_as("BEGIN;\nSAVEPOINT s;\nSELECT substring(liveid.service_start($CUSTOMER, "
          . "organization => 'DEMO', process => '" . DEMO_LIVE . "', external_id => 'rej-cX') FROM 'uId=(.*)\$');\n"
          . "ROLLBACK TO s;\nSELECT substring(liveid.service_start($CUSTOMER, "
          . "organization => 'DEMO', process => '" . DEMO_LIVE . "', external_id => 'rej-cY') FROM 'uId=(.*)\$');\n"
          . "COMMIT;");
    is($state, '', '(c) the transaction commits') or diag($err);
    my ($x, $y) = grep { length } split /\n/, $out;
    ok($x && $y, '(c) two uIds');
    ok(wait_until(sub { rejected($x) }, 20), '(c) X, started in the rolled-back savepoint, is rejected');
    sleep 2;
    is(rejected($y), 0, '(c) Y is not rejected, seconds later');
    is(pg("SELECT uid FROM liveid.calls WHERE external_id = 'rej-cY'"), $y, '(c) Y is in liveid.calls');
    is(pg("SELECT count(*) FROM liveid.calls WHERE external_id = 'rej-cX'"), 0, '(c) X is not');
    unlike(log_since($off), qr/rejected the call "\Q$y\E"/, '(c) no rejection of Y was logged');

    # (d) an error after service_start
    ($uid, $state, $err) = start_in('rej-d', '', "SELECT 1/0;\nCOMMIT;");
    ok($uid, '(d) service_start returned a uId');
    is($state, '22012', '(d) then division by zero');
    ok(wait_until(sub { rejected($uid) }, 20), '(d) the call is rejected');
    is(pg("SELECT count(*) FROM liveid.calls WHERE external_id = 'rej-d'"), 0, '(d) no ledger row');

    # (e) PREPARE TRANSACTION
    ($uid, $state, $err) = start_in('rej-e', '', "PREPARE TRANSACTION 'rej_e';");
    ok($uid, '(e) service_start returned a uId');
    is($state, '0A000', '(e) PREPARE TRANSACTION: 0A000') or diag($err);
    is(pg('SELECT count(*) FROM pg_prepared_xacts'), 0, '(e) nothing is prepared');
    ok(wait_until(sub { rejected($uid) }, 20), '(e) the call is rejected');
    is(pg("SELECT count(*) FROM liveid.calls WHERE external_id = 'rej-e'"), 0, '(e) no ledger row');

    # (f) a rejection answered 503 is retried
    my $rc0 = sim_count($sim, 'rejectCall');
    ($uid, $state, $err) = start_in('rej-f', '',
        "\\! curl -s -o /dev/null -X POST -H 'Content-Type: application/json' "
          . "-d '{\"status\":503,\"requests\":1}' $base/sim/outage\nROLLBACK;");
    ok($uid, '(f) service_start returned a uId') or diag($err);
    ok(wait_until(sub { rejected($uid) }, 20), '(f) the call is rejected in the end');
    ok(wait_until(sub { sim_count($sim, 'rejectCall') >= $rc0 + 2 }, 10),
        '(f) after a second rejectCall (the first was answered 503)');

    # (g) a released savepoint's call belongs to its parent
    ($state, $out, $err) = run_as("BEGIN;\nSAVEPOINT a;\nSAVEPOINT b;\n"
          . "SELECT substring(liveid.service_start($CUSTOMER, organization => 'DEMO', process => '"
          . DEMO_LIVE . "', external_id => 'rej-g1') FROM 'uId=(.*)\$');\n"
          . "RELEASE b;\nROLLBACK TO a;\n"
          . "SAVEPOINT c;\nSELECT substring(liveid.service_start($CUSTOMER, organization => 'DEMO', process => '"
          . DEMO_LIVE . "', external_id => 'rej-g2') FROM 'uId=(.*)\$');\n"
          . "RELEASE c;\nCOMMIT;");
    is($state, '', '(g) the transaction commits') or diag($err);
    my ($g1, $g2) = grep { length } split /\n/, $out;
    ok(wait_until(sub { rejected($g1) }, 20),
        '(g) a call of a released savepoint whose parent rolled back is rejected');
    sleep 1;
    is(rejected($g2), 0, '(g) a call of a released savepoint that committed is not');
    is(pg("SELECT uid FROM liveid.calls WHERE external_id = 'rej-g2'"), $g2, '(g) and is in liveid.calls');

    # (h) the client goes away in the transaction
    ($uid, $state, $err) = start_in('rej-h', '', '');
    ok($uid, '(h) service_start returned a uId, psql quits without COMMIT');
    ok(wait_until(sub { rejected($uid) }, 20), '(h) the call is rejected');
    is(pg("SELECT count(*) FROM liveid.calls WHERE external_id = 'rej-h'"), 0, '(h) no ledger row');

    my $before = pushes();
    ($state, $out, $err) = run_as("BEGIN;\nSELECT " . enqueue_sql("'prep-enq'") . ";\nPREPARE TRANSACTION 'prep_enq';");
    is($state, '0A000', '(e) PREPARE TRANSACTION after enqueue_start: 0A000') or diag($err);
    is(pg('SELECT count(*) FROM pg_prepared_xacts'), 0, '(e) nothing is prepared');
    sleep 1;
    is(count_where("external_id = 'prep-enq'"), 0, '(e) no outbox row');
    is(pushes(), $before, '(e) nothing sent');
};

subtest 'never more than liveid.max_concurrency requests in flight' => sub {
    set_latency(300);
    pg("SELECT count(" . enqueue_sql("'conc-' || g") . ") FROM generate_series(1, 40) g");
    my $max_now = 0;
    ok(wait_until(sub {
        my $s = stats();
        $max_now = $s->{apiInFlight} if $s->{apiInFlight} > $max_now;
        $s->{apiPeakInFlight} >= $MAXC
    }, 30), "apiPeakInFlight reaches $MAXC while draining");
    ok(drained('conc-%', 60), 'the 40 are drained');
    is(states('conc-%'), 'sent=40', 'all 40 sent');
    my $p = note_peak();
    is($p, $MAXC, "apiPeakInFlight is $MAXC, not more");
    cmp_ok($max_now, '<=', $MAXC, "apiInFlight never seen above $MAXC");

    # the worker reads a new liveid.max_concurrency at reload
    pg("ALTER SYSTEM SET liveid.max_concurrency = 3");
    pg("SELECT pg_reload_conf()");
    ok(wait_until(sub {
        PostgreSQL::Test::Utils::slurp_file($node->logfile) =~ /parameter "liveid.max_concurrency" changed to "3"/
    }, 20), 'the reload changed liveid.max_concurrency to 3');
    sleep 1;    # the worker takes SIGHUP when its latch wakes it
    set_latency(300);
    pg("SELECT count(" . enqueue_sql("'conc3-' || g") . ") FROM generate_series(1, 12) g");
    ok(wait_until(sub { stats()->{apiPeakInFlight} >= 3 }, 30), 'apiPeakInFlight reaches 3');
    ok(drained('conc3-%', 60), 'the 12 are drained');
    is(states('conc3-%'), 'sent=12', 'all 12 sent');
    is(stats()->{apiPeakInFlight}, 3, 'never more than 3 in flight after the reload');
    pg("ALTER SYSTEM RESET liveid.max_concurrency");
    pg("SELECT pg_reload_conf()");
    ok(wait_until(sub {
        PostgreSQL::Test::Utils::slurp_file($node->logfile) =~ /parameter "liveid.max_concurrency" changed to "$MAXC"/
    }, 20), "back to $MAXC");
    set_latency(0);
};

subtest '10,000 starts are drained' => sub {
    my $before = pushes();
    my $t0 = now_hires();
    is(pg("SELECT count(" . enqueue_sql("'bulk-' || g") . ") FROM generate_series(1, 10000) g"),
        10000, 'one statement enqueues 10,000');
    ok(drained('bulk-%', 300), 'they are drained') or diag(states('bulk-%'));
    note(sprintf('10,000 drained in %.1f s', now_hires() - $t0));
    is(states('bulk-%'), 'sent=10000', 'all 10,000 sent, none failed');
    is(pg("SELECT count(*) || '|' || count(DISTINCT c.uid) FROM liveid.outbox o "
          . "JOIN liveid.calls c ON c.ref = o.ref AND c.uid = o.uid WHERE o.external_id LIKE 'bulk-%'"),
        '10000|10000', '10,000 liveid.calls rows with distinct uids');
    is(pushes() - $before, 10000, 'the simulator got exactly 10,000 pushes');
};

subtest 'an immediate stop loses nothing and resends at most max_concurrency' => sub {
    set_latency(50);
    my $before = pushes();
    pg("SELECT count(" . enqueue_sql("'crash-' || g") . ") FROM generate_series(1, 10000) g");
    ok(wait_until(sub { count_where("external_id LIKE 'crash-%' AND state = 'sent'") >= 300 }, 120),
        'some 300 are sent');
    my $left = count_where("external_id LIKE 'crash-%' AND state <> 'sent'");
    cmp_ok($left, '>', 1000, "many remain ($left)");
    my $off = -s $node->logfile;
    $node->stop('immediate');
    $node->start;
    set_latency(0);
    ok(drained('crash-%', 300), 'after the restart they are drained') or diag(states('crash-%'));
    is(states('crash-%'), 'sent=10000', 'all 10,000 sent, none failed, none lost');
    my $log = log_since($off);
    my ($n) = $log =~ /liveid worker: (\d+) starts were in flight when the previous worker stopped; they are sent again/;
    note("the worker requeued " . ($n // 0) . " starts");
    $n //= 0;
    cmp_ok($n, '<=', $MAXC, "at most max_concurrency were in flight ($n)");
    my $dups = pushes() - $before - 10000;
    cmp_ok($dups, '>=', 0, "no push missing ($dups extra)");
    cmp_ok($dups, '<=', $n, 'duplicated pushes <= the starts requeued');
    cmp_ok($dups, '<=', $MAXC, "duplicated pushes <= max_concurrency ($MAXC)");

    my %by_ext;
    for my $r (@{ held() }) {
        next unless ($r->{externalId} // '') =~ /^crash-/;
        push @{ $by_ext{ $r->{externalId} } }, $r->{uId};
    }
    is(scalar keys %by_ext, 10000, 'the simulator holds a request for each of the 10,000');
    my $twice = grep { @$_ > 1 } values %by_ext;
    is($twice, $dups, 'external_ids held twice = the duplicated pushes');
    my $max = 0;
    for (values %by_ext) { $max = @$_ if @$_ > $max }
    cmp_ok($max, '<=', 2, 'none is held more than twice');
    my $missing = 0;
    for my $line (split /\n/, pg("SELECT external_id || ' ' || uid FROM liveid.outbox WHERE external_id LIKE 'crash-%'")) {
        my ($ext, $uid) = split / /, $line;
        $missing++ unless grep { $_ eq $uid } @{ $by_ext{$ext} // [] };
    }
    is($missing, 0, 'every outbox uid is a request the simulator holds for that external_id');
    is(pg("SELECT count(DISTINCT c.uid) FROM liveid.outbox o JOIN liveid.calls c ON c.ref = o.ref "
          . "AND c.uid = o.uid WHERE o.external_id LIKE 'crash-%'"), 10000, 'and each has its ledger row');
};

subtest 'the worker comes back after a crash' => sub {
    my $pid = wait_until(\&worker_pid, 30);
    ok($pid, "the worker runs ($pid)");
    my $off = -s $node->logfile;
    ok(kill('KILL', $pid), 'SIGKILL to the worker') if $pid;
    my $new = wait_until(sub {
        my $p = eval { $node->safe_psql('postgres',
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'liveid worker'") };
        return $p && $p ne $pid ? $p : undef;
    }, 30, 0.2);
    ok($new, "a new worker runs (" . ($new // 'none') . ')');
    my $log = log_since($off);
    like($log, qr/terminated by signal 9/, 'the postmaster saw the killed worker');
    like($log, qr/all server processes terminated; reinitializing/, 'and reinitialized');
    pg("SELECT " . enqueue_sql("'after-kill'"));
    ok(wait_until(sub { count_where("external_id = 'after-kill' AND state = 'sent'") == 1 }, 30),
        'a start enqueued after is sent');
};

subtest 'the worker comes back after pg_terminate_backend' => sub {
    my $pid = wait_until(\&worker_pid, 30);
    ok($pid, "the worker runs ($pid)");
    my $off = -s $node->logfile;
    is(pg("SELECT pg_terminate_backend($pid)"), 't', 'pg_terminate_backend of the worker');
    ok(wait_until(sub { log_since($off) =~ /liveid worker stopped/ }, 20), 'it stopped');
    my $new = wait_until(sub { my $p = worker_pid(); $p && $p ne $pid ? $p : undef }, 30, 0.2);
    ok($new, "a new worker runs (" . ($new // 'none') . ')');
    pg("SELECT " . enqueue_sql("'after-terminate'"));
    ok(wait_until(sub { count_where("external_id = 'after-terminate' AND state = 'sent'") == 1 }, 30),
        'a start enqueued after is sent') or diag(states('after-terminate'));
};

subtest 'a clean stop sends nothing twice' => sub {
    set_latency(500);
    my $before = pushes();
    pg("SELECT count(" . enqueue_sql("'stop-' || g") . ") FROM generate_series(1, 50) g");
    ok(wait_until(sub { count_where("external_id LIKE 'stop-%' AND state IN ('sending', 'sent')") > 0 }, 30),
        'some are sending or sent');
    my $off = -s $node->logfile;
    $node->stop('fast');
    my $log = log_since($off);
    like($log, qr/liveid worker stopped/, 'the worker logged "liveid worker stopped"');
    $off = -s $node->logfile;
    my $sent_before_stop = pushes() - $before;
    cmp_ok($sent_before_stop, '<', 50, "the stop left some to send ($sent_before_stop of 50 pushed)");
    $node->start;
    set_latency(0);
    ok(drained('stop-%', 60), 'after the start they are drained');
    is(states('stop-%'), 'sent=50', 'all 50 sent');
    is(pushes() - $before, 50, 'exactly 50 pushes for them');
    unlike(log_since($off), qr/were in flight when the previous worker stopped/,
        'nothing was left in flight');
    my $held = 0;
    $held += @{ held("stop-$_") } for 1 .. 50;
    is($held, 50, 'the simulator holds each once');
};

subtest 'no worker on a standby' => sub {
    my $standby = liveid_standby($node, 'standby');
    is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
    sleep 2;
    is($standby->safe_psql('postgres',
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'liveid worker'"), '0',
        'no liveid worker in its pg_stat_activity');
    unlike(PostgreSQL::Test::Utils::slurp_file($standby->logfile), qr/liveid worker started/,
        'its log has no worker start');
    my ($state, $out, $err) = sql_state($standby, "SELECT " . enqueue_sql("'standby-1'"));
    is($state, '25006', 'enqueue_start on the standby: 25006') or diag($err);
    $standby->stop;
};

note_peak();
cmp_ok($peak, '<=', $MAXC, "apiPeakInFlight never above $MAXC over the whole file ($peak)");

done_testing();
