# The command line: --port 0, bad options, unusable config or port, the
# request log on stderr, and a clean stop on SIGTERM / SIGINT.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use SimTest;

subtest '--port 0 picks a free port and prints it alone on one stdout line' => sub {
    my $sim = use_sim(start_sim());
    like($sim->{first_line}, qr/^\d+\r?\n\z/, 'the first stdout line is just a port number');
    ok($sim->port > 0 && $sim->port < 65536, 'the port is a valid TCP port')
      or diag "port: " . $sim->port;
    my $res = req('GET', '/sim/health');
    is($res->{status}, 200, 'GET /sim/health answers 200 on that port');
    is(jtype($res->{json}{success}), 'boolean', 'health: success is a JSON boolean');
    ok($res->{json}{success}, 'health: success is true');
    is(jtype($res->{json}{version}), 'string', 'health: version is a string');
    ok(is_iso8601($res->{json}{now}), 'health: now is an ISO 8601 UTC time')
      or diag explain $res->{json};
    my $other = start_sim();
    isnt($other->port, $sim->port, 'a second simulator gets another port');
};

subtest 'bad options exit with status 2' => sub {
    for my $case (
        [ 'an unknown option',         '--port', '0', '--no-such-option' ],
        [ 'no --port at all',          '--quiet' ],
        [ 'a non-numeric port',        '--port', 'eighty' ],
        [ 'an option missing its value', '--port', '0', '--seed' ],
        [ 'a non-numeric --token-ttl', '--port', '0', '--token-ttl', 'soon' ],
        [ 'an unparsable --clock',     '--port', '0', '--clock', 'yesterday noon' ],
      )
    {
        my ($what, @args) = @$case;
        my $r = run_sim(@args);
        is($r->{exit}, 2, "$what exits 2")
          or diag "args: @args; " . ($r->{timed_out} ? 'still running after 3 s' : "exit " . ($r->{exit} // 'signal')) . "; stderr: $r->{stderr}";
    }
};

subtest 'an unusable config or port exits with status 1' => sub {
    my $dir = $SimTest::TMP;
    my $r = run_sim('--port', '0', '--config', "$dir/does-not-exist.json");
    is($r->{exit}, 1, 'a config file that does not exist exits 1')
      or diag "stderr: $r->{stderr}";

    open(my $fh, '>', "$dir/unreadable.json") or die;
    print $fh '{"organizations": []}';
    close $fh;
    chmod 0000, "$dir/unreadable.json";
    SKIP: {
        skip 'running as root: a mode 000 file is still readable', 1
          if open(my $probe, '<', "$dir/unreadable.json");
        $r = run_sim('--port', '0', '--config', "$dir/unreadable.json");
        is($r->{exit}, 1, 'an unreadable config file exits 1') or diag "stderr: $r->{stderr}";
    }

    open($fh, '>', "$dir/broken.json") or die;
    print $fh '{"organizations": [ {"code": "DEMO", ';
    close $fh;
    $r = run_sim('--port', '0', '--config', "$dir/broken.json");
    is($r->{exit}, 1, 'a config that is not JSON exits 1') or diag "stderr: $r->{stderr}";

    $r = run_sim('--port', '0', '--config', $dir);
    is($r->{exit}, 1, 'a directory as config exits 1') or diag "stderr: $r->{stderr}";

    my $busy = start_sim();
    $r = run_sim('--port', $busy->port, '--quiet');
    is($r->{exit}, 1, 'a port already in use exits 1') or diag "stderr: $r->{stderr}";
};

subtest 'the request log: one line per request with method, path and status, never a key' => sub {
    my $sim = use_sim(start_sim({ quiet => 0 }));
    my $res = req('POST', '/api/service/getQueue', apikey => DEMO_KEY,
        json => { id_process => DEMO_LIVE });
    is($res->{status}, 200, 'getQueue answers 200');
    my $size = length $res->{body};

    my $bad = req('POST', '/api/service/getAvailableOperators',
        apikey => 'wrong-key-0000', json => { orgCode => 'DEMO' });
    is($bad->{status}, 401, 'a wrong key answers 401');

    # a token on the Bearer endpoints must not be logged either
    my ($uid, $conf) = new_call();
    my $tok = req('GET', "/api/authenticate/genAPIToken?idConference=$conf", apikey => DEMO_KEY);
    my $token = $tok->{json}{token} // 'no-token';
    req('GET', "/api/v2/getAuditData?idConference=$conf", bearer => $token);

    my $log = wait_until(sub {
        my $l = $sim->log_text;
        return $l =~ m{GET /api/v2/getAuditData} ? $l : '';
    }, 3) || $sim->log_text;
    my @lines = grep { length } split /\n/, $log;
    my ($line) = grep { m{ POST /api/service/getQueue } } @lines;
    ok($line, 'the getQueue request is logged') or diag "log:\n$log";
    $line //= '';
    like($line,
        qr{^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1 POST /api/service/getQueue 200 \d+B \d+(?:\.\d+)?ms\b},
        'the line reads: time, client, method, path, status, size, duration');
    like($line, qr/ ${size}B /, 'the logged size is the body size');
    like($line, qr/\borg=DEMO\b/, 'the line names the organization (as the README example)');
    ok((grep { m{ POST /api/service/getAvailableOperators 401 } } @lines),
        'the 401 is logged with its status');
    ok((grep { m{ GET /api/v2/getAuditData\S* 200 } } @lines),
        'the Bearer request is logged');
    unlike($log, qr/demo-key-5f2b9c/, 'the valid apikey never appears in the log');
    unlike($log, qr/wrong-key-0000/, 'a wrong apikey never appears in the log');
    unlike($log, qr/\Q$token\E/, 'the ConferenceToken never appears in the log');
    my ($h, $p) = split /\./, $token;
    unlike($log, qr/\Q$p\E/, 'nor does any part of it') if $p;
    is(scalar(grep { m{ POST /api/service/getQueue } } @lines), 1, 'exactly one line for the request')
      or diag "log:\n$log";
};

subtest 'a key in the query string is not logged either' => sub {
    my $sim = use_sim(start_sim({ quiet => 0 }));
    my $r = req('GET', '/api/v2/getAsyncRequestInfo?uId=x&apikey=' . DEMO_KEY, apikey => DEMO_KEY);
    ok($r->{status} >= 400, 'an unknown uId: an error');
    my $log = wait_until(sub { my $l = $sim->log_text; $l =~ /getAsyncRequestInfo/ ? $l : '' }, 3);
    like($log, qr{ GET /api/v2/getAsyncRequestInfo}, 'the request is logged');
    unlike($log, qr/demo-key-5f2b9c/, 'without the key');
};

subtest '--config: another organizations file' => sub {
    my $file = "$SimTest::TMP/other-config.json";
    open(my $fh, '>', $file) or die;
    print $fh json_text({ organizations => [ {
        code => 'TEST', name => 'Test Org', apiKey => 'test-key-1', languages => [ 'pt' ],
        callbackHosts => [], processes => [ { id => '12345678-1234-4234-8234-123456789abc',
                name => 'P', self => JSON::PP::false, videoRecording => JSON::PP::false } ],
        operators => [ { id => '12345678-0000-4000-8000-000000000001', name => 'Op One',
                email => 'op1@test.example', externalId => 'T-1' } ] } ] });
    close $fh;
    my $sim = use_sim(start_sim('--config', $file));
    my $r = req('POST', '/api/service/availableLanguages', apikey => 'test-key-1', json => { orgCode => 'TEST' });
    is($r->{status}, 200, 'its organization answers');
    is_deeply($r->{json}{languages}, ['pt'], 'with its languages');
    is(req('POST', '/api/service/availableLanguages', apikey => DEMO_KEY,
            json => { orgCode => 'DEMO' })->{status}, 401, "the default config's key is unknown: 401");
    is(req('POST', '/api/service/getQueue', apikey => 'test-key-1',
            json => { id_process => '12345678-1234-4234-8234-123456789abc' })->{status}, 200,
        'its process answers');
};

subtest '--bind: listens on that address only' => sub {
    my $sim = start_sim({ host => '127.0.0.2' }, '--bind', '127.0.0.2');
    my $port = $sim->port;
    is(req('GET', "http://127.0.0.2:$port/sim/health")->{status}, 200, '127.0.0.2 answers');
    my $r = req('GET', "http://127.0.0.1:$port/sim/health", timeout => 3);
    is($r->{status}, 0, '127.0.0.1 does not');
    is($r->{curl_exit}, 7, 'connection refused (curl 7)') or diag $r->{curl_error};
};

subtest '--quiet: no request log' => sub {
    my $sim = use_sim(start_sim());    # start_sim passes --quiet
    for (1 .. 3) { req('POST', '/api/service/getQueue', apikey => DEMO_KEY, json => { id_process => DEMO_LIVE }) }
    sleep 0.2;
    unlike($sim->log_text, qr{/api/service/getQueue}, 'nothing is logged for the requests');
};

subtest 'SIGTERM and SIGINT stop it promptly with exit status 0' => sub {
    for my $sig (qw(TERM INT)) {
        my $sim = use_sim(start_sim());
        my ($uid, $conf) = new_call();    # some state and a live call
        my $r = $sim->stop($sig, 5);
        ok(!$r->{killed}, "SIG$sig: it stopped by itself");
        is($r->{exit}, 0, "SIG$sig: exit status 0") or diag "$r->{desc}; stderr: " . $sim->log_text;
        cmp_ok($r->{elapsed}, '<', 2, "SIG$sig: within 2 s");
    }
    # with a connection open and idle, it still stops promptly
    my $sim = start_sim('--conn-timeout', '30');
    my $sock = raw_connect($sim);
    print {$sock} "GET /sim/health HTTP/1.1\r\nHost: x\r\n";    # headers not finished
    sleep 0.1;
    my $r = $sim->stop('TERM', 5);
    is($r->{exit}, 0, 'SIGTERM with a stalled client connection: exit 0') or diag $r->{desc};
    cmp_ok($r->{elapsed}, '<', 3, 'and within 3 s');
};

done_testing;
