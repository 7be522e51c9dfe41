# A backend waiting on the service leaves at once when the postmaster dies:
# the wait holds WL_EXIT_ON_PM_DEATH, so an orphaned backend does not sit
# out the service's delay (or liveid.timeout) holding its connection.
use strict;
use warnings;
use LiveidCluster;
use IPC::Run ();
use SimTest qw(wait_until now_hires);
use Test::More;

my $sim  = liveid_sim();
my $node = liveid_node('node', $sim);

my ($out, $err) = ('', '');
my $h = IPC::Run::start(
    [ $node->installed_command('psql'), '-X', '-qAt', '-d', $node->connstr('postgres'),
      '-c', "SET liveid.timeout = '60s'; SELECT * FROM liveid.available_operators('FAULT-DELAY-30000')" ],
    '<', \undef, '>', \$out, '2>', \$err);

# the backend is in the call once pg_stat_activity shows it waiting on it
my $pid = wait_until(sub {
    return $node->safe_psql('postgres',
        "SELECT pid FROM pg_stat_activity WHERE query LIKE '%FAULT-DELAY-30000%' "
      . "AND pid <> pg_backend_pid() AND wait_event_type = 'Extension'");
}, 10);
ok($pid, 'the call waits, wait_event_type Extension') or diag("psql: $err");

SKIP: {
    skip 'the call never waited', 2 unless $pid;
    my $t0 = now_hires();
    $node->kill9;
    # the orphaned backend notices the postmaster's death and exits
    my $gone = wait_until(sub { kill(0, $pid) ? undef : 1 }, 20);
    my $elapsed = now_hires() - $t0;
    ok($gone, "backend $pid exits after the postmaster's death");
    cmp_ok($elapsed, '<', 10, 'well before the 30 s the service would take');
}
$h->kill_kill;
$h->finish;

done_testing;
