# Retention (--request-ttl): a request that can no longer change -- its
# latest call closed with N, rejected, or past its expire, with no call
# waiting or answered -- is forgotten once it has been so for longer than the
# TTL, and then answers like an unknown one; unfinished requests stay.  The
# callback log forgets finished deliveries after the same TTL, /sim/stats
# counts what is held, and memory stays bounded over many requests.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use IO::Select;
use SimTest;

my $sim  = start_sim('--request-ttl', '1', '--callback-backoff-ms', '50',
    '--callback-attempts', '2');
my $recv = start_receiver(statuses => [200]);

sub control { req('POST', "/sim/$_[0]", json => $_[1]) }
sub stats   { req('GET', '/sim/stats')->{json} }

sub reject {
    my ($uid) = @_;
    return req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY,
        json => { uId => $uid, reason => 'test' });
}

sub known { call_info($_[0])->{status} == 200 }

# every way a request is seen answers as for an unknown one
sub gone_ok {
    my ($uid, $what) = @_;
    my $info = call_info($uid);
    is($info->{status}, 404, "$what: getAsyncRequestInfo 404");
    like($info->{json}{error} // '', qr/uId: unknown request/, "$what: unknown uId");
    is(req('GET', "/sim/requests/$uid")->{status}, 404, "$what: /sim/requests 404");
    my $link = req('GET', "/app/service-asyncall?uId=$uid");
    is($link->{status}, 404, "$what: the link's 404 page");
    is(control(open => { uId => $uid })->{status}, 404, "$what: /sim/open 404");
}

subtest 'the option: --request-ttl takes seconds, 0 keeps forever' => sub {
    my $bad = run_sim('--port', '0', '--request-ttl', '-1');
    is($bad->{exit}, 2, '--request-ttl -1: exit 2') or diag explain $bad;
    my $keep = start_sim('--request-ttl', '0');
    my $uid = push_async_call(sim => $keep)->{uId};
    is(req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY, sim => $keep,
            json => { uId => $uid })->{status}, 200, 'rejected');
    sleep 2.2;
    is(call_info($uid, sim => $keep)->{status}, 200, 'with 0 a rejected request stays');
    is(req('GET', '/sim/stats', sim => $keep)->{json}{requestsHeld}, 1, 'requestsHeld 1');
    $keep->stop;
    use_sim($sim);
};

subtest 'finished requests are forgotten after the TTL, unfinished ones stay' => sub {
    my $held0 = stats()->{requestsHeld};
    is(stats()->{requestsDropped}, 0, 'requestsDropped 0 at first');

    # finished: closed with N (with a callback and a token)
    my $ssj = service_start_json(liveid_servercallback => { url => $recv->url });
    my ($n_uid, $n_conf) = new_call(fields => [ json => b64(json_text($ssj)) ]);
    is(control(answer => { idConference => $n_conf })->{status}, 200, 'answered');
    is(control(close => { idConference => $n_conf, closeStatus => 'N' })->{status}, 200,
        'closed with N');
    my $tok = req('GET', "/api/authenticate/genAPIToken?idConference=$n_conf",
        apikey => DEMO_KEY)->{json}{token};
    ok(is_jwt($tok), 'a ConferenceToken');
    is(req('GET', "/api/v2/getAuditData?idConference=$n_conf", bearer => $tok)->{status},
        200, 'the token works before the TTL');

    # finished: rejected before anyone opened it, and rejected while waiting
    my $r_uid = push_async_call()->{uId};
    is(reject($r_uid)->{status}, 200, 'rejected unopened');
    my ($rw_uid, $rw_conf) = new_call();
    is(reject($rw_uid)->{status}, 200, 'rejected while waiting');

    # finished by its expire: unopened, and with a waiting call
    my $exp = iso_time(time + 2);
    my $e_uid = push_async_call(expire => $exp)->{uId};
    my ($ew_uid, $ew_conf) = new_call(expire => $exp);

    # unfinished: waiting, unopened (expire an hour ahead), answered, closed S
    my ($w_uid, $w_conf) = new_call();
    my $u_uid = push_async_call()->{uId};
    my ($a_uid, $a_conf) = new_call();
    control(answer => { idConference => $a_conf });
    my ($s_uid, $s_conf) = new_call();
    control(answer => { idConference => $s_conf });
    control(close => { idConference => $s_conf, closeStatus => 'S' });
    # answered past its expire: still in progress
    my ($ae_uid, $ae_conf) = new_call(expire => $exp);
    control(answer => { idConference => $ae_conf });

    ok(wait_until(sub { grep { $_->{idConference} eq $n_conf && $_->{delivered} }
                @{ req('GET', '/sim/callbacks')->{json}{callbacks} || [] } }, 5),
        'the close callback is delivered');
    ok(known($_), 'known right after finishing') for ($n_uid, $r_uid, $rw_uid);
    is(stats()->{requestsHeld}, $held0 + 10, 'requestsHeld counts the 10 requests');

    # gone within TTL + expire + a sweep
    ok(wait_until(sub { !known($n_uid) && !known($r_uid) && !known($rw_uid) }, 6),
        'closed-N and rejected requests are forgotten');
    ok(wait_until(sub { !known($e_uid) && !known($ew_uid) }, 8),
        'expired requests are forgotten');
    gone_ok($n_uid, 'closed N');
    gone_ok($r_uid, 'rejected');
    gone_ok($rw_uid, 'rejected while waiting');
    gone_ok($e_uid, 'expired unopened');
    gone_ok($ew_uid, 'expired while waiting');
    is(req('GET', "/api/v2/getAuditData?idConference=$n_conf", bearer => $tok)->{status},
        404, 'the token of a forgotten conference no longer works (404 unknown conference)');
    is(req('GET', "/api/authenticate/genAPIToken?idConference=$n_conf",
            apikey => DEMO_KEY)->{status}, 404, 'genAPIToken: unknown conference');
    is(control(cancel => { idConference => $rw_conf })->{status}, 404,
        'its calls are unknown to /sim/');

    # the sweep frees them: the counter goes down
    ok(wait_until(sub { stats()->{requestsHeld} == $held0 + 5 }, 5),
        'requestsHeld goes down by the 5 forgotten') or diag explain stats();
    is(stats()->{requestsDropped}, 5, 'requestsDropped 5');

    # the unfinished ones are all there
    is(find_call($w_uid, $w_conf)->{status}, 'waiting', 'a waiting call stays');
    is(call_info($u_uid)->{status}, 200, 'an unopened request before its expire stays');
    is(req('GET', "/app/service-asyncall?uId=$u_uid")->{status}, 302, 'and its link works');
    is(find_call($a_uid, $a_conf)->{status}, 'answered', 'an answered call stays');
    is(find_call($s_uid, $s_conf)->{status}, 'closed', 'a request closed with S stays (its link is open)');
    is(find_call($ae_uid, $ae_conf)->{status}, 'answered', 'an answered call past its expire stays');
    is(control(close => { idConference => $ae_conf, closeStatus => 'S' })->{status}, 200,
        'and can still be closed');
    ok(wait_until(sub { !known($ae_uid) }, 5), 'then it is forgotten too');

    # the callback log forgets the delivered one
    ok(wait_until(sub { !grep { $_->{idConference} eq $n_conf }
                @{ req('GET', '/sim/callbacks')->{json}{callbacks} || [] } }, 5),
        'the delivered callback leaves /sim/callbacks after the TTL');
    is(stats()->{callbacksHeld}, 0, 'callbacksHeld 0');
};

subtest 'a given-up callback is forgotten too' => sub {
    my $bad = start_receiver(statuses => [500]);
    my $ssj = service_start_json(liveid_servercallback => { url => $bad->url });
    my ($uid, $conf) = new_call(fields => [ json => b64(json_text($ssj)) ]);
    control(answer => { idConference => $conf });
    control(close => { idConference => $conf, closeStatus => 'S' });
    ok(wait_until(sub { grep { $_->{idConference} eq $conf && $_->{gaveUp} }
                @{ req('GET', '/sim/callbacks')->{json}{callbacks} || [] } }, 5),
        'given up after 2 attempts');
    is(stats()->{callbacksHeld}, 1, 'callbacksHeld 1');
    ok(wait_until(sub { stats()->{callbacksHeld} == 0 }, 5), 'then forgotten');
    is(call_info($uid)->{status}, 200, 'its request (closed S) stays');
};

# A JSON request over one kept-alive connection, read with a buffer of its
# own (fast enough for thousands): returns (status, body).
my ($sock, $inbuf) = (undef, '');
sub fast {
    my ($method, $path, $json) = @_;
    unless ($sock) {
        $sock = raw_connect($sim) or die "connect: $!";
        $inbuf = '';
    }
    print $sock "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\napikey: " . DEMO_KEY
      . "\r\nContent-Type: application/json\r\nContent-Length: " . length($json)
      . "\r\n\r\n$json";
    my $sel = IO::Select->new($sock);
    my $more = sub {
        $sel->can_read(5) or die "no answer to $method $path\n";
        sysread($sock, my $chunk, 65536) or die "connection closed\n";
        $inbuf .= $chunk;
    };
    $more->() until $inbuf =~ /\r\n\r\n/;
    my ($head, $rest) = split /\r\n\r\n/, $inbuf, 2;
    my ($status) = $head =~ m{^HTTP/\S+ (\d+)};
    my ($len) = $head =~ /^content-length:\s*(\d+)/im;
    die "no Content-Length\n" unless defined $len;
    while (length $rest < $len) { $more->(); ($head, $rest) = split /\r\n\r\n/, $inbuf, 2 }
    my $body = substr($rest, 0, $len);
    $inbuf = substr($rest, $len);
    undef $sock if $head =~ /^connection:\s*close/im;
    return ($status, $body);
}

sub rss_kb {
    open(my $fh, '<', "/proc/" . $sim->pid . "/status") or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

# In rounds, each waiting for the sweep, so that how many are held at once
# does not depend on how fast this machine pushes them.
my ($ROUNDS, $PER_ROUND) = (5, 4000);
subtest 'memory stays bounded: 20,000 rejected starts' => sub {
    my $push = SimTest::json_text({ b64Data => b64data(start_fields()),
            method => 'start', expire => iso_time(time + 3600) });
    my $held0 = stats()->{requestsHeld};
    my $rss0 = rss_kb();
    my $t0 = now_hires();
    my ($ok, $swept, $max_held) = (0, 0, 0);
    for my $round (1 .. $ROUNDS) {
        for my $i (1 .. $PER_ROUND) {
            my ($st, $body) = fast('POST', '/api/service/pushAsyncCall', $push);
            my ($uid) = $body =~ /"uId"\s*:\s*"([0-9a-f-]{36})"/;
            next unless $st == 200 && $uid;
            ($st) = fast('PATCH', '/api/v2/rejectCall', qq({"uId":"$uid"}));
            $ok++ if $st == 200;
        }
        my $held = stats()->{requestsHeld};
        $max_held = $held if $held > $max_held;
        $swept++ if wait_until(sub { stats()->{requestsHeld} == $held0 }, 10);
    }
    my $secs = now_hires() - $t0;
    my $rss = rss_kb();
    is($ok, $ROUNDS * $PER_ROUND, '20,000 starts pushed and rejected');
    is($swept, $ROUNDS, 'after each round of 4,000, none of them held within seconds')
      or diag explain stats();
    cmp_ok($max_held, '<=', $held0 + $PER_ROUND, 'never more than a round held at once');
    my $grew = $rss - $rss0;
    diag(sprintf('RSS %d kB -> %d kB (+%d kB), at most %d held, %.1f s',
            $rss0, $rss, $grew, $max_held, $secs));
    # kept forever, 20,000 rejected requests take about 70 MB (--request-ttl
    # 0), one round about a fifth of that: the memory of a round is reused
    cmp_ok($grew, '<', 30 * 1024, 'RSS grew by less than 30 MB');
};

done_testing();
