# The life of an asynchronous request: the link, the calls and their
# statuses moved by the /sim/ control endpoints, cancel, rejectCall,
# expiry, the ConferenceToken endpoints and the redirect result.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use SimTest;

my $sim = start_sim();
my $OP3 = demo_operator(3);

sub status_of {
    my ($uid, $conf) = @_;
    my $c = find_call($uid, $conf, sim => $sim);
    return $c ? $c->{status} : 'no such call';
}

sub control {
    my ($what, $body) = @_;
    return req('POST', "/sim/$what", json => $body, sim => $sim);
}

sub location_of {
    my ($res) = @_;
    my $loc = $res->{headers}{location} // '';
    return $loc =~ m{^https?://} ? $loc : $sim->url($loc);
}

subtest 'pushAsyncCall, the link and the call page: the customer opens it, a call waits' => sub {
    my $push = push_async_call();
    is($push->{status}, 200, 'pushAsyncCall: 200');
    ok(is_uuid($push->{uId}), 'a uId');
    is(jtype($push->{json}{success}), 'boolean', 'success is a boolean');
    my $uid = $push->{uId};

    my $info = call_info($uid);
    is($info->{status}, 200, 'getAsyncRequestInfo: 200');
    is($info->{json}{uId}, $uid, 'the uId is echoed');
    is_deeply($info->{json}{calls}, [], 'calls is an empty array before the link is opened');

    my $link = req('GET', "/app/service-asyncall?uId=$uid");
    is($link->{status}, 302, 'the link: 302');
    like($link->{headers}{location} // '', qr{(?:^|://[^/]+)/app/call\?uId=\Q$uid\E$},
        'to /app/call?uId=<uId>');
    my $page = req('GET', location_of($link));
    is($page->{status}, 200, 'the call page: 200');
    like($page->{headers}{'content-type'} // '', qr{^text/html}i, 'HTML');

    $info = call_info($uid);
    my $calls = $info->{json}{calls} || [];
    is(scalar @$calls, 1, 'one call') or return;
    my $c = $calls->[0];
    is($c->{status}, 'waiting', 'status waiting');
    is(jtype($c->{closeStatus}), 'null', 'closeStatus null');
    ok(is_iso8601($c->{startDate}), 'startDate is ISO 8601 UTC') or diag explain $c;
    is(jtype($c->{endDate}), 'null', 'endDate null');
    ok(defined $c->{idConference} && length $c->{idConference}, 'an idConference');

    req('GET', "/app/call?uId=$uid") for 1 .. 2;    # the page refreshing itself
    is(scalar @{ call_info($uid)->{json}{calls} || [] }, 1, 'refreshing the page adds no call');
    is(control(open => { uId => $uid })->{status}, 409, '/sim/open while a call waits: 409');
};

subtest 'the link and getAsyncRequestInfo of an unknown or foreign uId' => sub {
    my $unknown = '11111111-2222-4333-8444-555555555555';
    my $link = req('GET', "/app/service-asyncall?uId=$unknown");
    is($link->{status}, 404, 'an unknown uId: the link answers 404');
    like($link->{headers}{'content-type'} // '', qr{^text/html}i, 'an HTML page');
    is(call_info($unknown)->{status}, 404, 'getAsyncRequestInfo of an unknown uId: 404');
    my $uid = push_async_call()->{uId};
    is(call_info($uid, apikey => ACME_KEY)->{status}, 403, "with ACME's key: 403");
    is(req('GET', "/api/v2/getAsyncRequestInfo?uId=$uid")->{status}, 401, 'without apikey: 401');
    is(req('POST', "/api/v2/getAsyncRequestInfo?uId=$uid", apikey => DEMO_KEY, json => {})->{status},
        405, 'POST: 405');
    is(control(open => { uId => $unknown })->{status}, 404, '/sim/open of an unknown uId: 404');
    is(req('POST', "/app/service-asyncall?uId=$uid")->{status}, 405, 'POST to the link: 405');
    is(req('POST', '/sim/health', json => {})->{status}, 405, 'POST /sim/health: 405');
};

subtest 'open, answer, close: S, A (abortCode), K and N, and the transitions refused' => sub {
    my ($uid, $c1) = new_call();
    is(status_of($uid, $c1), 'waiting', '/sim/open: waiting');
    is(control(close => { idConference => $c1, closeStatus => 'N' })->{status}, 409,
        'close while waiting: 409');

    my $ans = control(answer => { idConference => $c1, operator => $OP3->{id} });
    is($ans->{status}, 200, '/sim/answer: 200');
    ok($ans->{json}{success}, 'success true');
    my $c = find_call($uid, $c1);
    is($c->{status}, 'answered', 'answered');
    is(jtype($c->{closeStatus}), 'null', 'closeStatus still null');
    is(control(answer => { idConference => $c1 })->{status}, 409, 'answer again: 409');
    is(control(cancel => { idConference => $c1 })->{status}, 409, 'cancel an answered call: 409');
    is(control(open => { uId => $uid })->{status}, 409, 'open while a call is answered: 409');

    is(control(close => { idConference => $c1, closeStatus => 'S', note => 'later' })->{status},
        200, 'close S: 200');
    $c = find_call($uid, $c1);
    is($c->{status}, 'closed', 'closed');
    is($c->{closeStatus}, 'S', 'closeStatus S');
    ok(is_iso8601($c->{endDate}), 'endDate is ISO 8601 UTC');
    ok(($c->{endDate} // '') ge ($c->{startDate} // 'z'), 'endDate is not before startDate');
    is(control(close => { idConference => $c1, closeStatus => 'N' })->{status}, 409, 'close again: 409');
    is(control(answer => { idConference => $c1 })->{status}, 409, 'answer a closed call: 409');
    is(control(error => { idConference => $c1 })->{status}, 409, 'error on a closed call: 409');

    # suspended: the customer may open the link again
    my $o2 = control(open => { uId => $uid });
    is($o2->{status}, 200, 'after S, open again: 200');
    my $c2 = $o2->{json}{idConference} // '';
    isnt($c2, $c1, 'a new idConference');
    control(answer => { idConference => $c2 });
    my $r = control(close => { idConference => $c2, closeStatus => 'A' });
    is($r->{status}, 400, 'close A without abortCode: 400');
    is(status_of($uid, $c2), 'answered', 'and the call is still answered');
    is(control(close => { idConference => $c2, closeStatus => 'X' })->{status}, 400, 'closeStatus X: 400');
    is(control(close => { idConference => $c2 })->{status}, 400, 'closeStatus missing: 400');
    is(control(close => { idConference => $c2, closeStatus => 'A', abortCode => 'DOC_EXPIRED' })->{status},
        200, 'close A with an abortCode: 200');
    $c = find_call($uid, $c2);
    is_deeply([ $c->{status}, $c->{closeStatus} ], [ 'closed', 'A' ], 'closed, A');

    # errors, from waiting and from answered
    my $c3 = control(open => { uId => $uid })->{json}{idConference} // '';
    is(control(error => { idConference => $c3, error => 'camera lost' })->{status}, 200,
        '/sim/error on a waiting call: 200');
    $c = find_call($uid, $c3);
    is_deeply([ $c->{status}, $c->{closeStatus} ], [ 'closed', 'K' ], 'closed, K');
    my $c4 = control(open => { uId => $uid })->{json}{idConference} // '';
    control(answer => { idConference => $c4 });
    is(control(error => { idConference => $c4 })->{status}, 200, '/sim/error on an answered call: 200');
    is(find_call($uid, $c4)->{closeStatus}, 'K', 'closed, K');

    # completed
    my $c5 = control(open => { uId => $uid })->{json}{idConference} // '';
    control(answer => { idConference => $c5 });
    is(control(close => { idConference => $c5, closeStatus => 'N', note => 'ok',
                additionalData => { score => 1 } })->{status}, 200, 'close N: 200');
    is(find_call($uid, $c5)->{closeStatus}, 'N', 'closed, N');
    is(control(open => { uId => $uid })->{status}, 409, 'after N, open: 409');

    my %got = map { $_->{idConference} => "$_->{status}/" . ($_->{closeStatus} // 'null') }
      @{ call_info($uid)->{json}{calls} || [] };
    is_deeply(\%got, { $c1 => 'closed/S', $c2 => 'closed/A', $c3 => 'closed/K',
            $c4 => 'closed/K', $c5 => 'closed/N' }, 'getAsyncRequestInfo lists the five calls');
};

subtest 'the control endpoints refuse unknown conferences and bad bodies' => sub {
    my $unknown = '99999999-8888-4777-8666-555555555555';
    for my $what (qw(answer close error cancel)) {
        my $r = control($what => { idConference => $unknown, closeStatus => 'N' });
        is($r->{status}, 404, "/sim/$what of an unknown idConference: 404");
        is(jtype($r->{json}{error}), 'string', 'with an error');
        my $missing = control($what => {})->{status};
        ok($missing >= 400 && $missing < 500 && $missing != 409, "/sim/$what without idConference: 4xx")
          or diag "status $missing";
        is(req('POST', "/sim/$what", body => 'idConference=x')->{status}, 400,
            "/sim/$what with a body that is not JSON: 400");
    }
    my $missing = control(open => {})->{status};
    ok($missing >= 400 && $missing < 500 && $missing != 409, '/sim/open without uId: 4xx')
      or diag "status $missing";
    is(req('GET', '/sim/open')->{status}, 405, 'GET /sim/open: 405');
};

subtest 'cancel: the customer hangs up while waiting' => sub {
    my ($uid, $conf) = new_call();
    my $r = control(cancel => { idConference => $conf });
    is($r->{status}, 200, '/sim/cancel: 200');
    is(status_of($uid, $conf), 'cancelled', 'cancelled');
    is(jtype(find_call($uid, $conf)->{closeStatus}), 'null', 'no closeStatus');
    is(control(cancel => { idConference => $conf })->{status}, 409, 'cancel again: 409');
    is(control(answer => { idConference => $conf })->{status}, 409, 'answer a cancelled call: 409');
    my $again = control(open => { uId => $uid });
    is($again->{status}, 200, 'the customer may open the link again');
    is(status_of($uid, $again->{json}{idConference} // ''), 'waiting', 'a new waiting call');
};

# the operator who answered a closed call, as conferenceData tells
sub answering_operator {
    my ($conf) = @_;
    control(close => { idConference => $conf, closeStatus => 'N' });
    my $t = req('GET', "/api/authenticate/genAPIToken?idConference=$conf", apikey => DEMO_KEY)->{json}{token} // 'none';
    my $op = req('GET', "/api/v1/conferenceData?idConference=$conf", bearer => $t)->{json}{operator};
    return ref $op eq 'HASH' ? $op : {};
}

subtest 'answer: the operator given, else the one the start routed to' => sub {
    for my $n (2, 5) {
        my $op = demo_operator($n);
        my ($uid, $conf) = new_call();
        control(answer => { idConference => $conf, operator => $op->{id} });
        is(answering_operator($conf)->{id}, $op->{id}, "operator $op->{externalId} given to /sim/answer");
    }
    for my $route ([ id_operator2Call => 'id' ], [ email_operator2Call => 'email' ],
        [ extId_operator2Call => 'externalId' ])
    {
        my $op = demo_operator(7);
        my ($uid, $conf) = new_call(fields => [ $route->[0] => $op->{ $route->[1] } ]);
        control(answer => { idConference => $conf });
        my $got = answering_operator($conf);
        is($got->{id}, $op->{id}, "routed by $route->[0]: that operator answers");
        is($got->{external_id}, $op->{externalId}, 'with its external_id');
    }
    my ($uid, $conf) = new_call();
    my $r = control(answer => { idConference => $conf, operator => '0a7e5c1d-0000-4000-8000-000000000999' });
    ok($r->{status} >= 400 && $r->{status} < 500, 'an operator that does not exist: 4xx')
      or diag "status $r->{status}";
    is(status_of($uid, $conf), 'waiting', 'the call still waits');
    $r = control(answer => { idConference => $conf, operator => '0a7e5c1d-0000-4000-8000-000000000101' });
    ok($r->{status} >= 400 && $r->{status} < 500, "an operator of another organization: 4xx")
      or diag "status $r->{status}";
    control(answer => { idConference => $conf });
    my $any = answering_operator($conf);
    ok((grep { $any->{id} && $_ eq $any->{id} } map { demo_operator($_)->{id} } 1 .. 8),
        'without operator nor routing: one of DEMO\'s operators');
};

subtest 'rejectCall: the waiting call is cancelled and the link stops working' => sub {
    my ($uid, $conf) = new_call();
    my $r = req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY,
        json => { uId => $uid, reason => 'duplicate request' });
    is($r->{status}, 200, 'rejectCall: 200');
    ok($r->{json}{success}, 'success true');
    is(status_of($uid, $conf), 'cancelled', 'the waiting call is cancelled');
    my $link = req('GET', "/app/service-asyncall?uId=$uid");
    ok($link->{status} == 410 || $link->{status} == 404, 'the link answers 410 (or 404)')
      or diag "status $link->{status}";
    like($link->{headers}{'content-type'} // '', qr{^text/html}i, 'an HTML page');
    is(control(open => { uId => $uid })->{status}, 410, '/sim/open of a rejected request: 410');

    my $pending = push_async_call()->{uId};
    is(req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY,
            json => { uId => $pending, reason => 'x' })->{status}, 200,
        'rejectCall before the link is opened: 200');
    my $l2 = req('GET', "/app/service-asyncall?uId=$pending");
    ok($l2->{status} == 410 || $l2->{status} == 404, 'its link no longer works')
      or diag "status $l2->{status}";

    my ($done, $c) = new_call();
    control(answer => { idConference => $c });
    control(close => { idConference => $c, closeStatus => 'N' });
    is(req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY,
            json => { uId => $done, reason => 'x' })->{status}, 409, 'once the call is closed: 409');

    my $other = push_async_call()->{uId};
    is(req('PATCH', '/api/v2/rejectCall', json => { uId => $other, reason => 'x' })->{status},
        401, 'without apikey: 401');
    is(req('PATCH', '/api/v2/rejectCall', apikey => ACME_KEY,
            json => { uId => $other, reason => 'x' })->{status}, 403, "with ACME's key: 403");
    is(req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY,
            json => { uId => '11111111-2222-4333-8444-555555555555', reason => 'x' })->{status},
        404, 'an unknown uId: 404');
    is(req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY, json => { reason => 'x' })->{status},
        400, 'without uId: 400');
    is(req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY, body => 'uId=x')->{status},
        400, 'a body that is not JSON: 400');
    is(req('POST', '/api/v2/rejectCall', apikey => DEMO_KEY,
            json => { uId => $other, reason => 'x' })->{status}, 405, 'POST: 405');
    is(status_of($other, 'none'), 'no such call', 'the other request was left alone');
    is(req('GET', "/app/service-asyncall?uId=$other")->{status}, 302, 'and its link still works');
};

# ---------------------------------------------------------------------
# genAPIToken and the Bearer endpoints
# ---------------------------------------------------------------------

my ($tuid, $tconf) = new_call();
control(answer => { idConference => $tconf, operator => $OP3->{id} });
control(close => { idConference => $tconf, closeStatus => 'N', note => 'done' });
my ($ouid, $oconf) = new_call();    # another conference

sub token_for {
    my ($conf, %o) = @_;
    return req('GET', "/api/authenticate/genAPIToken?idConference=$conf",
        apikey => DEMO_KEY, %o);
}

subtest 'genAPIToken: a JWT-shaped token for a conference' => sub {
    my $r = token_for($tconf);
    is($r->{status}, 200, 'genAPIToken: 200');
    ok($r->{json}{success}, 'success true');
    ok(is_jwt($r->{json}{token}), 'a JWT-shaped token') or diag explain $r->{json};
    isnt(token_for($tconf)->{json}{token}, undef, 'a second token can be had');
    is(token_for('99999999-8888-4777-8666-555555555555')->{status}, 404, 'an unknown conference: 404');
    is(token_for($tconf, apikey => undef)->{status}, 401, 'without apikey: 401');
    is(token_for($tconf, apikey => ACME_KEY)->{status}, 403, "with ACME's key: 403");
    is(req('POST', "/api/authenticate/genAPIToken?idConference=$tconf", apikey => DEMO_KEY,
            json => {})->{status}, 405, 'POST: 405');
};

subtest 'conferenceData, getAuditData, deleteAuditData with the token' => sub {
    my $token = token_for($tconf)->{json}{token} // 'none';
    my $r = req('GET', "/api/v1/conferenceData?idConference=$tconf", bearer => $token);
    is($r->{status}, 200, 'conferenceData: 200') or diag $r->{body};
    my $j = $r->{json} || {};
    is(jtype($j->{success}), 'boolean', 'success is a boolean');
    ok($j->{success}, 'success true');
    ok(is_iso8601($j->{call_answer_date}), 'call_answer_date ISO 8601');
    ok(is_iso8601($j->{call_end_date}), 'call_end_date ISO 8601');
    ok(is_iso8601($j->{call_last_activity}), 'call_last_activity ISO 8601');
    is($j->{end_pattern}, 'N', 'end_pattern N');
    is_deeply($j->{operator}, { id => $OP3->{id}, name => $OP3->{name}, external_id => $OP3->{externalId} },
        'the operator who answered: id, name, external_id');
    is(ref $j->{data}, 'HASH', 'data is an object');
    for my $module (qw(photo formfilling)) {
        my $m = req('GET', "/api/v1/conferenceData?idConference=$tconf&module=$module", bearer => $token);
        is($m->{status}, 200, "module=$module: 200");
        is(ref(($m->{json} || {})->{data}), 'HASH', "module=$module: data is an object");
        is($m->{json}{end_pattern}, 'N', "module=$module: end_pattern N");
    }

    my $a = req('GET', "/api/v2/getAuditData?idConference=$tconf", bearer => $token);
    is($a->{status}, 200, 'getAuditData: 200');
    my $audit = ($a->{json} || {})->{audit};
    is(ref $audit, 'ARRAY', 'audit is an array') or return;
    ok(@$audit > 0, 'with entries');
    my $shapes = grep { ref $_ eq 'HASH' && is_iso8601($_->{date})
          && jtype($_->{event}) eq 'string' && jtype($_->{detail}) eq 'string' } @$audit;
    is($shapes, scalar @$audit, 'each entry: date (ISO 8601), event, detail (strings)')
      or diag explain $audit;

    my $d = req('DELETE', "/api/v1/deleteAuditData?idConference=$tconf", bearer => $token);
    is($d->{status}, 200, 'deleteAuditData: 200');
    ok($d->{json}{success}, 'success true');
    $a = req('GET', "/api/v2/getAuditData?idConference=$tconf", bearer => $token);
    is_deeply($a->{json}{audit}, [], 'then the audit is empty');

    is(req('POST', "/api/v1/conferenceData?idConference=$tconf", bearer => $token, json => {})->{status},
        405, 'POST conferenceData: 405');
    is(req('GET', "/api/v1/deleteAuditData?idConference=$tconf", bearer => $token)->{status},
        405, 'GET deleteAuditData: 405');
};

subtest 'the Bearer endpoints: 401 without a valid token for that conference' => sub {
    my $token = token_for($tconf)->{json}{token} // 'none';
    my $other = token_for($oconf)->{json}{token} // 'none';
    my @parts = split /\./, $token, -1;
    my $i = (defined $parts[2] && length $parts[2]) ? 2 : 1;
    $parts[$i] =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;    # the first character: no padding bits
    my $tampered = join '.', @parts;
    my @paths = (
        [ GET    => "/api/v1/conferenceData?idConference=$tconf" ],
        [ GET    => "/api/v2/getAuditData?idConference=$tconf" ],
        [ DELETE => "/api/v1/deleteAuditData?idConference=$tconf" ],
    );
    for my $p (@paths) {
        my ($m, $path) = @$p;
        my ($name) = $path =~ m{/(\w+)\?};
        my $r = req($m, $path);
        is($r->{status}, 401, "$name without Authorization: 401");
        ok(defined $r->{json}{success} && !$r->{json}{success}, "$name: success false");
        is(req($m, $path, bearer => 'garbage')->{status}, 401, "$name with a malformed token: 401");
        is(req($m, $path, bearer => $tampered)->{status}, 401, "$name with a tampered token: 401");
        is(req($m, $path, bearer => $other)->{status}, 401, "$name with another conference's token: 401");
        is(req($m, $path, apikey => DEMO_KEY)->{status}, 401, "$name with the apikey instead: 401");
        is(req($m, $path, headers => { Authorization => "Basic $token" })->{status}, 401,
            "$name with another scheme: 401");
    }
    my $still = req('GET', "/api/v1/conferenceData?idConference=$tconf", bearer => $token);
    is($still->{status}, 200, 'the right token still works');
};

subtest 'an expired token (--token-ttl 1): 401' => sub {
    my $s = start_sim('--token-ttl', '1');
    my ($uid, $conf) = new_call(sim => $s);
    my $t = req('GET', "/api/authenticate/genAPIToken?idConference=$conf", sim => $s,
        apikey => DEMO_KEY)->{json}{token} // 'none';
    is(req('GET', "/api/v2/getAuditData?idConference=$conf", sim => $s, bearer => $t)->{status},
        200, 'at once: 200');
    sleep 2.2;
    my $r = req('GET', "/api/v2/getAuditData?idConference=$conf", sim => $s, bearer => $t);
    is($r->{status}, 401, 'after 2.2 s: 401');
    is(req('GET', "/api/v1/conferenceData?idConference=$conf", sim => $s, bearer => $t)->{status},
        401, 'conferenceData too: 401');
    my $fresh = req('GET', "/api/authenticate/genAPIToken?idConference=$conf", sim => $s,
        apikey => DEMO_KEY)->{json}{token} // 'none';
    is(req('GET', "/api/v2/getAuditData?idConference=$conf", sim => $s, bearer => $fresh)->{status},
        200, 'a fresh token works again');
    $s->stop;
};

subtest 'expiry: after expire the link answers 410 and waiting calls are expired' => sub {
    my $expire = time + 2;
    my $exp = iso_time($expire);
    my ($uid, $conf) = new_call(expire => $exp);
    my $unopened = push_async_call(expire => $exp)->{uId};
    my ($auid, $aconf) = new_call(expire => $exp);
    control(answer => { idConference => $aconf });
    is(status_of($uid, $conf), 'waiting', 'before expire: waiting');
    is(req('GET', "/app/service-asyncall?uId=$unopened")->{status}, 302, 'before expire: the link works');
    sleep(0.1) while time <= $expire;
    sleep 1.1;
    my $link = req('GET', "/app/service-asyncall?uId=$uid");
    is($link->{status}, 410, 'after expire: the link answers 410');
    like($link->{headers}{'content-type'} // '', qr{^text/html}i, 'an HTML page');
    is(req('GET', "/app/service-asyncall?uId=$unopened")->{status}, 410, 'for the other request too');
    is(status_of($uid, $conf), 'expired', 'the waiting call is expired');
    is(status_of($auid, $aconf), 'answered', 'an answered call is not');
    is(control(open => { uId => $uid })->{status}, 410, '/sim/open after expire: 410');
    is(control(answer => { idConference => $conf })->{status}, 409, 'answer an expired call: 409');
};

# ---------------------------------------------------------------------
# the redirect result
# ---------------------------------------------------------------------

sub find_result {
    my ($v) = @_;
    if (ref $v eq 'HASH') {
        return $v->{LiveIDPlusResult} if exists $v->{LiveIDPlusResult};
        for (sort keys %$v) { my $r = find_result($v->{$_}); return $r if defined $r }
    }
    elsif (ref $v eq 'ARRAY') {
        for (@$v) { my $r = find_result($_); return $r if defined $r }
    }
    elsif (defined $v && !ref $v && $v =~ /LiveIDPlusResult=([^&\s"']+)/) {
        return $1;
    }
    return undef;
}

subtest '/sim/requests/<uId>: the redirect with LiveIDPlusResult once closed' => sub {
    my ($uid, $conf) = new_call(fields => [ redirectUrl => 'https://shop.example/done?o=7',
            redirectMethod => 'GET' ]);
    my $r = req('GET', "/sim/requests/$uid");
    is($r->{status}, 200, '/sim/requests/<uId>: 200');
    ok($r->{json}{success}, 'success true');
    ok(!defined find_result($r->{json}), 'no LiveIDPlusResult while the call is open');
    ok(!$r->{json}{redirect}, 'no redirect yet');

    control(answer => { idConference => $conf });
    control(close => { idConference => $conf, closeStatus => 'N', note => 'fine' });
    $r = req('GET', "/sim/requests/$uid");
    ok($r->{json}{redirect}, 'a redirect once closed') or diag $r->{body};
    like(json_text($r->{json}{redirect} // ''), qr{https://shop\.example/done}, 'to the redirectUrl');
    my $raw = find_result($r->{json}{redirect});
    ok(defined $raw, 'carrying LiveIDPlusResult') or return;
    my $env = json_decode(url_decode($raw));
    is(ref $env, 'HASH', 'LiveIDPlusResult is URL-encoded JSON') or diag $raw;
    is($env->{event}, 'close', 'event close');
    is($env->{idConference}, $conf, 'the idConference');
    is($env->{closeStatus}, 'N', 'closeStatus N');
    is(ref $env->{message} eq 'HASH' && $env->{message}{closeStatus}, 'N', 'message.closeStatus N');

    my $page = req('GET', "/app/call?uId=$uid");
    like($page->{body}, qr/LiveIDPlusResult/, 'the call page shows LiveIDPlusResult too');

    my ($u2, $c2) = new_call();
    control(answer => { idConference => $c2 });
    control(close => { idConference => $c2, closeStatus => 'N' });
    my $plain = req('GET', "/sim/requests/$u2");
    is($plain->{status}, 200, 'a request without redirectUrl: 200');
    ok(!defined find_result($plain->{json}), 'no LiveIDPlusResult without a redirectUrl');
    is(req('GET', '/sim/requests/11111111-2222-4333-8444-555555555555')->{status}, 404,
        'an unknown uId: 404');
};

done_testing;
