# GET /sim/requests: every asynchronous request the simulator holds, oldest
# first, optionally only those of one external_id; GET /sim/requests/<uId>
# still shows one request; /sim/stats counts the pushAsyncCall requests
# (pushes).  The listing stays fast with 20,000 requests held, and a
# request forgotten after --request-ttl leaves it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use SimTest;

my $sim = start_sim();

sub list  { req('GET', '/sim/requests' . ($_[0] // '')) }
sub stats { req('GET', '/sim/stats')->{json} }

sub push_ext {
    my ($ext) = @_;
    my $r = push_async_call(fields => [ defined $ext ? (external_id => $ext) : () ]);
    die "pushAsyncCall: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return $r->{uId};
}

subtest 'an empty listing' => sub {
    my $r = list();
    is($r->{status}, 200, 'GET /sim/requests: 200');
    is_deeply($r->{json}, { success => JSON::PP::true, requests => [] }, 'no requests');
    is(stats()->{pushes}, 0, 'no pushes yet');
};

my @uids;
subtest 'several pushes, in creation order' => sub {
    @uids = (push_ext('EXT-A'), push_ext('EXT-B'), push_ext('EXT-A'), push_ext(undef));
    my $r = list();
    is($r->{status}, 200, 'GET /sim/requests: 200');
    my @got = @{ $r->{json}{requests} };
    is(scalar @got, 4, 'four requests');
    is_deeply([ map { $_->{uId} } @got ], \@uids, 'oldest first');
    my $first = $got[0];
    is($first->{externalId}, 'EXT-A', 'externalId');
    is($first->{organization}, 'DEMO', 'organization');
    is($first->{method}, 'start', 'method');
    is(jtype($first->{rejected}), 'boolean', 'rejected is a boolean');
    ok(!$first->{rejected}, 'not rejected');
    ok(is_iso8601($first->{created}), 'created is an ISO date');
    ok(!exists $got[3]{externalId}, 'no externalId: omitted');
    is(stats()->{pushes}, 4, 'pushes: 4');
    is(stats()->{requestsHeld}, 4, 'requestsHeld: 4');
};

subtest '?externalId= filters' => sub {
    my $a = list('?externalId=EXT-A');
    is($a->{status}, 200, '?externalId=EXT-A: 200');
    is_deeply([ map { $_->{uId} } @{ $a->{json}{requests} } ], [ @uids[0, 2] ],
        'EXT-A: the first and the third');
    is(scalar @{ list('?externalId=EXT-B')->{json}{requests} }, 1, 'EXT-B: one');
    is_deeply(list('?externalId=NOPE')->{json}{requests}, [], 'an unknown one: none');
    is(scalar @{ list('?externalId=ext-a')->{json}{requests} }, 0, 'exact match, case and all');
};

subtest 'a rejected request shows rejected true' => sub {
    my $rej = req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY,
        json => { uId => $uids[1], reason => 'test' });
    is($rej->{status}, 200, 'rejectCall: 200');
    my ($b) = @{ list('?externalId=EXT-B')->{json}{requests} };
    is($b->{uId}, $uids[1], 'the request');
    is(jtype($b->{rejected}), 'boolean', 'a boolean');
    ok($b->{rejected}, 'rejected true');
    ok(!list('?externalId=EXT-A')->{json}{requests}[0]{rejected}, 'the others not');
};

subtest 'the single-request route still works' => sub {
    my $one = req('GET', "/sim/requests/$uids[0]");
    is($one->{status}, 200, "/sim/requests/<uId>: 200");
    is($one->{json}{uId}, $uids[0], 'that request');
    is($one->{json}{externalId}, 'EXT-A', 'with its externalId');
    ok(exists $one->{json}{calls}, 'and its calls');
    is(req('GET', '/sim/requests/00000000-0000-4000-8000-000000000000')->{status}, 404,
        'an unknown uId: 404');
    is(req('POST', '/sim/requests')->{status}, 405, 'POST /sim/requests: 405');
};

subtest 'service-start requests are listed, but not counted as pushes' => sub {
    my $before = stats()->{pushes};
    my $r = req('POST', '/app/service-start', form => [ start_fields(external_id => 'EXT-F') ]);
    is($r->{status}, 200, 'service-start: 200');
    my @f = @{ list('?externalId=EXT-F')->{json}{requests} };
    is(scalar @f, 1, 'listed');
    is($f[0]{method}, 'sync', 'method sync');
    is(stats()->{pushes}, $before, 'pushes unchanged');
};

subtest '20,000 requests held' => sub {
    my $N = 20_000;
    my $held0 = stats()->{requestsHeld};
    my $c = raw_connect() or die "connect: $!";
    my $body = json_text({ b64Data => b64data(start_fields(external_id => 'BULK')),
        method => 'live', expire => iso_time(time + 3600) });
    my $reqtext = "POST /api/service/pushAsyncCall HTTP/1.1\r\nHost: x\r\napikey: " . DEMO_KEY
      . "\r\nContent-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    my $ok = 0;
    for (1 .. $N) {
        print {$c} $reqtext;
        $ok++ if raw_read_response($c, 10)->{status} == 200;
    }
    close $c;
    is($ok, $N, "$N pushes on one connection: 200");
    is(stats()->{requestsHeld}, $held0 + $N, 'all held');
    my $all = list();
    is($all->{status}, 200, 'the full listing: 200');
    is(scalar @{ $all->{json}{requests} }, $held0 + $N, 'every request');
    # how long it took is a figure, not a check (the machines are shared)
    note sprintf('the full listing of %d took %.3f s', $held0 + $N, $all->{time});
    my $bulk = list('?externalId=BULK');
    is(scalar @{ $bulk->{json}{requests} }, $N, 'filtered: the bulk ones');
    note sprintf('filtered: %.3f s', $bulk->{time});
    my $a = list('?externalId=EXT-A');
    is(scalar @{ $a->{json}{requests} }, 2, 'a rare external id among them: 2');
    note sprintf('a rare one: %.3f s', $a->{time});
    is(req('GET', "/sim/requests/$uids[2]")->{json}{uId}, $uids[2], 'one request still found');
};

subtest 'a forgotten request leaves the listing' => sub {
    my $short = start_sim('--request-ttl', '1');
    use_sim($short);
    my @u = map { push_ext('TTL') } 1 .. 3;
    for my $uid (@u[0, 2]) {
        is(req('PATCH', '/api/v2/rejectCall', apikey => DEMO_KEY,
            json => { uId => $uid, reason => 'test' })->{status}, 200, 'rejected');
    }
    ok(wait_until(sub { stats()->{requestsDropped} == 2 }, 10), 'two dropped by the sweep');
    is_deeply([ map { $_->{uId} } @{ list()->{json}{requests} } ], [ $u[1] ],
        'only the one left is listed');
    my $next = push_ext('TTL');
    is_deeply([ map { $_->{uId} } @{ list('?externalId=TTL')->{json}{requests} } ],
        [ $u[1], $next ], 'a new one comes after it');
    use_sim($sim);
};

done_testing();
