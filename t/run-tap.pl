#!/usr/bin/perl
# Runs TAP test files with TAP::Harness (libs t/lib and sim/t/lib) and prints, as its last
# line, "tap: N passed, N failed" (another suite name with --suite), counting
# individual assertions: the leaves inside subtests, not the subtests
# themselves.  A file that died, had a wrong plan or unparsable TAP counts as
# at least one failure.  Exit status 0 only when nothing failed.
#
#   perl t/run-tap.pl sim/t/*.t t/*.t
#   perl t/run-tap.pl -v sim/t/04-lifecycle.t      (verbose TAP)
#   perl t/run-tap.pl --suite tap-ext t/*.t        (last line "tap-ext: ...")
use strict;
use warnings;
use FindBin;
use TAP::Harness;

my $verbose = 0;
my $suite = 'tap';
my @files;
while (defined(my $arg = shift @ARGV)) {
    if ($arg eq '-v' || $arg eq '--verbose') { $verbose = 1 }
    elsif ($arg eq '--suite') { $suite = shift @ARGV // die "$0: --suite needs a name\n" }
    else { push @files, $arg }
}
die "usage: $0 [-v] [--suite NAME] FILE...\n" unless @files;

# Per file: counts of leaf assertions, and the failed ones by name.
my %count;      # file => {passed, failed}
my %failures;   # file => [names of failed assertions]

# Follows the (indented) subtest structure of one file's TAP lines.
sub make_tracker {
    my ($file) = @_;
    my @stack;    # open subtests: {indent, name, leaf_failures}
    $count{$file} = { passed => 0, failed => 0 };
    $failures{$file} = [];
    return sub {
        my ($result) = @_;
        my $line = $result->raw // return;
        if ($line =~ /^(\s*)# Subtest: (.*)$/) {
            push @stack, { indent => length $1, name => $2, leaf_failures => 0 };
            return;
        }
        return unless $line =~ /^(\s*)(not )?ok\b(?:\s+\d+)?(?:\s*-)?\s*(.*)$/;
        my ($indent, $failed, $name) = (length $1, defined $2, $3);
        return if $name =~ /^#\s*skip\b/i && !$failed;    # a skipped check
        my $todo = $name =~ /#\s*TODO\b/i;
        if (@stack && $stack[-1]{indent} == $indent) {
            # the result line of a subtest: not an assertion of its own,
            # unless it failed without any failed assertion inside (it died
            # or had a wrong plan)
            my $st = pop @stack;
            my $path = join(' > ', map { $_->{name} } @stack, $st);
            if ($failed && !$todo && $st->{leaf_failures} == 0) {
                $count{$file}{failed}++;
                push @{ $failures{$file} }, "$path (died or wrong plan)";
                $_->{leaf_failures}++ for @stack;
            }
            return;
        }
        return if $todo;    # a TODO result: neither passed nor failed
        if ($failed) {
            $count{$file}{failed}++;
            $_->{leaf_failures}++ for @stack;
            push @{ $failures{$file} }, join(' > ', (map { $_->{name} } @stack), $name);
        }
        else {
            $count{$file}{passed}++;
        }
    };
}

my $harness = TAP::Harness->new({
    lib       => [ "$FindBin::Bin/lib", "$FindBin::Bin/../sim/t/lib" ],
    verbosity => $verbose ? 1 : 0,
    failures  => 1,
    comments  => 0,
    color     => 0,
    timer     => 1,
    callbacks => {
        parser_args => sub {
            my ($args, $job) = @_;
            my $file = $job->[0];
            $args->{callbacks} = { ALL => make_tracker($file) };
        },
    },
});

# A "Bail out!" (PostgreSQL::Test::Cluster's BAIL_OUT) makes runtests die;
# the files run so far are still counted, the others as not run.
my $aggregate = eval { $harness->runtests(@files) };
my $bailout = $@;
print "\n$bailout" if $bailout;

my ($passed, $failed) = (0, 0);
my @report;
for my $file (@files) {
    my ($parser) = $aggregate ? $aggregate->parsers($file) : ();
    my $c = $count{$file} || { passed => 0, failed => 0 };
    my @why;
    if ($parser) {
        push @why, 'exit status ' . $parser->exit if $parser->exit;
        push @why, 'killed by signal ' . ($parser->wait & 127) if $parser->wait & 127;
        push @why, 'wrong plan (' . ($parser->plan || 'none') . ', ran ' . $parser->tests_run . ')'
          if !$parser->is_good_plan;
        push @why, map { "parse error: $_" } $parser->parse_errors;
    }
    else {
        push @why, $bailout ? 'bailed out, or did not run after a bail out' : 'did not run';
    }
    if (@why && !$c->{failed}) {
        $c->{failed} = 1;
        push @{ $failures{$file} }, 'the file: ' . join('; ', @why);
    }
    $passed += $c->{passed};
    $failed += $c->{failed};
    push @report, map { "  $file: $_" } @{ $failures{$file} || [] };
}

if (@report) {
    print "\nFailed assertions:\n", map { "$_\n" } @report;
}
print "$suite: $passed passed, $failed failed\n";
exit($failed || !$aggregate || $aggregate->has_problems ? 1 : 0);
