package LiveidCluster;

# Helpers for the extension's TAP tests (t/*.t): real clusters made by
# PostgreSQL's own PostgreSQL::Test::Cluster, talking to a LiveID+
# simulator started by sim/t/lib/SimTest.pm.
#
#   my $sim  = liveid_sim();                       # a simulator (request log on)
#   my $node = liveid_node('primary', $sim, allows_streaming => 1);
#   my $stby = liveid_standby($node, 'standby');   # streaming hot standby
#   my $pg   = plain_node('db');                   # a node without liveid
#   my $n    = sim_count($sim, 'pushAsyncCall');   # requests to that endpoint
#   my ($state, $out, $err) = sql_state($node, $sql);   # SQLSTATE of a failure
#
# The server is the one of $PG_CONFIG when set (a private copy of
# PostgreSQL, as scripts/test.sh's sanitizer run uses), else pg_config's.
# LIVEID_SERVER_ENV ("NAME=value NAME=value", as scripts/with-sim.sh takes
# it) is put in the server's environment only: LD_PRELOAD of a sanitizer
# runtime must reach postgres, not perl or psql.
#
# PostgreSQL::Test::Cluster refuses to run initdb as root: run the files as
# the postgres user (scripts/test.sh does, with TESTDIR a directory that
# user may write).

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $PG_CONFIG;
my $INSTALL;
BEGIN {
    $PG_CONFIG = $ENV{PG_CONFIG} || 'pg_config';
    chomp(my $pkglib = `$PG_CONFIG --pkglibdir`);
    die "LiveidCluster: $PG_CONFIG --pkglibdir failed\n" if $? || !$pkglib;
    chomp(my $bindir = `$PG_CONFIG --bindir`);
    $INSTALL = dirname($bindir);
    unshift @INC, "$pkglib/pgxs/src/test/perl";
    # Cluster->init runs `pg_regress --config-auth`
    $ENV{PG_REGRESS} //= "$pkglib/pgxs/src/test/regress/pg_regress";
    # SimTest sits beside the simulator's own tests
    unshift @INC, abs_path(dirname(abs_path(__FILE__)) . '/../../sim/t/lib');
}

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SimTest ();
use Test::More;
use Exporter 'import';

our @EXPORT = qw(
  liveid_sim liveid_node liveid_standby plain_node
  sim_stats sim_requests sim_count sim_api_count
  sql_state service_start_sql
  DEMO_KEY DEMO_LIVE
);

use constant DEMO_KEY  => SimTest::DEMO_KEY;
use constant DEMO_LIVE => SimTest::DEMO_LIVE;

# SimTest's watchdog is made for the simulator's quick files; clusters take
# longer (and much longer under a sanitizer).
alarm($ENV{LIVEID_TAP_TIMEOUT} // 600);

# liveid_sim(@extra_args): a simulator on a free port, its request log on
# (sim_requests reads it), stopped at the end of the test file.
sub liveid_sim {
    return SimTest::start_sim({ quiet => 0 }, @_);
}

# liveid_node($name, $sim, %opts): a started node of $PG_CONFIG's server
# with liveid preloaded, pointed at $sim with the DEMO key, and the
# extension created in database postgres.  %opts: allows_streaming (passed
# to init), conf => extra postgresql.conf text, no_extension => 1.
sub liveid_node {
    my ($name, $sim, %o) = @_;
    my $node = LiveidCluster::Node->new($name, install_path => $INSTALL);
    $node->init($o{allows_streaming} ? (allows_streaming => 1) : ());
    $node->append_conf('postgresql.conf', liveid_conf($sim) . ($o{conf} // ''));
    $node->start;
    $node->safe_psql('postgres', 'CREATE EXTENSION liveid')
      unless $o{no_extension};
    return $node;
}

# plain_node($name, %opts): a started node of $PG_CONFIG's server without
# liveid (not preloaded, not created): for what tests a client of the
# database, as receiver/t does.  %opts: conf => extra postgresql.conf text.
sub plain_node {
    my ($name, %o) = @_;
    my $node = LiveidCluster::Node->new($name, install_path => $INSTALL);
    $node->init;
    $node->append_conf('postgresql.conf', $o{conf}) if $o{conf};
    $node->start;
    return $node;
}

# The postgresql.conf lines that point liveid at $sim.
sub liveid_conf {
    my ($sim) = @_;
    my $url = $sim->base;
    my $key = DEMO_KEY;
    return "shared_preload_libraries = 'liveid'\n"
      . "liveid.url = '$url'\n"
      . "liveid.api_key = '$key'\n";
}

# liveid_standby($primary, $name): a streaming hot standby of $primary
# (which was made with allows_streaming => 1), started and caught up.
sub liveid_standby {
    my ($primary, $name) = @_;
    my $backup = "${name}_backup";
    $primary->backup($backup);
    my $standby = LiveidCluster::Node->new($name, install_path => $INSTALL);
    $standby->init_from_backup($primary, $backup, has_streaming => 1);
    $standby->start;
    $primary->wait_for_catchup($standby, 'replay');
    return $standby;
}

# sim_stats($sim): the simulator's GET /sim/stats counters (a hash:
# requests, status2xx, status4xx, status5xx, faults, connections, ...).
# They are totals: /sim/stats counts no endpoint by itself (see
# sim_count for that), and counts its own requests.
sub sim_stats {
    my ($sim) = @_;
    my $res = $sim->req('GET', '/sim/stats');
    die "GET /sim/stats: $res->{status} $res->{body}\n"
      unless $res->{status} == 200 && ref $res->{json} eq 'HASH';
    return $res->{json};
}

# sim_requests($sim): every request the simulator has answered so far, in
# order, from its request log: [{method, path (no query), status}, ...].
# A request is logged when its answer is queued, so any call a backend has
# seen the answer of is there.
sub sim_requests {
    my ($sim) = @_;
    my @r;
    for (split /\n/, $sim->log_text) {
        next unless /^\d{4}-\d\d-\d\dT\S+Z (\S+) ([A-Z]+) (\S+) (\S+) \d+B /;
        push @r, { addr => $1, method => $2, path => $3, status => $4 };
    }
    return \@r;
}

# sim_count($sim, $endpoint): how many requests reached that endpoint; a
# plain string matches the path's last segment ('pushAsyncCall',
# 'getAvailableOperators'), a qr// the whole path.
sub sim_count {
    my ($sim, $what) = @_;
    my $re = ref $what ? $what : qr{/\Q$what\E$};
    return scalar grep { $_->{path} =~ $re } @{ sim_requests($sim) };
}

# sim_api_count($sim): requests to the LiveID+ API, that is everything but
# the simulator's own /sim/ control endpoints (which the tests use).
sub sim_api_count {
    my ($sim) = @_;
    return scalar grep { $_->{path} !~ m{^/sim/} } @{ sim_requests($sim) };
}

# sql_state($node, $sql, $db): runs $sql (one statement, no trailing ';'
# needed) and returns (SQLSTATE or '' when it succeeded, stdout, stderr).
sub sql_state {
    my ($node, $sql, $db) = @_;
    $sql =~ s/;\s*$//;
    my ($out, $err) = ('', '');
    $node->psql($db // 'postgres',
        "$sql;\n\\echo SQLSTATE=:LAST_ERROR_SQLSTATE\n",
        stdout => \$out, stderr => \$err, on_error_stop => 0);
    my ($state) = $out =~ /SQLSTATE=(\w+)\s*$/;
    $out =~ s/\n?SQLSTATE=\w+\s*$//;
    return (($state // '') eq '00000' ? '' : ($state // '?'), $out, $err);
}

# The SQL of a minimal valid start (DEMO, its live process); %o may set
# external_id.
sub service_start_sql {
    my (%o) = @_;
    my $ext = defined $o{external_id} ? ", external_id => '$o{external_id}'" : '';
    return "SELECT liveid.service_start(liveid.customer('it', 'a\@example.com', 'A', 'B'), "
      . "organization => 'DEMO', process => '" . DEMO_LIVE . "'$ext)";
}

package LiveidCluster::Node;

# A PostgreSQL::Test::Cluster whose server (pg_ctl start, restart) gets
# LIVEID_SERVER_ENV in its environment.

use parent -norequire, 'PostgreSQL::Test::Cluster';

sub _server_env {
    my %e;
    for (split ' ', $ENV{LIVEID_SERVER_ENV} // '') {
        my ($k, $v) = split /=/, $_, 2;
        die "LIVEID_SERVER_ENV: not NAME=value: $_\n" unless defined $v && $k =~ /^\w+$/;
        $e{$k} = $v;
    }
    return %e;
}

sub start {
    my $self = shift;
    my %e = _server_env();
    local @ENV{ keys %e } = values %e;
    return $self->SUPER::start(@_);
}

sub restart {
    my $self = shift;
    my %e = _server_env();
    local @ENV{ keys %e } = values %e;
    return $self->SUPER::restart(@_);
}

1;
