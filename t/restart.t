# liveid across server restarts: a clean restart, crash recovery after an
# immediate stop (the ledger's committed rows survive), and a backend killed
# with SIGKILL while it waits on the service (the postmaster reinitializes
# and the next call works).
use strict;
use warnings;
use LiveidCluster;
use IPC::Run ();
use SimTest qw(wait_until now_hires);
use Test::More;

my $sim  = liveid_sim();
my $node = liveid_node('node', $sim,
    # Cluster->init turns it off; it is what a SIGKILLed backend needs
    conf => "restart_after_crash = on\n");

my $operators = "SELECT organization FROM liveid.available_operators('DEMO')";

# a start that must work now: returns its uId
sub start_ok {
    my ($ext, $what) = @_;
    my ($state, $out, $err) = sql_state($node, service_start_sql(external_id => $ext));
    is($state, '', "$what: service_start works") or diag($err);
    my ($uid) = $out =~ /[?&]uId=([^&\s]+)$/;
    ok($uid, "$what: service_start returns a launch URL");
    return $uid // '';
}

sub ledger { $node->safe_psql('postgres', 'SELECT external_id FROM liveid.calls ORDER BY created_at, external_id') }

subtest 'a clean restart' => sub {
    is($node->safe_psql('postgres', $operators), 'DEMO', 'available_operators before the restart');
    start_ok('before-restart', 'before the restart');
    $node->restart;
    is($node->safe_psql('postgres', $operators), 'DEMO', 'available_operators after the restart');
    start_ok('after-restart', 'after the restart');
    is(ledger(), "before-restart\nafter-restart", 'the ledger has both calls');
};

subtest 'crash recovery after an immediate stop' => sub {
    my $uid = start_ok('before-crash', 'before the crash');
    # committed, then no checkpoint: only WAL replay can bring the row back
    $node->stop('immediate');
    $node->start;
    is($node->safe_psql('postgres', "SELECT external_id FROM liveid.calls WHERE uid = '$uid'"),
       'before-crash', 'the row committed before the crash is there');
    is(ledger(), "before-restart\nafter-restart\nbefore-crash", 'the whole ledger is there');
    is($node->safe_psql('postgres', $operators), 'DEMO', 'available_operators after recovery');
    start_ok('after-crash', 'after recovery');
};

subtest 'a backend killed while a call waits' => sub {
    my $conn_before = sim_stats($sim)->{connections};
    my $delay = "SELECT * FROM liveid.available_operators('FAULT-DELAY-5000')";
    my ($out, $err) = ('', '');
    my $t0 = now_hires();
    my $h = IPC::Run::start(
        [ $node->installed_command('psql'), '-X', '-qAt', '-d', $node->connstr('postgres'),
          '-c', $delay ],
        '<', \undef, '>', \$out, '2>', \$err);

    # the backend is in the call once the simulator has its connection
    my $pid = wait_until(sub {
        return undef unless sim_stats($sim)->{connections} > $conn_before + 0;
        return $node->safe_psql('postgres',
            "SELECT pid FROM pg_stat_activity WHERE query LIKE '%FAULT-DELAY-5000%' "
          . "AND pid <> pg_backend_pid() AND state = 'active'");
    }, 10);
    ok($pid, 'the call is waiting on the simulator') or diag("psql: $err");
    my $log_offset = -s $node->logfile;
    ok(kill('KILL', $pid), "SIGKILL to backend $pid") if $pid;
    $h->finish;
    my $elapsed = now_hires() - $t0;
    isnt($h->result, 0, 'the waiting psql fails');
    cmp_ok($elapsed, '<', 4.5, 'it fails before the delay is over');

    ok($node->poll_query_until('postgres', 'SELECT true'), 'the server accepts connections again');
    my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $log_offset);
    like($log, qr/server process \(PID $pid\) was terminated by signal 9/,
         'the postmaster saw the killed backend');
    like($log, qr/all server processes terminated; reinitializing/,
         'the postmaster reinitialized');
    like($log, qr/database system is ready to accept connections/, 'and is ready again');

    is($node->safe_psql('postgres', $operators), 'DEMO', 'available_operators after the crash restart');
    start_ok('after-kill', 'after the crash restart');
    is(ledger(), "before-restart\nafter-restart\nbefore-crash\nafter-crash\nafter-kill",
       'the ledger is whole');
};

done_testing();
