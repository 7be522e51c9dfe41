-- Server callbacks: each call's ref and secret, and receive_callback(),
-- which authenticates a callback by its call's secret, confirms the
-- outcome with the service and stores the event.  No secret is ever shown:
-- tokens are read into psql variables and only compared.
CREATE OR REPLACE FUNCTION public.liveid_test_requests() RETURNS integer
LANGUAGE sql AS $$ SELECT (liveid.request('GET', '/sim/stats') ->> 'requests')::integer $$;
-- percent-decoding, for the redirect result the simulator shows
CREATE FUNCTION public.liveid_test_url_decode(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT convert_from(string_agg(CASE WHEN m[1] IS NOT NULL THEN decode(substr(m[1], 2), 'hex')
                                    ELSE convert_to(m[2], 'UTF8') END, ''::bytea ORDER BY n), 'UTF8')
  FROM regexp_matches(replace(s, '+', ' '), '(%[0-9A-Fa-f]{2})|([^%]+)', 'g') WITH ORDINALITY AS r(m, n)
$$;
-- the envelope the simulator would post (and redirect with) for a closed call
CREATE FUNCTION public.liveid_test_envelope(uid text) RETURNS jsonb
LANGUAGE sql AS $$
SELECT public.liveid_test_url_decode(
         liveid.request('GET', '/sim/requests/' || uid) -> 'redirect' ->> 'LiveIDPlusResult')::jsonb
$$;
-- opens, answers and closes a call the way an operator would
CREATE FUNCTION public.liveid_test_close(uid text, close_status text, abort_code text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE conf text;
BEGIN
    conf := liveid.request('POST', '/sim/open', jsonb_build_object('uId', uid)) ->> 'idConference';
    PERFORM liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', conf));
    IF close_status = 'K' THEN
        PERFORM liveid.request('POST', '/sim/error', jsonb_build_object('idConference', conf));
    ELSE
        PERFORM liveid.request('POST', '/sim/close',
            jsonb_strip_nulls(jsonb_build_object('idConference', conf, 'closeStatus', close_status,
                                                 'abortCode', abort_code, 'note', 'by the test')));
    END IF;
    RETURN conf;
END $$;
-- a failure's SQLSTATE and DETAIL, for the refusals that share a message
CREATE FUNCTION public.liveid_test_detail(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE st text; det text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || det;
END $$;
GRANT EXECUTE ON FUNCTION public.liveid_test_detail(text) TO PUBLIC;
CREATE ROLE liveid_test_hook LOGIN;
GRANT liveid_receiver TO liveid_test_hook;
CREATE ROLE liveid_test_carol LOGIN;
GRANT liveid_user TO liveid_test_carol;

-- ---------------------------------------------------------------- ref and secret
-- A call with a server callback: the caller's otherParams travel with
-- liveid_ref (the ledger's ref) and liveid_token (only its SHA-256 kept).
SET ROLE liveid_test_carol;
SELECT liveid.service_start(
         liveid.customer('it', 'a@example.com', 'Ada', 'Rossi',
                         callback_url => 'https://127.0.0.1:9/liveid/callback',
                         callback_params => '{"case": "C-1"}'),
         organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
         external_id => 'CB-1', redirect_url => 'https://bank.example/done') IS NOT NULL AS started;
-- a liveid_user sees its call's ref, and no secret anywhere
SELECT uid AS cb1, ref AS cb1_ref FROM liveid.calls WHERE external_id = 'CB-1' \gset
SELECT :'cb1_ref' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS ref_is_a_uuid_v4;
SELECT try($$SELECT * FROM liveid.call_tokens$$);
RESET ROLE;
SELECT public.liveid_test_close(:'cb1', 'A', 'DOC_EXPIRED') AS cb1_conf \gset
SELECT public.liveid_test_envelope(:'cb1') AS cb1_env \gset
SELECT array_agg(k ORDER BY k) AS other_params_sent,
       (:'cb1_env'::jsonb #>> '{otherParams,liveid_ref}') = :'cb1_ref' AS ref_is_the_ledgers,
       (:'cb1_env'::jsonb #>> '{otherParams,case}') AS case_param
  FROM jsonb_object_keys(:'cb1_env'::jsonb -> 'otherParams') AS k;
SELECT length(:'cb1_env'::jsonb -> 'otherParams' ->> 'liveid_token') AS token_length,
       sha256(convert_to(:'cb1_env'::jsonb -> 'otherParams' ->> 'liveid_token', 'UTF8')) = t.token_sha256
         AS only_its_hash_is_kept
  FROM liveid.call_tokens t WHERE t.ref = :'cb1_ref';
-- the token is in no ledger column
SELECT count(*) AS rows_holding_the_token FROM liveid.calls c
 WHERE position(:'cb1_env'::jsonb -> 'otherParams' ->> 'liveid_token' IN c::text) > 0;

-- Without a callback there is a ref but no secret; with liveid.callback_url
-- the call gets that callback and a secret.
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'Ada', 'Rossi'),
         organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
         external_id => 'CB-NONE') IS NOT NULL AS started;
SELECT c.ref IS NOT NULL AS has_ref, t.ref IS NOT NULL AS has_secret,
       liveid.request('GET', '/sim/requests/' || c.uid) ->> 'callbackUrl' AS callback_url
  FROM liveid.calls c LEFT JOIN liveid.call_tokens t USING (ref) WHERE c.external_id = 'CB-NONE';
SET liveid.callback_url = 'https://127.0.0.1:9/from-the-setting';
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'Ada', 'Rossi'),
         organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
         external_id => 'CB-SETTING') IS NOT NULL AS started;
SELECT t.ref IS NOT NULL AS has_secret,
       liveid.request('GET', '/sim/requests/' || c.uid) ->> 'callbackUrl' AS callback_url
  FROM liveid.calls c LEFT JOIN liveid.call_tokens t USING (ref) WHERE c.external_id = 'CB-SETTING';
-- the customer's own callback URL wins over the setting
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'Ada', 'Rossi',
                                            callback_url => 'https://127.0.0.1:9/own'),
         organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
         external_id => 'CB-OWN') IS NOT NULL AS started;
SELECT liveid.request('GET', '/sim/requests/' || uid) ->> 'callbackUrl' AS callback_url
  FROM liveid.calls WHERE external_id = 'CB-OWN';
RESET liveid.callback_url;
-- the setting is an https URL without credentials, set by a superuser
SELECT try($$SET liveid.callback_url = 'http://127.0.0.1:9/cb'$$);
SELECT try($$SET liveid.callback_url = 'https://user:pw@127.0.0.1:9/cb'$$);
SELECT try($$SET liveid.callback_url = 'https:///cb'$$);
SET ROLE liveid_test_carol;
SELECT try($$SET liveid.callback_url = 'https://127.0.0.1:9/cb'$$);
RESET ROLE;
-- otherParams of the caller's must not carry our members; nothing is sent
SELECT public.liveid_test_requests() AS before \gset
SELECT try($$SELECT liveid.service_start(
         liveid.customer('it', 'a@example.com', 'Ada', 'Rossi', callback_url => 'https://127.0.0.1:9/cb',
                         callback_params => '{"liveid_token": "mine"}'),
         organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$);
SELECT try($$SELECT liveid.service_start(
         liveid.customer('it', 'a@example.com', 'Ada', 'Rossi', callback_url => 'https://127.0.0.1:9/cb',
                         callback_params => '{"liveid_ref": "mine"}'),
         organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$);
SELECT public.liveid_test_requests() - :before - 1 AS requests_sent;

-- ---------------------------------------------------------------- receiving
-- The receiver's role stores the callback; the ledger follows the service.
SELECT public.liveid_test_requests() AS before \gset
SET ROLE liveid_test_hook;
SELECT liveid.receive_callback(:'cb1_env') AS cb1_event \gset
RESET ROLE;
SELECT public.liveid_test_requests() - :before - 1 AS requests_sent;
SELECT status, close_status, id_conference = :'cb1_conf' AS conference, closed_at IS NOT NULL AS closed
  FROM liveid.calls WHERE uid = :'cb1';
SELECT uid = :'cb1' AS uid, ref = :'cb1_ref' AS ref, id_conference = :'cb1_conf' AS conference,
       event, close_status, abort_code, note, confirmed_status, confirmed_close_status, mismatch,
       payload #> '{otherParams,liveid_token}' IS NULL AS no_callback_token,
       payload #> '{message,token}' IS NULL AS no_conference_token,
       payload #>> '{otherParams,case}' AS case_kept,
       payload #>> '{message,abortCode}' AS abort_code_kept
  FROM liveid.call_events WHERE id = :cb1_event;
-- a repeated delivery is the same event, and the service is not asked again
SELECT public.liveid_test_requests() AS before \gset
SET ROLE liveid_test_hook;
SELECT liveid.receive_callback(:'cb1_env') = :cb1_event AS same_id;
RESET ROLE;
SELECT public.liveid_test_requests() - :before - 1 AS requests_sent;
SELECT count(*) AS events FROM liveid.call_events WHERE uid = :'cb1';
-- the flat documented form alone is a callback too
SET ROLE liveid_test_hook;
SELECT liveid.receive_callback(jsonb_build_object(
         'closeStatus', :'cb1_env'::jsonb -> 'closeStatus',
         'otherParams', :'cb1_env'::jsonb -> 'otherParams',
         'idConference', :'cb1_env'::jsonb -> 'idConference')) <> :cb1_event AS another_event;
RESET ROLE;
SELECT event, close_status, abort_code, mismatch FROM liveid.call_events
 WHERE uid = :'cb1' AND id <> :cb1_event;
-- and the event envelope alone (callID, message), with the error event
SELECT liveid.service_start(
         liveid.customer('it', 'a@example.com', 'Ada', 'Rossi', callback_url => 'https://127.0.0.1:9/cb'),
         organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
         external_id => 'CB-K', redirect_url => 'https://bank.example/done') IS NOT NULL AS started;
SELECT uid AS cbk FROM liveid.calls WHERE external_id = 'CB-K' \gset
SELECT public.liveid_test_close(:'cbk', 'K') AS cbk_conf \gset
SELECT public.liveid_test_envelope(:'cbk') AS cbk_env \gset
SET ROLE liveid_test_hook;
SELECT liveid.receive_callback((:'cbk_env'::jsonb - 'idConference' - 'closeStatus')) > 0 AS stored;
RESET ROLE;
SELECT status, close_status FROM liveid.calls WHERE uid = :'cbk';
SELECT event, close_status, confirmed_close_status, mismatch FROM liveid.call_events WHERE uid = :'cbk';

-- ---------------------------------------------------------------- the customer's word
-- The redirect result carried the token to the customer's browser: a
-- replay of it with another closeStatus is stored as a claim, flagged,
-- and the ledger keeps the service's outcome (A).  The warning names the
-- call's uid, which differs from run to run, so it is not shown here.
SET client_min_messages = error;
SET ROLE liveid_test_hook;
SELECT liveid.receive_callback(jsonb_set(jsonb_set(:'cb1_env'::jsonb, '{closeStatus}', '"N"'),
                                         '{message,closeStatus}', '"N"') #- '{message,abortCode}')
       AS forged_event \gset
RESET ROLE;
RESET client_min_messages;
SELECT close_status, confirmed_close_status, mismatch FROM liveid.call_events WHERE id = :forged_event;
SELECT status, close_status FROM liveid.calls WHERE uid = :'cb1';

-- ---------------------------------------------------------------- refused, nothing stored
SELECT count(*) AS events_before FROM liveid.call_events \gset
SELECT public.liveid_test_requests() AS before \gset
SET ROLE liveid_test_hook;
-- not ours: a wrong, missing or malformed secret, an unknown ref, a call
-- without a callback; all the same 28000, saying nothing of which
SELECT try(format('SELECT liveid.receive_callback(%L)',
                  jsonb_set(:'cb1_env'::jsonb, '{otherParams,liveid_token}', '"0000"'))) AS wrong_token;
SELECT try(format('SELECT liveid.receive_callback(%L)',
                  :'cb1_env'::jsonb #- '{otherParams,liveid_token}')) AS no_token;
SELECT try(format('SELECT liveid.receive_callback(%L)',
                  jsonb_set(:'cb1_env'::jsonb, '{otherParams,liveid_token}', '12'))) AS number_token;
SELECT try(format('SELECT liveid.receive_callback(%L)', :'cb1_env'::jsonb - 'otherParams')) AS no_params;
SELECT try(format('SELECT liveid.receive_callback(%L)',
                  jsonb_set(:'cb1_env'::jsonb, '{otherParams,liveid_ref}', to_jsonb(gen_random_uuid()::text))))
       AS unknown_ref;
SELECT try(format('SELECT liveid.receive_callback(%L)',
                  jsonb_set(:'cb1_env'::jsonb, '{otherParams,liveid_ref}', '"not-a-uuid"'))) AS bad_ref;
RESET ROLE;
SELECT ref AS none_ref FROM liveid.calls WHERE external_id = 'CB-NONE' \gset
SET ROLE liveid_test_hook;
SELECT try(format('SELECT liveid.receive_callback(%L)',
                  jsonb_set(:'cb1_env'::jsonb, '{otherParams,liveid_ref}', to_jsonb(:'none_ref'::text))))
       AS call_without_callback;
-- not a callback: 22023
SELECT liveid_test_detail($$SELECT liveid.receive_callback('[1, 2]')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('"close"')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"idConference": "c1", "closeStatus": "X"}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"idConference": "c1", "closeStatus": ""}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"idConference": "c1", "closeStatus": "N", "event": "open"}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"idConference": "c1", "callID": "c2", "closeStatus": "N"}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"idConference": "c1", "closeStatus": "N", "message": {"closeStatus": "A"}}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"idConference": "c1", "closeStatus": "N", "message": []}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"idConference": 7, "closeStatus": "N"}')$$);
SELECT liveid_test_detail($$SELECT liveid.receive_callback('{"closeStatus": "N"}')$$);
SELECT liveid_test_detail(format('SELECT liveid.receive_callback(%L)',
                  jsonb_build_object('idConference', 'c1', 'closeStatus', 'A',
                                     'message', jsonb_build_object('abortCode', repeat('x', 101)))));
SELECT liveid_test_detail(format('SELECT liveid.receive_callback(%L)',
                  jsonb_build_object('idConference', repeat('c', 101), 'closeStatus', 'N')));
SELECT try($$SELECT liveid.receive_callback(NULL)$$) AS null_is_null;
RESET ROLE;
-- in a read-only transaction, before anything is sent
BEGIN READ ONLY;
SELECT try(format('SELECT liveid.receive_callback(%L)', :'cb1_env'));
COMMIT;
-- the service cannot be reached to confirm: the delivery fails (LiveID+
-- retries it) and nothing is stored
SET liveid.connect_timeout = 500;
SET liveid.url = 'http://127.0.0.1:9';
SELECT try(format('SELECT liveid.receive_callback(%L)',
                  jsonb_set(:'cb1_env'::jsonb, '{message,note}', '"retried"')));
RESET liveid.url;
RESET liveid.connect_timeout;
SELECT public.liveid_test_requests() - :before - 1 AS requests_sent;
SELECT count(*) - :events_before AS events_stored FROM liveid.call_events;

-- ---------------------------------------------------------------- who may
-- only the receiver's role and liveid_admin may deliver; a liveid_user
-- reads the events of its own calls
SET ROLE liveid_test_carol;
SELECT try(format('SELECT liveid.receive_callback(%L)', :'cb1_env'));
SELECT count(*) AS carol_sees_events FROM liveid.call_events;
RESET ROLE;
CREATE ROLE liveid_test_dave LOGIN;
GRANT liveid_user TO liveid_test_dave;
SET ROLE liveid_test_dave;
SELECT count(*) AS dave_sees_events FROM liveid.call_events;
RESET ROLE;
-- what an abort code means is the administrators' to say, per process
INSERT INTO liveid.abort_codes VALUES ('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 'DOC_EXPIRED', 'the identity document has expired');
SELECT e.abort_code, a.meaning FROM liveid.call_events e
  JOIN liveid.calls c USING (uid)
  JOIN liveid.abort_codes a ON a.process = c.process AND a.abort_code = e.abort_code
 WHERE e.id = :cb1_event;
DELETE FROM liveid.abort_codes;

DROP ROLE liveid_test_dave, liveid_test_carol, liveid_test_hook;
DROP FUNCTION public.liveid_test_detail(text), public.liveid_test_requests(), public.liveid_test_close(text, text, text),
    public.liveid_test_envelope(text), public.liveid_test_url_decode(text);
