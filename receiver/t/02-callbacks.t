# Callbacks against a database with the stand-in receive_callback (see
# lib/ReceiverTest.pm): 200 only once the row is committed, a repeated
# delivery, 403, 400, 413, 404, 405, every SQLSTATE's status, which
# connections are kept, and the log: one line per request, never a token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ReceiverTest;
use SimTest qw(raw_connect raw_read_response json_text);

my $db   = callback_db('cb');
my $node = $db->{node};
my $rcv  = start_receiver({}, '--dsn', $db->{dsn});
sub send_cb { return post($rcv, @_) }

sub event_rows {
    my ($conf) = @_;
    return $node->safe_psql('cb',
        "SELECT count(*) FROM liveid.call_events WHERE id_conference = '$conf'");
}

# the answer's body never holds the token, whatever the status
sub no_token {
    my ($res, $what) = @_;
    unlike($res->{body}, qr/\Q${\ TOKEN}\E/, "$what: the answer does not hold the token");
}

subtest '200: the row is committed when the answer arrives' => sub {
    my $res = send_cb(callback_body(conf => 'conf-1'));
    is($res->{status}, 200, '200');
    is_deeply($res->{json}, { success => JSON::PP::true() }, 'body {"success":true}');
    like($res->{headers}{'content-type'} // '', qr{^application/json}, 'application/json');
    # another session, at once: the receiver's statement has committed
    is(event_rows('conf-1'), 1, 'the row is visible to another session');
    my ($l) = grep { $_->{status} eq '200' } request_lines($rcv);
    my $id = $node->safe_psql('cb', "SELECT id FROM liveid.call_events WHERE id_conference = 'conf-1'");
    is($l && $l->{detail}, "event=$id", 'the log line names the event id the function returned');
};

subtest 'a repeated delivery: 200 again, one row, the same event id' => sub {
    my $body = callback_body(conf => 'conf-2');
    is(send_cb($body)->{status}, 200, 'first delivery: 200');
    is(send_cb($body)->{status}, 200, 'second delivery: 200');
    is(event_rows('conf-2'), 1, 'one row');
    my @ids = map { $_->{detail} } grep { $_->{status} eq '200' } request_lines($rcv);
    is($ids[-1], $ids[-2], 'both answered with the same event id');
};

subtest '403: a wrong or missing token, nothing stored' => sub {
    for my $case ([ 'a wrong token', 'tok-wrong-0000' ], [ 'no token', undef ]) {
        my ($what, $tok) = @$case;
        my $res = send_cb(callback_body(conf => 'conf-403', token => $tok));
        is($res->{status}, 403, "$what: 403");
        is($res->{json}{success}, JSON::PP::false(), "$what: success false");
        is($res->{json}{error}, "the callback's token is not valid", "$what: a fixed error text");
        unlike($res->{body}, qr/tok-wrong/, "$what: the answer does not echo the token sent");
        is(event_rows('conf-403'), 0, "$what: no row");
        is((request_lines($rcv))[-1]{detail}, 'sqlstate=28000', "$what: logged with its SQLSTATE");
    }
};

subtest '400: bodies that are not a callback' => sub {
    my $tok = TOKEN;
    for my $case (
        # [what, body, the log's detail, whether the function was called]
        [ 'malformed JSON (the ::jsonb cast fails)', qq({"event":"close","otherParams":{"liveid_token":"$tok"}),
          'sqlstate=22P02', 0 ],
        [ 'a JSON object that is not a callback', '{"hello":"world"}', 'sqlstate=22023', 1 ],
        [ 'a JSON array', '[{"event":"close"}]', 'reason=not-an-object', 0 ],
        [ 'a JSON string', '"close"', 'reason=not-an-object', 0 ],
        [ 'an empty body', '', 'reason=empty-body', 0 ],
        [ 'a NUL byte', qq({"event":"close","idConference":"x\0y"}), 'reason=nul-byte', 0 ],
        [ 'bytes that are not UTF-8', qq({"event":"close","idConference":"\xff\xfe"}), 'sqlstate=22021', 0 ],
      )
    {
        my ($what, $body, $detail, $called) = @$case;
        my $before = calls_seen($db);
        my $res = send_cb($body);
        is($res->{status}, 400, "$what: 400");
        is($res->{json}{error}, 'the body is not a LiveID+ callback', "$what: a fixed error text");
        no_token($res, $what);
        is((request_lines($rcv))[-1]{detail}, $detail, "$what: logged as $detail");
        is(calls_seen($db) - $before, $called,
            $called ? "$what: the function said so" : "$what: the function was not called");
    }
    my $res = send_cb(" \r\n\t" . callback_body(conf => 'conf-ws'));
    is($res->{status}, 200, 'white space before the object is fine: 200');
};

subtest 'the body is read as UTF-8 whatever the database encoding' => sub {
    my $dsn = callback_database($db, 'latin1', encoding => 'LATIN1');
    my $l1 = start_receiver({}, '--dsn', "$dsn client_encoding=SQL_ASCII");
    my $note = "caff\x{e8} \x{e0} l'\x{e9}t\x{e9}";
    my $body = callback_body(conf => 'conf-latin1', extra => { note => $note });
    is(post($l1, $body)->{status}, 200, 'a UTF-8 body into a LATIN1 database: 200');
    # compared as the hex of its UTF-8 bytes: psql's own encoding aside
    my $got = $node->safe_psql('latin1', "SELECT encode(convert_to(payload->>'note', 'UTF8'), 'hex') "
          . "FROM liveid.call_events WHERE id_conference = 'conf-latin1'");
    my $want = $note;
    utf8::encode($want);
    is($got, unpack('H*', $want), "stored as those characters, the DSN's client_encoding overridden");
    $l1->stop;
};

subtest '404: another path; 405: another method' => sub {
    for my $p ('/', '/other', '/liveid/callback/', '/liveid/callbackx', '/LIVEID/CALLBACK') {
        my $res = send_cb(callback_body(conf => 'conf-404'), path => $p);
        is($res->{status}, 404, "POST $p: 404");
    }
    is($rcv->req('GET', '/other')->{status}, 404, 'GET /other: 404');
    is(event_rows('conf-404'), 0, 'nothing stored');
    for my $m (qw(GET PUT DELETE PATCH OPTIONS)) {
        my $res = $rcv->req($m, '/liveid/callback');
        is($res->{status}, 405, "$m /liveid/callback: 405");
        is($res->{headers}{allow}, 'POST', "$m: Allow: POST");
    }
};

subtest '--path: the one path taken' => sub {
    my $other = start_receiver({}, '--dsn', $db->{dsn}, '--path', '/hooks/liveid');
    is(post($other, callback_body(conf => 'conf-path'))->{status}, 200, 'POST /hooks/liveid: 200');
    is(post($other, callback_body(conf => 'conf-path2'), path => '/liveid/callback')->{status}, 404,
        'POST /liveid/callback: 404 there');
    $other->stop;
};

subtest '413: over --max-body, by Content-Length and chunked' => sub {
    my $small = start_receiver({}, '--dsn', $db->{dsn}, '--max-body', '1024');
    my $base = callback_body(conf => 'conf-max');
    my $exact = $base . (' ' x (1024 - length $base));
    is(length $exact, 1024, 'a body of exactly 1024 bytes');
    is(post($small, $exact)->{status}, 200, 'at the cap: 200');
    my $res = post($small, $exact . ' ');
    is($res->{status}, 413, 'one byte over: 413');
    is($res->{json}{error}, 'the body is too large', 'a fixed error text');

    # a Content-Length over the cap is answered before any of the body is sent
    my $c = raw_connect($small);
    print {$c} "POST /liveid/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      . "Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n";
    my $r = raw_read_response($c, 3);
    $small->count_raw;
    is($r->{status}, 413, 'Content-Length 10000000, no body sent: 413 at once');
    close $c;

    # chunked: under the cap fine, over it cut off
    my $chunked = sub {
        my ($body, $piece) = @_;
        my $c = raw_connect($small);
        print {$c} "POST /liveid/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          . "Transfer-Encoding: chunked\r\n\r\n";
        for (my $i = 0; $i < length $body; $i += $piece) {
            my $p = substr($body, $i, $piece);
            printf {$c} "%x\r\n%s\r\n", length $p, $p;
        }
        print {$c} "0\r\n\r\n";
        my $r = raw_read_response($c, 3);
        $small->count_raw;
        close $c;
        return $r;
    };
    is($chunked->(callback_body(conf => 'conf-chunk'), 100)->{status}, 200, 'a chunked body under the cap: 200');
    is(event_rows('conf-chunk'), 1, 'stored');
    my $big = callback_body(conf => 'conf-chunk-big', extra => { pad => 'x' x 2000 });
    is($chunked->($big, 300)->{status}, 413, 'a chunked body that grows over the cap: 413');
    is(event_rows('conf-chunk-big'), 0, 'not stored');
    my @l = request_lines($small);
    is(scalar(grep { $_->{status} eq '413' && $_->{detail} eq 'reason=too-large' } @l), 3,
        'the three 413 logged with reason=too-large');
    is($l[-1]{bytes}, length $big, 'the chunked one: every byte received is counted (and dropped)');
    $small->stop;
};

subtest 'the status of each SQLSTATE; the server\'s message stays out' => sub {
    for my $case (
        [ '28000', 403 ], [ '28P01', 403 ], [ '22023', 400 ], [ '22P02', 400 ],
        [ '25006', 503 ], [ '57P01', 503 ], [ '57P02', 503 ], [ '57P03', 503 ],
        [ '53300', 503 ], [ '42501', 500 ], [ '42883', 500 ],
        # raised by the function: the service could not confirm the outcome
        [ '08006', 500 ], [ '58000', 500 ],
        [ 'P0001', 500 ], [ '40001', 500 ], [ 'XX000', 500 ],
      )
    {
        my ($state, $status) = @$case;
        my $res = send_cb(callback_body(extra => { test_sqlstate => $state }));
        is($res->{status}, $status, "$state: $status");
        unlike($res->{body}, qr/stand-in/, "$state: no server message in the answer");
        is((request_lines($rcv))[-1]{detail}, "sqlstate=$state", "$state: logged");
    }
    unlike($rcv->log_text, qr/stand-in/, 'no server message in the log');
};

subtest 'a connection survives other errors, not 25006 or 57P01' => sub {
    my $one = start_receiver({}, '--dsn', $db->{dsn}, '--pool', '1');
    my $n = 0;
    my $pid = sub {
        my $conf = 'conf-pid-' . ++$n;
        my $res = post($one, callback_body(conf => $conf));
        die "POST: $res->{status}\n" unless $res->{status} == 200;
        return $node->safe_psql('cb', "SELECT backend_pid FROM liveid.call_events WHERE id_conference = '$conf'");
    };
    my $p1 = $pid->();
    is(post($one, callback_body(extra => { test_sqlstate => 'P0001' }))->{status}, 500, 'P0001: 500');
    is($pid->(), $p1, 'then the same connection');
    is(post($one, callback_body(extra => { test_sqlstate => '28000' }))->{status}, 403, '28000: 403');
    is($pid->(), $p1, 'the same connection');
    is(post($one, callback_body(extra => { test_sqlstate => '25006' }))->{status}, 503, '25006: 503');
    my $p2 = $pid->();
    isnt($p2, $p1, 'then a new connection (a standby: the next host may be the primary)');
    is(post($one, callback_body(extra => { test_sqlstate => '57P01' }))->{status}, 503, '57P01: 503');
    isnt($pid->(), $p2, 'then a new connection');
    $one->stop;
};

subtest 'the log: one line per request, never a token or the password' => sub {
    # a path that decodes to a line break: still one line, encoded
    is($rcv->req('POST', '/liveid%0Acallback%20x', body => '{}')->{status}, 404, 'POST /liveid%0Acallback%20x: 404');
    my @l = request_lines($rcv);
    is(scalar @l, $rcv->{logged}, "one request line for each of the $rcv->{logged} requests");
    is($l[-1]{path}, '/liveid%0Acallback%20x', 'a line break and a space in the path are logged encoded');
    is(scalar(grep { $_->{addr} ne '127.0.0.1' } @l), 0, 'each names the client 127.0.0.1');
    my $log = $rcv->log_text;
    my @other = grep { !/^\S+Z 127\.0\.0\.1 / && !/^\S+Z liveid-receiver: / } split /\n/, $log;
    is_deeply(\@other, [], 'every other line is one of the receiver\'s own');
    unlike($log, qr/\Q${\ TOKEN}\E/, 'the token never appears in the log');
    unlike($log, qr/\Q$db->{password}\E/, 'nor the database password');
    like($log, qr/^\S+Z liveid-receiver: listening on /m, 'the start-up is logged');
};

subtest 'SIGTERM: exit 0, logged' => sub {
    my $st = $rcv->stop('TERM');
    is($st->{exit}, 0, 'exit 0') or diag $st->{desc};
    like($rcv->log_text, qr/stopping on SIGTERM.*\n.*liveid-receiver: stopped\n\z/, 'the stop is logged');
};

done_testing;
