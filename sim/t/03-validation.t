# What /app/service-start and pushAsyncCall check: one failing case per
# rule of the README, plus the valid variants that must pass.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use SimTest;

my $sim = start_sim();
my $T = JSON::PP::true;
my $F = JSON::PP::false;

# ServiceStartJson overrides as the `json` field
sub J { return (json => ssj_b64(@_)) }

# a data map with one field `fld`: text/label/value plus %attrs (undef deletes)
sub D {
    my (%attrs) = @_;
    my %f = (datatype => 'text', label => 'Field', value => 'x');
    for (keys %attrs) { defined $attrs{$_} ? ($f{$_} = $attrs{$_}) : delete $f{$_} }
    return J(data => { fld => \%f });
}

sub form_start {
    my (@over) = @_;
    return req('POST', '/app/service-start', form => [ start_fields(@over) ]);
}

# a form the simulator must accept
sub form_accepts {
    my ($what, @over) = @_;
    my $res = form_start(@over);
    subtest "form accepted: $what" => sub {
        is($res->{status}, 200, 'status 200')
          or diag 'error: ' . html_error($res->{body}) . "\nfields: @{[ start_fields(@over) ]}";
        like($res->{headers}{'content-type'} // '', qr{^text/html}i, 'an HTML page');
    };
}

# a form the simulator must refuse with $status (or one of [...]) and a
# reason in <p id="error"> that matches $re
sub form_rejects {
    my ($what, $over, $status, $re) = @_;
    my $res = form_start(@$over);
    my @ok = ref $status ? @$status : ($status);
    subtest "form rejected: $what" => sub {
        ok((grep { $res->{status} == $_ } @ok), "status @ok")
          or diag "got $res->{status}: " . html_error($res->{body});
        like($res->{headers}{'content-type'} // '', qr{^text/html}i, 'an HTML page');
        like(html_error($res->{body}), $re, "the reason in <p id=\"error\"> names the field");
    };
}

sub push_accepts {
    my ($what, %o) = @_;
    my $res = push_async_call(%o);
    subtest "pushAsyncCall accepted: $what" => sub {
        is($res->{status}, 200, 'status 200') or diag "body: $res->{body}";
        ok(is_uuid($res->{uId}), 'a uId (UUID)') or diag "body: $res->{body}";
    };
}

sub push_rejects {
    my ($what, $o, $status, $re) = @_;
    my $res = push_async_call(%$o);
    my @ok = ref $status ? @$status : ($status);
    subtest "pushAsyncCall rejected: $what" => sub {
        ok((grep { $res->{status} == $_ } @ok), "status @ok") or diag "got $res->{status}: $res->{body}";
        is(ref $res->{json}, 'HASH', 'a JSON body') or return;
        ok(defined $res->{json}{success} && !$res->{json}{success}, 'success is false');
        like($res->{json}{error} // '', $re, 'the error names the field');
    };
}

# Base64 variants of a valid ServiceStartJson whose encoding has '+' or '/'
# and padding, so that the url-safe and unpadded forms differ from it.
my ($b64_std, $ssj_text);
for my $i (0 .. 200) {
    $ssj_text = json_text(service_start_json(liveid_name => 'Mario' . ('?' x $i) . '>'));
    $b64_std  = b64($ssj_text);
    last if $b64_std =~ m{[+/]} && $b64_std =~ /=$/;
}
(my $b64_url = $b64_std) =~ tr{+/}{-_};
(my $b64_nopad = $b64_std) =~ s/=+$//;
my $b64_lines = MIME::Base64::encode_base64($ssj_text);    # line breaks every 76
my $latin1 = json_text(service_start_json());
$latin1 =~ s/Mario/Mar\xEDo/;    # an ISO-8859-1 byte: not UTF-8

# a b64Data whose Base64 has '+' or '/', turned into the url-safe alphabet
my $b64data_url;
for my $i (0 .. 200) {
    $b64data_url = b64data(start_fields(opInfo => 'info' . ('?' x $i) . '>'));
    last if $b64data_url =~ m{[+/]};
}
$b64data_url =~ tr{+/}{-_};

my $OP1 = demo_operator(1);
my $JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcC0xIn0.c2lnbmF0dXJl';

# ---------------------------------------------------------------------

subtest 'a valid form: 200 HTML, and the call waits in the queue' => sub {
    my $s = start_sim('--clock', '2026-11-24T09:30:00Z', '--seed', '3');
    my $q = sub {
        req('POST', '/api/service/getQueue', sim => $s, apikey => DEMO_KEY,
            json => { id_process => DEMO_NOREC })->{json}{queue};
    };
    my $before = $q->();
    my $res = req('POST', '/app/service-start', sim => $s,
        form => [ start_fields(id_process => DEMO_NOREC) ]);
    is($res->{status}, 200, 'status 200') or diag html_error($res->{body});
    like($res->{headers}{'content-type'} // '', qr{^text/html}i, 'an HTML page');
    is(html_error($res->{body}), '', 'no <p id="error">');
    is($q->(), ($before // 0) + 1, 'getQueue of the process counts one more waiting call');
};

form_accepts('the minimal fields');
{
    my $res = req('POST', '/app/service-start', multipart => [ start_fields() ]);
    is($res->{status}, 200, 'form accepted: multipart/form-data') or diag html_error($res->{body});
}
{
    my %f = start_fields();
    my $res = req('POST', '/app/service-start',
        form => [ json => $f{json}, id_process => $f{id_process}, id_organization => 'DEMO' ]);
    is($res->{status}, 200, 'form accepted: id_organization last (only b64Data needs it first)')
      or diag html_error($res->{body});
}
form_accepts('id_process_live + id_process_self instead of id_process',
    id_process => undef, id_process_live => DEMO_LIVE, id_process_self => DEMO_SELF);
form_accepts('every optional field',
    external_id => 'E' x 100, opInfo => "\x{e8}" x 100,
    redirectUrl => 'https://shop.example/done?step=2', redirectMethod => 'GET',
    id_operator2Call => $OP1->{id}, skipAVrecTest => 'true', disableRTCTest => 'false');
form_accepts('redirectMethod POST with an http redirectUrl',
    redirectUrl => 'http://127.0.0.1:9/back', redirectMethod => 'POST');
form_accepts('disableRTCTest=true on a process without video recording',
    id_process => DEMO_NOREC, disableRTCTest => 'true');
form_accepts('email_operator2Call alone', email_operator2Call => $OP1->{email});
form_accepts('extId_operator2Call alone', extId_operator2Call => $OP1->{externalId});
form_accepts('direct (JWT-shaped) alone', direct => $JWT);
form_accepts('a callback on a pre-approved https host with otherParams',
    J(liveid_servercallback => { url => 'https://callbacks.demo-bank.example/liveid',
            otherParams => { ref => 'A-1', n => 2 } }));
form_accepts('an http callback on loopback',
    J(liveid_servercallback => { url => 'http://127.0.0.1:8080/cb' }));
form_accepts('an https callback on localhost',
    J(liveid_servercallback => { url => 'https://localhost:8443/cb' }));
form_accepts('liveid_priorityQueueLevel 0', J(liveid_priorityQueueLevel => 0));
form_accepts('liveid_priorityQueueLevel 10', J(liveid_priorityQueueLevel => 10));
form_accepts('a language given as two lowercase letters (en)', J(lang => 'en'));
form_accepts('an empty data object', J(data => {}));
form_accepts('non-ASCII UTF-8 names', J(liveid_name => "Jos\x{e9}", liveid_surname => "M\x{fc}ller \x{4e2d}"));
form_accepts('data fields of every datatype with valid values',
    J(data => {
        t  => { datatype => 'text',     label => 'T', value => 'anything', display => 'none' },
        d  => { datatype => 'date',     label => 'D', value => '2026-11-24', display => 'operator' },
        d0 => { datatype => 'date',     label => 'D0', value => '' },
        e  => { datatype => 'email',    label => 'E', value => 'a.b@c.example' },
        n  => { datatype => 'number',   label => 'N', value => '-12.5' },
        n2 => { datatype => 'number',   label => 'N2', value => '42' },
        p  => { datatype => 'tel',      label => 'P', value => '+39 06 1234567' },
        c  => { datatype => 'checkbox', label => 'C', value => 'true' },
        m  => { datatype => 'month',    label => 'M', value => '2026-11' },
        h  => { datatype => 'time',     label => 'H', value => '10:30' },
        h2 => { datatype => 'time',     label => 'H2', value => '10:30:15' },
        h3 => { datatype => 'time',     label => 'H3', value => '10:30:15.250' },
        u  => { datatype => 'url',      label => 'U', value => 'https://x.example/a?b=c' },
    }));
form_accepts('every allowed attribute',
    D(display => 'operator', order => 3.5, disabled => $F, readonly => $T, required => $T,
        maxlength => 20, size => 0, max => '99', min => 1, step => 0.5,
        pattern => '[a-z]+', placeholder => 'type', title => 'A field'));

# --- id_organization
form_rejects('id_organization missing', [ id_organization => undef ], 400, qr/id_organization/);
# the browser form answers every failed check with a 400 page
form_rejects('id_organization unknown', [ id_organization => 'NOSUCHORG' ], 400, qr/id_organization/);
# --- the process
form_rejects('no id_process nor the live/self pair', [ id_process => undef ], 400, qr/id_process/);
form_rejects('both id_process and the pair',
    [ id_process_live => DEMO_LIVE, id_process_self => DEMO_SELF ], 400, qr/id_process/);
form_rejects('id_process_live without id_process_self',
    [ id_process => undef, id_process_live => DEMO_LIVE ], 400, qr/id_process_self/);
form_rejects('id_process_self without id_process_live',
    [ id_process => undef, id_process_self => DEMO_SELF ], 400, qr/id_process_live/);
form_rejects('id_process not a UUID', [ id_process => 'onboarding' ], 400, qr/id_process/);
form_rejects('id_process unknown', [ id_process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1bff' ],
    400, qr/id_process/);
form_rejects("id_process of another organization's process", [ id_process => ACME_LIVE ],
    [ 400, 404 ], qr/id_process/);
form_rejects('id_process_live naming a self process',
    [ id_process => undef, id_process_live => DEMO_SELF, id_process_self => DEMO_SELF ],
    400, qr/id_process_live/);
form_rejects('id_process_self naming a live process',
    [ id_process => undef, id_process_live => DEMO_LIVE, id_process_self => DEMO_NOREC ],
    400, qr/id_process_self/);
# --- json: the encoding
form_rejects('json missing', [ json => undef ], 400, qr/json/);
form_rejects('json not Base64', [ json => 'this is not base64!' ], 400, qr/json/);
form_rejects('json in the url-safe Base64 alphabet', [ json => $b64_url ], 400, qr/json/);
form_rejects('json Base64 without its padding', [ json => $b64_nopad ], 400, qr/json/);
form_rejects('json Base64 with line breaks', [ json => $b64_lines ], 400, qr/json/);
form_rejects('json decoding to text that is not JSON', [ json => b64('lang=it') ], 400, qr/json/);
form_rejects('json decoding to a JSON array', [ json => b64('[{"lang":"it"}]') ], 400, qr/json/);
form_rejects('json decoding to bytes that are not UTF-8', [ json => b64($latin1) ], 400, qr/json|UTF/i);
# --- json: the members
form_rejects('lang missing', [ J(lang => undef) ], 400, qr/lang/);
form_rejects('lang in capitals', [ J(lang => 'IT') ], 400, qr/lang/);
form_rejects('lang of three letters', [ J(lang => 'ita') ], 400, qr/lang/);
form_rejects('lang not a string', [ J(lang => 39) ], 400, qr/lang/);
form_rejects('liveid_email missing', [ J(liveid_email => undef) ], 400, qr/liveid_email/);
form_rejects('liveid_email not an address', [ J(liveid_email => 'mario.rossi') ], 400, qr/liveid_email/);
form_rejects('liveid_name missing', [ J(liveid_name => undef) ], 400, qr/liveid_name/);
form_rejects('liveid_name empty', [ J(liveid_name => '') ], 400, qr/liveid_name/);
form_rejects('liveid_surname empty', [ J(liveid_surname => '') ], 400, qr/liveid_surname/);
form_rejects('liveid_surname not a string', [ J(liveid_surname => [ 'Rossi' ]) ], 400, qr/liveid_surname/);
form_rejects('data missing', [ J(data => undef) ], 400, qr/data/);
form_rejects('data an array', [ J(data => [ { datatype => 'text' } ]) ], 400, qr/data/);
form_rejects('an unknown member', [ J(nickname => 'Super Mario') ], 400, qr/nickname/);
# --- liveid_servercallback
my $cb = sub { J(liveid_servercallback => $_[0]) };
form_rejects('callback without url', [ $cb->({ otherParams => {} }) ], 400, qr/url|liveid_servercallback/);
form_rejects('callback not an object', [ $cb->('https://callbacks.demo-bank.example/x') ],
    400, qr/liveid_servercallback/);
form_rejects('callback over http on a non-loopback host',
    [ $cb->({ url => 'http://callbacks.demo-bank.example/x' }) ], 400, qr/url|liveid_servercallback/);
form_rejects('callback over https on a host not pre-approved',
    [ $cb->({ url => 'https://evil.example/x' }) ], 400, qr/url|liveid_servercallback/);
form_rejects("callback on another organization's approved host",
    [ $cb->({ url => 'https://hooks.acme-insurance.example/x' }) ], 400, qr/url|liveid_servercallback/);
form_rejects('callback url with credentials',
    [ $cb->({ url => 'https://user:secret@callbacks.demo-bank.example/x' }) ],
    400, qr/url|liveid_servercallback|credential/);
form_rejects('callback url with credentials on loopback',
    [ $cb->({ url => 'http://user:secret@127.0.0.1:8080/cb' }) ], 400, qr/url|liveid_servercallback|credential/);
form_rejects('callback url not a URL', [ $cb->({ url => 'callbacks.demo-bank.example' }) ],
    400, qr/url|liveid_servercallback/);
form_rejects('callback otherParams not an object',
    [ $cb->({ url => 'http://127.0.0.1:8080/cb', otherParams => 'ref=1' }) ], 400, qr/otherParams/);
# --- liveid_priorityQueueLevel
form_rejects('priority 11', [ J(liveid_priorityQueueLevel => 11) ], 400, qr/liveid_priorityQueueLevel/);
form_rejects('priority -1', [ J(liveid_priorityQueueLevel => -1) ], 400, qr/liveid_priorityQueueLevel/);
form_rejects('priority 2.5', [ J(liveid_priorityQueueLevel => 2.5) ], 400, qr/liveid_priorityQueueLevel/);
form_rejects('priority as a string', [ J(liveid_priorityQueueLevel => '5') ], 400, qr/liveid_priorityQueueLevel/);
# --- data fields
form_rejects('a data field with an empty key',
    [ J(data => { '' => { datatype => 'text', label => 'L', value => 'v' } }) ], 400, qr/data|key/);
form_rejects('a data field that is not an object', [ J(data => { fld => 'x' }) ], 400, qr/fld|data/);
form_rejects('datatype missing', [ D(datatype => undef) ], 400, qr/datatype/);
form_rejects('datatype unknown (color)', [ D(datatype => 'color') ], 400, qr/datatype/);
form_rejects('label missing', [ D(label => undef) ], 400, qr/label/);
form_rejects('label not a string', [ D(label => 7) ], 400, qr/label/);
form_rejects('value missing', [ D(value => undef) ], 400, qr/value/);
form_rejects('value a number', [ D(value => 7) ], 400, qr/value/);
form_rejects('display neither none nor operator', [ D(display => 'customer') ], 400, qr/display/);
form_rejects('order a string', [ D(order => '1') ], 400, qr/order/);
form_rejects('an attribute not allowed (onclick)', [ D(onclick => 'alert(1)') ], 400, qr/onclick/);
form_rejects('disabled as a string', [ D(disabled => 'true') ], 400, qr/disabled/);
form_rejects('readonly as a number', [ D(readonly => 1) ], 400, qr/readonly/);
form_rejects('required as a string', [ D(required => 'yes') ], 400, qr/required/);
form_rejects('maxlength negative', [ D(maxlength => -1) ], 400, qr/maxlength/);
form_rejects('maxlength as a string', [ D(maxlength => '10') ], 400, qr/maxlength/);
form_rejects('size not an integer', [ D(size => 1.5) ], 400, qr/size/);
form_rejects('max an object', [ D(max => { v => 1 }) ], 400, qr/max/);
form_rejects('min a boolean', [ D(min => $T) ], 400, qr/min/);
form_rejects('step an array', [ D(step => [1]) ], 400, qr/step/);
form_rejects('pattern a number', [ D(pattern => 5) ], 400, qr/pattern/);
form_rejects('placeholder a boolean', [ D(placeholder => $F) ], 400, qr/placeholder/);
form_rejects('title a number', [ D(title => 1) ], 400, qr/title/);
form_rejects('a date value not YYYY-MM-DD', [ D(datatype => 'date', value => '24/11/2026') ], 400, qr/value|fld|date/);
form_rejects('a month value not YYYY-MM', [ D(datatype => 'month', value => '2026-11-24') ], 400, qr/value|fld|month/);
form_rejects('a time value not HH:MM', [ D(datatype => 'time', value => '10h30') ], 400, qr/value|fld|time/);
form_rejects('a number value not a number', [ D(datatype => 'number', value => 'twelve') ], 400, qr/value|fld|number/);
form_rejects('an email value not an address', [ D(datatype => 'email', value => 'nobody') ], 400, qr/value|fld|email/);
form_rejects('a url value not absolute', [ D(datatype => 'url', value => '/relative/path') ], 400, qr/value|fld|url/);
# --- the optional form fields
form_rejects('external_id of 101 characters', [ external_id => 'E' x 101 ], 400, qr/external_id/);
form_rejects('opInfo of 101 characters', [ opInfo => "\x{e8}" x 101 ], 400, qr/opInfo/);
form_rejects('redirectUrl not http(s)', [ redirectUrl => 'ftp://shop.example/done' ], 400, qr/redirectUrl/);
form_rejects('redirectUrl relative', [ redirectUrl => '/done' ], 400, qr/redirectUrl/);
form_rejects('redirectMethod PUT', [ redirectUrl => 'https://shop.example/done', redirectMethod => 'PUT' ],
    400, qr/redirectMethod/);
form_rejects('id_operator2Call not a UUID', [ id_operator2Call => 'OP-01' ], 400, qr/id_operator2Call/);
form_rejects('id_operator2Call not an operator',
    [ id_operator2Call => '0a7e5c1d-0000-4000-8000-000000000999' ], [ 400, 404 ], qr/id_operator2Call/);
form_rejects('direct not JWT-shaped', [ direct => 'not-a-jwt' ], 400, qr/direct/);
form_rejects('id_operator2Call and email_operator2Call together',
    [ id_operator2Call => $OP1->{id}, email_operator2Call => $OP1->{email} ], 400,
    qr/id_operator2Call|email_operator2Call/);
form_rejects('extId_operator2Call and direct together',
    [ extId_operator2Call => 'OP-01', direct => $JWT ], 400, qr/extId_operator2Call|direct/);
form_rejects('skipAVrecTest neither true nor false', [ skipAVrecTest => 'yes' ], 400, qr/skipAVrecTest/);
form_rejects('disableRTCTest neither true nor false', [ disableRTCTest => '1' ], 400, qr/disableRTCTest/);
form_rejects('disableRTCTest=true on a process with video recording',
    [ disableRTCTest => 'true' ], 400, qr/disableRTCTest/);
form_rejects('disableRTCTest=true when the live process records video',
    [ id_process => undef, id_process_live => DEMO_LIVE, id_process_self => DEMO_SELF,
      disableRTCTest => 'true' ], 400, qr/disableRTCTest/);
form_rejects('an unknown field', [ favourite_colour => 'blue' ], 400, qr/favourite_colour/);

# ---------------------------------------------------------------------
# pushAsyncCall: the same rules on the decoded b64Data, plus its own
# ---------------------------------------------------------------------

push_accepts('a valid b64Data, method start');
push_accepts('method live', method => 'live');
push_accepts('method omitted (default live)', method => undef);
push_accepts('skipAVrecTest and disableRTCTest as JSON booleans',
    fields => [ id_process => DEMO_NOREC, skipAVrecTest => $T, disableRTCTest => $T ]);
push_accepts('the live/self pair',
    fields => [ id_process => undef, id_process_live => DEMO_LIVE, id_process_self => DEMO_SELF ]);
push_accepts('every optional field',
    fields => [ external_id => 'ext-1', opInfo => 'VIP', redirectUrl => 'https://shop.example/done',
        redirectMethod => 'POST', extId_operator2Call => 'OP-02', skipAVrecTest => $F ]);
push_accepts('ACME with its own key and process',
    apikey => ACME_KEY, fields => [ id_organization => 'ACME', id_process => ACME_SELF ]);

push_rejects('b64Data missing', { b64Data => undef }, 400, qr/b64Data/);
push_rejects('b64Data not a string', { b64Data => 12345 }, 400, qr/b64Data/);
push_rejects('b64Data not Base64', { b64Data => '{"id_organization":"DEMO"}' }, 400, qr/b64Data/);
push_rejects('b64Data in the url-safe alphabet', { b64Data => $b64data_url }, 400, qr/b64Data/);
push_rejects('b64Data decoding to something not JSON', { b64Data => b64('id_organization=DEMO') },
    400, qr/b64Data/);
push_rejects('b64Data decoding to a JSON array', { b64Data => b64('["DEMO"]') }, 400, qr/b64Data/);
push_rejects('id_organization not first',
    { pairs => [ id_process => DEMO_LIVE, id_organization => 'DEMO', json => ssj_b64() ] },
    400, qr/id_organization/);
push_rejects('id_organization missing', { fields => [ id_organization => undef ] }, 400, qr/id_organization/);
push_rejects('id_organization unknown', { fields => [ id_organization => 'NOSUCHORG' ] }, 404, qr/id_organization/);
push_rejects('id_process unknown', { fields => [ id_process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1bff' ] },
    404, qr/id_process/);
push_rejects('id_process a number', { fields => [ id_process => 42 ] }, 400, qr/id_process/);
push_rejects('id_process and the pair', { fields => [ id_process_live => DEMO_LIVE, id_process_self => DEMO_SELF ] },
    400, qr/id_process/);
push_rejects('skipAVrecTest as the string "true"', { fields => [ skipAVrecTest => 'true' ] }, 400, qr/skipAVrecTest/);
push_rejects('disableRTCTest as the string "false"', { fields => [ disableRTCTest => 'false' ] }, 400, qr/disableRTCTest/);
push_rejects('skipAVrecTest as the number 1', { fields => [ skipAVrecTest => 1 ] }, 400, qr/skipAVrecTest/);
push_rejects('disableRTCTest on a process with video recording', { fields => [ disableRTCTest => $T ] },
    400, qr/disableRTCTest/);
push_rejects('json missing', { fields => [ json => undef ] }, 400, qr/json/);
push_rejects('json as an object instead of its Base64', { fields => [ json => service_start_json() ] },
    400, qr/json/);
push_rejects('json without padding', { fields => [ json => $b64_nopad ] }, 400, qr/json/);
push_rejects('lang invalid', { fields => [ J(lang => 'Italian') ] }, 400, qr/lang/);
push_rejects('liveid_email invalid', { fields => [ J(liveid_email => 'a@') ] }, 400, qr/liveid_email/);
push_rejects('an unknown ServiceStartJson member', { fields => [ J(extra => 1) ] }, 400, qr/extra/);
push_rejects('a data field with a bad datatype', { fields => [ D(datatype => 'password') ] }, 400, qr/datatype/);
push_rejects('a time value out of shape', { fields => [ D(datatype => 'time', value => '7 pm') ] },
    400, qr/value|fld|time/);
push_rejects('priority 99', { fields => [ J(liveid_priorityQueueLevel => 99) ] }, 400, qr/liveid_priorityQueueLevel/);
push_rejects('a callback URL not approved', { fields => [ $cb->({ url => 'https://example.com/cb' }) ] },
    400, qr/url|liveid_servercallback/);
push_rejects('external_id too long', { fields => [ external_id => 'x' x 101 ] }, 400, qr/external_id/);
push_rejects('redirectMethod lowercase get', { fields => [ redirectUrl => 'https://a.example/', redirectMethod => 'get' ] },
    400, qr/redirectMethod/);
push_rejects('two operator routings', { fields => [ id_operator2Call => $OP1->{id}, direct => $JWT ] },
    400, qr/id_operator2Call|direct/);
push_rejects('an unknown field', { fields => [ callMeMaybe => $T ] }, 400, qr/callMeMaybe/);
push_rejects('method neither start nor live', { method => 'now' }, 400, qr/method/);
push_rejects('method not a string', { method => 1 }, 400, qr/method/);
push_rejects('expire in the past', { expire => iso_time(time - 3600) }, 400, qr/expire/);
push_rejects('expire not a date', { expire => 'tomorrow' }, 400, qr/expire/);
push_rejects('expire not a string', { expire => time + 3600 }, 400, qr/expire/);

subtest 'pushAsyncCall: the request itself' => sub {
    my $res = req('POST', '/api/service/pushAsyncCall', apikey => DEMO_KEY, body => 'b64Data=abc');
    is($res->{status}, 400, 'a body that is not JSON: 400');
    $res = req('POST', '/api/service/pushAsyncCall', apikey => DEMO_KEY, json => [ b64data(start_fields()) ]);
    is($res->{status}, 400, 'a JSON array body: 400');
    $res = push_async_call(apikey => undef);
    is($res->{status}, 401, 'no apikey: 401');
    $res = push_async_call(apikey => 'nope');
    is($res->{status}, 401, 'a wrong apikey: 401');
    $res = push_async_call(apikey => ACME_KEY);
    is($res->{status}, 403, "ACME's key for a DEMO request: 403");
    $res = req('GET', '/api/service/pushAsyncCall', apikey => DEMO_KEY);
    is($res->{status}, 405, 'GET: 405');
    my $a = push_async_call();
    my $b = push_async_call();
    ok($a->{uId} && $b->{uId} && $a->{uId} ne $b->{uId}, 'two pushes give two different uIds');
};

subtest 'service-start: the request itself' => sub {
    my $res = req('GET', '/app/service-start');
    is($res->{status}, 405, 'GET /app/service-start: 405');
    $res = req('POST', '/app/service-start', form => []);
    is($res->{status}, 400, 'an empty form: 400');
    like(html_error($res->{body}), qr/id_organization/, 'naming id_organization');
};

done_testing;
