# The fault organizations and processes: every form of the README's table,
# by organization code and by process id, on the endpoints that name them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use SimTest;

my $sim = start_sim();

# getAvailableOperators of an organization code / getQueue of a process id
sub ops   { my ($org, %o) = @_; req('POST', '/api/service/getAvailableOperators', apikey => DEMO_KEY, json => { orgCode => $org }, %o) }
sub queue { my ($pid, %o) = @_; req('POST', '/api/service/getQueue', apikey => DEMO_KEY, json => { id_process => $pid }, %o) }
sub fp    { fault_process(@_) }

sub redirected_hits { req('GET', '/sim/stats')->{json}{redirectedHits} }

subtest 'FAULT-DELAY-<ms>: the normal answer after that many ms' => sub {
    my $r = ops('FAULT-DELAY-400');
    is($r->{status}, 200, 'by org code: 200');
    cmp_ok($r->{wall}, '>=', 0.4, 'it took at least 400 ms');
    cmp_ok($r->{wall}, '<', 3, 'and not much longer');
    is(jtype($r->{json}{availableOperators}), 'integer', 'availableOperators an integer');
    is($r->{json}{orgCode}, 'FAULT-DELAY-400', 'orgCode echoed');

    $r = queue(fp(1, 300));
    is($r->{status}, 200, 'by process id (00000000-fa17-4001-8000-000000000300): 200');
    cmp_ok($r->{wall}, '>=', 0.3, 'it took at least 300 ms');
    is(jtype($r->{json}{queue}), 'integer', 'queue an integer');
    is($r->{json}{id_process}, fp(1, 300), 'id_process echoed');

    $r = req('POST', '/api/service/availableLanguages', apikey => ACME_KEY, json => { orgCode => 'FAULT-DELAY-200' });
    is($r->{status}, 200, 'availableLanguages with another configured key: 200');
    cmp_ok($r->{wall}, '>=', 0.2, 'after 200 ms');
    is(ref $r->{json}{languages}, 'ARRAY', 'languages an array');

    $r = push_async_call(fields => [ id_organization => 'FAULT-DELAY-300' ]);
    is($r->{status}, 200, 'pushAsyncCall of a FAULT-DELAY organization (any process): 200');
    cmp_ok($r->{wall}, '>=', 0.3, 'after 300 ms');
    ok(is_uuid($r->{uId}), 'a uId');
};

subtest 'a delay fault does not hold up other requests' => sub {
    my $pid = fork // die;
    if (!$pid) {
        exec('curl', '-s', '-o', '/dev/null', '--max-time', '5', '-H', 'apikey: ' . DEMO_KEY,
            '-H', 'Content-Type: application/json', '--data-binary', '{"orgCode":"FAULT-DELAY-2500"}',
            $sim->url('/api/service/getAvailableOperators')) or POSIX::_exit(127);
    }
    select(undef, undef, undef, 0.2);
    my $t0 = now_hires();
    my @st = map { req('POST', '/api/service/getQueue', apikey => DEMO_KEY,
            json => { id_process => DEMO_LIVE })->{status} } 1 .. 3;
    my $took = now_hires() - $t0;
    is_deeply(\@st, [ 200, 200, 200 ], 'three requests answered');
    # the delayed one still waiting shows they did not queue behind it,
    # however slow this machine is
    is(waitpid($pid, POSIX::WNOHANG()), 0, 'while the delayed one still waits')
      or diag "took $took s";
    waitpid($pid, 0);
    is($?, 0, 'which is answered in the end');
};

subtest 'FAULT-STATUS-<code>: that status with {"success":false,"error":"simulated status <code>"}' => sub {
    for my $code (503, 429, 500) {
        my $r = ops("FAULT-STATUS-$code");
        is($r->{status}, $code, "FAULT-STATUS-$code: $code");
        is_deeply($r->{json}, { success => JSON::PP::false, error => "simulated status $code" },
            'the body');
    }
    my $r = queue(fp(2, 502));
    is($r->{status}, 502, 'by process id: 502');
    is($r->{json}{error}, 'simulated status 502', 'the error');
    $r = queue(fp(2, 503), apikey => ACME_KEY);
    is($r->{status}, 503, 'a fault process belongs to every organization (ACME key): 503');
    $r = ops('FAULT-STATUS-503', apikey => ACME_KEY);
    is($r->{status}, 503, 'a fault organization accepts any configured key');
    is(ops('FAULT-STATUS-503', apikey => undef)->{status}, 401, 'but not a missing apikey: 401');
    is(ops('FAULT-STATUS-503', apikey => 'bogus')->{status}, 401, 'nor a wrong one: 401');

    $r = push_async_call(fields => [ id_organization => 'FAULT-STATUS-502' ]);
    is($r->{status}, 502, 'pushAsyncCall by org code: 502');
    $r = push_async_call(fields => [ id_process => fp(2, 504) ]);
    is($r->{status}, 504, 'pushAsyncCall by process id: 504');
    $r = req('POST', '/app/service-start', form => [ start_fields(id_organization => 'FAULT-STATUS-500') ]);
    is($r->{status}, 500, 'service-start by org code: 500');
    $r = req('POST', '/app/service-start', form => [ start_fields(id_process => fp(2, 503)) ]);
    is($r->{status}, 503, 'service-start by process id: 503');
    $r = req('POST', '/api/v2/registerAlertEmail', apikey => DEMO_KEY,
        json => { processId => fp(2, 503), email => 'ops@demo-bank.example' });
    is($r->{status}, 503, 'registerAlertEmail by process id: 503');
    $r = req('POST', '/api/service/getDailyWaitingTimes', apikey => DEMO_KEY,
        json => { orgCode => 'FAULT-STATUS-504' });
    is($r->{status}, 504, 'getDailyWaitingTimes: 504');
};

subtest 'FAULT-NOTJSON: 200 with an HTML body' => sub {
    for my $r ([ 'by org code', ops('FAULT-NOTJSON') ], [ 'by process id', queue(fp(3)) ]) {
        my ($what, $res) = @$r;
        is($res->{status}, 200, "$what: 200");
        ok(length $res->{body}, "$what: a body");
        ok(!defined json_decode($res->{body}), "$what: not JSON");
        like($res->{body}, qr/<html|<!DOCTYPE/i, "$what: HTML");
    }
};

subtest 'FAULT-SHAPE[-n]: 200 JSON of the wrong shape' => sub {
    for my $org ('FAULT-SHAPE', 'FAULT-SHAPE-1') {
        my $r = ops($org);
        is($r->{status}, 200, "$org: 200");
        is(ref $r->{json}, 'HASH', "$org: a JSON object");
        ok(!exists $r->{json}{availableOperators}, "$org: availableOperators missing");
    }
    my $r = ops('FAULT-SHAPE-2');
    is($r->{status}, 200, 'FAULT-SHAPE-2: 200');
    ok(exists $r->{json}{availableOperators}, 'FAULT-SHAPE-2: availableOperators present');
    unlike(jtype($r->{json}{availableOperators}), qr/^(?:integer|number)$/, 'but not a number');
    $r = ops('FAULT-SHAPE-3');
    is($r->{status}, 200, 'FAULT-SHAPE-3: 200');
    is(ref $r->{json}, 'ARRAY', 'FAULT-SHAPE-3: a top-level array');

    $r = queue(fp(4, 1));
    is(ref $r->{json}, 'HASH', 'process shape 1: an object');
    ok(!exists $r->{json}{queue}, 'process shape 1: queue missing');
    $r = queue(fp(4, 2));
    ok(exists $r->{json}{queue}, 'process shape 2: queue present');
    unlike(jtype($r->{json}{queue}), qr/^(?:integer|number)$/, 'process shape 2: but not a number');
    is(ref queue(fp(4, 3))->{json}, 'ARRAY', 'process shape 3: a top-level array');

    $r = req('POST', '/api/service/availableLanguages', apikey => DEMO_KEY, json => { orgCode => 'FAULT-SHAPE-2' });
    ok(exists $r->{json}{languages} && ref $r->{json}{languages} ne 'ARRAY',
        'availableLanguages shape 2: languages not an array');
    $r = push_async_call(fields => [ id_organization => 'FAULT-SHAPE-1' ]);
    is($r->{status}, 200, 'pushAsyncCall shape 1: 200');
    ok(ref $r->{json} eq 'HASH' && !exists $r->{json}{uId}, 'pushAsyncCall shape 1: no uId');
};

subtest 'FAULT-TRUNCATE: Content-Length promised, half the body, connection closed' => sub {
    for my $r ([ 'by org code', ops('FAULT-TRUNCATE') ], [ 'by process id', queue(fp(5)) ]) {
        my ($what, $res) = @$r;
        my $len = $res->{headers}{'content-length'};
        ok(defined $len && $len > 0, "$what: a Content-Length") or next;
        is($res->{status}, 200, "$what: status 200 announced");
        is($res->{curl_exit}, 18, "$what: curl reports a partial transfer (18)")
          or diag $res->{curl_error};
        cmp_ok($res->{size}, '<', $len, "$what: fewer bytes than promised");
        ok(abs($res->{size} - $len / 2) <= 1, "$what: about half ($res->{size} of $len)");
    }
};

subtest 'FAULT-RESET: TCP reset, no answer' => sub {
    for my $r ([ 'by org code', ops('FAULT-RESET') ], [ 'by process id', queue(fp(6)) ],
        [ 'pushAsyncCall', push_async_call(fields => [ id_organization => 'FAULT-RESET' ]) ])
    {
        my ($what, $res) = @$r;
        is($res->{status}, 0, "$what: no HTTP status");
        is($res->{curl_exit}, 56, "$what: curl: receive failure (56)") or diag $res->{curl_error};
        like($res->{curl_error}, qr/reset/i, "$what: connection reset by peer");
    }
};

subtest 'FAULT-BIG[-bytes]: a JSON body of that size with Content-Length' => sub {
    my $r = ops('FAULT-BIG', output => '/dev/null', timeout => 20);
    is($r->{status}, 200, 'FAULT-BIG: 200');
    is($r->{curl_exit}, 0, 'a complete transfer');
    cmp_ok($r->{size}, '>', 8_000_000, 'more than 8 MB');
    is($r->{size}, 16 * 1024 * 1024, '16 MiB by default');
    is($r->{headers}{'content-length'}, $r->{size}, 'Content-Length announced');
    my $capped = ops('FAULT-BIG', output => '/dev/null', curl_args => [ '--max-filesize', '8000000' ]);
    is($capped->{curl_exit}, 63, 'a client capping at 8 MB refuses it (curl 63)');

    $r = ops('FAULT-BIG-1000');
    is($r->{size}, 1000, 'FAULT-BIG-1000: 1000 bytes');
    is($r->{headers}{'content-length'}, 1000, 'Content-Length 1000');
    ok(defined $r->{json}, 'JSON');
    $r = queue(fp(7, 5000));
    is($r->{size}, 5000, 'by process id: 5000 bytes');
    ok(defined $r->{json}, 'JSON');
};

subtest 'FAULT-BIGCHUNKED[-bytes]: the same, chunked' => sub {
    my $r = ops('FAULT-BIGCHUNKED-2000');
    is($r->{status}, 200, 'status 200');
    ok(!exists $r->{headers}{'content-length'}, 'no Content-Length');
    like($r->{headers}{'transfer-encoding'} // '', qr/chunked/i, 'Transfer-Encoding: chunked');
    is($r->{size}, 2000, '2000 bytes');
    ok(defined $r->{json}, 'JSON');
    $r = queue(fp(8, 3000));
    is($r->{size}, 3000, 'by process id: 3000 bytes');
    ok(!exists $r->{headers}{'content-length'}, 'no Content-Length');
    $r = ops('FAULT-BIGCHUNKED', output => '/dev/null', timeout => 20);
    is($r->{curl_exit}, 0, 'FAULT-BIGCHUNKED: a complete transfer');
    cmp_ok($r->{size}, '>', 8_000_000, 'more than 8 MB');
    is($r->{size}, 16 * 1024 * 1024, '16 MiB by default');
    ok(!exists $r->{headers}{'content-length'}, 'no Content-Length');
};

subtest 'FAULT-TRICKLE-<ms>: the normal answer, one byte every that many ms' => sub {
    my $r = ops('FAULT-TRICKLE-10', timeout => 20);
    is($r->{status}, 200, 'by org code: 200');
    is($r->{curl_exit}, 0, 'complete');
    is(jtype($r->{json}{availableOperators}), 'integer', 'the normal answer');
    my $min = ($r->{size} - 1) * 0.010 * 0.8;
    cmp_ok($r->{wall}, '>=', $min, "slow: at least ~10 ms per byte of the $r->{size}");
    $r = queue(fp(9, 5), timeout => 20);
    is($r->{status}, 200, 'by process id: 200');
    is(jtype($r->{json}{queue}), 'integer', 'the normal answer');
    cmp_ok($r->{wall}, '>=', ($r->{size} - 1) * 0.005 * 0.8, 'slow: ~5 ms per byte');
};

subtest 'FAULT-REDIRECT[-code]: a 3xx to /sim/redirected on another host name' => sub {
    my $port = $sim->port;
    is(redirected_hits(), 0, '/sim/stats: redirectedHits 0 at first');
    my $r = ops('FAULT-REDIRECT');
    is($r->{status}, 302, 'by org code: 302 by default');
    like($r->{headers}{location} // '', qr{^http://localhost:$port/sim/redirected\b},
        'to localhost (the request named 127.0.0.1)');
    is(ops('FAULT-REDIRECT-307')->{status}, 307, 'FAULT-REDIRECT-307: 307');
    $r = queue(fp('a', 301));
    is($r->{status}, 301, 'by process id: 301');
    like($r->{headers}{location} // '', qr{^http://localhost:$port/sim/redirected\b}, 'to localhost');
    $r = req('POST', "http://localhost:$port/api/service/getAvailableOperators", apikey => DEMO_KEY,
        json => { orgCode => 'FAULT-REDIRECT-308' });
    is($r->{status}, 308, 'asked on localhost: 308');
    like($r->{headers}{location} // '', qr{^http://127\.0\.0\.1:$port/sim/redirected\b}, 'to 127.0.0.1');
    is(redirected_hits(), 0, 'no redirect followed: redirectedHits still 0');

    my $f = req('GET', "http://localhost:$port/sim/redirected");
    is($f->{status}, 200, 'following it: /sim/redirected answers 200');
    is(redirected_hits(), 1, 'redirectedHits 1');
};

subtest 'FAULT-INTERIM[-n]: n interim 1xx answers, then the normal one' => sub {
    my $body = json_text({ orgCode => 'FAULT-INTERIM-3' });
    my $c = raw_connect() or die "connect: $!";
    print $c "POST /api/service/getAvailableOperators HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      . "apikey: " . DEMO_KEY . "\r\nContent-Type: application/json\r\n"
      . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    my ($raw, $end) = ('', now_hires() + 5);
    while (now_hires() < $end) {
        my $got = sysread($c, my $chunk, 65536);
        last unless $got;
        $raw .= $chunk;
    }
    my @status = $raw =~ m{^HTTP/1\.1 (\d{3})}mg;
    is_deeply(\@status, [ 102, 103, 100, 200 ], 'FAULT-INTERIM-3: 102, 103, 100, then 200');
    like($raw, qr/"availableOperators":\d+/, 'the normal answer follows');
    my $r = ops('FAULT-INTERIM');
    is($r->{status}, 200, 'FAULT-INTERIM (one 102 by default) through curl: 200');
    is(jtype($r->{json}{availableOperators}), 'integer', 'the normal answer');
    cmp_ok($r->{wall}, '<', 1, 'at once');
    is(ops('FAULT-INTERIM-0')->{status}, 404, 'FAULT-INTERIM-0 is not a fault (n is 1 to 100)');
};

subtest 'FAULT-ECHO: a 400 whose long error text echoes the apikey' => sub {
    my $r = ops('FAULT-ECHO');
    is($r->{status}, 400, 'by org code: 400');
    ok(!$r->{json}{success}, 'success false');
    my $err = $r->{json}{error} // '';
    cmp_ok(length $err, '>=', 1900, 'about 2000 characters of error text');
    cmp_ok(length $err, '<=', 2048, 'and not more');
    ok(index($err, DEMO_KEY) >= 0, 'the apikey of the request is in it');
    like($err, qr/[\x01\x07\x1b\r\n\t]/, 'with control characters');
    $r = ops('FAULT-ECHO', apikey => ACME_KEY);
    ok(index($r->{json}{error} // '', ACME_KEY) >= 0, 'another key: that key echoed');
};

subtest '/sim/stats counts requests with an Expect header' => sub {
    my $before = req('GET', '/sim/stats')->{json}{expectHeaders};
    is(jtype($before), 'integer', 'expectHeaders an integer');
    ops('DEMO');
    is(req('GET', '/sim/stats')->{json}{expectHeaders}, $before, 'a request without one: not counted');
    my $body = json_text({ orgCode => 'DEMO' });
    my $c = raw_connect() or die "connect: $!";
    print $c "POST /api/service/getAvailableOperators HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      . "apikey: " . DEMO_KEY . "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
      . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n";
    my $cont = raw_read_response($c, 3);
    is($cont->{status}, 100, 'Expect: 100-continue gets 100 Continue');
    print $c $body;
    is(raw_read_response($c, 3)->{status}, 200, 'then the answer');
    is(req('GET', '/sim/stats')->{json}{expectHeaders}, $before + 1, 'counted');
};

subtest 'FAULT-ZEROS[-bytes]: 200 [0,0,...,0] of that size with Content-Length' => sub {
    my $r = ops('FAULT-ZEROS-11');
    is($r->{status}, 200, 'FAULT-ZEROS-11: 200');
    is($r->{body}, '[0,0,0,0,0]', 'the body');
    is($r->{headers}{'content-length'}, 11, 'Content-Length 11');
    $r = ops('FAULT-ZEROS-12');
    is($r->{body}, '[0,0,0,0,0] ', 'an even size: a space after the array');
    is(ref $r->{json}, 'ARRAY', 'JSON');
    is(ops('FAULT-ZEROS-3')->{body}, '[0]', 'the smallest: [0]');
    $r = ops('FAULT-ZEROS-7900000', output => '/dev/null', timeout => 20);
    is($r->{curl_exit}, 0, 'FAULT-ZEROS-7900000: a complete transfer');
    is($r->{size}, 7_900_000, '7900000 bytes');
    $r = ops('FAULT-ZEROS', output => '/dev/null', timeout => 20);
    is($r->{size}, 16 * 1024 * 1024, '16 MiB by default');
    is(ops('FAULT-ZEROS-2')->{status}, 404, 'FAULT-ZEROS-2: too small, not a fault (unknown organization)');
};

subtest 'FAULT-ANSWER-<n>: crafted answers' => sub {
    my $r = req('POST', '/api/service/getAvailableOperators', apikey => DEMO_KEY,
        json => { orgCode => 'FAULT-ANSWER-0', answer => qq({"b":1,  "a":[0.10, "\\u00e9"]}) });
    is($r->{status}, 200, 'FAULT-ANSWER-0: 200');
    is($r->{body}, qq({"b":1,  "a":[0.10, "\\u00e9"]}), 'the request\'s answer member, byte for byte');
    is(ops('FAULT-ANSWER-0')->{status}, 400, 'without an answer member: 400');

    $r = ops('FAULT-ANSWER-1');
    is($r->{status}, 200, 'FAULT-ANSWER-1: 200');
    like($r->{body}, qr/"bad \xc3\x28 byte"/, 'invalid UTF-8 inside a string');
    like(ops('FAULT-ANSWER-2')->{body}, qr/"nul \x00 byte"/, 'FAULT-ANSWER-2: a NUL byte');
    like(ops('FAULT-ANSWER-3')->{body}, qr/"cut\\u0000here"/, 'FAULT-ANSWER-3: \u0000');
    $r = ops('FAULT-ANSWER-4');
    like($r->{body}, qr/"a":0\.1,"b":9007199254740993,"c":-1\.5e300,"d":1e-400,/, 'FAULT-ANSWER-4: numbers as written');
    is(ref $r->{json}, 'HASH', 'JSON');
    like(ops('FAULT-ANSWER-5')->{body}, qr/\\u00e9.*\xe2\x82\xac.*\\ud83d\\ude00/, 'FAULT-ANSWER-5: non-ASCII text');
    is(ops('FAULT-ANSWER-6')->{body}, ('[' x 1001) . (']' x 1001), 'FAULT-ANSWER-6: 1001 nested arrays');
    is(ops('FAULT-ANSWER-7')->{body}, '{"success":true} []', 'FAULT-ANSWER-7: text after the value');
    like(ops('FAULT-ANSWER-8')->{body}, qr/\\ud800 /, 'FAULT-ANSWER-8: a lone surrogate');

    $r = ops('FAULT-ANSWER-9');
    is($r->{status}, 400, 'FAULT-ANSWER-9: 400');
    ok(defined $r->{json}, 'JSON');
    cmp_ok(length($r->{json}{error} // ''), '>=', 2000, 'an error text of 2000 characters or more');
    like($r->{json}{error} // '', qr/\x07.*\x1b/s, 'with control characters');
    like(ops('FAULT-ANSWER-11')->{body}, qr/\\u20ac/, 'FAULT-ANSWER-11: an escape outside Latin-1');
    is(ops('FAULT-ANSWER-12')->{body}, ('[' x 1000) . (']' x 1000), 'FAULT-ANSWER-12: 1000 nested arrays');
    is(ops('FAULT-ANSWER-13')->{body}, '{"success":true,}', 'FAULT-ANSWER-13: a trailing comma');
    like(ops('FAULT-ANSWER-14')->{body}, qr/:\x01\}/, 'FAULT-ANSWER-14: a raw control character');
    $r = ops('FAULT-ANSWER-16');
    is($r->{status}, 400, 'FAULT-ANSWER-16: 400');
    ok(!defined $r->{json}, 'not JSON');
    $r = ops('FAULT-ANSWER-17');
    is($r->{json}{availableOperators}, 7, 'FAULT-ANSWER-17: availableOperators 7.0');
    is(ref $r->{json}{lastWeek}, 'ARRAY', 'and a lastWeek');
    is(ops('FAULT-ANSWER-18')->{json}{availableOperators}, 2147483648, 'FAULT-ANSWER-18: out of int32');
    for my $n (19, 20, 21) {
        $r = ops("FAULT-ANSWER-$n", timeout => 20, output => '/dev/null');
        is($r->{status}, 200, "FAULT-ANSWER-$n: 200");
        ok($r->{size} >= 7_900_000 && $r->{size} < 7_900_100, "about 7.9 MB ($r->{size})");
    }
    is(ops('FAULT-ANSWER-22')->{json}{end_pattern}, 'X', 'FAULT-ANSWER-22: call data of the wrong shape');
    is(ops('FAULT-ANSWER-23')->{status}, 404, 'FAULT-ANSWER-23: no such answer, not a fault');
    is(ops('FAULT-ANSWER')->{status}, 404, 'FAULT-ANSWER without a number: not a fault');
};

subtest '/sim/stats counts a request as it arrives, not when answered' => sub {
    my $before = req('GET', '/sim/stats')->{json}{requests};
    my $body = json_text({ orgCode => 'FAULT-DELAY-1500' });
    my $c = raw_connect() or die "connect: $!";
    print $c "POST /api/service/getAvailableOperators HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      . "apikey: " . DEMO_KEY . "\r\nContent-Type: application/json\r\n"
      . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    # the delayed request is in; its answer is 1.5 s away
    Time::HiRes::sleep(0.3);
    is(req('GET', '/sim/stats')->{json}{requests}, $before + 2,
       'counted while its answer is still delayed (it and this reading)');
    my $r = raw_read_response($c, 5);
    is($r->{status}, 200, 'then answered');
};

subtest 'after all the faults the simulator is well' => sub {
    my $h = req('GET', '/sim/health');
    is($h->{status}, 200, '/sim/health: 200');
    ok($h->{json}{success}, 'success');
    is(queue(DEMO_LIVE)->{status}, 200, 'a normal request: 200');
    ok($sim->alive, 'the process is alive');
};

done_testing;
