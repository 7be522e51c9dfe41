package SimTest;

# Helpers shared by the liveid-sim TAP tests (t/sim/*.t).
#
#  - start_sim(@args) / start_sim({quiet => 0, ...}, @args): runs
#    sim/liveid-sim --port 0, reads the port it prints, waits for
#    GET /sim/health, and stops it (SIGTERM) at the end of the test file;
#  - run_sim(@args): runs the binary to completion (bad command lines);
#  - req($method, $path, %opts): one HTTP request through the curl CLI;
#  - start_receiver(statuses => [...]): a forked HTTP server on 127.0.0.1
#    that records every request (one JSON line each) and answers a
#    programmable sequence of statuses (for the server callbacks);
#  - builders of a ServiceStartJson, of the form fields / b64Data with
#    `id_organization` first, and push_async_call / new_call.
#
# Everything is bounded in time: curl --max-time, select() timeouts, and a
# watchdog alarm for the whole test file.  Only Perl core modules are used.

use strict;
use warnings;
use Exporter 'import';
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(strftime WNOHANG);
use Time::HiRes ();
use B ();

our @EXPORT = qw(
  start_sim use_sim run_sim req sim_post start_receiver
  DEMO_KEY ACME_KEY DEMO_LIVE DEMO_SELF DEMO_NOREC ACME_LIVE ACME_SELF
  demo_operator fault_process
  json_text json_decode b64 service_start_json ssj_b64 start_fields
  b64data_text b64data push_async_call new_call call_info find_call
  iso_time jtype is_iso8601 is_uuid is_jwt html_error url_decode url_encode
  raw_connect raw_read_response now_hires wait_until
);

our $ROOT    = abs_path(dirname(abs_path(__FILE__)) . '/../../..');
our $SIM_BIN = $ENV{LIVEID_SIM} // "$ROOT/sim/liveid-sim";
our $TMP     = tempdir('liveid-simtest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $CURRENT;            # req's default simulator: the first one started
                         # (and still running); use_sim() changes it
our $OWNER = $$;         # only this process stops sims and receivers
my $SEQ = 0;
my @ALL;                 # every sim and receiver started, stopped at END

use constant {
    DEMO_KEY   => 'demo-key-5f2b9c',
    ACME_KEY   => 'acme-key-81d4e0',
    DEMO_LIVE  => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',    # live, video recording
    DEMO_SELF  => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02',    # self, video recording
    DEMO_NOREC => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b03',    # live, no recording
    ACME_LIVE  => 'b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301',    # live, video recording
    ACME_SELF  => 'b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b302',    # self, no recording
};

# DEMO's operator N (1..8): {id, name, email, externalId}.
my @DEMO_OPERATOR_NAMES = ('Anna Rossi', 'Marco Bianchi', 'Giulia Ferrari',
    'Luca Esposito', 'Sofia Romano', 'Matteo Colombo', 'Chiara Ricci',
    'Davide Marino');

sub demo_operator {
    my ($n) = @_;
    my $name = $DEMO_OPERATOR_NAMES[ $n - 1 ];
    (my $email = lc $name) =~ s/ /./;
    return {
        id         => sprintf('0a7e5c1d-0000-4000-8000-%012d', $n),
        name       => $name,
        email      => "$email\@demo-bank.example",
        externalId => sprintf('OP-%02d', $n),
    };
}

# The fault process id of a kind (hex digit after 4: 1 delay ... a redirect).
sub fault_process {
    my ($kind, $arg) = @_;
    return sprintf('00000000-fa17-400%s-8000-%012d', $kind, $arg // 0);
}

# A watchdog for the whole test file: no test may hang.
$SIG{ALRM} = sub { die "SimTest watchdog: the test file ran too long\n" };
alarm($ENV{SIMTEST_TIMEOUT} // 120);

sub now_hires { Time::HiRes::time() }

# Polls $cond every $step seconds until it returns true or $timeout passes;
# returns the last value of $cond.
sub wait_until {
    my ($cond, $timeout, $step) = @_;
    $step //= 0.05;
    my $end = now_hires() + ($timeout // 5);
    while (1) {
        my $v = $cond->();
        return $v if $v || now_hires() > $end;
        Time::HiRes::sleep($step);
    }
}

# ---------------------------------------------------------------------
# JSON, Base64, dates, type checks
# ---------------------------------------------------------------------

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub json_text { $JSON->encode($_[0]) }    # UTF-8 bytes, keys sorted

sub json_decode {
    my ($text) = @_;
    return undef unless defined $text && length $text;
    my $v = eval { $JSON->decode($text) };
    return $@ ? undef : $v;
}

sub b64 { encode_base64($_[0], '') }

sub iso_time {
    my ($t) = @_;
    return strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(int $t));
}

# The JSON type of a decoded value, judged from the scalar's flags, so call
# it before the value is used in another context.
sub jtype {
    my ($v) = @_;
    return 'null' unless defined $v;
    my $r = ref $v;
    return 'boolean' if $r && $r->isa('JSON::PP::Boolean');
    return 'array'   if $r eq 'ARRAY';
    return 'object'  if $r eq 'HASH';
    return 'other'   if $r;
    my $flags = B::svref_2object(\$v)->FLAGS;
    if ($flags & (B::SVp_IOK | B::SVp_NOK)) {
        return ($flags & B::SVp_NOK) && $v != int($v) ? 'number' : 'integer';
    }
    return 'string';
}

sub is_iso8601 {
    my ($s) = @_;
    return defined $s && !ref $s
      && $s =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]00:?00)$/;
}

sub is_uuid {
    my ($s) = @_;
    return defined $s && !ref $s
      && $s =~ /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
}

sub is_jwt {
    my ($s) = @_;
    return defined $s && !ref $s
      && $s =~ /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
}

sub url_encode {
    my ($s) = @_;
    utf8::upgrade($s);
    utf8::encode($s);    # characters as UTF-8 bytes
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub url_decode {
    my ($s) = @_;
    $s =~ tr/+/ /;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# The text of <p id="error"> in an HTML error page ('' when absent).
sub html_error {
    my ($html) = @_;
    return '' unless defined $html;
    return '' unless $html =~ m{<p\b[^>]*\bid\s*=\s*["']?error["']?[^>]*>(.*?)</p>}si;
    my $t = $1;
    $t =~ s/<[^>]*>//g;
    $t =~ s/&lt;/</g; $t =~ s/&gt;/>/g; $t =~ s/&quot;/"/g;
    $t =~ s/&#39;|&#x27;|&apos;/'/g; $t =~ s/&amp;/&/g;
    return $t;
}

# ---------------------------------------------------------------------
# ServiceStartJson, form fields and b64Data
# ---------------------------------------------------------------------

# A valid ServiceStartJson (a hash); %over replaces members, undef deletes.
sub service_start_json {
    my (%over) = @_;
    my %j = (
        lang           => 'it',
        liveid_email   => 'mario.rossi@example.com',
        liveid_name    => 'Mario',
        liveid_surname => 'Rossi',
        data           => {
            fiscal_code => {
                datatype => 'text', label => 'Codice fiscale',
                value => 'RSSMRA85M01H501Z', order => 1,
                readonly => JSON::PP::true,
            },
            birth_date => {
                datatype => 'date', label => 'Data di nascita',
                value => '1985-08-01', order => 2,
            },
        },
    );
    for my $k (keys %over) {
        if (defined $over{$k}) { $j{$k} = $over{$k} } else { delete $j{$k} }
    }
    return \%j;
}

sub ssj_b64 { b64(json_text(service_start_json(@_))) }

# The ordered field list of a valid service-start / b64Data:
#   id_organization DEMO, id_process DEMO_LIVE, json (Base64 ServiceStartJson).
# Each override pair replaces a field in place, adds it at the end, or
# (value undef) removes it.
sub start_fields {
    my @over = @_;
    my @f = (id_organization => 'DEMO', id_process => DEMO_LIVE,
             json => ssj_b64());
    while (my ($k, $v) = splice(@over, 0, 2)) {
        my $done = 0;
        for (my $i = 0; $i < @f; $i += 2) {
            next unless $f[$i] eq $k;
            if (defined $v) { $f[ $i + 1 ] = $v } else { splice(@f, $i, 2) }
            $done = 1;
            last;
        }
        push @f, $k, $v if !$done && defined $v;
    }
    return @f;
}

# JSON text of an object whose members come in exactly the given order.
sub b64data_text {
    my @pairs = @_;
    my @m;
    while (my ($k, $v) = splice(@pairs, 0, 2)) {
        push @m, $JSON->encode("$k") . ':' . $JSON->encode($v);
    }
    return '{' . join(',', @m) . '}';
}

sub b64data { b64(b64data_text(@_)) }

# POST /api/service/pushAsyncCall.  Options:
#   fields => [override pairs for start_fields], or pairs => [exact pairs],
#   or b64Data => the raw member; method (default 'start', undef omits);
#   expire (default an hour ahead, undef omits); apikey (default DEMO's);
#   sim => which simulator.
# Returns the response; $res->{uId} is the answer's uId.
sub push_async_call {
    my (%o) = @_;
    my @pairs = $o{pairs} ? @{ $o{pairs} } : start_fields(@{ $o{fields} || [] });
    my %body = (b64Data => exists $o{b64Data} ? $o{b64Data} : b64data(@pairs));
    delete $body{b64Data} unless defined $body{b64Data};
    my $method = exists $o{method} ? $o{method} : 'start';
    $body{method} = $method if defined $method;
    my $expire = exists $o{expire} ? $o{expire} : iso_time(time + 3600);
    $body{expire} = $expire if defined $expire;
    my $res = req('POST', '/api/service/pushAsyncCall',
        apikey => exists $o{apikey} ? $o{apikey} : DEMO_KEY,
        json => \%body, ($o{sim} ? (sim => $o{sim}) : ()));
    $res->{uId} = $res->{json}{uId} if ref $res->{json} eq 'HASH';
    return $res;
}

# pushAsyncCall + the customer opening the link: returns (uId, idConference).
sub new_call {
    my (%o) = @_;
    my $push = push_async_call(%o);
    die "pushAsyncCall failed: $push->{status} $push->{body}\n"
      unless $push->{status} == 200 && $push->{uId};
    my $open = sim_post('/sim/open', { uId => $push->{uId} },
        ($o{sim} ? (sim => $o{sim}) : ()));
    die "/sim/open failed: $open->{status} $open->{body}\n"
      unless $open->{status} == 200 && $open->{json}{idConference};
    return ($push->{uId}, $open->{json}{idConference});
}

# getAsyncRequestInfo of a uId (the response).
sub call_info {
    my ($uid, %o) = @_;
    return req('GET', '/api/v2/getAsyncRequestInfo?uId=' . url_encode($uid),
        apikey => $o{apikey} // DEMO_KEY, ($o{sim} ? (sim => $o{sim}) : ()));
}

# The call of a request with that idConference (a hash) or undef.
sub find_call {
    my ($uid, $conf, %o) = @_;
    my $r = call_info($uid, %o);
    return undef unless ref $r->{json} eq 'HASH' && ref $r->{json}{calls} eq 'ARRAY';
    my ($c) = grep { ref $_ eq 'HASH' && ($_->{idConference} // '') eq $conf }
      @{ $r->{json}{calls} };
    return $c;
}

# ---------------------------------------------------------------------
# The simulator process
# ---------------------------------------------------------------------

# start_sim([{quiet => 0, tls => 1, cacert => F, host => ADDR}], @extra_args)
#   quiet: pass --quiet (default 1); tls: talk HTTPS to it (cacert: the CA
#   to verify it with); host: the address to reach it at (with --bind).
sub start_sim {
    my %o = ref $_[0] eq 'HASH' ? %{ shift @_ } : ();
    my $sim = SimTest::Sim->start(\%o, @_);
    $CURRENT = $sim if !$CURRENT || $CURRENT->{stopped};
    return $sim;
}

# Makes $sim the default simulator of req() and the other helpers.
sub use_sim { $CURRENT = $_[0] }

# Runs the binary with exactly these arguments until it exits (at most
# $timeout seconds, then SIGKILL).  Returns {exit, signal, timed_out,
# stdout, stderr, elapsed}.
sub run_sim {
    my %o = ref $_[0] eq 'HASH' ? %{ shift @_ } : ();
    my @args = @_;
    my $n = ++$SEQ;
    my ($out, $err) = ("$TMP/run-$n.out", "$TMP/run-$n.err");
    my $t0 = now_hires();
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>', $err;
        exec($SIM_BIN, @args) or POSIX::_exit(127);
    }
    my $timeout = $o{timeout} // 3;
    my ($status, $timed_out);
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) { $status = $?; last }
        if (now_hires() - $t0 > $timeout) {
            $timed_out = 1;
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $status = $?;
            last;
        }
        Time::HiRes::sleep(0.02);
    }
    return {
        exit      => ($timed_out || ($status & 127)) ? undef : $status >> 8,
        signal    => $status & 127,
        timed_out => $timed_out,
        stdout    => _slurp($out),
        stderr    => _slurp($err),
        elapsed   => now_hires() - $t0,
    };
}

sub _slurp {
    my ($f) = @_;
    open(my $fh, '<:raw', $f) or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

END {
    local $?;
    if ($$ == $OWNER) { $_->stop for grep { defined } @ALL; }
}

package SimTest::Sim;

use POSIX qw(WNOHANG);
use Time::HiRes ();

sub start {
    my ($class, $o, @args) = @_;
    my $n   = ++$SEQ;
    my $err = "$SimTest::TMP/sim-$n.err";
    pipe(my $r, my $w) or die "pipe: $!";
    my @cmd = ($SimTest::SIM_BIN, '--port', '0',
        (($o->{quiet} // 1) ? '--quiet' : ()), @args);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>&', $w;
        open STDERR, '>', $err;
        exec(@cmd) or POSIX::_exit(127);
    }
    close $w;
    my $self = bless {
        pid => $pid, err => $err, out => $r, cmd => \@cmd,
        cacert => $o->{cacert}, scheme => $o->{tls} ? 'https' : 'http',
        host => $o->{host} // '127.0.0.1',
    }, $class;
    push @ALL, $self;

    # the first stdout line: the port
    my $line = '';
    my $sel  = IO::Select->new($r);
    my $end  = Time::HiRes::time() + ($o->{port_timeout} // 10);
    while ($line !~ /\n/) {
        my $left = $end - Time::HiRes::time();
        last if $left <= 0;
        next unless $sel->can_read($left);
        my $got = sysread($r, my $buf, 256);
        last unless $got;    # EOF: the simulator exited
        $line .= $buf;
    }
    $self->{first_line} = $line;
    my ($port) = $line =~ /(\d+)\s*$/;
    if (!$port) {
        my $why = $self->stop;
        die sprintf("liveid-sim did not print its port (%s; cmd: %s)\nstderr: %s\n",
            $why->{desc}, "@cmd", SimTest::_slurp($err));
    }
    $self->{port} = $port;
    $self->{base} = "$self->{scheme}://$self->{host}:$port";

    # ready when /sim/health answers
    my $ok = SimTest::wait_until(sub {
        my $res = SimTest::req('GET', '/sim/health', sim => $self, timeout => 2);
        return $res->{status} == 200;
    }, 10, 0.05);
    if (!$ok) {
        my $why = $self->stop;
        die "liveid-sim never answered GET /sim/health ($why->{desc})\nstderr: "
          . SimTest::_slurp($err) . "\n";
    }
    return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub base { $_[0]{base} }
sub url  { $_[0]{base} . ($_[1] // '') }
sub log_text { SimTest::_slurp($_[0]{err}) }    # its stderr so far
sub alive { my $s = shift; return !$s->{stopped} && kill(0, $s->{pid}) }

sub req { my $self = shift; my ($m, $p, %o) = @_; SimTest::req($m, $p, %o, sim => $self) }

# Sends $sig (default TERM), waits up to $timeout s (then KILL); returns
# {exit, signal, elapsed, killed, desc}.
sub stop {
    my ($self, $sig, $timeout) = @_;
    return $self->{stopped} if $self->{stopped};
    return {} unless $$ == $SimTest::OWNER;
    local $?;
    my $t0 = Time::HiRes::time();
    kill($sig // 'TERM', $self->{pid});
    my ($status, $killed);
    while (1) {
        my $w = waitpid($self->{pid}, WNOHANG);
        if ($w == $self->{pid} || $w == -1) { $status = $w == -1 ? 0 : $?; last }
        if (Time::HiRes::time() - $t0 > ($timeout // 5)) {
            $killed = 1;
            kill 'KILL', $self->{pid};
            waitpid($self->{pid}, 0);
            $status = $?;
            last;
        }
        Time::HiRes::sleep(0.01);
    }
    my %r = (
        exit    => ($status & 127) ? undef : $status >> 8,
        signal  => $status & 127,
        elapsed => Time::HiRes::time() - $t0,
        killed  => $killed,
    );
    $r{desc} = $killed ? 'killed after a timeout'
      : $r{signal} ? "killed by signal $r{signal}" : "exit status $r{exit}";
    close $self->{out} if $self->{out};
    return $self->{stopped} = \%r;
}

sub DESTROY { my $s = shift; $s->stop if $$ == $SimTest::OWNER && !$s->{stopped} }

package SimTest;

# ---------------------------------------------------------------------
# HTTP requests through curl
# ---------------------------------------------------------------------

# req($method, $path_or_url, %opts) -> {status, headers, header_lines,
# body, json, size, time, curl_exit, curl_error}
#   sim => the simulator (default: see $CURRENT and use_sim); apikey, bearer;
#   headers => {name => value} or [name => value, ...];
#   json => data (canonical JSON); body => raw bytes (content_type,
#   default application/json); form => [pairs] or {..} (urlencoded);
#   multipart => [pairs]; cacert => file (default: the sim's); insecure;
#   timeout => seconds (default 10); output => file (body not kept);
#   curl_args => [...]
sub req {
    my ($method, $path, %o) = @_;
    my $sim = $o{sim} // $CURRENT;
    my $url = $path =~ m{^https?://} ? $path : $sim->base . $path;
    my $n = ++$SEQ;
    my ($hdr, $bodyf, $errf, $reqf) =
      map { "$TMP/req-$n.$_" } qw(hdr body err req);

    my @h;
    if (my $h = $o{headers}) {
        my @p = ref $h eq 'HASH' ? %$h : @$h;
        while (my ($k, $v) = splice(@p, 0, 2)) { push @h, "$k: $v" }
    }
    push @h, "apikey: $o{apikey}"                  if defined $o{apikey};
    push @h, "Authorization: Bearer $o{bearer}"    if defined $o{bearer};

    my @data;
    my $payload;
    if (exists $o{json}) {
        $payload = json_text($o{json});
        push @h, 'Content-Type: application/json';
    }
    elsif (defined $o{body}) {
        $payload = $o{body};
        my $ct = exists $o{content_type} ? $o{content_type} : 'application/json';
        push @h, "Content-Type: $ct" if defined $ct;
    }
    elsif ($o{form}) {
        my @p = ref $o{form} eq 'HASH' ? map { $_ => $o{form}{$_} } sort keys %{ $o{form} }
          : @{ $o{form} };
        my @kv;
        while (my ($k, $v) = splice(@p, 0, 2)) { push @kv, url_encode($k) . '=' . url_encode($v) }
        $payload = join('&', @kv);
        push @h, 'Content-Type: application/x-www-form-urlencoded';
    }
    elsif ($o{multipart}) {
        my @p = @{ $o{multipart} };
        while (my ($k, $v) = splice(@p, 0, 2)) { push @data, '--form-string', "$k=$v" }
    }
    if (defined $payload) {
        open(my $fh, '>:raw', $reqf) or die "$reqf: $!";
        print $fh $payload;
        close $fh;
        push @data, '--data-binary', "\@$reqf";
    }

    my $cacert = exists $o{cacert} ? $o{cacert} : ($sim ? $sim->{cacert} : undef);
    my @cmd = ('curl', '-s', '-S', '-g', '--path-as-is', '-X', $method,
        '--max-time', $o{timeout} // 10,
        '-D', $hdr, '-o', $o{output} // $bodyf,
        '-w', '%{http_code} %{size_download} %{time_total} %{num_connects}',
        '-H', 'Expect:',
        (map { ('-H', $_) } @h),
        (defined $cacert ? ('--cacert', $cacert) : ()),
        ($o{insecure} ? '-k' : ()),
        @{ $o{curl_args} || [] },
        @data, $url);

    my $t0 = now_hires();
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', "$TMP/req-$n.w";
        open STDERR, '>', $errf;
        exec(@cmd) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $exit = $? >> 8;
    my $wall = now_hires() - $t0;

    my ($code, $size, $ttotal) = split ' ', _slurp("$TMP/req-$n.w");
    my %res = (
        status     => 0 + ($code // 0),
        size       => $size // 0,
        time       => $ttotal // $wall,
        wall       => $wall,
        curl_exit  => $exit,
        curl_error => _slurp($errf),
        headers    => {},
        header_lines => [],
        body       => defined $o{output} ? undef : _slurp($bodyf),
        cmd        => \@cmd,
    );
    $res{curl_error} =~ s/\s+$//;

    # the last header block (100 Continue blocks come first)
    my @blocks = grep { /^HTTP\// } split /\r?\n\r?\n/, _slurp($hdr);
    if (@blocks) {
        my @lines = split /\r?\n/, $blocks[-1];
        $res{status_line} = shift @lines;
        for (@lines) {
            next unless /^([^:\s]+):\s*(.*)$/;
            push @{ $res{header_lines} }, [ $1, $2 ];
            my $k = lc $1;
            $res{headers}{$k} = exists $res{headers}{$k} ? "$res{headers}{$k}, $2" : $2;
        }
    }
    $res{json} = json_decode($res{body}) if defined $res{body};
    unlink $hdr, $bodyf, $errf, $reqf, "$TMP/req-$n.w";
    return \%res;
}

# POST a JSON body to a path (the /sim/ control endpoints).
sub sim_post {
    my ($path, $data, %o) = @_;
    return req('POST', $path, json => $data, %o);
}

# ---------------------------------------------------------------------
# Raw sockets
# ---------------------------------------------------------------------

sub raw_connect {
    my ($sim) = @_;
    $sim //= $CURRENT;
    return IO::Socket::INET->new(PeerAddr => $sim->{host}, PeerPort => $sim->port,
        Proto => 'tcp', Timeout => 3);
}

# Reads one HTTP response (Content-Length or chunked or until close) within
# $timeout seconds: {status, headers, body, eof, timed_out, raw}.
sub raw_read_response {
    my ($sock, $timeout) = @_;
    my $end = now_hires() + ($timeout // 5);
    my $buf = '';
    my $sel = IO::Select->new($sock);
    my %r = (status => 0, headers => {}, body => '');
    my $read_more = sub {
        my $left = $end - now_hires();
        if ($left <= 0 || !$sel->can_read($left)) { $r{timed_out} = 1; return 0 }
        my $got = sysread($sock, my $chunk, 65536);
        if (!$got) { $r{eof} = 1; $r{error} = $! unless defined $got; return 0 }
        $buf .= $chunk;
        return 1;
    };
    while ($buf !~ /\r?\n\r?\n/) { $read_more->() or do { $r{raw} = $buf; return \%r } }
    my ($head, $rest) = split /\r?\n\r?\n/, $buf, 2;
    my @lines = split /\r?\n/, $head;
    my $sl = shift @lines;
    ($r{status}) = $sl =~ m{^HTTP/\d\.\d\s+(\d{3})};
    $r{status} //= 0;
    for (@lines) { $r{headers}{ lc $1 } = $2 if /^([^:\s]+):\s*(.*)$/ }
    $buf = $rest;
    if (defined(my $len = $r{headers}{'content-length'})) {
        while (length $buf < $len) { $read_more->() or last }
        $r{body} = substr($buf, 0, $len);
    }
    elsif (($r{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        my $body = '';
        while (1) {
            while ($buf !~ /\r\n/) { $read_more->() or last }
            last unless $buf =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//;
            my $n = hex $1;
            if ($n == 0) { last }
            while (length $buf < $n + 2) { $read_more->() or last }
            $body .= substr($buf, 0, $n);
            $buf = substr($buf, $n + 2);
        }
        $r{body} = $body;
    }
    else {
        while ($read_more->()) { }
        $r{body} = $buf;
    }
    $r{json} = json_decode($r{body});
    $r{raw} = $head;
    return \%r;
}

# ---------------------------------------------------------------------
# The callback receiver
# ---------------------------------------------------------------------

# start_receiver(statuses => [500, 500, 200], default => 200)
#   statuses: the status of the 1st, 2nd... request; after the list, the
#   `default` (else the list's last, else 200).  A status 0 closes the
#   connection without an answer.
sub start_receiver { SimTest::Receiver->new(@_) }

package SimTest::Receiver;

use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes ();

sub new {
    my ($class, %o) = @_;
    my @statuses = @{ $o{statuses} || [] };
    my $default = $o{default} // (@statuses ? $statuses[-1] : 200);
    my $listen = IO::Socket::INET->new(Listen => 32, LocalAddr => '127.0.0.1',
        LocalPort => 0, Proto => 'tcp', ReuseAddr => 1)
      or die "receiver: $!";
    my $port = $listen->sockport;
    my $log = "$SimTest::TMP/receiver-" . ++$SEQ . '.jsonl';
    open(my $fh, '>', $log) or die "$log: $!";
    close $fh;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        $SIG{ALRM} = sub { POSIX::_exit(0) };
        alarm(180);
        my $n = 0;
        while (my $c = $listen->accept) {
            my $status = $n < @statuses ? $statuses[$n] : $default;
            _serve($c, $log, $n, $status);
            $n++;
        }
        POSIX::_exit(0);
    }
    close $listen;
    my $self = bless { pid => $pid, port => $port, log => $log }, $class;
    push @ALL, $self;
    return $self;
}

# one connection: one request, recorded, then the programmed answer
sub _serve {
    my ($c, $log, $n, $status) = @_;
    my $sel = IO::Select->new($c);
    my $buf = '';
    my $end = Time::HiRes::time() + 5;
    my $more = sub {
        my $left = $end - Time::HiRes::time();
        return 0 if $left <= 0 || !$sel->can_read($left);
        my $got = sysread($c, my $chunk, 65536);
        return 0 unless $got;
        $buf .= $chunk;
        return 1;
    };
    while ($buf !~ /\r?\n\r?\n/) { $more->() or return close $c }
    my ($head, $rest) = split /\r?\n\r?\n/, $buf, 2;
    my @lines = split /\r?\n/, $head;
    my ($method, $path) = (shift @lines) =~ /^(\S+)\s+(\S+)/;
    my %h;
    for (@lines) { $h{ lc $1 } = $2 if /^([^:\s]+):\s*(.*)$/ }
    if (($h{expect} // '') =~ /100-continue/i) {
        syswrite($c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    $buf = $rest;
    my $body = '';
    if (defined $h{'content-length'}) {
        while (length $buf < $h{'content-length'}) { $more->() or last }
        $body = substr($buf, 0, $h{'content-length'});
    }
    elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            while ($buf !~ /\r\n/) { $more->() or last }
            last unless $buf =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//;
            my $len = hex $1;
            last if $len == 0;
            while (length $buf < $len + 2) { $more->() or last }
            $body .= substr($buf, 0, $len);
            $buf = substr($buf, $len + 2);
        }
    }
    my $rec = {
        n => $n, time => Time::HiRes::time(), method => $method, path => $path,
        headers => \%h, body => $body, answered => $status,
    };
    open(my $fh, '>>', $log) or die;
    print $fh JSON::PP->new->canonical->utf8->encode($rec), "\n";
    close $fh;
    if ($status) {
        my $text = "status $status\n";
        syswrite($c, "HTTP/1.1 $status Receiver\r\nContent-Type: text/plain\r\n"
              . 'Content-Length: ' . length($text) . "\r\nConnection: close\r\n\r\n$text");
    }
    close $c;
}

sub port { $_[0]{port} }
sub url  { "http://127.0.0.1:$_[0]{port}" . ($_[1] // '/cb') }

# every request received so far: [{n, time, method, path, headers, body,
# json (the body decoded), answered}]
sub requests {
    my ($self) = @_;
    my @r;
    for my $line (split /\n/, SimTest::_slurp($self->{log})) {
        my $rec = eval { JSON::PP->new->utf8->decode($line) } or next;
        $rec->{json} = SimTest::json_decode($rec->{body});
        push @r, $rec;
    }
    return \@r;
}

# waits until at least $n requests arrived (at most $timeout s)
sub wait_for {
    my ($self, $n, $timeout) = @_;
    SimTest::wait_until(sub { @{ $self->requests } >= $n }, $timeout // 5, 0.02);
    return $self->requests;
}

sub stop {
    my ($self) = @_;
    return if $self->{stopped} || $$ != $SimTest::OWNER;
    local $?;
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{stopped} = 1;
}

sub DESTROY { my $s = shift; $s->stop if $$ == $SimTest::OWNER }

1;
