# Backups restore: a database whose ledger holds calls (non-ASCII text in
# them, and answers the service sent with text outside ASCII) is dumped with
# pg_dump and restored into a new database; the ledger comes back whole,
# with its CHECK, its row-level security and its policies, and the
# restored database starts calls.
use strict;
use warnings;
use LiveidCluster;
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

done_testing;
