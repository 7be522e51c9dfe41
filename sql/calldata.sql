-- Call data: conference_data(), audit_data(), delete_audit_data(),
-- reject_call() and register_alert_email().  The ConferenceToken the
-- first three obtain is never shown; who may name a call or conference is
-- decided by the ledger's row-level security before anything is sent.
-- Ports, keys, tokens and random ids never appear in this output.
--
-- requests_sent counts what reached the simulator between two readings of
-- its counter (the second reading counts itself, hence the - 1).
CREATE FUNCTION public.liveid_test_requests() RETURNS integer
LANGUAGE sql AS $$ SELECT (liveid.request('GET', '/sim/stats') ->> 'requests')::integer $$;
GRANT EXECUTE ON FUNCTION public.liveid_test_requests() TO PUBLIC;

-- How a statement ends: "ok", or SQLSTATE, message, DETAIL.  It fails
-- loudly if the API key or a token ever shows up in a message, detail, hint
-- or context.  A JWT starts ey[J] (the pattern is written so, so that grep
-- for those three letters in expected/ finds only a leak).
CREATE FUNCTION public.calldata_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text; ctx text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT,
                            ctx = PG_EXCEPTION_CONTEXT;
    IF concat(msg, det, hnt, ctx) ~ 'ey[J]'
       OR position(current_setting('liveid_test.api_key') IN concat(msg, det, hnt, ctx)) > 0 THEN
        RETURN 'SECRET LEAKED';
    END IF;
    RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END
$$;
GRANT EXECUTE ON FUNCTION public.calldata_try(text) TO PUBLIC;

-- ---------------------------------------------------------------- a closed call
-- Started, opened, answered and closed (completed) through the simulator;
-- async_request_info records its conference in the ledger.
SELECT liveid.service_start(liveid.customer('it', 'anna@example.com', 'Anna', 'Bianchi',
                                            data => '{"fiscal_code": {"datatype": "text", "label": "Fiscal code",
                                                                      "value": "BNCNNA80A41H501X"}}'),
                            organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'CALLDATA-1') IS NOT NULL AS started;
SELECT uid AS uid1 FROM liveid.calls WHERE external_id = 'CALLDATA-1' \gset
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'uid1')) ->> 'idConference' AS conf1 \gset
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', :'conf1')) ->> 'status' AS sim;
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', :'conf1', 'closeStatus', 'N')) ->> 'status' AS sim;
SELECT status, close_status FROM liveid.async_request_info(:'uid1');
SELECT id_conference = :'conf1' AS recorded FROM liveid.calls WHERE uid = :'uid1';

-- ---------------------------------------------------------------- conference_data
-- All modules, then one; the answer object as the service gives it, with
-- no token in it.  Two requests each: genAPIToken, then conferenceData.
SELECT liveid_test_requests() AS n0 \gset
SELECT d ->> 'success' AS success, d ->> 'end_pattern' AS end_pattern,
       d #>> '{operator,name}' IS NOT NULL AS operator_named,
       d ->> 'call_answer_date' IS NOT NULL AS answered, d ->> 'call_end_date' IS NOT NULL AS ended,
       (d #> '{data,module_1}') - 'type' AS module_1, d #>> '{data,module_1,type}' AS type_1,
       d #>> '{data,module_2,type}' AS type_2, d::text ~ 'ey[J]' AS has_token
  FROM liveid.conference_data(:'conf1') AS d;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
SELECT d #>> '{data,module_1,type}' AS type, d -> 'data' ? 'module_2' AS more
  FROM liveid.conference_data(:'conf1', 'formfilling') AS d;
SELECT d #>> '{data,module_1,type}' AS type, d #>> '{data,module_1,images,0,mime}' AS mime
  FROM liveid.conference_data(id_conference => :'conf1', module => 'photo') AS d;

-- arguments, checked before anything is sent
SELECT liveid_test_requests() AS n0 \gset
SELECT replace(a, :'conf1', '<conf>') AS argument, calldata_try(format('SELECT liveid.conference_data(%s)', a)) AS result
  FROM (VALUES ('NULL'), (''''''), ('repeat(''x'', 101)'), ('''a b'''), ('''caffè'''), ('chr(9)'),
               (format('%L, ''''', :'conf1')), (format('%L, ''Photo''', :'conf1')),
               (format('%L, ''form-filling''', :'conf1')), (format('%L, repeat(''m'', 33)', :'conf1'))) AS v(a);
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
-- a module the service does not know: the second request's 4xx, its own
-- text in DETAIL, the context names the request, and no token anywhere
SELECT calldata_try(format('SELECT liveid.conference_data(%L, ''signature'')', :'conf1')) AS unknown_module;
\set VERBOSITY default
SELECT liveid.conference_data(:'conf1', 'signature');
\set VERBOSITY terse
-- an unknown conference: genAPIToken's 404 (a superuser may name any)
SELECT calldata_try($$SELECT liveid.conference_data('no-such-conference')$$) AS unknown_conference;

-- What the service answers, for either request (the simulator's faults:
-- an idConference FAULT-<kind> gets its token, then the fault from the
-- Bearer endpoint; one of the fault process-id form gets its fault from
-- genAPIToken).  The token is never shown, even when the service echoes it.
SELECT c AS id_conference, calldata_try(format('SELECT liveid.conference_data(%L)', c)) AS result
  FROM (VALUES ('FAULT-ECHO'), ('FAULT-STATUS-401'), ('FAULT-STATUS-404'), ('FAULT-STATUS-500'),
               ('FAULT-NOTJSON'), ('FAULT-ANSWER-4'), ('FAULT-ANSWER-22'),
               ('00000000-fa17-4002-8000-000000000401'), ('00000000-fa17-4002-8000-000000000503'),
               ('00000000-fa17-400c-8000-000000000004'), ('00000000-fa17-400c-8000-000000000022'),
               ('00000000-fa17-400e-8000-000000000000')) AS v(c);
\set VERBOSITY default
SELECT liveid.conference_data('FAULT-ECHO');
SELECT liveid.conference_data('00000000-fa17-400c-8000-000000000022');
\set VERBOSITY terse

-- ---------------------------------------------------------------- audit_data, delete_audit_data
SELECT jsonb_typeof(a) AS type, jsonb_array_length(a) > 0 AS has_entries,
       (SELECT bool_and(jsonb_typeof(e) = 'object' AND e ?& ARRAY['date', 'event', 'detail'])
          FROM jsonb_array_elements(a) AS e) AS entries_documented,
       (SELECT array_agg(DISTINCT e ->> 'event' ORDER BY e ->> 'event')
          FROM jsonb_array_elements(a) AS e) AS events
  FROM liveid.audit_data(:'conf1') AS a;
SELECT liveid_test_requests() AS n0 \gset
SELECT liveid.delete_audit_data(:'conf1');
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
SELECT liveid.audit_data(:'conf1') AS after_delete;
SELECT calldata_try($$SELECT liveid.audit_data(NULL)$$) AS null_audit,
       calldata_try($$SELECT liveid.delete_audit_data('')$$) AS empty_delete,
       calldata_try($$SELECT liveid.audit_data('no-such-conference')$$) AS unknown_audit,
       calldata_try($$SELECT liveid.delete_audit_data('no-such-conference')$$) AS unknown_delete;
SELECT f AS id_conference, calldata_try(format('SELECT liveid.audit_data(%L)', f)) AS audit,
       calldata_try(format('SELECT liveid.delete_audit_data(%L)', f)) AS delete_audit
  FROM (VALUES ('FAULT-ECHO'), ('FAULT-STATUS-403'), ('FAULT-STATUS-502'), ('FAULT-ANSWER-4'),
               ('FAULT-ANSWER-22'), ('FAULT-ANSWER-13'), ('00000000-fa17-400c-8000-000000000022')) AS v(f);

-- ---------------------------------------------------------------- reject_call
-- A call nobody opened yet: rejected at the service (its link stops
-- working) and in the ledger.
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'CALLDATA-REJECT') IS NOT NULL AS started;
SELECT uid AS uid2 FROM liveid.calls WHERE external_id = 'CALLDATA-REJECT' \gset
SELECT liveid_test_requests() AS n0 \gset
SELECT liveid.reject_call(:'uid2', reason => 'the customer asked by phone');
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
SELECT status, closed_at >= created_at AS closed_after_start
  FROM liveid.calls WHERE uid = :'uid2';
SELECT (liveid.request('GET', '/sim/requests/' || :'uid2') - 'uId') ->> 'rejected' AS sim_rejected;
SELECT replace(calldata_try(format('SELECT liveid.request(''POST'', ''/sim/open'', %L)',
                                   jsonb_build_object('uId', :'uid2'))), :'uid2', '<uid>') AS link_after_reject;
-- again, and a closed call: the service's 409, its text in DETAIL
SELECT replace(calldata_try(format('SELECT liveid.reject_call(%L)', :'uid2')), :'uid2', '<uid>') AS again;
SELECT replace(calldata_try(format('SELECT liveid.reject_call(%L)', :'uid1')), :'uid1', '<uid>') AS closed_call;
SELECT status FROM liveid.calls WHERE uid = :'uid1';

-- arguments, and everything local, before anything is sent
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'CALLDATA-REJECT-2') IS NOT NULL AS started;
SELECT uid AS uid3 FROM liveid.calls WHERE external_id = 'CALLDATA-REJECT-2' \gset
SELECT liveid_test_requests() AS n0 \gset
SELECT calldata_try($$SELECT liveid.reject_call(NULL)$$) AS null_uid,
       calldata_try($$SELECT liveid.reject_call('')$$) AS empty_uid,
       calldata_try(format('SELECT liveid.reject_call(%L, repeat(''é'', 1001))', :'uid3')) AS long_reason;
BEGIN READ ONLY;
SELECT calldata_try(format('SELECT liveid.reject_call(%L)', :'uid3')) AS read_only;
ROLLBACK;
CREATE FUNCTION public.liveid_test_wrapped_reject(uid text) RETURNS void
LANGUAGE plpgsql PARALLEL SAFE AS $$ BEGIN PERFORM liveid.reject_call(uid); END $$;
SET force_parallel_mode = on;
SELECT calldata_try(format('SELECT public.liveid_test_wrapped_reject(%L)', :'uid3')) AS parallel_mode;
RESET force_parallel_mode;
DROP FUNCTION public.liveid_test_wrapped_reject(text);
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
SELECT status FROM liveid.calls WHERE uid = :'uid3';
-- a reason of 1000 characters is accepted
SELECT liveid.reject_call(:'uid3', repeat('é', 1000));
SELECT status FROM liveid.calls WHERE uid = :'uid3';

-- liveid called from inside the ledger write of a reject: refused
CREATE FUNCTION public.liveid_test_reenter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liveid.conference_data('x');
    RETURN NEW;
END $$;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'CALLDATA-REJECT-3') IS NOT NULL AS started;
SELECT uid AS uid4 FROM liveid.calls WHERE external_id = 'CALLDATA-REJECT-3' \gset
BEGIN;
CREATE TRIGGER liveid_test_reenter AFTER UPDATE ON liveid.calls
    FOR EACH ROW EXECUTE FUNCTION public.liveid_test_reenter();
SELECT liveid_test_requests() AS n0 \gset
SELECT calldata_try(format('SELECT liveid.reject_call(%L)', :'uid4')) AS reentered;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
ROLLBACK;
DROP FUNCTION public.liveid_test_reenter();

-- ---------------------------------------------------------------- row-level security
-- A liveid_user reaches only the calls it started; liveid_admin any.
CREATE ROLE liveid_test_cd_alice LOGIN;
CREATE ROLE liveid_test_cd_bob LOGIN;
CREATE ROLE liveid_test_cd_carol LOGIN;
GRANT liveid_user TO liveid_test_cd_alice, liveid_test_cd_bob;
GRANT liveid_admin TO liveid_test_cd_carol;
SET ROLE liveid_test_cd_alice;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'CALLDATA-ALICE') IS NOT NULL AS started;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'CALLDATA-ALICE-2') IS NOT NULL AS started;
RESET ROLE;
SELECT uid AS alice_uid FROM liveid.calls WHERE external_id = 'CALLDATA-ALICE' \gset
SELECT uid AS alice_uid2 FROM liveid.calls WHERE external_id = 'CALLDATA-ALICE-2' \gset
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'alice_uid')) ->> 'idConference' AS alice_conf \gset
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', :'alice_conf')) ->> 'status' AS sim;
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', :'alice_conf', 'closeStatus', 'S')) ->> 'status' AS sim;
SET ROLE liveid_test_cd_alice;
SELECT status, close_status FROM liveid.async_request_info(:'alice_uid');
SELECT liveid.conference_data(:'alice_conf') ->> 'end_pattern' AS alice_end_pattern;
SELECT jsonb_array_length(liveid.audit_data(:'alice_conf')) > 0 AS alice_audit;
-- a conference the ledger does not hold for her (her own call's is the only one)
SELECT replace(calldata_try(format('SELECT liveid.conference_data(%L)', :'conf1')), :'conf1', '<conf>') AS not_her_conference;
-- administrators' functions are not hers
SELECT calldata_try(format('SELECT liveid.delete_audit_data(%L)', :'alice_conf')) AS delete_audit;
SELECT calldata_try($$SELECT liveid.register_alert_email('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 'a@example.com')$$)
       AS register_alert_email;
RESET ROLE;
-- Bob names Alice's conference and call: 22023, nothing sent
SELECT liveid_test_requests() AS n0 \gset
SET ROLE liveid_test_cd_bob;
SELECT replace(calldata_try(format('SELECT liveid.conference_data(%L)', :'alice_conf')), :'alice_conf', '<conf>') AS bob_data;
SELECT replace(calldata_try(format('SELECT liveid.audit_data(%L)', :'alice_conf')), :'alice_conf', '<conf>') AS bob_audit;
SELECT replace(calldata_try(format('SELECT liveid.reject_call(%L)', :'alice_uid2')), :'alice_uid2', '<uid>') AS bob_reject;
SELECT calldata_try($$SELECT liveid.conference_data('no-such-conference')$$) AS bob_unknown;
RESET ROLE;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
SELECT status FROM liveid.calls WHERE uid = :'alice_uid2';
-- Alice rejects her own; Carol deletes Alice's audit and may name any conference
SET ROLE liveid_test_cd_alice;
SELECT liveid.reject_call(:'alice_uid2');
SELECT external_id, status FROM liveid.calls WHERE external_id LIKE 'CALLDATA-%' ORDER BY external_id;
SET ROLE liveid_test_cd_carol;
SELECT liveid.delete_audit_data(:'alice_conf');
SELECT liveid.audit_data(:'alice_conf') AS after_delete;
SELECT calldata_try($$SELECT liveid.conference_data('no-such-conference')$$) AS carol_unknown;
RESET ROLE;
DROP ROLE liveid_test_cd_alice, liveid_test_cd_bob, liveid_test_cd_carol;

-- ---------------------------------------------------------------- register_alert_email
-- The addresses joined with commas, with the key of liveid.organization.
SELECT liveid_test_requests() AS n0 \gset
SELECT liveid.register_alert_email('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 'ops@demo-bank.example');
SELECT liveid.register_alert_email('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                   'ops@demo-bank.example', 'on-call+liveid@demo-bank.example');
SELECT liveid.register_alert_email('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                   VARIADIC ARRAY['a@demo-bank.example', 'b@demo-bank.example']);
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
-- NULL process: liveid.process
SELECT calldata_try($$SELECT liveid.register_alert_email(NULL, 'ops@demo-bank.example')$$) AS no_process;
SET liveid.process = 'not-a-uuid';
SELECT calldata_try($$SELECT liveid.register_alert_email(NULL, 'ops@demo-bank.example')$$) AS bad_setting;
SET liveid.process = '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02';
SELECT liveid.register_alert_email(NULL, 'ops@demo-bank.example');
RESET liveid.process;
-- every address checked before anything is sent
SELECT liveid_test_requests() AS n0 \gset
SELECT a AS emails, calldata_try(format('SELECT liveid.register_alert_email(''6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01'', %s)', a)) AS result
  FROM (VALUES ('VARIADIC NULL::text[]'), ('VARIADIC ''{}''::text[]'), ('NULL'), ('''a@x.example'', NULL'),
               (''''''), ('''a@x.example,b@y.example'''), ('''not an address'''), ('''nobody@'''),
               ('repeat(''a'', 250) || ''@x.example'''),
               ('VARIADIC ''{{a@x.example}}''::text[]'),
               ('VARIADIC array_fill(''a@x.example''::text, ARRAY[21])')) AS v(a);
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
SELECT liveid.register_alert_email('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                   VARIADIC array_fill('a@x.example'::text, ARRAY[20])) AS twenty;
-- the service's answers: another organization's process, a fault status
SELECT calldata_try($$SELECT liveid.register_alert_email('b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301', 'a@x.example')$$) AS acme_process,
       calldata_try($$SELECT liveid.register_alert_email('00000000-fa17-4002-8000-000000000409', 'a@x.example')$$) AS status_409,
       calldata_try($$SELECT liveid.register_alert_email('00000000-fa17-4002-8000-000000000503', 'a@x.example')$$) AS status_503,
       calldata_try($$SELECT liveid.register_alert_email('00000000-fa17-400c-8000-000000000004', 'a@x.example')$$) AS no_success;

DROP FUNCTION public.calldata_try(text);
DROP FUNCTION public.liveid_test_requests();
