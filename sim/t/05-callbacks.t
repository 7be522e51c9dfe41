# The server callbacks: the body of close and error events, retries with
# back-off, giving up and the alert e-mails, and which callback URLs
# pushAsyncCall accepts.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use IO::Socket::INET;
use SimTest;

my $sim  = start_sim('--callback-backoff-ms', '50', '--callback-attempts', '3');
my $recv = start_receiver(statuses => [200]);
my %OTHER = (ref => 'order-42', secret => 's3cr3t', nested => { n => 1 });

# a waiting call whose ServiceStartJson asks for a callback to $url
sub cb_call {
    my ($url, %o) = @_;
    my $ssj = service_start_json(liveid_servercallback => {
            url => $url, ($o{no_other} ? () : (otherParams => \%OTHER)) });
    return new_call(fields => [ json => b64(json_text($ssj)),
            ($o{process} ? (id_process => $o{process}) : ()) ]);
}

sub control { req('POST', "/sim/$_[0]", json => $_[1]) }

sub answer_close {
    my ($conf, %close) = @_;
    control(answer => { idConference => $conf });
    return control(close => { idConference => $conf, %close });
}

# the receiver's requests about one conference
sub received {
    my ($r, $conf) = @_;
    return [ grep { ref $_->{json} eq 'HASH' && ($_->{json}{idConference} // '') eq $conf }
          @{ $r->requests } ];
}

sub wait_received {
    my ($r, $conf, $n, $timeout) = @_;
    wait_until(sub { @{ received($r, $conf) } >= $n }, $timeout // 5, 0.02);
    return received($r, $conf);
}

# the /sim/callbacks entry of a conference
sub delivery {
    my ($conf) = @_;
    my $j = req('GET', '/sim/callbacks')->{json};
    my @all = ref $j eq 'HASH' ? map { ref $_ eq 'ARRAY' ? @$_ : () } values %$j : ();
    my ($d) = grep { ref $_ eq 'HASH' && ($_->{idConference} // '') eq $conf } @all;
    return $d;
}

sub alerts_text { json_text(req('GET', '/sim/alerts')->{json}) }

sub alerts_list {
    my $j = req('GET', '/sim/alerts')->{json};
    return [ ref $j eq 'HASH' ? map { ref $_ eq 'ARRAY' ? @$_ : () } values %$j : () ];
}

subtest 'close N: exactly one POST with the documented body' => sub {
    my ($uid, $conf) = cb_call($recv->url('/cb?tenant=demo'));
    is(answer_close($conf, closeStatus => 'N', note => 'all good', nextProcess => DEMO_SELF,
            additionalData => { score => 0.98, level => 'high' })->{status}, 200, 'closed');
    my $got = wait_received($recv, $conf, 1);
    is(scalar @$got, 1, 'one request reached the receiver') or return;
    sleep 0.3;
    is(scalar @{ received($recv, $conf) }, 1, 'and only one');
    my $rq = $got->[0];
    is($rq->{method}, 'POST', 'a POST');
    is($rq->{path}, '/cb?tenant=demo', 'to the callback URL, query included');
    like($rq->{headers}{'content-type'} // '', qr{^application/json}i, 'Content-Type: application/json');
    my $b = $rq->{json};
    is_deeply([ sort keys %$b ], [ sort qw(event callID idConference closeStatus otherParams message) ],
        'members: event, callID, idConference, closeStatus, otherParams, message');
    is($b->{event}, 'close', 'event close');
    is($b->{callID}, $conf, 'callID is the idConference');
    is($b->{idConference}, $conf, 'idConference');
    is($b->{closeStatus}, 'N', 'closeStatus N');
    is_deeply($b->{otherParams}, \%OTHER, 'otherParams as given at start');
    my $m = $b->{message};
    is(ref $m, 'HASH', 'message is an object') or return;
    is_deeply([ sort keys %$m ],
        [ sort qw(closeStatus note processId self nextProcess token additionalData) ],
        'message members: closeStatus, note, processId, self, nextProcess, token, additionalData');
    is($m->{closeStatus}, 'N', 'message.closeStatus N');
    is($m->{note}, 'all good', 'message.note');
    is($m->{processId}, DEMO_LIVE, 'message.processId');
    is(jtype($m->{self}), 'boolean', 'message.self is a boolean');
    ok(!$m->{self}, 'message.self false for a live process');
    is($m->{nextProcess}, DEMO_SELF, 'message.nextProcess as given');
    ok(is_jwt($m->{token}), 'message.token is JWT-shaped');
    is_deeply($m->{additionalData}, { score => 0.98, level => 'high' }, 'message.additionalData as given');

    my $cd = req('GET', "/api/v1/conferenceData?idConference=$conf", bearer => $m->{token} // 'none');
    is($cd->{status}, 200, 'the callback token opens conferenceData');

    my $d = delivery($conf);
    ok($d, '/sim/callbacks lists the delivery') or return;
    is($d->{url}, $recv->url('/cb?tenant=demo'), 'its url');
    is($d->{event}, 'close', 'its event');
    is($d->{attempts}, 1, 'attempts 1');
    is(jtype($d->{delivered}), 'boolean', 'delivered is a boolean');
    ok($d->{delivered}, 'delivered');
    is($d->{lastStatus}, 200, 'lastStatus 200');
    ok(!$d->{gaveUp}, 'not given up');
    unlike(json_text(req('GET', '/sim/callbacks')->{json}), qr/\Q$m->{token}\E/,
        '/sim/callbacks does not show the token');
};

subtest 'close without nextProcess / additionalData / otherParams' => sub {
    my ($uid, $conf) = cb_call($recv->url, no_other => 1);
    answer_close($conf, closeStatus => 'N', note => 'plain');
    my $got = wait_received($recv, $conf, 1);
    my $b = $got->[0]{json} || {};
    is($b->{event}, 'close', 'a close event');
    is(jtype($b->{message}{nextProcess}), 'null', 'nextProcess null');
    ok(!exists $b->{message}{abortCode}, 'no abortCode for N');
    ok(exists $b->{message}{additionalData}, 'additionalData present');
    ok(!defined $b->{otherParams} || (ref $b->{otherParams} eq 'HASH' && !%{ $b->{otherParams} }),
        'otherParams absent, null or empty when none was given');
};

subtest 'close A: message.abortCode' => sub {
    my ($uid, $conf) = cb_call($recv->url);
    answer_close($conf, closeStatus => 'A', abortCode => 'DOC_EXPIRED', note => 'expired ID');
    my $got = wait_received($recv, $conf, 1);
    my $b = $got->[0]{json} || {};
    is($b->{closeStatus}, 'A', 'closeStatus A');
    is($b->{message}{closeStatus}, 'A', 'message.closeStatus A');
    is($b->{message}{abortCode}, 'DOC_EXPIRED', 'message.abortCode');
    ok(is_jwt($b->{message}{token}), 'a token');
};

subtest 'close S on a self process: message.self true' => sub {
    my ($uid, $conf) = cb_call($recv->url, process => DEMO_SELF);
    answer_close($conf, closeStatus => 'S', note => 'later');
    my $b = (wait_received($recv, $conf, 1)->[0] || {})->{json} || {};
    is($b->{closeStatus}, 'S', 'closeStatus S');
    is($b->{message}{processId}, DEMO_SELF, 'processId of the self process');
    is(jtype($b->{message}{self}), 'boolean', 'self is a boolean');
    ok($b->{message}{self}, 'self true');
};

subtest 'error: event error, closeStatus K, no token, nextProcess or additionalData' => sub {
    for my $answered (0, 1) {
        my ($uid, $conf) = cb_call($recv->url);
        control(answer => { idConference => $conf }) if $answered;
        my $st = $answered ? 'answered' : 'waiting';
        is(control(error => { idConference => $conf, error => 'media server down' })->{status},
            200, "/sim/error on a $st call");
        my $got = wait_received($recv, $conf, 1);
        is(scalar @$got, 1, "$st: one request") or next;
        my $b = $got->[0]{json};
        is($b->{event}, 'error', "$st: event error");
        is($b->{callID}, $conf, "$st: callID");
        is($b->{closeStatus}, 'K', "$st: closeStatus K");
        is_deeply($b->{otherParams}, \%OTHER, "$st: otherParams");
        my $m = $b->{message} || {};
        is($m->{closeStatus}, 'K', "$st: message.closeStatus K");
        is($m->{processId}, DEMO_LIVE, "$st: message.processId");
        is(jtype($m->{self}), 'boolean', "$st: message.self a boolean");
        ok(!exists $m->{token}, "$st: no token");
        ok(!exists $m->{nextProcess}, "$st: no nextProcess");
        ok(!exists $m->{additionalData}, "$st: no additionalData");
        ok(!exists $m->{abortCode}, "$st: no abortCode");
        is((delivery($conf) || {})->{event}, 'error', "$st: /sim/callbacks shows an error event");
    }
};

subtest 'cancel and rejectCall send no callback' => sub {
    my ($u1, $c1) = cb_call($recv->url);
    control(cancel => { idConference => $c1 });
    my ($u2, $c2) = cb_call($recv->url);
    req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY, json => { uId => $u2, reason => 'dup' });
    sleep 0.4;
    is(scalar @{ received($recv, $c1) }, 0, 'cancel: no request');
    is(scalar @{ received($recv, $c2) }, 0, 'rejectCall: no request');
    ok(!delivery($c1) && !delivery($c2), 'no delivery in /sim/callbacks');
};

subtest 'a receiver failing twice, then 200: delivered at the 3rd attempt, with back-off' => sub {
    my $flaky = start_receiver(statuses => [ 500, 503, 200 ]);
    my ($uid, $conf) = cb_call($flaky->url);
    answer_close($conf, closeStatus => 'N', note => 'n');
    my $got = wait_received($flaky, $conf, 3);
    is(scalar @$got, 3, 'three attempts reached the receiver') or return;
    sleep 0.4;
    is(scalar @{ received($flaky, $conf) }, 3, 'and no fourth');
    is($got->[2]{body}, $got->[0]{body}, 'the same body each time');
    my ($g1, $g2) = ($got->[1]{time} - $got->[0]{time}, $got->[2]{time} - $got->[1]{time});
    cmp_ok($g1, '>=', 0.045, 'the 2nd attempt came after the back-off (50 ms)');
    cmp_ok($g2, '>=', 0.090, 'the 3rd after twice that (100 ms)');
    cmp_ok($g1, '<', 0.5, 'not the default back-off (1 s): --callback-backoff-ms is used');
    my $d = wait_until(sub { my $x = delivery($conf); $x && $x->{delivered} ? $x : undef }, 3);
    ok($d, '/sim/callbacks: delivered') or return;
    is($d->{attempts}, 3, 'attempts 3');
    is($d->{lastStatus}, 200, 'lastStatus 200');
    ok(!$d->{gaveUp}, 'not given up');
};

subtest 'a receiver always failing: given up after --callback-attempts, alert e-mails sent' => sub {
    my $down = start_receiver(statuses => [503]);
    my $reg = sub {
        req('POST', '/api/v2/registerAlertEmail', apikey => DEMO_KEY,
            json => { processId => DEMO_NOREC, email => $_[0] });
    };
    is($reg->('old-ops@demo-bank.example')->{status}, 200, 'registerAlertEmail: 200');
    my $r = $reg->('ops@demo-bank.example,backup@demo-bank.example');
    is($r->{status}, 200, 'a second registration: 200');
    ok($r->{json}{success}, 'success true');
    my $before = scalar @{ alerts_list() };

    my ($uid, $conf) = cb_call($down->url, process => DEMO_NOREC);
    answer_close($conf, closeStatus => 'N', note => 'n');
    my $d = wait_until(sub { my $x = delivery($conf); $x && $x->{gaveUp} ? $x : undef }, 5);
    ok($d, '/sim/callbacks: gaveUp') or return;
    is($d->{attempts}, 3, 'after 3 attempts');
    ok(!$d->{delivered}, 'not delivered');
    is($d->{lastStatus}, 503, 'lastStatus 503');
    is(scalar @{ received($down, $conf) }, 3, 'the receiver saw 3 attempts');
    sleep 0.3;
    is(scalar @{ received($down, $conf) }, 3, 'and no more');

    my $alerts = wait_until(sub { @{ alerts_list() } > $before ? alerts_list() : undef }, 3) || [];
    is(scalar @$alerts, $before + 1, 'one alert in /sim/alerts');
    my $text = alerts_text();
    like($text, qr/ops\@demo-bank\.example/, 'to the first registered address');
    like($text, qr/backup\@demo-bank\.example/, 'and to the second');
    unlike($text, qr/old-ops\@demo-bank\.example/, 'not to the replaced registration');
};

subtest 'a receiver that does not answer (connection refused): given up with lastError' => sub {
    my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp');
    my $port = $probe->sockport;
    close $probe;    # nothing listens there now
    my ($uid, $conf) = cb_call("http://127.0.0.1:$port/cb");
    answer_close($conf, closeStatus => 'N', note => 'n');
    my $d = wait_until(sub { my $x = delivery($conf); $x && $x->{gaveUp} ? $x : undef }, 5);
    ok($d, 'given up') or return;
    is($d->{attempts}, 3, 'after 3 attempts');
    ok(!$d->{delivered}, 'not delivered');
    ok(!$d->{lastStatus}, 'no lastStatus (0 or null)');
    ok(length($d->{lastError} // ''), 'a lastError') or diag explain $d;
};

subtest 'registerAlertEmail: errors' => sub {
    my $reg = sub { req('POST', '/api/v2/registerAlertEmail', @_) };
    is($reg->(json => { processId => DEMO_LIVE, email => 'a@x.com' })->{status}, 401, 'without apikey: 401');
    is($reg->(apikey => ACME_KEY, json => { processId => DEMO_LIVE, email => 'a@x.com' })->{status},
        403, "a DEMO process with ACME's key: 403");
    is($reg->(apikey => DEMO_KEY, json => { processId => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1bff',
                email => 'a@x.com' })->{status}, 404, 'an unknown process: 404');
    is($reg->(apikey => DEMO_KEY, json => { email => 'a@x.com' })->{status}, 400, 'without processId: 400');
    is($reg->(apikey => DEMO_KEY, json => { processId => DEMO_LIVE })->{status}, 400, 'without email: 400');
    is($reg->(apikey => DEMO_KEY, body => 'email=a@x.com')->{status}, 400, 'not JSON: 400');
    is(req('GET', '/api/v2/registerAlertEmail', apikey => DEMO_KEY)->{status}, 405, 'GET: 405');
};

subtest 'callback URLs: pushAsyncCall refuses non-loopback hosts not pre-approved' => sub {
    my $push = sub {
        push_async_call(fields => [ json => ssj_b64(liveid_servercallback => { url => $_[0] }) ]);
    };
    for my $url ('http://example.com/cb', 'https://evil.example/cb',
        'http://callbacks.demo-bank.example/cb', 'https://hooks.acme-insurance.example/cb',
        'https://callbacks.demo-bank.example.evil.example/cb', 'http://10.0.0.1/cb')
    {
        my $r = $push->($url);
        is($r->{status}, 400, "$url: 400");
        like($r->{json}{error} // '', qr/url|liveid_servercallback/, "$url: the error names the field");
    }
    for my $url ('https://callbacks.demo-bank.example/liveid', 'http://127.0.0.1:1/cb',
        'http://localhost:1/cb', 'https://127.0.0.1:1/cb')
    {
        is($push->($url)->{status}, 200, "$url: accepted");
    }
};

subtest '--callback-threads: a stalled receiver holds up one thread, not the others' => sub {
    # a receiver that accepts connections (the kernel does) and never answers
    my $stall = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0)
      or die "listen: $!";
    my $stall_url = 'http://127.0.0.1:' . $stall->sockport . '/cb';
    for my $threads (1, 2) {
        my $s = start_sim('--callback-threads', $threads, '--callback-attempts', '1');
        use_sim($s);
        my $ok = start_receiver(statuses => [200]);
        my (undef, $c1) = cb_call($stall_url);
        answer_close($c1, closeStatus => 'N');
        my (undef, $c2) = cb_call($ok->url);
        answer_close($c2, closeStatus => 'N');
        # wait for the second delivery (the first attempt gives up after 5 s)
        my ($d1, $d2);
        for (1 .. 200) {
            my $all = req('GET', '/sim/callbacks')->{json}{callbacks};
            ($d1) = grep { $_->{idConference} eq $c1 } @$all;
            ($d2) = grep { $_->{idConference} eq $c2 } @$all;
            last if $d2->{delivered};
            sleep 0.05;
        }
        if ($threads == 1) {
            ok($d2->{delivered} && $d1->{attempts} == 1,
                '1 thread: the second callback is delivered only after the stalled attempt ended');
        } else {
            ok($d2->{delivered} && !$d1->{attempts},
                '2 threads: the second is delivered while the first is still being posted');
        }
        $s->stop;
        $ok->stop;
    }
    use_sim($sim);
};

done_testing;
