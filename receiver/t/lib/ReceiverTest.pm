package ReceiverTest;

# Helpers for liveid-receiver's TAP tests (receiver/t/*.t).
#
#   my $db  = callback_db('db');           # a cluster with the stand-in below
#   my $rcv = start_receiver({}, '--dsn', $db->{dsn});   # --plain-http added
#   my $res = post($rcv, callback_body(conf => 'c1'));   # SimTest::req's answer
#   my @l   = request_lines($rcv);         # its log, one hash per request
#   my $r   = run_receiver(@args);         # runs it to completion (bad options)
#
# The database side: liveid.receive_callback(payload jsonb) RETURNS bigint is
# the extension's, being written elsewhere; these tests do not load the
# extension.  They test the receiver, so callback_db() makes a scratch
# database with a plpgsql STAND-IN that follows the function's contract
# exactly: the stored event's id (the same one for a repeated delivery),
# 28000 for a wrong or missing otherParams.liveid_token (nothing stored),
# 22023 for a body that is not a callback.  Test hooks in the body:
# "test_sleep": seconds to sleep first; "test_sqlstate": raise that
# SQLSTATE.  Every call, even one that fails, advances the sequence
# liveid.calls_seen, so a test can tell whether a body reached the database.
#
# The receiver connects as the login role cb_receiver, which has a
# password (scram-sha-256 in pg_hba.conf) and nothing but USAGE on schema
# liveid and EXECUTE on the function (SECURITY DEFINER), as README.md asks
# of a deployment.

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IO::Select;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes ();
use LiveidCluster qw(plain_node);
use SimTest ();
use Exporter 'import';

our @EXPORT = qw(
  callback_db callback_database start_receiver run_receiver post callback_body request_lines
  make_certs calls_seen TOKEN
);

our $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/../../..');
our $BIN  = $ENV{LIVEID_RECEIVER} // "$ROOT/receiver/liveid-receiver";

# the per-call token of every test call: random, so that a grep of the
# log or an answer for it means something
use constant TOKEN => sprintf('tok-%08x%08x', int(rand(2**32)), int(rand(2**32)));

# the receivers here are quick; a cluster file ends well within this
alarm($ENV{RECEIVER_TAP_TIMEOUT} // 150);

my $SEQ = 0;
my @ALL;
my $OWNER = $$;

# The stand-in (see the header).
sub stand_in_sql {
    my $token = TOKEN;
    return <<"SQL";
CREATE SCHEMA liveid;
CREATE SEQUENCE liveid.calls_seen;
CREATE TABLE liveid.call_events (
  id bigserial PRIMARY KEY,
  id_conference text NOT NULL,
  event text NOT NULL,
  payload jsonb NOT NULL,
  backend_pid integer NOT NULL DEFAULT pg_backend_pid(),
  UNIQUE (id_conference, event));
CREATE FUNCTION liveid.receive_callback(payload jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, liveid AS \$f\$
#variable_conflict use_variable
DECLARE
  ev bigint;
BEGIN
  PERFORM nextval('liveid.calls_seen');
  IF payload ? 'test_sleep' THEN
    PERFORM pg_sleep((payload->>'test_sleep')::float8);
  END IF;
  IF payload ? 'test_sqlstate' THEN
    RAISE EXCEPTION 'stand-in failure' USING ERRCODE = payload->>'test_sqlstate';
  END IF;
  IF NOT coalesce(jsonb_typeof(payload) = 'object'
                  AND jsonb_typeof(payload->'idConference') = 'string'
                  AND payload->>'event' IN ('close', 'error'), false) THEN
    RAISE EXCEPTION 'not a LiveID+ callback' USING ERRCODE = '22023';
  END IF;
  IF payload #>> '{otherParams,liveid_token}' IS DISTINCT FROM '$token' THEN
    RAISE EXCEPTION 'wrong or missing token' USING ERRCODE = '28000';
  END IF;
  INSERT INTO liveid.call_events (id_conference, event, payload)
    VALUES (payload->>'idConference', payload->>'event',
            payload #- '{otherParams,liveid_token}')
    ON CONFLICT (id_conference, event) DO NOTHING
    RETURNING id INTO ev;
  IF ev IS NULL THEN
    SELECT id INTO ev FROM liveid.call_events
     WHERE id_conference = payload->>'idConference' AND event = payload->>'event';
  END IF;
  RETURN ev;
END
\$f\$;
REVOKE ALL ON FUNCTION liveid.receive_callback(jsonb) FROM PUBLIC;
SQL
}

# callback_db($name): a started cluster with database cb, the stand-in and
# the role cb_receiver.  Returns {node, dsn, password}.
sub callback_db {
    my ($name) = @_;
    my $node = plain_node($name);
    my $pw = sprintf('pw-%08x', int(rand(2**32)));
    $node->safe_psql('postgres', "CREATE ROLE cb_receiver LOGIN PASSWORD '$pw'");
    # the role logs in with its password, not trust
    my $hba = $node->data_dir . '/pg_hba.conf';
    my $old = SimTest::_slurp($hba);
    open(my $fh, '>', $hba) or die "$hba: $!";
    print $fh "local all cb_receiver scram-sha-256\n$old";
    close $fh;
    $node->reload;
    my $db = { node => $node, password => $pw };
    $db->{dsn} = callback_database($db, 'cb');
    return $db;
}

# callback_database($db, $dbname, %o): another database of $db's cluster
# with the stand-in (%o: encoding => 'LATIN1'); returns its DSN.
sub callback_database {
    my ($db, $dbname, %o) = @_;
    my $node = $db->{node};
    my $enc = $o{encoding} ? " TEMPLATE template0 ENCODING '$o{encoding}' LC_COLLATE 'C' LC_CTYPE 'C'" : '';
    $node->safe_psql('postgres', "CREATE DATABASE $dbname$enc");
    $node->safe_psql($dbname, stand_in_sql() . <<"SQL");
GRANT USAGE ON SCHEMA liveid TO cb_receiver;
GRANT EXECUTE ON FUNCTION liveid.receive_callback(jsonb) TO cb_receiver;
SQL
    return sprintf('host=%s port=%d dbname=%s user=cb_receiver password=%s',
        $node->host, $node->port, $dbname, $db->{password});
}

# How many calls reached the stand-in so far.
sub calls_seen {
    my ($db) = @_;
    my $v = $db->{node}->safe_psql('cb',
        'SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM liveid.calls_seen');
    return 0 + $v;
}

# The JSON text of a close callback (SimTest's canonical JSON); %o: conf
# (idConference), event, token (undef: none), extra => {members}.
sub callback_body {
    my (%o) = @_;
    my $conf = $o{conf} // 'c-' . ++$SEQ;
    my %other = (liveid_ref => '6b0c3f36-1d55-4c5e-9a57-6f1e0c7d2a10');
    my $token = exists $o{token} ? $o{token} : TOKEN;
    $other{liveid_token} = $token if defined $token;
    my %b = (
        event => $o{event} // 'close', callID => $conf, idConference => $conf,
        closeStatus => 'N', otherParams => \%other,
        message => { closeStatus => 'N', note => 'ok', self => JSON::PP::false() },
        %{ $o{extra} || {} },
    );
    return SimTest::json_text(\%b);
}

# post($rcv, $text, %o): POSTs $text to the receiver's path (or %o path);
# other %o go to SimTest::req.
sub post {
    my ($rcv, $text, %o) = @_;
    my $path = delete $o{path} // $rcv->{path};
    return $rcv->req('POST', $path, body => $text, %o);
}

# The receiver's request lines: ({addr, method, path, status, bytes, ms,
# detail, line}, ...) in order.  A line is written when libmicrohttpd is
# done with the request, which may be just after the client has its
# answer: this waits (up to 3 s) for a line for each request sent through
# $rcv->req that expected one (see req).
sub request_lines {
    my ($rcv) = @_;
    my @r;
    SimTest::wait_until(sub {
        @r = ();
        for (split /\n/, $rcv->log_text) {
            next unless /^\d{4}-\d\d-\d\dT[\d:.]+Z (\S+) (\S+) (\S+) (\d{3}|-) (\d+)B ([\d.]+)ms (\S+)$/;
            push @r, { addr => $1, method => $2, path => $3, status => $4, bytes => $5,
                ms => $6, detail => $7, line => $_ };
        }
        return @r >= $rcv->{logged};
    }, 3, 0.02);
    return @r;
}

# make_certs($dir): a throwaway CA and a server certificate it signs for
# 127.0.0.1 and localhost; returns (ca, cert, key) file names.
sub make_certs {
    my ($dir) = @_;
    my $ssl = sub {
        my @args = @_;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', "$dir/openssl.err";
            exec('openssl', @args) or POSIX::_exit(127);
        }
        waitpid($pid, 0);
        die "openssl @args failed: " . SimTest::_slurp("$dir/openssl.err") if $?;
    };
    $ssl->('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-nodes', '-keyout', "$dir/ca.key", '-out', "$dir/ca.crt", '-days', '2',
        '-subj', '/CN=liveid-receiver test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    open(my $ext, '>', "$dir/server.ext") or die;
    print $ext "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
      . "extendedKeyUsage=serverAuth\n";
    close $ext;
    $ssl->('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', "$dir/server.key", '-out', "$dir/server.csr", '-subj', '/CN=127.0.0.1');
    $ssl->('x509', '-req', '-in', "$dir/server.csr", '-CA', "$dir/ca.crt", '-CAkey',
        "$dir/ca.key", '-CAcreateserial', '-out', "$dir/server.crt", '-days', '2',
        '-extfile', "$dir/server.ext");
    return ("$dir/ca.crt", "$dir/server.crt", "$dir/server.key");
}

# run_receiver([{timeout => S}], @args): runs the binary with exactly these
# arguments until it exits; SimTest::run_sim's answer {exit, stdout, ...}.
sub run_receiver {
    local $SimTest::SIM_BIN = $BIN;
    return SimTest::run_sim(@_);
}

# start_receiver({tls => 1, cacert => F, host => H, env => {..}}, @args):
# the receiver on host:0 (default 127.0.0.1), with --plain-http unless
# tls; stopped (SIGTERM) at the end of the test file.
sub start_receiver {
    my %o = ref $_[0] eq 'HASH' ? %{ shift @_ } : ();
    return ReceiverTest::Receiver->start(\%o, @_);
}

END {
    local $?;
    if ($$ == $OWNER) { $_->stop for grep { !$_->{stopped} } @ALL }
}

package ReceiverTest::Receiver;

use POSIX qw(WNOHANG);
use Time::HiRes ();

sub start {
    my ($class, $o, @args) = @_;
    my $n = ++$SEQ;
    my $err = "$SimTest::TMP/receiver-$n.err";
    my $host = $o->{host} // '127.0.0.1';
    my $listen = $host =~ /:/ ? "[$host]:0" : "$host:0";
    my @cmd = ($BIN, '--listen', $listen, ($o->{tls} ? () : '--plain-http'), @args);
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        $ENV{$_} = $o->{env}{$_} for keys %{ $o->{env} || {} };
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>&', $w;
        open STDERR, '>', $err;
        exec(@cmd) or POSIX::_exit(127);
    }
    close $w;
    my $self = bless { pid => $pid, err => $err, out => $r, host => $host,
        cacert => $o->{cacert}, path => '/liveid/callback', logged => 0 }, $class;
    for (my $i = 0; $i < @args; $i++) { $self->{path} = $args[ $i + 1 ] if $args[$i] eq '--path' }
    push @ALL, $self;
    my $line = '';
    my $sel = IO::Select->new($r);
    my $end = Time::HiRes::time() + 10;
    while ($line !~ /\n/ && Time::HiRes::time() < $end) {
        last unless $sel->can_read($end - Time::HiRes::time());
        sysread($r, my $buf, 256) or last;
        $line .= $buf;
    }
    my ($port) = $line =~ /^(\d+)\n/;
    if (!$port) {
        my $why = $self->stop;
        die "liveid-receiver did not print its port ($why->{desc}; @cmd)\nstderr: "
          . SimTest::_slurp($err) . "\n";
    }
    $self->{first_line} = $line;
    $self->{port} = $port;
    my $h = $host =~ /:/ ? "[$host]" : $host;
    $self->{base} = ($o->{tls} ? 'https' : 'http') . "://$h:$port";
    return $self;
}

sub port     { $_[0]{port} }
sub pid      { $_[0]{pid} }
sub base     { $_[0]{base} }
sub url      { $_[0]{base} . ($_[1] // $_[0]{path}) }
sub log_text { SimTest::_slurp($_[0]{err}) }

# whether it still runs (an exit is reaped, and its status kept for stop)
sub alive {
    my ($s) = @_;
    return 0 if $s->{stopped} || defined $s->{reaped};
    return 1 if waitpid($s->{pid}, WNOHANG) == 0;
    $s->{reaped} = $?;
    return 0;
}

# req($method, $path, %o): SimTest::req to this receiver (its CA by
# default).  It counts as a request that gets a log line unless %o has
# no_line => 1 (one that never arrives whole: refused, failed TLS, ...).
sub req {
    my ($self, $method, $path, %o) = @_;
    $o{cacert} = $self->{cacert} unless exists $o{cacert};
    $self->{logged}++ unless delete $o{no_line};
    return SimTest::req($method, $self->url($path), %o);
}

# count_raw([$n]): counts requests sent on a raw socket that get a line
sub count_raw { $_[0]{logged} += $_[1] // 1 }

# stop([$sig, $timeout]): {exit, signal, killed, elapsed, desc}
sub stop {
    my ($self, $sig, $timeout) = @_;
    return $self->{stopped} if $self->{stopped};
    return {} unless $$ == $OWNER;
    local $?;
    my $t0 = Time::HiRes::time();
    my ($status, $killed) = ($self->{reaped});
    kill($sig // 'TERM', $self->{pid}) unless defined $status;
    while (!defined $status) {
        my $w = waitpid($self->{pid}, WNOHANG);
        if ($w == $self->{pid} || $w == -1) { $status = $w == -1 ? 0 : $?; last }
        if (Time::HiRes::time() - $t0 > ($timeout // 10)) {
            $killed = 1;
            kill 'KILL', $self->{pid};
            waitpid($self->{pid}, 0);
            $status = $?;
            last;
        }
        Time::HiRes::sleep(0.01);
    }
    my %r = (exit => ($status & 127) ? undef : $status >> 8, signal => $status & 127,
        elapsed => Time::HiRes::time() - $t0, killed => $killed);
    $r{desc} = $killed ? 'killed after a timeout'
      : $r{signal} ? "killed by signal $r{signal}" : "exit status $r{exit}";
    close $self->{out};
    return $self->{stopped} = \%r;
}

1;
