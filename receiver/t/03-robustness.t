# Clients and databases that take too long: a slowloris client is dropped
# after --timeout while others are served, --connections bounds the
# connections, --query-timeout and connect_timeout bound the wait for the
# database, and SIGTERM lets the request in flight finish.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use File::Temp ();
use Time::HiRes qw(sleep);
use ReceiverTest;
use SimTest qw(raw_connect raw_read_response now_hires wait_until);

my $db   = callback_db('rb');
my $node = $db->{node};

# seconds until the server closes $sock while $feed->() is called every
# $step seconds (it writes a little), at most $max; undef if it stayed open
sub time_to_close {
    my ($sock, $max, $step, $feed) = @_;
    my $t0 = now_hires();
    my $sel = IO::Select->new($sock);
    while (now_hires() - $t0 < $max) {
        $feed->() if $feed;
        if ($sel->can_read($step)) {
            my $got = sysread($sock, my $buf, 4096);
            return now_hires() - $t0 if !$got;
        }
    }
    return undef;
}

# runs $code in a child (its result, a status, written to a file); returns
# a sub that waits for it and gives the status
sub in_background {
    my ($code) = @_;
    my $file = "$SimTest::TMP/bg-" . int(rand(1e9));
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # SimTest::req names its files by a counter the child shares
        $SimTest::TMP = File::Temp::tempdir(DIR => $SimTest::TMP);
        my $st = eval { $code->() } // 0;
        open(my $fh, '>', $file);
        print $fh $st;
        close $fh;
        POSIX::_exit(0);    # not END: the parent's cluster must stay up
    }
    return sub { waitpid($pid, 0); return SimTest::_slurp($file) };
}

subtest 'a slow client is dropped after --timeout; others are served meanwhile' => sub {
    my $rcv = start_receiver({}, '--dsn', $db->{dsn}, '--timeout', '1');

    # headers, one byte every 0.1 s: never idle, never finished
    my $c = raw_connect($rcv);
    my $head = "POST /liveid/callback HTTP/1.1\r\nHost: x\r\nX-Pad: " . ('a' x 200);
    my $i = 0;
    my $served;
    my $t = time_to_close($c, 5, 0.1, sub {
        syswrite($c, substr($head, $i++ % length $head, 1));
        # half-way, another client (in the background: the trickle must
        # not pause, or it is libmicrohttpd's idle timeout that closes it)
        $served = in_background(sub { post($rcv, callback_body(conf => 'rb-1'))->{status} })
          if $i == 5;
    });
    ok(defined $t && $t > 0.8 && $t < 2.5, 'trickled headers: dropped after about 1 s')
      or diag 'closed after ' . ($t // 'never');
    is($served->(), 200, 'meanwhile another client got its 200');
    $rcv->count_raw;    # the background request's line
    like($rcv->log_text, qr/dropped a connection from 127\.0\.0\.1: no whole request within 1 s/,
        'the drop is logged');

    # whole headers, then the body trickled
    $c = raw_connect($rcv);
    print {$c} "POST /liveid/callback HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{";
    $t = time_to_close($c, 5, 0.1, sub { syswrite($c, ' ') });
    $rcv->count_raw;
    ok(defined $t && $t > 0.8 && $t < 2.5, 'a trickled body: dropped after about 1 s')
      or diag 'closed after ' . ($t // 'never');
    my $l = wait_until(sub { (grep { $_->{detail} eq 'reason=timeout' } request_lines($rcv))[0] }, 2);
    is($l && $l->{status}, '-', 'logged as a request without an answer, reason=timeout');

    # a chunked body that never ends, over the cap: dropped all the same
    $c = raw_connect($rcv);
    print {$c} "POST /liveid/callback HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    my $chunk = sprintf("%x\r\n%s\r\n", 4096, 'x' x 4096);
    $t = time_to_close($c, 5, 0.02, sub { syswrite($c, $chunk) });
    $rcv->count_raw;
    ok(defined $t && $t > 0.8 && $t < 2.5, 'an endless chunked body past the cap: dropped after about 1 s')
      or diag 'closed after ' . ($t // 'never');

    # an idle keep-alive connection after a request: closed quietly
    $c = raw_connect($rcv);
    my $body = callback_body(conf => 'rb-2');
    print {$c} "POST /liveid/callback HTTP/1.1\r\nHost: x\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    is(raw_read_response($c, 3)->{status}, 200, 'a keep-alive request: 200');
    $rcv->count_raw;
    $t = time_to_close($c, 5, 0.1);
    ok(defined $t && $t < 2.5, 'then the idle connection is closed within the timeout');
    is(post($rcv, callback_body(conf => 'rb-3'))->{status}, 200, 'and the receiver still serves');
    $rcv->stop;
};

subtest '--connections: the one over the limit is refused, then room again' => sub {
    my $rcv = start_receiver({}, '--dsn', $db->{dsn}, '--connections', '3', '--timeout', '5');
    my @idle = map { raw_connect($rcv) } 1 .. 3;
    syswrite($_, 'P') for @idle;    # begun, not finished
    sleep 0.3;
    my $res = post($rcv, callback_body(conf => 'rb-limit'), timeout => 3, no_line => 1);
    is($res->{status}, 0, 'a fourth connection gets no answer');
    ok($res->{wall} < 2, 'and is closed at once, not left waiting') or diag "after $res->{wall} s";
    # libmicrohttpd's order of its line and the close is its own: wait
    ok(wait_until(sub { $rcv->log_text =~ /connection limit/i }, 2),
        'libmicrohttpd says why in the log') or diag $rcv->log_text;
    close $_ for @idle;
    my $ok = wait_until(sub { post($rcv, callback_body(conf => 'rb-limit'))->{status} == 200 }, 3, 0.1);
    ok($ok, 'once they are closed: 200');
    $rcv->stop;
};

subtest '--query-timeout: a statement that hangs is given up, 503' => sub {
    my $rcv = start_receiver({}, '--dsn', $db->{dsn}, '--query-timeout', '1', '--pool', '1');
    my $t0 = now_hires();
    my $res = post($rcv, callback_body(conf => 'rb-slow', extra => { test_sleep => 4 }));
    my $took = now_hires() - $t0;
    is($res->{status}, 503, 'a statement still running after 1 s: 503');
    ok($took > 0.8 && $took < 2.5, 'answered after about 1 s') or diag "after $took s";
    is((request_lines($rcv))[-1]{detail}, 'reason=query-timeout', 'logged with reason=query-timeout');
    is(post($rcv, callback_body(conf => 'rb-after'))->{status}, 200,
        'the next request gets a fresh connection: 200');
    $rcv->stop;
};

subtest 'connect_timeout: a server that never answers does not hold a request' => sub {
    # a socket that listens and never answers: connect() succeeds, the
    # startup packet waits for ever
    my $silent = IO::Socket::INET->new(Listen => 8, LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => 'tcp') or die "listen: $!";
    my $dsn = 'host=127.0.0.1 port=' . $silent->sockport . ' dbname=cb user=cb_receiver sslmode=disable';
    my $rcv = start_receiver({}, '--dsn', $dsn, '--connect-timeout', '2', '--pool', '1',
        '--query-timeout', '1');
    my $second;
    my $t0 = now_hires();
    my $wait = in_background(sub { sleep 0.3; post($rcv, callback_body())->{status} });
    my $res = post($rcv, callback_body());
    my $took = now_hires() - $t0;
    is($res->{status}, 503, 'the DSN sets no connect_timeout, --connect-timeout 2: 503');
    ok($took > 1.5 && $took < 4, 'after about 2 s') or diag "after $took s";
    like($rcv->log_text, qr/cannot connect to the database: .*timeout/i, 'the log says the connection timed out');
    is($wait->(), 503, 'a request waiting for the one connection meanwhile: 503');
    ok(grep({ $_->{detail} eq 'reason=no-free-connection' } request_lines($rcv)),
        'after --query-timeout, logged reason=no-free-connection');
    $rcv->stop;

    $rcv = start_receiver({}, '--dsn', "$dsn connect_timeout=2", '--connect-timeout', '60');
    $t0 = now_hires();
    $res = post($rcv, callback_body());
    $took = now_hires() - $t0;
    is($res->{status}, 503, "the DSN's own connect_timeout=2 wins over --connect-timeout 60: 503");
    ok($took > 1.5 && $took < 4, 'after about 2 s') or diag "after $took s";
    $rcv->stop;
};

subtest 'SIGTERM: the request in flight finishes, new ones are refused, exit 0' => sub {
    my $rcv = start_receiver({}, '--dsn', $db->{dsn});
    my $wait = in_background(sub {
        post($rcv, callback_body(conf => 'rb-term', extra => { test_sleep => 1.5 }))->{status};
    });
    sleep 0.5;
    kill 'TERM', $rcv->pid;
    sleep 0.2;
    my $late = post($rcv, callback_body(conf => 'rb-late'), timeout => 2, no_line => 1);
    is($late->{status}, 0, 'a new connection after SIGTERM: refused');
    is($wait->(), 200, 'the request in flight still gets its 200');
    my $st = $rcv->stop;
    is($st->{exit}, 0, 'exit 0') or diag $st->{desc};
    is($node->safe_psql('cb', "SELECT count(*) FROM liveid.call_events WHERE id_conference = 'rb-term'"),
        1, 'and its row is committed');
    like($rcv->log_text, qr/stopping on SIGTERM.*\n(?:.*\n)*.*POST \/liveid\/callback 200 .*\n.*liveid-receiver: stopped\n\z/,
        'logged: the stop, the request finishing, then "stopped"');
};

done_testing;
