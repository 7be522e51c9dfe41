# liveid.report_html() in a real browser: headless Chromium (Debian's
# chromium) renders a week of realistic data (t/report-data.sql) to a PNG
# that must show the charts' colours, loads nothing from the network, and
# builds no script element from a hostile organization code.
#
# LIVEID_REPORT_PNG=/path/report.png keeps the screenshot (docs/report.png
# is made so).
use strict;
use warnings;
use FindBin;
use LiveidCluster;
use PostgreSQL::Test::Utils;
use Compress::Zlib qw(uncompress);
use File::Copy qw(copy);
use IPC::Run ();
use Test::More;

my $chromium = (grep { -x "$_/chromium" } split /:/, $ENV{PATH})[0];
ok(defined $chromium, 'chromium is installed (scripts/deps.sh test)')
    or done_testing, exit;
$chromium .= '/chromium';

my $dir = PostgreSQL::Test::Utils::tempdir;
my $sim = liveid_sim();
my $node = liveid_node('report', $sim);
$node->safe_psql('postgres', "SET TimeZone = 'UTC';\n" . slurp_file("$FindBin::Bin/report-data.sql"));
$node->safe_psql('postgres', q{INSERT INTO liveid.metrics (taken_at, organization, available_operators)
                               VALUES (now() - interval '1 hour', '<script>document.title="x"</script>', 2)});

# Renders a page: (exit status, the netlog's URL hosts); the screenshot or
# the DOM (--dump-dom) in $out.  Chromium's own background requests are in
# every netlog, so hosts count only against a blank page's.
my $run = 0;
sub render {
    my ($html, $out, @mode) = @_;
    $run++;
    my $page = "$dir/page$run.html";
    open(my $fh, '>:raw', $page) or die "$page: $!";
    print $fh $html;
    close $fh;
    local $ENV{HOME} = $dir;
    my @cmd = ($chromium, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
               "--user-data-dir=$dir/profile$run", '--no-first-run',
               '--host-resolver-rules=MAP * ~NOTFOUND', "--log-net-log=$dir/net$run.json",
               '--window-size=1000,1400', @mode, "file://$page");
    my ($stdout, $stderr);
    IPC::Run::run(\@cmd, '>', \$stdout, '2>', \$stderr);
    my $rc = $?;
    if ($out) { open(my $o, '>:raw', $out) or die; print $o $stdout; close $o }
    my %hosts = map { $_ => 1 } slurp_file("$dir/net$run.json") =~ m{"url":"[a-z]+://([^/":]+)}g;
    return ($rc, \%hosts);
}

# The pixels of an 8-bit RGB(A) PNG: (width, height, {rrggbb => count}).
sub png_colours {
    my ($file) = @_;
    my $d = slurp_file($file);
    die "$file: not a PNG" unless substr($d, 0, 8) eq "\x89PNG\r\n\x1a\n";
    my ($pos, $w, $h, $depth, $ctype, $idat) = (8, 0, 0, 0, 0, '');
    while ($pos < length $d) {
        my ($len, $type) = unpack('N a4', substr($d, $pos, 8));
        my $data = substr($d, $pos + 8, $len);
        $pos += 12 + $len;
        if ($type eq 'IHDR') { ($w, $h, $depth, $ctype) = unpack('N N C C', $data) }
        elsif ($type eq 'IDAT') { $idat .= $data }
        elsif ($type eq 'IEND') { last }
    }
    die "$file: not 8-bit RGB or RGBA" unless $depth == 8 && ($ctype == 2 || $ctype == 6);
    my $bpp = $ctype == 6 ? 4 : 3;
    my $raw = uncompress($idat) // die "$file: bad image data";
    my $stride = $w * $bpp;
    my @prev = (0) x $stride;
    my %count;
    for my $y (0 .. $h - 1) {
        my $ft = ord substr($raw, $y * ($stride + 1), 1);
        my @cur = unpack('C*', substr($raw, $y * ($stride + 1) + 1, $stride));
        if ($ft) {
            for my $i (0 .. $stride - 1) {
                my $a = $i >= $bpp ? $cur[$i - $bpp] : 0;
                my $b = $prev[$i];
                my $c = $i >= $bpp ? $prev[$i - $bpp] : 0;
                my $p;
                if ($ft == 1) { $p = $a }
                elsif ($ft == 2) { $p = $b }
                elsif ($ft == 3) { $p = ($a + $b) >> 1 }
                else {
                    my ($pa, $pb, $pc) = (abs($b - $c), abs($a - $c), abs($a + $b - 2 * $c));
                    $p = ($pa <= $pb && $pa <= $pc) ? $a : ($pb <= $pc ? $b : $c);
                }
                $cur[$i] = ($cur[$i] + $p) & 255;
            }
        }
        for (my $i = 0; $i < $stride; $i += $bpp) {
            $count{sprintf('%02x%02x%02x', @cur[$i .. $i + 2])}++;
        }
        @prev = @cur;
    }
    return ($w, $h, \%count);
}

my $html = $node->safe_psql('postgres',
    "SET TimeZone = 'UTC'; SELECT liveid.report_html(now() - interval '7 days', 'DEMO')");
like($html, qr/^<!DOCTYPE html>/, 'report_html gives a page');
is(() = $html =~ /<svg/g, 4, 'the page has its four charts');
unlike($html, qr{[a-z]+://|url\(|<script|<link|<img}i, 'the page names no URL and loads nothing');

my ($rc, $blank) = render('<!DOCTYPE html><title>blank</title>', undef, "--screenshot=$dir/blank.png");
is($rc, 0, 'chromium renders a blank page');
($rc, my $bad) = render('<!DOCTYPE html><img src="http://report-test.invalid/x.png">', undef,
                        "--screenshot=$dir/bad.png");
ok($bad->{'report-test.invalid'}, 'the netlog shows a page\'s request (the check below can fail)');

my $png = "$dir/report.png";
($rc, my $hosts) = render($html, undef, "--screenshot=$png");
is($rc, 0, 'chromium renders the report');
is_deeply([grep { !$blank->{$_} } sort keys %$hosts], [], 'the report made no request of its own');
copy($png, $ENV{LIVEID_REPORT_PNG}) or die "LIVEID_REPORT_PNG: $!" if $ENV{LIVEID_REPORT_PNG};

my ($w, $h, $colours) = png_colours($png);
is("${w}x$h", '1000x1400', 'the screenshot is 1000x1400');
my $pixels = $w * $h;
my $white = $colours->{ffffff} // 0;
cmp_ok($pixels - $white, '>', $pixels * 0.05, 'over 5% of the screenshot is not white');
cmp_ok(scalar keys %$colours, '>', 20, 'the screenshot has more than 20 colours');
# each chart's own colour, drawn (lines 2 px wide, bars solid)
my %series = (d62728 => 'the queue line', '2ca02c' => 'the operators line',
              '1f77b4' => 'the waiting-time bars');
for my $c (sort keys %series) {
    cmp_ok($colours->{$c} // 0, '>', 500, "the screenshot shows $series{$c} (#$c)");
}

# a hostile organization code is text in the browser, not a script
my $hostile = $node->safe_psql('postgres',
    q{SELECT liveid.report_html(now() - interval '1 day', '<script>document.title="x"</script>')});
($rc, undef) = render($hostile, "$dir/dom.html", '--dump-dom');
my $dom = slurp_file("$dir/dom.html");
like($dom, qr{<h1>LiveID\+ report: &lt;script&gt;document\.title="x"&lt;/script&gt;</h1>},
     'the browser shows the hostile code as text');
unlike($dom, qr/<script/i, 'and the DOM has no script element');

done_testing;
