# Robustness on raw sockets: malformed HTTP, oversized bodies, slow,
# stalled and vanishing clients, many concurrent keep-alive connections.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use Time::HiRes qw(sleep);
use SimTest;

my $sim = start_sim('--conn-timeout', '1');
my $KEY = DEMO_KEY;

sub healthy {
    my ($what) = @_;
    my $h = req('GET', '/sim/health', timeout => 3);
    is($h->{status}, 200, "after $what: /sim/health 200");
}

# sends raw bytes on a new connection and reads one response
sub raw_exchange {
    my ($bytes, $timeout) = @_;
    my $c = raw_connect() or die "connect: $!";
    print {$c} $bytes;
    my $r = raw_read_response($c, $timeout // 3);
    close $c;
    return $r;
}

# seconds until the server closes $sock (EOF or reset), at most $max
sub time_to_close {
    my ($sock, $max) = @_;
    my $t0 = now_hires();
    my $sel = IO::Select->new($sock);
    while (now_hires() - $t0 < $max) {
        next unless $sel->can_read($max - (now_hires() - $t0));
        my $got = sysread($sock, my $buf, 4096);
        return now_hires() - $t0 if !$got;    # 0: EOF, undef: reset
    }
    return undef;
}

subtest 'malformed HTTP: 400 from libmicrohttpd, and the simulator still works' => sub {
    for my $case (
        [ 'a request line without a valid version', "THIS IS NOT HTTP\r\n\r\n" ],
        [ 'a request line without a target', "GET  HTTP/1.1\r\nHost: x\r\n\r\n" ],
        [ 'a header line without a colon', "GET /sim/health HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n" ],
        [ 'a Content-Length that is not a number',
          "POST /api/service/getQueue HTTP/1.1\r\nHost: x\r\napikey: $KEY\r\nContent-Length: many\r\n\r\n{}" ],
      )
    {
        my ($what, $bytes) = @$case;
        my $r = raw_exchange($bytes);
        is($r->{status}, 400, "$what: 400");
    }
    for my $case ([ 'a one-word request line', "GARBAGE\r\n\r\n" ],
        [ 'binary noise', "\x00\x01\x02\xff\xfe\r\n\r\n" ])
    {
        my ($what, $bytes) = @$case;
        my $r = raw_exchange($bytes);
        ok(!$r->{timed_out}, "$what: answered (status $r->{status}) or closed at once, not left hanging");
        ok($r->{status} == 0 || $r->{status} == 400, "$what: no answer but a 400");
    }
    healthy('malformed requests');
};

subtest 'a body over 1 MiB: 413' => sub {
    my $size = 2 * 1024 * 1024;
    my $c = raw_connect();
    print {$c} "POST /api/service/pushAsyncCall HTTP/1.1\r\nHost: x\r\napikey: $KEY\r\n"
      . "Content-Type: application/json\r\nContent-Length: $size\r\n\r\n";
    # send the body while watching for an early answer
    my $chunk = 'x' x 65536;
    my ($sent, $sel) = (0, IO::Select->new($c));
    $c->blocking(0);
    my $t0 = now_hires();
    while ($sent < $size && now_hires() - $t0 < 5) {
        last if $sel->can_read(0);
        if ($sel->can_write(0.05)) {
            my $n = syswrite($c, $chunk, $size - $sent < 65536 ? $size - $sent : 65536);
            last if !defined $n && !$!{EAGAIN};
            $sent += $n if $n;
        }
    }
    $c->blocking(1);
    my $r = raw_read_response($c, 3);
    close $c;
    is($r->{status}, 413, 'a 2 MiB body by raw socket: 413');

    my $file = "$SimTest::TMP/big.json";
    open(my $fh, '>', $file) or die;
    print $fh '{"orgCode":"DEMO","pad":"' . ('y' x (1024 * 1024)) . '"}';
    close $fh;
    my $res = req('POST', '/api/service/getAvailableOperators', apikey => $KEY,
        body => do { local (@ARGV, $/) = $file; <> });
    is($res->{status}, 413, 'just over 1 MiB with curl: 413');
    ok(ref $res->{json} eq 'HASH' && defined $res->{json}{success} && !$res->{json}{success},
        'the 413 is {"success": false, "error": ...}') or diag $res->{body};
    my $form = 'id_organization=DEMO&pad=' . ('p' x (1024 * 1024 + 10));
    is(req('POST', '/app/service-start', body => $form,
            content_type => 'application/x-www-form-urlencoded')->{status}, 413,
        'a form over 1 MiB to /app/service-start: 413');
    is(req('POST', '/sim/open', body => '{"uId":"' . ('u' x (1024 * 1024 + 10)) . '"}')->{status},
        413, 'a body over 1 MiB to /sim/open: 413');
    my $small = '{"orgCode":"DEMO","pad":"' . ('z' x (1024 * 1024 - 100)) . '"}';
    isnt(req('POST', '/api/service/getAvailableOperators', apikey => $KEY, body => $small)->{status},
        413, 'just under 1 MiB: not 413');
    healthy('oversized bodies');
};

subtest 'a client sending its headers slowly, then stalling, is dropped after --conn-timeout 1' => sub {
    my $c = raw_connect();
    for my $byte (split //, "GET /sim/health HTTP/1.1\r\nHo") {
        print {$c} $byte;
        $c->flush;
        sleep 0.05;
    }
    my $t = req('GET', '/sim/health', timeout => 3);
    is($t->{status}, 200, 'others are served meanwhile');
    cmp_ok($t->{wall}, '<', 0.5, 'without delay');
    my $closed = time_to_close($c, 4);
    ok(defined $closed, 'the stalled connection is closed') or return;
    cmp_ok($closed, '>=', 0.5, 'not before the timeout');
    cmp_ok($closed, '<=', 3, 'within about --conn-timeout');
    healthy('a stalled client');
};

subtest 'an idle keep-alive connection is closed after --conn-timeout 1' => sub {
    my $c = raw_connect();
    print {$c} "GET /sim/health HTTP/1.1\r\nHost: x\r\n\r\n";
    my $r = raw_read_response($c, 3);
    is($r->{status}, 200, 'a first request: 200');
    my $closed = time_to_close($c, 4);
    ok(defined $closed && $closed <= 3, 'then, idle, it is closed within about 1 s')
      or diag 'closed after ' . ($closed // 'never');
};

subtest 'clients that vanish mid-request or mid-answer' => sub {
    my $c = raw_connect();
    print {$c} "POST /api/service/pushAsyncCall HTTP/1.1\r\nHost: x\r\napikey: $KEY\r\n"
      . "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" . ('{"b64Data":"' . ('A' x 88));
    close $c;
    $c = raw_connect();
    print {$c} "POST /api/service/getQueue HTTP/1.1\r\nHost: x\r\nContent-Le";
    close $c;
    $c = raw_connect();
    close $c;
    # vanish while a trickle and a big answer are being sent
    $c = raw_connect();
    print {$c} "POST /api/service/getAvailableOperators HTTP/1.1\r\nHost: x\r\napikey: $KEY\r\n"
      . "Content-Type: application/json\r\nContent-Length: 33\r\n\r\n" . '{"orgCode":"FAULT-TRICKLE-50"}   ';
    sleep 0.3;
    close $c;
    $c = raw_connect();
    print {$c} "POST /api/service/getAvailableOperators HTTP/1.1\r\nHost: x\r\napikey: $KEY\r\n"
      . "Content-Type: application/json\r\nContent-Length: 23\r\n\r\n" . '{"orgCode":"FAULT-BIG"}';
    sysread($c, my $buf, 1000);
    ok(length($buf // ''), 'the big answer had started');
    close $c;
    sleep 0.2;
    healthy('vanishing clients');
    is(req('POST', '/api/service/getQueue', apikey => $KEY, json => { id_process => DEMO_LIVE })->{status},
        200, 'an API request: 200');
    ok($sim->alive, 'the process is alive');
};

subtest '50 concurrent keep-alive connections, two requests each' => sub {
    my $n = 50;
    my @socks = map { raw_connect() } 1 .. $n;
    is(scalar(grep { defined } @socks), $n, "$n connections open");
    my $body = '{"orgCode":"DEMO"}';
    my $request = sub {
        my ($i) = @_;
        return $i % 2
          ? "GET /sim/health HTTP/1.1\r\nHost: x\r\n\r\n"
          : "POST /api/service/getAvailableOperators HTTP/1.1\r\nHost: x\r\napikey: $KEY\r\n"
          . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    };
    my (@ok1, @ok2);
    print { $socks[$_] } $request->($_) for 0 .. $n - 1;
    for my $i (0 .. $n - 1) {
        my $r = raw_read_response($socks[$i], 5);
        push @ok1, $i if $r->{status} == 200 && ref $r->{json} eq 'HASH' && $r->{json}{success};
    }
    is(scalar @ok1, $n, 'all first answers: 200 with JSON');
    print { $socks[$_] } $request->($_ + 1) for 0 .. $n - 1;
    for my $i (0 .. $n - 1) {
        my $r = raw_read_response($socks[$i], 5);
        push @ok2, $i if $r->{status} == 200 && ref $r->{json} eq 'HASH' && $r->{json}{success};
    }
    is(scalar @ok2, $n, 'all second answers on the same connections: 200 with JSON');
    close $_ for @socks;
    healthy('50 concurrent connections');
};

done_testing;
