# liveid on a streaming hot standby: the functions and views that only read
# work, a writing function (service_start, receive_callback, reject_call,
# refresh_calls, collect_metrics) raises 25006 before anything is sent, and
# async_request_info answers without touching the ledger.
use strict;
use warnings;
use LiveidCluster;
use SimTest qw(sim_post);
use Test::More;

my $sim     = liveid_sim();
my $primary = liveid_node('primary', $sim, allows_streaming => 1);

# a call started on the primary, replicated to the standby
my $url = $primary->safe_psql('postgres', service_start_sql(external_id => 'standby-1'));
my ($uid) = $url =~ /[?&]uId=([^&]+)$/;
ok($uid, 'service_start on the primary returns a launch URL with a uId');

my $standby = liveid_standby($primary, 'standby');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't',
   'the standby is in recovery');
is($standby->safe_psql('postgres', "SELECT status FROM liveid.calls WHERE uid = '$uid'"),
   'created', 'the ledger row reached the standby');

subtest 'functions that only read work on the standby' => sub {
    my $ops_before = sim_count($sim, 'getAvailableOperators');
    my ($state, $out, $err) = sql_state($standby,
        "SELECT organization, available_operators >= 0 FROM liveid.available_operators('DEMO')");
    is($state, '', 'available_operators: no error') or diag($err);
    is($out, 'DEMO|t', 'available_operators: a row for DEMO');
    is(sim_count($sim, 'getAvailableOperators'), $ops_before + 1,
       'available_operators asked the simulator');

    ($state, $out, $err) = sql_state($standby,
        "SELECT count(*) > 0 FROM liveid.queue('" . DEMO_LIVE . "')");
    is($state, '', 'queue: no error') or diag($err);
    is($out, 't', 'queue: rows');

    ($state, $out, $err) = sql_state($standby, 'SELECT count(*) FROM liveid.calls');
    is($state, '', 'SELECT from liveid.calls: no error') or diag($err);
    is($out, '1', 'liveid.calls: the row started on the primary');
};

subtest 'service_start on the standby: 25006, nothing sent' => sub {
    my $push_before = sim_count($sim, 'pushAsyncCall');
    my $api_before  = sim_api_count($sim);
    my ($state, $out, $err) = sql_state($standby, service_start_sql(external_id => 'standby-2'));
    is($state, '25006', 'service_start raises 25006 (read_only_sql_transaction)');
    like($err, qr/read-only|recovery/i, 'the message says why');
    unlike($err, qr/\Q${\ DEMO_KEY}\E/, 'the message holds no key');
    # a later request to the same simulator is logged after anything the
    # failed start could have sent
    $sim->req('GET', '/sim/health');
    is(sim_count($sim, 'pushAsyncCall'), $push_before, 'no pushAsyncCall reached the simulator');
    is(sim_api_count($sim), $api_before, 'no API request at all reached the simulator');
    is($standby->safe_psql('postgres', 'SELECT count(*) FROM liveid.calls'), '1',
       'the standby ledger still has one row');
};

subtest 'receive_callback on the standby: 25006, nothing sent' => sub {
    my $api_before = sim_api_count($sim);
    my ($state, $out, $err) = sql_state($standby,
        "SELECT liveid.receive_callback(jsonb_build_object('closeStatus', 'N', 'idConference', 'c1', "
          . "'otherParams', jsonb_build_object('liveid_ref', gen_random_uuid(), 'liveid_token', 'x')))");
    is($state, '25006', 'receive_callback raises 25006 (the receiver answers 503: LiveID+ retries)');
    $sim->req('GET', '/sim/health');
    is(sim_api_count($sim), $api_before, 'no API request reached the simulator');
};

subtest 'reject_call on the standby: 25006, nothing sent' => sub {
    my $reject_before = sim_count($sim, 'rejectCall');
    my $api_before    = sim_api_count($sim);
    my ($state, $out, $err) = sql_state($standby, "SELECT liveid.reject_call('$uid')");
    is($state, '25006', 'reject_call raises 25006 (read_only_sql_transaction)');
    like($err, qr/recovery/i, 'the message says why');
    $sim->req('GET', '/sim/health');
    is(sim_count($sim, 'rejectCall'), $reject_before, 'no rejectCall reached the simulator');
    is(sim_api_count($sim), $api_before, 'no API request at all reached the simulator');
};

subtest 'the other utility functions work on the standby' => sub {
    for my $t ([ 'daily_waiting_times', 'getDailyWaitingTimes' ],
               [ 'available_languages', 'availableLanguages' ]) {
        my ($fn, $endpoint) = @$t;
        my $before = sim_count($sim, $endpoint);
        my ($state, $out, $err) = sql_state($standby,
            "SELECT count(*) > 0, bool_and(organization = 'DEMO') FROM liveid.$fn('DEMO')");
        is($state, '', "$fn: no error") or diag($err);
        is($out, 't|t', "$fn: rows for DEMO");
        is(sim_count($sim, $endpoint), $before + 1, "$fn asked the simulator");
    }
};

subtest 'the metrics views and calls_by_status read on the standby' => sub {
    my $p = DEMO_LIVE;
    $primary->safe_psql('postgres', <<"SQL");
INSERT INTO liveid.metrics (taken_at, organization, process, available_operators, waiting, average_wait, calls) VALUES
  (now() - interval '2 minutes', 'DEMO', NULL, 2, NULL, '20 seconds', 4),
  (now() - interval '1 minute',  'DEMO', NULL, 4, NULL, '40 seconds', 6),
  (now() - interval '1 minute',  'DEMO', '$p', NULL, 5, NULL, NULL);
CREATE ROLE standby_monitor LOGIN IN ROLE liveid_monitor;
SQL
    $primary->wait_for_catchup($standby, 'replay');
    my ($state, $out, $err) = sql_state($standby,
        "SELECT available_operators, average_wait, calls FROM liveid.metrics_latest WHERE process IS NULL");
    is($state, '', 'metrics_latest: no error') or diag($err);
    is($out, '4|00:00:40|6', 'metrics_latest: the latest snapshot replayed from the primary');
    ($state, $out, $err) = sql_state($standby,
        "SELECT sum(samples), max(max_waiting) FROM liveid.metrics_hourly WHERE organization = 'DEMO'");
    is($state, '', 'metrics_hourly: no error') or diag($err);
    is($out, '3|5', 'metrics_hourly: every row counted');
    ($state, $out, $err) = sql_state($standby,
        "SELECT sum(samples), max(avg_available_operators) FROM liveid.metrics_daily WHERE process IS NULL");
    is($state, '', 'metrics_daily: no error') or diag($err);
    like($out, qr/^2\|[34]\.00$/, 'metrics_daily: the two organization rows');
    ($out, $err) = ('', '');
    $standby->psql('postgres',
        'SELECT organization, status, calls FROM liveid.calls_by_status',
        stdout => \$out, stderr => \$err, extra_params => [ '-U', 'standby_monitor' ]);
    is($out, 'DEMO|created|1', 'calls_by_status, as a member of liveid_monitor: the ledger counted')
      or diag($err);
};

subtest 'refresh_calls on the standby: 25006, nothing sent' => sub {
    my $api_before = sim_api_count($sim);
    my ($state, $out, $err) = sql_state($standby, 'SELECT liveid.refresh_calls()');
    is($state, '25006', 'refresh_calls raises 25006 (read_only_sql_transaction)');
    like($err, qr/recovery/i, 'the message says why');
    $sim->req('GET', '/sim/health');
    is(sim_api_count($sim), $api_before, 'no API request reached the simulator');
    is($standby->safe_psql('postgres', "SELECT status FROM liveid.calls WHERE uid = '$uid'"),
       'created', 'the standby ledger row is left as it was');
};

subtest 'collect_metrics on the standby: 25006, nothing sent; the views read' => sub {
    # the snapshot alone (the rows the subtest above inserted by hand go)
    $primary->safe_psql('postgres', 'DELETE FROM liveid.metrics');
    is($primary->safe_psql('postgres', "SELECT liveid.collect_metrics('DEMO', '{}')"), '1',
       'a snapshot on the primary');
    $primary->wait_for_catchup($standby, 'replay');
    my $api_before = sim_api_count($sim);
    my ($state, $out, $err) = sql_state($standby,
        "SELECT liveid.collect_metrics('DEMO', ARRAY['" . DEMO_LIVE . "']::uuid[])");
    is($state, '25006', 'collect_metrics raises 25006 (read_only_sql_transaction)');
    like($err, qr/recovery/i, 'the message says why');
    $sim->req('GET', '/sim/health');
    is(sim_api_count($sim), $api_before, 'no API request reached the simulator');
    for my $view (qw(metrics_hourly metrics_daily metrics_latest)) {
        ($state, $out, $err) = sql_state($standby,
            "SELECT count(*), bool_and(organization = 'DEMO') FROM liveid.$view");
        is($state, '', "liveid.$view: no error") or diag($err);
        is($out, '1|t', "liveid.$view: the primary's snapshot");
    }
    ($state, $out, $err) = sql_state($standby,
        "SELECT r LIKE '<!DOCTYPE html>%', (length(r) - length(replace(r, '<svg', ''))) / 4 >= 2, "
          . "position('<script' IN r) = 0 FROM liveid.report_html(now() - interval '1 day', 'DEMO') r");
    is($state, '', 'report_html: no error on the standby') or diag($err);
    is($out, 't|t|t', 'report_html: the page and its charts, from the replayed snapshot');
};

subtest 'async_request_info of a primary call on the standby' => sub {
    # the customer opens the link: the service now says "waiting"
    my $open = sim_post('/sim/open', { uId => $uid }, sim => $sim);
    is($open->{status}, 200, 'the call is opened on the simulator');

    my $info_before = sim_count($sim, 'getAsyncRequestInfo');
    my ($state, $out, $err) = sql_state($standby,
        "SELECT uid, status FROM liveid.async_request_info('$uid')");
    is($state, '', 'async_request_info: no error on the standby') or diag($err);
    is($out, "$uid|waiting", "async_request_info: the service's answer");
    is(sim_count($sim, 'getAsyncRequestInfo'), $info_before + 1,
       'async_request_info asked the simulator');
    is($standby->safe_psql('postgres', "SELECT status FROM liveid.calls WHERE uid = '$uid'"),
       'created', 'the standby ledger row is left as it was');
    is($primary->safe_psql('postgres', "SELECT status FROM liveid.calls WHERE uid = '$uid'"),
       'created', 'the primary ledger row too');

    # on the primary the same call brings the ledger up to date, and the
    # standby replays it: the row above could have changed
    $primary->safe_psql('postgres', "SELECT count(*) FROM liveid.async_request_info('$uid')");
    $primary->wait_for_catchup($standby, 'replay');
    is($standby->safe_psql('postgres', "SELECT status FROM liveid.calls WHERE uid = '$uid'"),
       'waiting', 'after async_request_info on the primary the standby row says waiting');
};

done_testing();
