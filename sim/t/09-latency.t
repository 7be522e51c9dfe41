# --latency-ms and POST /sim/latency: every LiveID+ API answer waits, the
# control endpoints and the /app/ pages do not, one connection's wait holds
# up no other, and /sim/stats shows how many API requests were in flight at
# once (apiPeakInFlight).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use SimTest;

my $MS  = 600;
my $sim = start_sim('--latency-ms', $MS);
my $KEY = DEMO_KEY;

sub ops { req('POST', '/api/service/getAvailableOperators', apikey => $KEY, json => { orgCode => 'DEMO' }) }

subtest 'an API answer comes after the latency' => sub {
    my $r = ops();
    is($r->{status}, 200, 'getAvailableOperators: 200');
    cmp_ok($r->{wall}, '>=', $MS / 1000, "answered after at least $MS ms");
    my $bad = req('POST', '/api/service/getQueue', apikey => 'wrong', json => { id_process => DEMO_LIVE });
    is($bad->{status}, 401, 'a refused API request: 401');
    cmp_ok($bad->{wall}, '>=', $MS / 1000, 'also after the latency');
    is(sim_stats()->{latencyMs}, $MS, '/sim/stats shows the latency');
};

subtest 'control endpoints and /app/ pages are not delayed' => sub {
    # an upper bound of the latency itself: the point is the difference
    my $h = req('GET', '/sim/health');
    is($h->{status}, 200, '/sim/health: 200');
    cmp_ok($h->{wall}, '<', $MS / 1000, "/sim/health in less than $MS ms");
    my $push = push_async_call();
    ok($push->{uId}, 'pushAsyncCall (delayed) gives a uId');
    my $page = req('GET', "/app/service-asyncall?uId=$push->{uId}");
    is($page->{status}, 302, '/app/service-asyncall: 302');
    cmp_ok($page->{wall}, '<', $MS / 1000, "/app/service-asyncall in less than $MS ms");
};

sub sim_stats { req('GET', '/sim/stats')->{json} }

# sends one API request on a raw connection (answer read later)
sub raw_ops {
    my $c = raw_connect() or die "connect: $!";
    my $body = '{"orgCode":"DEMO"}';
    print {$c} "POST /api/service/getAvailableOperators HTTP/1.1\r\nHost: x\r\napikey: $KEY\r\n"
      . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    return $c;
}

subtest 'two concurrent requests overlap' => sub {
    is(sim_post('/sim/latency', { ms => $MS })->{status}, 200, 'a new peak reading');
    is(sim_stats()->{apiPeakInFlight}, 0, 'no API request in flight');
    my $t0 = now_hires();
    my @c = (raw_ops(), raw_ops());
    my @r = map { raw_read_response($_, 10) } @c;
    my $wall = now_hires() - $t0;
    close $_ for @c;
    is_deeply([ map { $_->{status} } @r ], [ 200, 200 ], 'both answered 200');
    is(sim_stats()->{apiPeakInFlight}, 2, 'both were in flight at once');
    cmp_ok($wall, '<', 2 * $MS / 1000, 'together in less than two latencies');
};

subtest 'POST /sim/latency changes it at run time' => sub {
    my $r = sim_post('/sim/latency', { ms => 0 });
    is($r->{status}, 200, 'latency 0: 200');
    is($r->{json}{ms}, 0, 'the answer says 0');
    is(sim_stats()->{latencyMs}, 0, '/sim/stats shows 0');
    for my $bad (-1, 60001, 1.5, 'x') {
        is(sim_post('/sim/latency', { ms => $bad })->{status}, 400, "ms $bad: 400");
    }
    is(sim_post('/sim/latency', {})->{status}, 400, 'no ms: 400');
};

subtest 'bad --latency-ms' => sub {
    for my $bad ('-5', 'x', '60001') {
        my $r = run_sim('--port', '0', '--latency-ms', $bad);
        is($r->{exit}, 2, "--latency-ms $bad: exit 2");
    }
};

done_testing();
