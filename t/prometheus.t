# contrib/prometheus/queries.yaml through Debian's prometheus-postgres-exporter:
# the real exporter, logged in as a member of liveid_monitor over the
# cluster's Unix socket, exports the liveid_* gauges of hand-made metrics
# snapshots and ledger rows, with their labels and values; the role itself
# cannot read a row of the ledger.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run ();
use LiveidCluster;
use Test::More;

my $exporter = $ENV{LIVEID_PG_EXPORTER} // '/usr/bin/prometheus-postgres-exporter';
my $queries  = abs_path(dirname(abs_path(__FILE__)) . '/../contrib/prometheus/queries.yaml');

# a missing exporter is a failure, not a skip: scripts/deps.sh installs it
ok(-x $exporter, "$exporter is installed (scripts/deps.sh test)")
  or do { done_testing(); exit 1 };
ok($queries && -r $queries, 'contrib/prometheus/queries.yaml is there')
  or do { done_testing(); exit 1 };

my $sim  = liveid_sim();
my $node = liveid_node('prom', $sim);

my $P1 = '11111111-1111-4111-8111-111111111111';
my $P2 = '22222222-2222-4222-8222-222222222222';
$node->safe_psql('postgres', <<"SQL");
INSERT INTO liveid.metrics (taken_at, organization, process, available_operators, waiting, average_wait, calls) VALUES
  (now() - interval '1 hour',   'DEMO', NULL, 1, NULL, '10 seconds', 2),
  (now() - interval '1 hour',   'DEMO', '$P1', NULL, 9, NULL, NULL),
  (now() - interval '30 seconds', 'DEMO', NULL, 3, NULL, '1 minute 30 seconds', 7),
  (now() - interval '30 seconds', 'DEMO', '$P1', NULL, 4, NULL, NULL),
  (now() - interval '30 seconds', 'DEMO', '$P2', NULL, 0, NULL, NULL),
  (now() - interval '2 hours',  'ACME', NULL, 0, NULL, '0', 0);
INSERT INTO liveid.calls (uid, organization, process, launch_url, created_by, status, close_status) VALUES
  ('uid-secret-1', 'DEMO', '$P1', 'https://example.test/launch?uId=uid-secret-1', 'alice', 'created', NULL),
  ('uid-secret-2', 'DEMO', '$P1', 'https://example.test/launch?uId=uid-secret-2', 'alice', 'created', NULL),
  ('uid-secret-3', 'DEMO', '$P1', 'https://example.test/launch?uId=uid-secret-3', 'bob',   'closed',  'N'),
  ('uid-secret-4', 'DEMO', '$P2', 'https://example.test/launch?uId=uid-secret-4', 'bob',   'closed',  'A'),
  ('uid-secret-5', 'ACME', '$P2', 'https://example.test/launch?uId=uid-secret-5', 'carol', 'rejected', NULL);
CREATE ROLE liveid_prom LOGIN IN ROLE liveid_monitor;
SQL

# the role reads counts, not calls
my ($out, $err) = ('', '');
$node->psql('postgres', "SELECT uid, launch_url FROM liveid.calls;\n",
    stdout => \$out, stderr => \$err, on_error_stop => 0,
    extra_params => [ '-U', 'liveid_prom' ]);
like($err, qr/permission denied for table calls/, 'liveid_prom cannot read liveid.calls');
is($out, '', 'and gets no row of it');
($out, $err) = ('', '');
$node->psql('postgres', "SELECT * FROM liveid.metrics;\n",
    stdout => \$out, stderr => \$err, on_error_stop => 0,
    extra_params => [ '-U', 'liveid_prom' ]);
like($err, qr/permission denied for table metrics/, 'nor liveid.metrics itself');

# the exporter, on a free port, against the Unix socket
my $port = PostgreSQL::Test::Cluster::get_free_port();
my ($xout, $xerr) = ('', '');
my $h;
{
    local $ENV{DATA_SOURCE_NAME} = 'host=' . $node->host . ' port=' . $node->port
      . ' user=liveid_prom dbname=postgres sslmode=disable';
    $h = IPC::Run::start(
        [ $exporter, "--extend.query-path=$queries", "--web.listen-address=127.0.0.1:$port",
          '--disable-default-metrics', '--disable-settings-metrics',
          '--no-collector.database', '--no-collector.bgwriter' ],
        '<', \undef, '>', \$xout, '2>', \$xerr);
}
END { $h->kill_kill if $h && $h->pumpable }

my $http = HTTP::Tiny->new(timeout => 10);
my $res;
for (1 .. 100) {
    $res = $http->get("http://127.0.0.1:$port/metrics");
    last if $res->{status} == 200 && $res->{content} =~ /^liveid_/m;
    select(undef, undef, undef, 0.2);
}
is($res->{status}, 200, 'GET /metrics answers 200') or diag("exporter: $xerr");
my $text = $res->{content} // '';

# name => [ {labels, value}, ... ]
my %series;
for (split /\n/, $text) {
    next if /^#/ || !/^(\w+)(?:\{(.*)\})?\s+(\S+)/;
    my ($name, $labels, $value) = ($1, $2 // '', $3);
    my %l = $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
    push @{ $series{$name} }, { labels => \%l, value => $value };
}

# the value of the one series of $name whose labels include %want
sub value_of {
    my ($name, %want) = @_;
    my @m = grep {
        my $l = $_->{labels};
        !grep { ($l->{$_} // "\0") ne $want{$_} } keys %want
    } @{ $series{$name} // [] };
    return @m == 1 ? $m[0]{value} : scalar(@m) . ' series';
}

is(value_of('pg_up'), 1, 'the exporter reached the database');
is(value_of('pg_exporter_last_scrape_error'), 0, 'no query of queries.yaml failed');

is(value_of('liveid_available_operators', organization => 'DEMO'), 3,
   'liveid_available_operators{organization="DEMO"}: the latest snapshot');
is(value_of('liveid_available_operators', organization => 'ACME'), 0,
   'liveid_available_operators{organization="ACME"}');
is(value_of('liveid_average_wait_seconds', organization => 'DEMO'), 90,
   'liveid_average_wait_seconds: the last hour\'s average wait in seconds');
is(value_of('liveid_calls_last_hour', organization => 'DEMO'), 7,
   'liveid_calls_last_hour: the last hour\'s calls');
is(value_of('liveid_queue_waiting', organization => 'DEMO', process => $P1), 4,
   'liveid_queue_waiting{organization, process}: the latest queue of a process');
is(value_of('liveid_queue_waiting', organization => 'DEMO', process => $P2), 0,
   'and of another process');
is(scalar @{ $series{liveid_queue_waiting} // [] }, 2, 'one queue series per process');
my $age = value_of('liveid_snapshot_age_seconds', organization => 'DEMO');
ok($age =~ /^[\d.e+]+$/ && $age >= 30 && $age < 600,
   "liveid_snapshot_age_seconds{organization=\"DEMO\"}: about 30 s ($age)");
$age = value_of('liveid_snapshot_age_seconds', organization => 'ACME');
ok($age =~ /^[\d.e+]+$/ && $age >= 7200 && $age < 7800,
   "liveid_snapshot_age_seconds{organization=\"ACME\"}: about two hours ($age)");

is(value_of('liveid_ledger_calls', organization => 'DEMO', status => 'created'), 2,
   'liveid_ledger_calls{organization="DEMO",status="created"}');
is(value_of('liveid_ledger_calls', organization => 'DEMO', status => 'closed'), 2,
   'liveid_ledger_calls{organization="DEMO",status="closed"}');
is(value_of('liveid_ledger_calls', organization => 'ACME', status => 'rejected'), 1,
   'liveid_ledger_calls{organization="ACME",status="rejected"}');
is(scalar @{ $series{liveid_ledger_calls} // [] }, 3, 'one series per organization and status');
is(value_of('liveid_ledger_closed_calls', organization => 'DEMO', close_status => 'N'), 1,
   'liveid_ledger_closed_calls{organization="DEMO",close_status="N"}');
is(value_of('liveid_ledger_closed_calls', organization => 'DEMO', close_status => 'A'), 1,
   'liveid_ledger_closed_calls{organization="DEMO",close_status="A"}');
is(scalar @{ $series{liveid_ledger_closed_calls} // [] }, 2, 'no series for calls not closed');

unlike($text, qr/uid-secret|example\.test|alice|bob|carol/,
   'no uid, launch URL or creator in what the exporter shows');

$h->kill_kill;
done_testing();
