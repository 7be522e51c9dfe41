# POST /sim/outage: a transient outage of the LiveID+ API.  For the next N
# requests, or S seconds, every /api/ request (whatever the endpoint) answers
# the outage's status with a JSON error and does nothing else; the /sim/
# control endpoints and the /app/ pages go on.  /sim/stats counts the
# outage answers (outageAnswers) in their status class, and the latency
# applies to them as to every /api/ answer.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use SimTest;

my $sim = start_sim();
my $KEY = DEMO_KEY;

sub ops    { req('POST', '/api/service/getAvailableOperators', apikey => $KEY, json => { orgCode => 'DEMO' }) }
sub stats  { req('GET', '/sim/stats')->{json} }
sub outage { sim_post('/sim/outage', $_[0]) }

subtest 'an outage of N requests' => sub {
    my $before = stats();
    my $r = outage({ status => 503, requests => 3 });
    is($r->{status}, 200, 'POST /sim/outage: 200');
    is_deeply($r->{json}, { success => JSON::PP::true, active => JSON::PP::true,
        status => 503, requests => 3, seconds => undef }, 'it echoes the outage');
    is(req('GET', '/sim/outage')->{json}{requests}, 3, 'GET /sim/outage shows it');
    my @answers = (ops(),
        req('GET', "/api/v2/getAsyncRequestInfo?uId=00000000-0000-4000-8000-000000000000", apikey => $KEY),
        req('POST', '/api/service/getQueue', apikey => 'wrong', json => { id_process => DEMO_LIVE }));
    for my $a (@answers) {
        is($a->{status}, 503, 'an outage answer: 503');
        is($a->{json}{success}, JSON::PP::false, 'success false');
        like($a->{json}{error} // '', qr/simulated outage: status 503/, 'the error says so');
    }
    is(req('GET', '/sim/health')->{status}, 200, '/sim/health goes on during the outage');
    my $after = ops();
    is($after->{status}, 200, 'the fourth request is answered normally');
    ok(defined $after->{json}{availableOperators}, 'with the normal answer');
    is(req('GET', '/sim/outage')->{json}{active}, JSON::PP::false, 'the outage is over');
    my $s = stats();
    is($s->{outageAnswers} - ($before->{outageAnswers} // 0), 3, 'outageAnswers counts 3');
    is($s->{status5xx} - $before->{status5xx}, 3, 'status5xx counts them');
    is($s->{faults} - $before->{faults}, 0, 'they are not faults');
};

subtest 'a 4xx outage, and any /api/ path' => sub {
    outage({ status => 429, requests => 2 });
    is(req('GET', '/api/no/such/endpoint')->{status}, 429, 'an unknown /api/ path: 429');
    is(req('GET', '/api/service/pushAsyncCall')->{status}, 429, 'a wrong method: 429');
    is(req('GET', '/api/no/such/endpoint')->{status}, 404, 'then 404 again');
};

subtest 'pushAsyncCall during an outage creates no request' => sub {
    my $before = stats();
    outage({ status => 502, requests => 1 });
    my $push = push_async_call();
    is($push->{status}, 502, 'pushAsyncCall: 502');
    ok(!defined $push->{json}{uId}, 'no uId');
    my $s = stats();
    is($s->{requestsHeld}, $before->{requestsHeld}, 'no request held more');
    is($s->{pushes}, $before->{pushes}, 'pushes unchanged');
    my $ok = push_async_call();
    is($ok->{status}, 200, 'the next pushAsyncCall: 200');
    is(stats()->{pushes}, $before->{pushes} + 1, 'pushes counts it');
};

subtest 'an outage of S seconds' => sub {
    my $r = outage({ status => 503, seconds => 0.8 });
    is($r->{status}, 200, 'POST /sim/outage: 200');
    is($r->{json}{requests}, undef, 'no count limit');
    cmp_ok($r->{json}{seconds}, '>', 0.5, 'seconds left shown');
    cmp_ok($r->{json}{seconds}, '<=', 0.8, 'at most the seconds asked');
    is(ops()->{status}, 503, 'within the seconds: 503') for 1 .. 4;
    sleep(1.0);
    is(ops()->{status}, 200, 'after them: 200');
    is(req('GET', '/sim/outage')->{json}{active}, JSON::PP::false, 'over');
};

subtest 'requests and seconds: whichever runs out first' => sub {
    outage({ status => 500, requests => 2, seconds => 30 });
    is(ops()->{status}, 500, '1: 500');
    is(ops()->{status}, 500, '2: 500');
    is(ops()->{status}, 200, 'the count ran out first');
    outage({ status => 500, requests => 100, seconds => 0.4 });
    is(ops()->{status}, 500, 'within the time: 500');
    sleep(0.6);
    is(ops()->{status}, 200, 'the time ran out first');
};

subtest 'ending an outage' => sub {
    for my $end ({ requests => 0 }, { status => 0 }, { status => 503, requests => 0 },
        { seconds => 0 }) {
        outage({ status => 503, requests => 10 });
        is(ops()->{status}, 503, 'in an outage');
        my $r = outage($end);
        is($r->{status}, 200, 'ending it with ' . json_text($end) . ': 200');
        is_deeply($r->{json}, { success => JSON::PP::true, active => JSON::PP::false },
            'not active');
        is(ops()->{status}, 200, 'normal answers at once');
    }
};

subtest 'bad bodies' => sub {
    my @bad = (
        [ 'not JSON', undef, 'x' ],
        [ 'an array', [] ],
        [ 'no status', { requests => 3 } ],
        [ 'neither requests nor seconds', { status => 503 } ],
        [ 'status 200', { status => 200, requests => 1 } ],
        [ 'status 399', { status => 399, requests => 1 } ],
        [ 'status 600', { status => 600, requests => 1 } ],
        [ 'status 503.5', { status => 503.5, requests => 1 } ],
        [ 'status a string', { status => '503', requests => 1 } ],
        [ 'requests -1', { status => 503, requests => -1 } ],
        [ 'requests 1.5', { status => 503, requests => 1.5 } ],
        [ 'requests a string', { status => 503, requests => 'x' } ],
        [ 'seconds -1', { status => 503, seconds => -1 } ],
        [ 'seconds a string', { status => 503, seconds => '5' } ],
        [ 'an unknown member', { status => 503, requests => 1, ms => 5 } ],
    );
    for my $b (@bad) {
        my ($what, $json, $raw) = @$b;
        my $r = defined $raw ? req('POST', '/sim/outage', body => $raw) : outage($json);
        is($r->{status}, 400, "$what: 400");
        is($r->{json}{success}, JSON::PP::false, "$what: success false");
        ok(length($r->{json}{error} // ''), "$what: an error: " . ($r->{json}{error} // ''));
    }
    is(req('GET', '/sim/outage')->{json}{active}, JSON::PP::false, 'no outage started');
    is(ops()->{status}, 200, 'the API answers normally');
    like(outage({ status => 200, requests => 1 })->{json}{error}, qr/400 to 599/,
        'the error names the allowed statuses');
};

subtest 'the latency applies to outage answers' => sub {
    my $MS = 400;
    is(sim_post('/sim/latency', { ms => $MS })->{status}, 200, "latency $MS ms");
    outage({ status => 503, requests => 1 });
    my $r = ops();
    is($r->{status}, 503, 'an outage answer');
    cmp_ok($r->{wall}, '>=', $MS / 1000, "after at least $MS ms");
    my $o = req('POST', '/sim/outage', json => { status => 0 });
    cmp_ok($o->{wall}, '<', $MS / 1000, '/sim/outage itself is not delayed');
    sim_post('/sim/latency', { ms => 0 });
};

done_testing();
