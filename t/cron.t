# liveid.schedule_refresh() with a real pg_cron: the job liveid-refresh
# appears in cron.job with the right command, schedule and database,
# scheduling again replaces it, it runs and changes a ledger row (a
# succeeded run in cron.job_run_details), and a run against a service that
# is down is a failed run there.  liveid.schedule_metrics() the same way:
# the job liveid-metrics, a run that writes a snapshot, and a run against a
# failing organization (another user's job, in the same minute) that fails.
# (pg_cron 1.4 schedules by the minute, so each run takes up to a minute to
# come.)
use strict;
use warnings;
use LiveidCluster;
use SimTest qw(sim_post);
use Test::More;

my $sim  = liveid_sim();
my $node = liveid_node('cron', $sim, conf => <<'CONF');
shared_preload_libraries = 'liveid,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
CONF
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
my $REFRESH = 'SELECT liveid.refresh_calls()';

sub job_rows {
    return $node->safe_psql('postgres',
        "SELECT jobid, jobname, schedule, command, database FROM cron.job ORDER BY jobid");
}

subtest 'the job appears in cron.job, and scheduling again replaces it' => sub {
    my $id = $node->safe_psql('postgres', 'SELECT liveid.schedule_refresh()');
    like($id, qr/^\d+$/, 'schedule_refresh returns a job id');
    is(job_rows(), "$id|liveid-refresh|*/5 * * * *|$REFRESH|postgres",
       'one job: liveid-refresh, the default schedule, refresh_calls, this database');
    my $again = $node->safe_psql('postgres', "SELECT liveid.schedule_refresh('17 3 * * *')");
    is($again, $id, 'scheduling again returns the same job');
    is(job_rows(), "$id|liveid-refresh|17 3 * * *|$REFRESH|postgres",
       'still one job, with the new schedule');
    my ($state, $out, $err) = sql_state($node, "SELECT liveid.schedule_refresh('not a schedule')");
    is($state, '22023', 'a bad schedule: pg_cron refuses it');
};

subtest 'in a database without pg_cron: 55000 naming the one that has it' => sub {
    $node->safe_psql('postgres', 'CREATE DATABASE other');
    $node->safe_psql('other', 'CREATE EXTENSION liveid');
    my ($state, $out, $err) = sql_state($node, 'SELECT liveid.schedule_refresh()', 'other');
    is($state, '55000', 'schedule_refresh in database other: 55000');
    like($err, qr/DETAIL:  pg_cron keeps its jobs in the database 'postgres'/, 'DETAIL names it');
    like($err, qr/HINT:  Call liveid.schedule_refresh\(\) in the database postgres/, 'HINT says where to call it');
    ($state) = sql_state($node, 'SELECT liveid.unschedule_refresh()', 'other');
    is($state, '55000', 'unschedule_refresh there: 55000 too');
};

subtest 'unschedule_refresh removes it' => sub {
    is($node->safe_psql('postgres', 'SELECT liveid.unschedule_refresh()'), 't',
       'unschedule_refresh: true');
    is($node->safe_psql('postgres', 'SELECT liveid.unschedule_refresh()'), 'f',
       'again: false, there is none');
    is(job_rows(), '', 'cron.job is empty');
};

my $METRICS = 'SELECT liveid.collect_metrics()';
subtest 'schedule_metrics: the job liveid-metrics, replaced when scheduled again' => sub {
    my $id = $node->safe_psql('postgres', "SELECT liveid.schedule_metrics('17 3 * * *')");
    like($id, qr/^\d+$/, 'schedule_metrics returns a job id');
    is(job_rows(), "$id|liveid-metrics|17 3 * * *|$METRICS|postgres",
       'one job: liveid-metrics, collect_metrics, this database');
    is($node->safe_psql('postgres', 'SELECT liveid.schedule_metrics()'), $id,
       'scheduling again returns the same job');
    is(job_rows(), "$id|liveid-metrics|* * * * *|$METRICS|postgres",
       'still one job, with the default schedule (each minute)');
    my ($state, $out, $err) = sql_state($node, 'SELECT liveid.schedule_metrics()', 'other');
    is($state, '55000', 'in database other: 55000');
    like($err, qr/HINT:  Call liveid.schedule_metrics\(\) in the database postgres .*cron.schedule_in_database\(\)/,
         'the HINT says where to call it, or to use cron.schedule_in_database()');
};

# a second admin whose snapshots always fail: its own liveid-metrics job
# (pg_cron's jobs are per user) runs in the same minute as the first
$node->safe_psql('postgres', q{
    CREATE ROLE liveid_cron_failing LOGIN IN ROLE liveid_admin;
    ALTER ROLE liveid_cron_failing IN DATABASE postgres SET liveid.organization = 'FAULT-STATUS-500';
    GRANT USAGE ON SCHEMA cron TO liveid_cron_failing;
    ALTER DATABASE postgres SET liveid.organization = 'DEMO';
});
my $failing_job = $node->safe_psql('postgres',
    "SET ROLE liveid_cron_failing; SELECT liveid.schedule_metrics()");
my $metrics_job = $node->safe_psql('postgres',
    "SELECT jobid FROM cron.job WHERE jobname = 'liveid-metrics' AND username = current_user");
isnt($failing_job, $metrics_job, "the second admin's job is its own");

# a call the customer opened: the next run of the job brings it up to date
my $url = $node->safe_psql('postgres', service_start_sql(external_id => 'cron-1'));
my ($uid) = $url =~ /[?&]uId=([^&]+)$/;
is(sim_post('/sim/open', { uId => $uid }, sim => $sim)->{status}, 200, 'the call is opened');
my $job = $node->safe_psql('postgres', "SELECT liveid.schedule_refresh('* * * * *')");

subtest 'a run refreshes the ledger and succeeds' => sub {
    ok($node->poll_query_until('postgres',
            "SELECT status = 'waiting' FROM liveid.calls WHERE uid = '$uid'"),
       'the job changed the ledger row to waiting');
    ok($node->poll_query_until('postgres',
            "SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $job AND status = 'succeeded'"),
       'cron.job_run_details: a succeeded run');
    is($node->safe_psql('postgres',
            "SELECT command FROM cron.job_run_details WHERE jobid = $job LIMIT 1"),
       $REFRESH, 'it ran refresh_calls');
};

subtest 'a metrics run writes a snapshot; one against a failing organization fails' => sub {
    ok($node->poll_query_until('postgres',
            "SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $metrics_job AND status = 'succeeded'"),
       'cron.job_run_details: a succeeded run of liveid-metrics');
    is($node->safe_psql('postgres',
            "SELECT count(*), count(process), bool_and(organization = 'DEMO') FROM liveid.metrics "
          . "WHERE taken_at = (SELECT min(taken_at) FROM liveid.metrics)"),
       '2|1|t', "its snapshot: DEMO's row and its ledger process's");
    ok($node->poll_query_until('postgres',
            "SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $failing_job AND status = 'failed'"),
       'cron.job_run_details: a failed run of the failing organization\'s job');
    my $msg = $node->safe_psql('postgres',
        "SELECT return_message FROM cron.job_run_details WHERE jobid = $failing_job AND status = 'failed' LIMIT 1");
    like($msg, qr/could not take the snapshot of organization "FAULT-STATUS-500"/, 'its message says why');
    unlike($msg, qr/\Q${\ DEMO_KEY}\E/, 'and holds no key');
    is($node->safe_psql('postgres', "SELECT count(*) FROM liveid.metrics WHERE organization <> 'DEMO'"),
       '0', 'the failed run wrote nothing');
    is($node->safe_psql('postgres', "SET ROLE liveid_cron_failing; SELECT liveid.unschedule_metrics()"),
       't', "its job unscheduled (the other admin's stays)");
    is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE jobname = 'liveid-metrics'"),
       '1', 'one liveid-metrics job left');
};

subtest 'a run against a service that is down fails' => sub {
    $sim->stop;
    ok($node->poll_query_until('postgres',
            "SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $job AND status = 'failed'"),
       'cron.job_run_details: a failed run');
    my $msg = $node->safe_psql('postgres',
        "SELECT return_message FROM cron.job_run_details WHERE jobid = $job AND status = 'failed' LIMIT 1");
    like($msg, qr/could not refresh any of the 1 calls/, 'its message says why');
    unlike($msg, qr/\Q${\ DEMO_KEY}\E/, 'and holds no key');
    is($node->safe_psql('postgres', "SELECT status FROM liveid.calls WHERE uid = '$uid'"),
       'waiting', 'the ledger row is left as it was');
};

is($node->safe_psql('postgres', 'SELECT liveid.unschedule_refresh()'), 't', 'unscheduled');
is($node->safe_psql('postgres', 'SELECT liveid.unschedule_metrics()'), 't', 'metrics unscheduled');
is($node->safe_psql('postgres', 'SELECT liveid.unschedule_metrics()'), 'f', 'again: false, there is none');
done_testing();
