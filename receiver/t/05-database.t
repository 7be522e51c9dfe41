# The database goes away and comes back: 503 while it is down, 200 again
# once it is up, without restarting the receiver; a pooled connection a
# restart broke is replaced before it is used.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ReceiverTest;

my $db   = callback_db('restart');
my $node = $db->{node};
my $rcv  = start_receiver({}, '--dsn', $db->{dsn}, '--pool', '2');

sub rows {
    my ($conf) = @_;
    return $node->safe_psql('cb', "SELECT count(*) FROM liveid.call_events WHERE id_conference = '$conf'");
}

is(post($rcv, callback_body(conf => 'db-1'))->{status}, 200, 'a first callback: 200 (a connection in the pool)');

subtest 'a restart between two requests: the next one gets 200' => sub {
    $node->restart;
    my $res = post($rcv, callback_body(conf => 'db-2'));
    is($res->{status}, 200, 'the first request after the restart: 200, on a fresh connection');
    is(rows('db-2'), 1, 'stored');
};

subtest 'the database stopped: 503, each request trying again' => sub {
    $node->stop;
    for my $n (1, 2) {
        my $res = post($rcv, callback_body(conf => 'db-down'));
        is($res->{status}, 503, "request $n: 503");
        is($res->{json}{error}, 'the database is unavailable; retry later', "request $n: a fixed error text");
        is((request_lines($rcv))[-1]{detail}, 'reason=database-unreachable', "request $n: logged so");
    }
    my @tries = $rcv->log_text =~ /cannot connect to the database: /g;
    is(scalar @tries, 2, 'each request tried to connect (and the failure is logged)');
    unlike($rcv->log_text, qr/\Q$db->{password}\E/, 'the password is not in those lines');
};

subtest 'the database started again: 200, the receiver not restarted' => sub {
    my $pid = $rcv->pid;
    $node->start;
    my $res = post($rcv, callback_body(conf => 'db-down'));
    is($res->{status}, 200, 'the same callback again: 200');
    is(rows('db-down'), 1, 'stored once');
    ok($rcv->alive && $rcv->pid == $pid, 'the same receiver process');
};

is($rcv->stop->{exit}, 0, 'SIGTERM: exit 0');

done_testing;
