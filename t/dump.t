# Backups restore: a database whose ledger holds calls (non-ASCII text in
# them, and answers the service sent with text outside ASCII) is dumped with
# pg_dump and restored into a new database; the ledger comes back whole,
# with its CHECK, its row-level security and its policies, and the
# restored database starts calls.  The outbox restores too: starts queued
# in a cluster whose service is out of reach are dumped, restored into
# another cluster, and its background worker sends them.
use strict;
use warnings;
use LiveidCluster;
use SimTest qw(wait_until);
use Test::More;

my $sim  = liveid_sim();
my $node = liveid_node('node', $sim);

for my $ext ('DUMP-1', 'Bestellung-ß-€') {
    my ($state, $out, $err) = sql_state($node, service_start_sql(external_id => $ext));
    is($state, '', "a start ($ext)") or diag($err);
}
# a poll writes what the service answered into the ledger
my $uid = $node->safe_psql('postgres', "SELECT uid FROM liveid.calls WHERE external_id = 'DUMP-1'");
$node->safe_psql('postgres', "SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', '$uid'))");
$node->safe_psql('postgres', "SELECT count(*) FROM liveid.async_request_info('$uid')");

my $ledger = "SELECT uid, organization, process, external_id, launch_url, created_by, status, "
  . "close_status, id_conference, method FROM liveid.calls ORDER BY uid";
my $before = $node->safe_psql('postgres', $ledger);
like($before, qr/waiting/, 'the polled call is waiting');

my $dump = $node->basedir . '/liveid.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
    'pg_dump of the database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
    'pg_restore into a new database, without an error');

is($node->safe_psql('restored', $ledger), $before, 'the ledger comes back whole');
is($node->safe_psql('restored',
    "SELECT relrowsecurity FROM pg_class WHERE oid = 'liveid.calls'::regclass"), 't',
   'with row-level security on');
is($node->safe_psql('restored',
    "SELECT string_agg(polname, ',' ORDER BY polname) FROM pg_policy WHERE polrelid = 'liveid.calls'::regclass"),
   'calls_all_for_admin,calls_started_by_me', 'and its two policies');
is($node->safe_psql('restored',
    "SELECT count(*) FROM pg_constraint WHERE conrelid = 'liveid.calls'::regclass AND conname = 'calls_process_check'"),
   '1', 'and its CHECK');
my ($state, $out, $err) = sql_state($node, service_start_sql(external_id => 'AFTER-RESTORE'), 'restored');
is($state, '', 'the restored database starts calls') or diag($err);

subtest 'queued starts survive a dump and are sent from the restore' => sub {
    # the service out of reach (nothing listens on port 1): the starts stay
    # queued, retried every few seconds
    my $queue = liveid_node('queue', $sim, conf => "liveid.worker_database = 'postgres'\n"
        . "liveid.outbox_retry_delay = 2000\nliveid.outbox_max_attempts = 100\n"
        . "liveid.url = 'http://127.0.0.1:1'\n");
    my $customer = "liveid.customer('it', 'a\@example.com', 'A', 'B')";
    my $with_cb = "liveid.customer('it', 'a\@example.com', 'A', 'B', "
      . "callback_url => 'https://callbacks.demo-bank.example/liveid')";
    for ([ 'QUEUED-1', $customer ], [ 'QUEUED-2', $with_cb ]) {
        my ($ext, $c) = @$_;
        my ($state, $out, $err) = sql_state($queue, "SELECT liveid.enqueue_start($c, "
            . "organization => 'DEMO', process => '" . DEMO_LIVE . "', external_id => '$ext')");
        is($state, '', "$ext enqueued") or diag($err);
    }
    ok(wait_until(sub {
        $queue->safe_psql('postgres', "SELECT count(*) FROM liveid.outbox "
            . "WHERE attempts >= 1 AND last_error LIKE '%connect%'") eq '2' }, 60, 0.2),
       'both were tried and failed to connect');
    my $refs = $queue->safe_psql('postgres', 'SELECT string_agg(ref::text, \',\' ORDER BY external_id) FROM liveid.outbox');
    my $qdump = $queue->basedir . '/outbox.dump';
    $queue->command_ok([ 'pg_dump', '-Fc', '-f', $qdump, '-d', $queue->connstr('postgres') ],
        'pg_dump of the database with the queued starts');
    $queue->stop;

    my $restore = liveid_node('restore', $sim, no_extension => 1,
        conf => "liveid.worker_database = 'postgres'\n");
    $restore->command_ok([ 'pg_restore', '--exit-on-error', '-d', $restore->connstr('postgres'), $qdump ],
        'pg_restore into a cluster with a worker, without an error');
    # nothing announces a restore: the worker finds the extension within 10 s
    ok(wait_until(sub {
        $restore->safe_psql('postgres', "SELECT count(*) FROM liveid.outbox WHERE state = 'sent'") eq '2' }, 60, 0.2),
       'the restored cluster\'s worker sends both');
    is($restore->safe_psql('postgres',
        'SELECT string_agg(c.ref::text, \',\' ORDER BY c.external_id) FROM liveid.calls c JOIN liveid.outbox o USING (ref, uid)'),
       $refs, 'each is in the ledger under its ref, with its uid');
    is($restore->safe_psql('postgres', 'SELECT count(*) FROM liveid.outbox_requests'), '0',
       'the request bodies are gone once sent');
    is($restore->safe_psql('postgres',
        "SELECT count(*) FROM liveid.call_tokens t JOIN liveid.calls c USING (ref) WHERE c.external_id = 'QUEUED-2'"),
       '1', 'the start with a callback kept its secret\'s hash through the dump');
    for my $ext ('QUEUED-1', 'QUEUED-2') {
        my $res = $sim->req('GET', "/sim/requests?externalId=$ext");
        is(scalar @{ $res->{json}{requests} // [] }, 1, "the service holds one request for $ext");
    }
    $restore->stop;
};

done_testing;
