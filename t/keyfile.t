# liveid.api_key_file in a real cluster: read at start, read again at each
# reload; a broken file or one others may read keeps the keys in force and
# the log says why (the line number, never a key); no key ever reaches the
# log.
use strict;
use warnings;
use LiveidCluster;
use PostgreSQL::Test::Utils;
use SimTest ();
use Test::More;

my $sim     = liveid_sim();
my $keyfile = PostgreSQL::Test::Utils::tempdir() . '/liveid.keys';
my $demo    = DEMO_KEY;
my $acme    = SimTest::ACME_KEY;

# Writes the key file with mode $mode (0600 unless told).
sub write_keys {
    my ($text, $mode) = @_;
    open my $fh, '>', $keyfile or die "$keyfile: $!";
    print $fh $text;
    close $fh;
    chmod($mode // 0600, $keyfile) or die "chmod $keyfile: $!";
}

# "ORG|ok" or "ORG|SQLSTATE" for an available_operators call of each
# organization, each in a new session (which the postmaster's keys reach).
sub answers {
    my ($node) = @_;
    my @r;
    for my $org ('ACME', 'DEMO') {
        my ($state) = sql_state($node, "SELECT * FROM liveid.available_operators('$org')");
        push @r, "$org|" . ($state eq '' ? 'ok' : $state);
    }
    return join ' ', @r;
}

# Reloads and waits (up to 30 s) until answers() is $want.
sub reload_until {
    my ($node, $want) = @_;
    $node->reload;
    my $got;
    for (1 .. 300) {
        $got = answers($node);
        return $got if $got eq $want;
        select(undef, undef, undef, 0.1);
    }
    return $got;
}

write_keys("# liveid keys\n\nACME = $acme\n");
my $node = liveid_node('keyfile', $sim, conf => "liveid.api_key_file = '$keyfile'\n");

is(answers($node), 'ACME|ok DEMO|ok',
   'at start: ACME with the file\'s key, DEMO with liveid.api_key');
my ($state, $out, $err) = sql_state($node,
    "SELECT string_agg(a.organization, ',' ORDER BY a.organization) FROM (VALUES ('DEMO'), ('ACME')) o(code), "
  . "LATERAL liveid.available_operators(o.code) a");
is("$state|$out", '|ACME,DEMO', 'one query across both organizations') or diag($err);

# a changed file takes effect at reload: "*" comes before liveid.api_key
write_keys("*=$acme\n");
is(reload_until($node, 'ACME|ok DEMO|28000'), 'ACME|ok DEMO|28000',
   'reload with a changed file: "*" is ACME\'s key, DEMO\'s calls now refused');

# a broken line: the previous keys stay, the log has the line number
my $offset = -s $node->logfile;
write_keys("# line 1\nDEMO=$demo\nbroken $acme\n");
$node->reload;
ok($node->wait_for_log(qr/invalid line 3 in key file/, $offset),
   'a broken file: the log names line 3');
is(answers($node), 'ACME|ok DEMO|28000', 'a broken file: the previous keys stay in force');
my $log = slurp_file($node->logfile, $offset);
like($log, qr/previous API keys stay in use/, 'the log says the previous keys stay');

# a file others may read is refused as ssl_key_file is
$offset = -s $node->logfile;
write_keys("DEMO=$demo\nACME=$acme\n", 0644);
$node->reload;
ok($node->wait_for_log(qr/key file "\Q$keyfile\E" has group or world access/, $offset),
   'mode 0644: refused with a clear message');
$log = slurp_file($node->logfile, $offset);
like($log, qr/DETAIL:  File must have permissions u=rw \(0600\) or less/,
   'the DETAIL says which mode it must have');
is(answers($node), 'ACME|ok DEMO|28000', 'mode 0644: the previous keys stay in force');

# mode 0600 again: read at the next reload
chmod(0600, $keyfile) or die "chmod: $!";
is(reload_until($node, 'ACME|ok DEMO|ok'), 'ACME|ok DEMO|ok',
   'the same file made 0600: both keys at the next reload');

# an organization without a key anywhere: 22023 naming it, nothing sent
write_keys("ACME=$acme\n");
$node->append_conf('postgresql.conf', "liveid.api_key = ''\n");
is(reload_until($node, 'ACME|ok DEMO|22023'), 'ACME|ok DEMO|22023',
   'no key for DEMO anywhere: 22023');
my $sent = sim_api_count($sim);
($state, $out, $err) = sql_state($node, "SELECT * FROM liveid.available_operators('DEMO')");
like($err, qr/no LiveID\+ API key for organization "DEMO"/, 'the message names the organization');
like($err, qr/liveid\.api_key_file.*liveid\.api_key/, 'the hint names both settings');
is(sim_api_count($sim), $sent, 'nothing was sent');

$node->stop;
$log = slurp_file($node->logfile);
unlike($log, qr/\Q$demo\E/, 'the log never holds DEMO\'s key');
unlike($log, qr/\Q$acme\E/, 'the log never holds ACME\'s key');

done_testing();
