# The four utility APIs: answer shapes and types, authentication and
# error statuses, and the reproducible simulated traffic.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::Local qw(timegm);
use SimTest;

my $sim = start_sim();

my %ENDPOINT = (
    getAvailableOperators => { orgCode    => 'DEMO' },
    availableLanguages    => { orgCode    => 'DEMO' },
    getDailyWaitingTimes  => { orgCode    => 'DEMO' },
    getQueue              => { id_process => DEMO_LIVE },
);

sub utility {
    my ($name, $body, %o) = @_;
    return req('POST', "/api/service/$name", apikey => DEMO_KEY, json => $body, %o);
}

# a failure: that status, a JSON body {"success": false, "error": "..."}
sub is_failure {
    my ($res, $status, $what) = @_;
    subtest $what => sub {
        is($res->{status}, $status, "status $status") or diag "body: $res->{body}";
        like($res->{headers}{'content-type'} // '', qr{^application/json}i, 'a JSON content type');
        is(ref $res->{json}, 'HASH', 'a JSON object') or return;
        is(jtype($res->{json}{success}), 'boolean', 'success is a boolean');
        ok(!$res->{json}{success}, 'success is false');
        is(jtype($res->{json}{error}), 'string', 'error is a string');
        ok(length($res->{json}{error} // ''), 'error is not empty');
    };
}

sub is_success {
    my ($res) = @_;
    is($res->{status}, 200, 'status 200') or diag "body: $res->{body}";
    like($res->{headers}{'content-type'} // '', qr{^application/json}i, 'a JSON content type');
    is(ref $res->{json}, 'HASH', 'the body is a JSON object') or return 0;
    is(jtype($res->{json}{success}), 'boolean', 'success is a JSON boolean');
    ok($res->{json}{success}, 'success is true');
    return 1;
}

subtest 'getAvailableOperators: {success, orgCode, availableOperators}' => sub {
    for my $org ([ DEMO => DEMO_KEY, 8 ], [ ACME => ACME_KEY, 3 ]) {
        my ($code, $key, $n) = @$org;
        my $res = utility('getAvailableOperators', { orgCode => $code }, apikey => $key);
        is_success($res) or next;
        my $j = $res->{json};
        is(jtype($j->{availableOperators}), 'integer', "$code: availableOperators is an integer");
        is($j->{orgCode}, $code, "$code: orgCode is echoed");
        ok($j->{availableOperators} >= 0 && $j->{availableOperators} <= $n,
            "$code: between 0 and the $n configured operators")
          or diag "availableOperators: $j->{availableOperators}";
    }
};

subtest 'getQueue: {success, id_process, queue}' => sub {
    for my $p ([ DEMO_LIVE, DEMO_KEY ], [ DEMO_SELF, DEMO_KEY ], [ ACME_LIVE, ACME_KEY ]) {
        my $res = utility('getQueue', { id_process => $p->[0] }, apikey => $p->[1]);
        is_success($res) or next;
        is(jtype($res->{json}{queue}), 'integer', 'queue is an integer');
        is($res->{json}{id_process}, $p->[0], 'id_process is echoed');
        cmp_ok($res->{json}{queue}, '>=', 0, 'queue is not negative');
    }
};

subtest 'availableLanguages: the configured languages' => sub {
    my $res = utility('availableLanguages', { orgCode => 'DEMO' });
    is_success($res);
    is($res->{json}{orgCode}, 'DEMO', 'orgCode is echoed');
    is_deeply($res->{json}{languages}, [qw(it en de fr)], 'DEMO: it, en, de, fr');
    $res = utility('availableLanguages', { orgCode => 'ACME' }, apikey => ACME_KEY);
    is_success($res);
    is_deeply($res->{json}{languages}, [qw(en es)], 'ACME: en, es');
};

subtest 'getDailyWaitingTimes: seven days and the last 60 minutes' => sub {
    my $res = utility('getDailyWaitingTimes', { orgCode => 'DEMO' });
    is_success($res) or return;
    my $j = $res->{json};
    is($j->{orgCode}, 'DEMO', 'orgCode is echoed');
    is(ref $j->{lastWeek}, 'ARRAY', 'lastWeek is an array') or return;
    is(scalar @{ $j->{lastWeek} }, 7, 'lastWeek has 7 entries');
    my (%dates, $types_ok, $ranges_ok);
    $types_ok = $ranges_ok = 1;
    for my $d (@{ $j->{lastWeek} }) {
        $types_ok &&= ref $d eq 'HASH'
          && jtype($d->{date}) eq 'string'
          && jtype($d->{averageWaitingSeconds}) =~ /^(?:integer|number)$/
          && jtype($d->{calls}) eq 'integer';
        next unless ref $d eq 'HASH';
        $ranges_ok &&= ($d->{date} // '') =~ /^\d{4}-\d\d-\d\d$/
          && $d->{averageWaitingSeconds} >= 0 && $d->{calls} >= 0;
        $dates{ $d->{date} // '' }++;
    }
    ok($types_ok, 'each day: date a string, averageWaitingSeconds a number, calls an integer')
      or diag explain $j->{lastWeek};
    ok($ranges_ok, 'each day: a YYYY-MM-DD date, non-negative figures');
    is(scalar keys %dates, 7, 'the 7 dates are distinct');
    my $l = $j->{last60Minutes};
    is(ref $l, 'HASH', 'last60Minutes is an object') or return;
    like(jtype($l->{averageWaitingSeconds}), qr/^(?:integer|number)$/,
        'last60Minutes.averageWaitingSeconds is a number');
    is(jtype($l->{calls}), 'integer', 'last60Minutes.calls is an integer');
    ok($l->{averageWaitingSeconds} >= 0 && $l->{calls} >= 0, 'both are non-negative');
};

subtest 'a missing or wrong apikey: 401' => sub {
    for my $name (sort keys %ENDPOINT) {
        is_failure(req('POST', "/api/service/$name", json => $ENDPOINT{$name}),
            401, "$name without apikey");
        is_failure(utility($name, $ENDPOINT{$name}, apikey => 'demo-key-000000'),
            401, "$name with a wrong apikey");
    }
    is_failure(utility('getQueue', { id_process => DEMO_LIVE }, apikey => ''),
        401, 'an empty apikey');
    is_failure(req('POST', '/api/service/getQueue', json => { id_process => DEMO_LIVE },
            headers => { Authorization => 'Bearer ' . DEMO_KEY }),
        401, 'the key as a Bearer token instead of the apikey header');
    is_failure(req('POST', '/api/service/getQueue?apikey=' . DEMO_KEY,
            json => { id_process => DEMO_LIVE }),
        401, 'the key in the query string instead of the header');
};

subtest "another organization's key: 403" => sub {
    for my $name (qw(getAvailableOperators availableLanguages getDailyWaitingTimes)) {
        is_failure(utility($name, { orgCode => 'DEMO' }, apikey => ACME_KEY),
            403, "$name of DEMO with ACME's key");
    }
    is_failure(utility('getQueue', { id_process => DEMO_LIVE }, apikey => ACME_KEY),
        403, "getQueue of a DEMO process with ACME's key");
    is_failure(utility('getQueue', { id_process => ACME_SELF }, apikey => DEMO_KEY),
        403, "getQueue of an ACME process with DEMO's key");
};

subtest 'an unknown organization or process: 404' => sub {
    for my $name (qw(getAvailableOperators availableLanguages getDailyWaitingTimes)) {
        is_failure(utility($name, { orgCode => 'NOSUCHORG' }), 404, "$name of an unknown orgCode");
    }
    is_failure(utility('getAvailableOperators', { orgCode => 'demo' }), 404,
        'orgCode is case-sensitive');
    is_failure(utility('getQueue', { id_process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b99' }),
        404, 'getQueue of an unknown process');
};

subtest 'a body that is not JSON, or lacks its member: 400' => sub {
    for my $name (sort keys %ENDPOINT) {
        is_failure(req('POST', "/api/service/$name", apikey => DEMO_KEY,
                body => 'orgCode=DEMO'), 400, "$name with a body that is not JSON");
        is_failure(req('POST', "/api/service/$name", apikey => DEMO_KEY,
                body => '{"orgCode": "DEMO", '), 400, "$name with truncated JSON");
        is_failure(utility($name, {}), 400, "$name with an empty object");
        is_failure(req('POST', "/api/service/$name", apikey => DEMO_KEY, body => ''),
            400, "$name with an empty body");
    }
    is_failure(utility('getAvailableOperators', { orgcode => 'DEMO' }), 400,
        'a member of another name (orgcode)');
    is_failure(utility('getAvailableOperators', { orgCode => 42 }), 400,
        'orgCode of the wrong type (a number)');
    is_failure(utility('getQueue', { id_process => [DEMO_LIVE] }), 400,
        'id_process of the wrong type (an array)');
    is_failure(utility('availableLanguages', ['DEMO']), 400, 'a top-level array');
};

subtest 'a wrong method: 405' => sub {
    for my $name (sort keys %ENDPOINT) {
        for my $m (qw(GET PUT DELETE)) {
            my $res = req($m, "/api/service/$name", apikey => DEMO_KEY,
                ($m eq 'GET' ? () : (json => $ENDPOINT{$name})));
            is_failure($res, 405, "$m $name");
        }
    }
    my $res = req('GET', '/api/service/getQueue', apikey => DEMO_KEY);
    like($res->{headers}{allow} // '', qr/\bPOST\b/, 'the 405 has an Allow header naming POST');
};

subtest 'an unknown path: 404' => sub {
    is_failure(req('POST', '/api/service/getQueues', apikey => DEMO_KEY,
            json => { id_process => DEMO_LIVE }), 404, 'POST /api/service/getQueues');
};

# ---------------------------------------------------------------------
# the simulated traffic
# ---------------------------------------------------------------------

sub all_answers {
    my ($s) = @_;
    my %a;
    for my $org ([ DEMO => DEMO_KEY ], [ ACME => ACME_KEY ]) {
        for my $name (qw(getAvailableOperators availableLanguages getDailyWaitingTimes)) {
            $a{"$name $org->[0]"} = req('POST', "/api/service/$name", sim => $s,
                apikey => $org->[1], json => { orgCode => $org->[0] })->{body};
        }
    }
    for my $p ([ DEMO_LIVE, DEMO_KEY ], [ DEMO_SELF, DEMO_KEY ], [ ACME_LIVE, ACME_KEY ]) {
        $a{"getQueue $p->[0]"} = req('POST', '/api/service/getQueue', sim => $s,
            apikey => $p->[1], json => { id_process => $p->[0] })->{body};
    }
    return \%a;
}

subtest 'the same --seed and --clock give the same answers' => sub {
    my @args = ('--seed', '42', '--clock', '2026-11-24T10:30:00Z');
    my $a = start_sim(@args);
    my $b = start_sim(@args);
    my $ans_a = all_answers($a);
    my $ans_b = all_answers($b);
    is(scalar(grep { length } values %$ans_a), 9, 'all nine answers are there');
    for my $k (sort keys %$ans_a) {
        is($ans_b->{$k}, $ans_a->{$k}, "$k: identical");
    }
    is_deeply(all_answers($a), $ans_a, 'asking the same simulator again: identical');
    my $h = json_decode(req('GET', '/sim/health', sim => $a)->{body});
    like($h->{now} // '', qr/^2026-11-24T10:30:00(?:\.0+)?Z$/, '/sim/health shows the frozen clock')
      or diag explain $h;
    my $d = json_decode($ans_a->{'getDailyWaitingTimes DEMO'});
    my @dates = sort map { $_->{date} } @{ $d->{lastWeek} || [] };
    is(scalar @dates, 7, 'seven days');
    my $clock_day = timegm(0, 0, 0, 24, 10, 2026);
    my @t = map { day_epoch($_) } @dates;
    my $ok = @t == 7;
    for my $i (0 .. $#t) {
        $ok &&= $t[$i] <= $clock_day && $t[$i] >= $clock_day - 7 * 86400;
        $ok &&= $i == 0 || $t[$i] - $t[ $i - 1 ] == 86400;
    }
    ok($ok, 'seven consecutive days within the week before the clock') or diag "@dates";
};

subtest 'getQueue counts the calls really waiting; dates follow the frozen clock' => sub {
    my $clock = '2026-11-24T09:30:00Z';
    my $s = start_sim('--seed', '5', '--clock', $clock);
    my $q = sub {
        req('POST', '/api/service/getQueue', sim => $s, apikey => DEMO_KEY,
            json => { id_process => DEMO_NOREC })->{json}{queue} // -1;
    };
    my $expire = '2026-11-24T10:30:00Z';    # after the clock, though past in real time
    my $q0 = $q->();
    my @calls = map { [ new_call(sim => $s, expire => $expire, fields => [ id_process => DEMO_NOREC ]) ] } 1 .. 2;
    is($q->(), $q0 + 2, 'two calls waiting: the queue grows by 2');
    req('POST', '/sim/answer', sim => $s, json => { idConference => $calls[0][1] });
    is($q->(), $q0 + 1, 'one answered: by 1');
    req('POST', '/sim/cancel', sim => $s, json => { idConference => $calls[1][1] });
    is($q->(), $q0, 'the other cancelled: back to the start');
    is(req('POST', '/api/service/getQueue', sim => $s, apikey => DEMO_KEY,
            json => { id_process => DEMO_LIVE })->{json}{queue},
        req('POST', '/api/service/getQueue', sim => $s, apikey => DEMO_KEY,
            json => { id_process => DEMO_LIVE })->{json}{queue}, 'another process is stable');
    my $c = find_call($calls[0][0], $calls[0][1], sim => $s);
    like($c->{startDate} // '', qr/^2026-11-24T09:30:00(?:\.0+)?Z$/, 'startDate is the frozen clock');
    my $past = push_async_call(sim => $s, expire => '2026-11-24T09:00:00Z');
    is($past->{status}, 400, 'an expire before the frozen clock: 400');
    $s->stop;
};

sub day_epoch {
    my ($d) = @_;
    my ($y, $m, $dd) = ($d // '') =~ /^(\d{4})-(\d\d)-(\d\d)$/ or return 0;
    return eval { timegm(0, 0, 0, $dd, $m - 1, $y) } // 0;
}

sub operators_at {
    my ($clock, $org, $key) = @_;
    my $s = start_sim('--seed', '7', '--clock', $clock);
    my $res = req('POST', '/api/service/getAvailableOperators', sim => $s,
        apikey => $key // DEMO_KEY, json => { orgCode => $org // 'DEMO' });
    $s->stop;
    return $res->{json}{availableOperators};
}

subtest 'operators on duty follow the Rome working day' => sub {
    my $day = operators_at('2026-11-24T09:30:00Z');    # Tuesday 10:30 in Rome
    ok(defined $day && $day > 0, 'a weekday mid-morning (10:30 Rome): some operators')
      or diag 'availableOperators: ' . ($day // 'undef');
    my $acme = operators_at('2026-11-24T14:30:00Z', ACME => ACME_KEY);   # 15:30 Rome
    ok(defined $acme && $acme > 0, 'ACME on a weekday mid-afternoon: some operators')
      or diag 'availableOperators: ' . ($acme // 'undef');
    is(operators_at('2026-11-24T02:00:00Z'), 0, 'the same weekday at 03:00 Rome: none');
    is(operators_at('2026-11-24T19:30:00Z'), 0, 'at 20:30 Rome (19:30 UTC, CET): none');
    is(operators_at('2026-07-14T01:00:00Z'), 0, 'a summer weekday at 03:00 Rome (CEST): none');
    is(operators_at('2026-11-22T09:30:00Z'), 0, 'a Sunday at 10:30 Rome: none');
};

done_testing;
