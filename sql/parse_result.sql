-- liveid.parse_result(): the LiveIDPlusResult redirect parameter as the
-- customer's browser delivers it (the value URL-encoded or not, or the
-- query string or form body that holds it), checked, without its secrets,
-- and recording nothing.

-- How an input ends: "ok", or SQLSTATE, message and DETAIL.  It fails
-- loudly if a token or the test's callback secret ever shows up in a
-- message, detail or hint.  A JWT starts ey[J] (the pattern is written so,
-- so that grep for those three letters in expected/ finds only a leak); the
-- crafted tokens below are "tok.en.s3cr3t".
CREATE FUNCTION public.result_error(r text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    PERFORM liveid.parse_result(r);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    IF concat(msg, det, hnt) ~ '(ey[J]|s3cr3t)' THEN
        RETURN 'SECRET LEAKED';
    END IF;
    RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END
$$;

-- ---------------------------------------------------------------- a real one
-- A call with a redirect URL, closed by the operator (aborted, with a note
-- in and outside ASCII); the simulator shows the LiveIDPlusResult the
-- browser carries back, URL-encoded, ConferenceToken included.
SELECT liveid.service_start(liveid.customer('it', 'anna@example.com', 'Anna', 'Bianchi'),
                            organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'RESULT-1', redirect_url => 'https://shop.example/back',
                            redirect_method => 'GET') IS NOT NULL AS started;
SELECT uid AS r1 FROM liveid.calls WHERE external_id = 'RESULT-1' \gset
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'r1')) ->> 'idConference' AS conf \gset
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', :'conf')) ->> 'status' AS sim;
SELECT liveid.request('POST', '/sim/close',
                      jsonb_build_object('idConference', :'conf', 'closeStatus', 'A',
                                         'abortCode', 'DOC_EXPIRED',
                                         'note', 'documento scaduto: è così + 50%')) ->> 'status' AS sim;
SELECT liveid.request('GET', '/sim/requests/' || :'r1') #>> '{redirect,LiveIDPlusResult}' AS encoded \gset
SELECT :'encoded' LIKE '%7B%22event%22%3A%22close%22%' AS url_encoded,
       :'encoded' ~ '%22token%22%3A%22ey[J]' AS carries_the_token;
-- decoded: the event, its members, the note as the operator wrote it; no token
SELECT r ->> 'event' AS event, r ->> 'closeStatus' AS close_status,
       r ->> 'callID' = :'conf' AS call_id, r ->> 'idConference' = :'conf' AS id_conference,
       r #>> '{message,abortCode}' AS abort_code, r #>> '{message,note}' AS note,
       r #> '{message,self}' AS self, r -> 'otherParams' AS other_params,
       r -> 'message' ? 'token' AS has_token, r::text ~ 'ey[J]' AS token_anywhere
  FROM liveid.parse_result(:'encoded') AS r;
-- the same from a query string (with or without "?"), a form body ("+" for
-- a space) and the decoded value
SELECT liveid.parse_result('?lang=it&LiveIDPlusResult=' || :'encoded' || '&x=%41') = r AS query_string,
       liveid.parse_result('LiveIDPlusResult=' || :'encoded') = r AS without_question_mark,
       liveid.parse_result('a=1&LiveIDPlusResult=' || replace(:'encoded', '%20', '+')) = r AS form_body,
       liveid.parse_result(replace(:'encoded', '%20', '+')) = r AS plus_for_space,
       liveid.parse_result(E'\n ' || :'encoded' || E'\r\n') = r AS white_space_around,
       liveid.parse_result(r::text) = r AS decoded_value
  FROM liveid.parse_result(:'encoded') AS r;
-- it records nothing: the ledger row is as the start left it
SELECT status, close_status, id_conference FROM liveid.calls WHERE uid = :'r1';

-- ---------------------------------------------------------------- every event
-- Each documented event, as JSON text and URL-encoded; unknown members
-- are kept, the documented ones checked.
SELECT liveid.parse_result(j) AS result FROM (VALUES
    ('{"event": "WEBRTCTEST_OK"}'),
    ('{"event": "WEBRTCTEST_KO", "error": "NotAllowedError", "type": "camera"}'),
    ('{"event": "WEBRTCTEST_CALLANSWERED", "idConf": "c-1"}'),
    ('{"event": "WEBRTCTEST_CALLNOTANSWERED", "retry": true}'),
    ('{"event": "WEBRTCTEST_CALLNOTANSWERED"}'),
    ('{"event": "WEBRTCTEST_CALLCANCELLED"}'),
    ('{"event": "status_call", "status": "waiting", "queue": {"position": 3}, "n": 1.50}'),
    ('{"event": "error", "callID": "c-2", "closeStatus": "K",
       "message": {"closeStatus": "K", "note": "network", "processId": "p", "self": false}}'),
    ('{"event": "close", "closeStatus": "N", "otherParams": {"liveid_ref": "r-1", "shop": 7},
       "message": {"closeStatus": "N", "note": "", "self": true, "nextProcess": null, "additionalData": {}}}')
  ) AS t(j);
SELECT liveid.parse_result('%7B%22event%22%3A%22WEBRTCTEST_CALLANSWERED%22%2C%22idConf%22%3A%22c%2D1%22%7D') AS encoded;
SELECT liveid.parse_result('%7b%22event%22:%22WEBRTCTEST_OK%22%7d') AS lower_case_hex;
SELECT liveid.parse_result(NULL) IS NULL AS null_is_null;

-- ---------------------------------------------------------------- secrets removed
-- The ConferenceToken (message.token) and the per-call callback secret
-- (otherParams.liveid_token) never come back; everything else does.
SELECT liveid.parse_result('{"event": "close", "callID": "c-3", "closeStatus": "N",
    "otherParams": {"liveid_ref": "8b1c5f1e-0000-4000-8000-000000000001", "liveid_token": "s3cr3t"},
    "message": {"closeStatus": "N", "note": "ok", "self": false,
                "token": "tok.en.s3cr3t", "additionalData": {"k": 1}}}') AS result;
-- a member only named like them stays
SELECT liveid.parse_result('{"event": "status_call", "token": "t", "liveid_token": "t",
    "message": {"liveid_token": "t"}, "otherParams": {"token": "t"}}') AS result;

-- ---------------------------------------------------------------- what is not one: 22P02
SELECT t AS input, result_error(t) AS result FROM (VALUES
    (''), ('   '),
    ('%7B%22event%2'), ('%7B%zz%7D'), ('%'), ('LiveIDPlusResult=%7B%22a%22%3A50%%7D'),
    ('%7B%22event%22%3A%22%C3%28%22%7D'), ('%7B%22event%22%3A%22%E9%22%7D'),
    ('%7B%22event%22%3A%22close%00%22%7D'),
    ('{"event": "close\u0000"}'),
    ('{"event": close}'), ('%7Bnope'), ('{"event": "close"} x'), ('{"event": "close",}'),
    ('{"event": "close'), ('{"event": "\x"}'), ('{"event": "\ud800"}'), (E'{"event": "a\tb"}'),
    ('[1, 2]'), ('"close"'), ('42'), ('%5B%5D'),
    ('{"type": "x"}'), ('{"event": 1}'), ('{"event": null}'),
    ('{"event": "hacked"}'), ('{"event": "Close"}'),
    ('{"event": "WEBRTCTEST_CALLNOTANSWERED", "retry": "yes"}'),
    ('{"event": "close"}'), ('{"event": "error", "message": "boom"}'),
    ('{"event": "close", "closeStatus": "X", "message": {}}'),
    ('{"event": "close", "closeStatus": "NN", "message": {}}'),
    ('{"event": "close", "message": {"closeStatus": 1}}'),
    ('{"event": "close", "message": {"self": "no"}}'),
    ('{"event": "close", "message": {"abortCode": 7}}'),
    ('{"event": "status_call", "otherParams": [1]}'),
    ('{"event": "status_call", "n": 1e140000}'),
    ('lang=it&x=1'), ('https://shop.example/back?LiveIDPlusResult=%7B%7D'),
    ('LiveIDPlusResult=%7B%7D&LiveIDPlusResult=%7B%7D'), ('LiveIDPlusResult=&x=1'),
    ('LiveIDPlusResult'), ('liveidplusresult=%7B%7D'),
    ('LiveIDPlusResult=%7B%22event%22%3A%22status_call%22%7D&LiveIDPlusResult')
  ) AS v(t);
-- a token in text that is not JSON is never shown
SELECT result_error('{"event": "close", "message": {"token": "tok.en.s3cr3t" oops}}') AS token_not_shown,
       result_error('%7B%22event%22%3A%22close%22%2C%22message%22%3A%7B%22token%22%3A%22tok.en.s3cr3t%22%C3%28') AS nor_here;
-- an unknown event is shown short
SELECT result_error('{"event": "' || repeat('x', 500) || '"}') AS long_event;
\set VERBOSITY default
SELECT liveid.parse_result('{"event": "hacked"}');
SELECT liveid.parse_result('lang=it');
\set VERBOSITY terse

-- ---------------------------------------------------------------- bounds
-- At most 1 MB of text; nesting up to the extension's limit (1000).
SELECT length(liveid.parse_result('{"event": "status_call", "pad": "' || repeat('x', 1048576 - 40) || '"}') ->> 'pad')
       AS under_one_megabyte;
SELECT result_error('{"event": "status_call", "pad": "' || repeat('x', 1048576) || '"}') AS over;
SELECT result_error(repeat(' ', 1048577)) AS over_even_if_blank;
SELECT jsonb_path_query(liveid.parse_result('{"event": "status_call", "deep": '
                                            || repeat('[', 999) || repeat(']', 999) || '}'),
                        'strict $.deep.size()') AS nested_999;
SELECT result_error('{"event": "status_call", "deep": ' || repeat('[', 1000) || repeat(']', 1000) || '}') AS nested_1001;
SELECT result_error('{"event": "status_call", "deep": ' || repeat('[', 100000) || '}') AS nested_100000;
-- numbers as exact as written
SELECT liveid.parse_result('{"event": "status_call", "a": 0.10, "b": 9007199254740993, "c": -1.5e3}') AS numbers;

-- ---------------------------------------------------------------- a LATIN1 database
-- The decoded UTF-8 is converted to the database encoding; a character
-- LATIN1 lacks keeps PostgreSQL's own error (22P05).
SELECT current_database() AS regression_db \gset
CREATE DATABASE result_latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C';
\c result_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION liveid;
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END
$$;
SELECT r ->> 'note' AS note, octet_length(r ->> 'note') AS latin1_bytes, r ->> 'escaped' AS escaped
  FROM liveid.parse_result('%7B%22event%22%3A%22status_call%22%2C%22note%22%3A%22caff%C3%A8%22%2C'
                           '%22escaped%22%3A%22caf%5Cu00e8%22%7D') AS r;
SELECT liveid.parse_result('{"event": "status_call", "note": "½ è"}') ->> 'note' AS raw_latin1;
SELECT try($$SELECT liveid.parse_result('%7B%22event%22%3A%22status_call%22%2C%22note%22%3A%22%E2%82%AC%22%7D')$$) AS euro;
SELECT try($$SELECT liveid.parse_result('{"event": "status_call", "note": "\u20ac"}')$$) AS euro_escaped;
\c :regression_db
DROP DATABASE result_latin1;

DROP FUNCTION public.result_error(text);
