# The README runs as written: every ```sql block of README.md, in order,
# against a simulator, in a cluster configured as the README says (liveid
# preloaded, liveid.url, DEMO's key in liveid.api_key, ACME's in a key
# file).  A block may show an error it expects with a line
# "-- ERROR:  <message>"; any other error fails the block, and so does an
# expected error that does not come.
use strict;
use warnings;
use FindBin;
use LiveidCluster;
use Test::More;

my $readme = "$FindBin::Bin/../README.md";
open(my $fh, '<', $readme) or die "$readme: $!";
my (@blocks, $cur, $line);
while (my $l = <$fh>) {
    $line++;
    if (!defined $cur && $l =~ /^```sql\s*$/) { $cur = { line => $line, sql => '' }; next }
    if (defined $cur && $l =~ /^```\s*$/) { push @blocks, $cur; undef $cur; next }
    $cur->{sql} .= $l if defined $cur;
}
close $fh;
cmp_ok(scalar @blocks, '>=', 5, 'README.md has its sql blocks');

my $sim  = liveid_sim();
# pg_cron preloaded, for the block that schedules refresh_calls
my $node = liveid_node('node', $sim, no_extension => 1, conf => <<'CONF');
shared_preload_libraries = 'liveid,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
liveid.worker_database = 'postgres'
max_worker_processes = 16
CONF
# the key file of the README's Installing section, with ACME's key
my $keys = $node->data_dir . '/liveid.keys';
open(my $kf, '>', $keys) or die "$keys: $!";
print $kf "# LiveID+ keys, one per organization\nACME=acme-key-81d4e0\n";
close $kf;
chmod 0600, $keys;
$node->append_conf('postgresql.conf', "liveid.api_key_file = '$keys'\n");
$node->restart;
# the examples assume a database with the extension (the Installing block
# is idempotent)
$node->safe_psql('postgres', 'CREATE EXTENSION liveid');

for my $b (@blocks) {
    my @expected = $b->{sql} =~ /^--\s*ERROR:\s+(.*?)\s*$/mg;
    my ($out, $err) = ('', '');
    $node->psql('postgres', $b->{sql}, stdout => \$out, stderr => \$err,
        on_error_stop => @expected ? 0 : 1);
    my @got = $err =~ /ERROR:\s+(.*?)\s*$/mg;
    my $what = "README.md line $b->{line}";
    if (@expected) {
        is(scalar @got, scalar @expected, "$what: the errors it shows, and no other") or diag($err);
        for my $i (0 .. $#expected) {
            is($got[$i] // '', $expected[$i], "$what: $expected[$i]");
        }
    }
    else {
        is(scalar @got, 0, "$what runs without an error") or diag($err);
    }
}

done_testing;
