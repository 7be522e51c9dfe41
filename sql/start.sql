-- Starting calls: liveid.customer(), liveid.service_start(),
-- liveid.launch_form(), liveid.async_request_info() and the ledger
-- liveid.calls.  Ports, keys and random ids never appear: URLs are compared
-- with current_setting('liveid.url'), ids with what the simulator holds.

-- ---------------------------------------------------------------- customer
-- A validated ServiceStartJson; data defaults to no fields.
SELECT liveid.customer('it', 'mario.rossi@example.com', 'Mario', 'Rossi');
SELECT jsonb_pretty(liveid.customer(
         lang => 'en', email => 'zoe.muller@example.com', name => 'Zoë', surname => 'Müller',
         data => '{"fiscal_code": {"datatype": "text", "label": "Fiscal code",
                                   "value": "MLLZOE85M41H501X", "order": 1, "readonly": true},
                   "birth_date": {"datatype": "date", "label": "Date of birth",
                                  "value": "1985-08-01", "order": 2}}',
         callback_url => 'https://callbacks.demo-bank.example/liveid',
         callback_params => '{"ref": "A-12", "secret": "s3"}',
         priority => 0));
-- data NULL (data_agg over no rows) is no fields
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', data => NULL) -> 'data' AS data;
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', priority => 10) -> 'liveid_priorityQueueLevel' AS priority;

-- Every rule, with its message: 22023 naming the argument.
\set VERBOSITY default
SELECT liveid.customer(NULL, 'a@example.com', 'A', 'B');
SELECT liveid.customer('it', NULL, 'A', 'B');
SELECT liveid.customer('it', 'a@example.com', NULL, 'B');
SELECT liveid.customer('it', 'a@example.com', 'A', NULL);
SELECT liveid.customer('IT', 'a@example.com', 'A', 'B');
SELECT liveid.customer('ita', 'a@example.com', 'A', 'B');
SELECT liveid.customer('it', 'not an address', 'A', 'B');
SELECT liveid.customer('it', 'a@example.com', '  ', 'B');
SELECT liveid.customer('it', 'a@example.com', 'A', '');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', data => '[]');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B',
                       data => '{"birth_date": {"datatype": "date", "label": "Born", "value": "01/08/1985"}}');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', callback_url => 'http://callbacks.demo-bank.example/x');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', callback_url => 'https://user:pw@callbacks.demo-bank.example/x');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', callback_params => '{"ref": 1}');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', callback_url => 'https://callbacks.demo-bank.example/x',
                       callback_params => '["ref"]');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', callback_url => 'https://callbacks.demo-bank.example/x',
                       callback_params => '"ref"');
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', priority => 11);
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', priority => -1);

-- ---------------------------------------------------------------- checks of service_start and launch_form
-- Every rule fails before anything is sent.
SELECT liveid.service_start(NULL, organization => 'DEMO');
SELECT liveid.service_start('[]', organization => 'DEMO');
SELECT liveid.service_start('{"lang": "it", "liveid_email": "a@example.com"}', organization => 'DEMO');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B') || '{"extra": 1}', organization => 'DEMO');
-- exactly one of process or the pair process_live + process_self
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process_self => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO');
SET liveid.process = 'not-a-uuid';
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO');
RESET liveid.process;
-- organization, or the setting
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => '',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SET liveid.organization = 'DEMO';
SET liveid.process = '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01';
-- external_id and op_info: at most 100 characters (characters, not bytes)
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), external_id => repeat('x', 101));
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), op_info => repeat('é', 101));
-- redirect_url an absolute http(s) URL, redirect_method GET or POST and only with it
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), redirect_url => 'ftp://example.com/done');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), redirect_url => '/done');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), redirect_url => 'https://example.com/done',
                            redirect_method => 'get');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), redirect_method => 'POST');
-- the four ways of routing to an operator: at most one, each well formed
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                            operator_id => '0a7e5c1d-0000-4000-8000-000000000001',
                            operator_email => 'anna.rossi@demo-bank.example');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                            operator_id => '0a7e5c1d-0000-4000-8000-000000000001',
                            operator_email => 'anna.rossi@demo-bank.example',
                            operator_external_id => 'OP-01', direct => 'a.b.c');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), operator_email => 'anna');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), operator_external_id => ' ');
-- (the token itself is never printed)
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), direct => 'eyJhbGciOi.secret-token');
-- method and expire (service_start only)
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), method => 'sync');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), expire => now() - interval '1 second');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), expire => 'infinity');
-- a read-only transaction is refused before the service is asked
BEGIN READ ONLY;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'));
ROLLBACK;
-- launch_form: the same checks, and its mode
SELECT liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'), mode => 'popup');
SELECT liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'), redirect_method => 'PUT',
                          redirect_url => 'https://example.com/done');
SELECT liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'), process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SELECT liveid.launch_form(NULL);
-- the service's own checks come back as 22023 with its reason in DETAIL
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'NOPE');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), disable_rtc_test => true);
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                            operator_id => '0a7e5c1d-0000-4000-8000-000000000099');
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                            process => 'b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301');
-- nothing of the above reached the ledger
SELECT count(*) AS calls FROM liveid.calls;
RESET liveid.organization;
RESET liveid.process;

-- ---------------------------------------------------------------- service_start
-- The simulator accepts exactly the b64Data the extension builds and holds
-- what it decoded; the launch URL is <liveid.url>/app/service-asyncall?uId=.
SELECT liveid.service_start(
         liveid.customer('it', 'mario.rossi@example.com', 'Mario', 'Rossi',
                         data => '{"fiscal_code": {"datatype": "text", "label": "Fiscal code",
                                                   "value": "RSSMRA85M01H501Z", "order": 1}}'),
         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', organization => 'DEMO',
         external_id => 'ORDER-1001') AS launch_url \gset
SELECT uid AS uid1 FROM liveid.calls WHERE external_id = 'ORDER-1001' \gset
SELECT :'launch_url' = rtrim(current_setting('liveid.url'), '/') || '/app/service-asyncall?uId=' || :'uid1'
       AS launch_url_ok,
       :'uid1' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' AS uid_is_a_uuid;
SELECT r ->> 'organization' AS organization, r ->> 'processId' AS process,
       r ->> 'externalId' AS external_id, r ->> 'method' AS method, r -> 'expire' AS expire,
       jsonb_array_length(r -> 'calls') AS calls
  FROM liveid.request('GET', '/sim/requests/' || :'uid1') AS r;
-- the ledger row
SELECT organization, process, external_id, launch_url = :'launch_url' AS launch_url_ok,
       created_by = current_user AS created_by_me, status, close_status, id_conference,
       closed_at, process_live, process_self, method, expire,
       now() - created_at < interval '1 minute' AS created_now
  FROM liveid.calls WHERE uid = :'uid1';

-- Every optional field at once, non-ASCII text, the live + self pair, method
-- live and an expiry: all accepted as sent.
SELECT liveid.service_start(
         liveid.customer('de', 'zoe.muller@example.com', 'Zoë', 'Müller',
                         callback_url => 'https://callbacks.demo-bank.example/liveid',
                         callback_params => '{"ref": "Z-1"}', priority => 3),
         organization => 'DEMO',
         process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
         process_self => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02',
         external_id => 'Bestellung-ß-€', redirect_url => 'https://shop.example/done?x=1&y=2',
         redirect_method => 'GET', operator_external_id => 'OP-03',
         op_info => 'Kundin möchte Deutsch', skip_av_rec_test => true, disable_rtc_test => false,
         method => 'live', expire => now() + interval '2 days') IS NOT NULL AS started;
SELECT uid AS uid2 FROM liveid.calls WHERE external_id = 'Bestellung-ß-€' \gset
SELECT r ->> 'organization' AS organization, r ->> 'processId' AS process,
       r ->> 'externalId' AS external_id, r ->> 'method' AS method,
       r ->> 'callbackUrl' AS callback_url,
       (r ->> 'expire')::timestamptz = date_trunc('second', c.expire) AS expire_ok
  FROM liveid.request('GET', '/sim/requests/' || :'uid2') AS r, liveid.calls c
 WHERE c.uid = :'uid2';
SELECT process, process_live, process_self, method, expire - created_at = '2 days' AS expire_ok
  FROM liveid.calls WHERE uid = :'uid2';
-- operator_id, operator_email and direct each reach the service too
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b03',
                            operator_id => '0a7e5c1d-0000-4000-8000-000000000002',
                            disable_rtc_test => true) IS NOT NULL AS started;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            operator_email => 'anna.rossi@demo-bank.example') IS NOT NULL AS started;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            direct => 'eyJhbGciOiJIUzI1NiJ9.eyJvcCI6Ik9QLTAxIn0.c2lnbmF0dXJl') IS NOT NULL AS started;
-- settings stand in for organization and process
SET liveid.organization = 'DEMO';
SET liveid.process = '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b03';
SELECT liveid.service_start(liveid.customer('en', 'a@example.com', 'A', 'B'), external_id => 'FROM-SETTINGS')
       IS NOT NULL AS started;
SELECT organization, process FROM liveid.calls WHERE external_id = 'FROM-SETTINGS';
RESET liveid.organization;
RESET liveid.process;
-- 100 characters are fine (here 200 bytes)
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => repeat('é', 100), op_info => repeat('ü', 100)) IS NOT NULL AS started;
SELECT length(r ->> 'externalId') AS external_id_length
  FROM liveid.calls c, liveid.request('GET', '/sim/requests/' || c.uid) AS r
 WHERE c.external_id = repeat('é', 100);

-- ---------------------------------------------------------------- the ledger and transactions
-- A rollback leaves no row; the service's request stays until it expires.
BEGIN;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'ROLLED-BACK') AS rolled_back_url \gset
SELECT count(*) AS rows_inside FROM liveid.calls WHERE external_id = 'ROLLED-BACK';
ROLLBACK;
SELECT count(*) AS rows_after_rollback FROM liveid.calls WHERE external_id = 'ROLLED-BACK';
SELECT substring(:'rolled_back_url' FROM 'uId=(.*)$') AS uid_rb \gset
SELECT r ->> 'externalId' AS held_by_the_service, r -> 'calls' AS calls
  FROM liveid.request('GET', '/sim/requests/' || :'uid_rb') AS r;
-- and a committed one stays
BEGIN;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'COMMITTED') IS NOT NULL AS started;
COMMIT;
SELECT count(*) AS rows_after_commit FROM liveid.calls WHERE external_id = 'COMMITTED';
-- a savepoint rolled back takes its row with it
BEGIN;
SAVEPOINT s;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'SAVEPOINT') IS NOT NULL AS started;
ROLLBACK TO SAVEPOINT s;
SELECT current_user = session_user AS user_restored, current_setting('search_path') AS search_path;
COMMIT;
SELECT count(*) AS rows_after_savepoint FROM liveid.calls WHERE external_id = 'SAVEPOINT';
-- the row is there for the next statement of the same transaction, with
-- the transaction's time, and twice in one statement makes two rows
BEGIN;
SELECT count(liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                  process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                  external_id => 'TWICE')) AS started
  FROM generate_series(1, 2);
SELECT count(*) AS rows_in_transaction, bool_and(created_at = now()) AS at_transaction_time,
       bool_and(status = 'created' AND method = 'start' AND created_by = current_user) AS defaults
  FROM liveid.calls WHERE external_id = 'TWICE';
COMMIT;

-- ---------------------------------------------------------------- the ledger as an owner extends it
-- The ledger's owner may add columns, indexes and triggers: a row still
-- gets every default and generated value, goes into every index, and fires
-- row triggers, which run as the owner with search_path pinned.
CREATE TABLE liveid_test_audit (uid text, fired text, by_owner boolean, search_path text);
ALTER TABLE liveid.calls
  ADD COLUMN note text DEFAULT 'noted by default',
  ADD COLUMN serial bigint GENERATED ALWAYS AS IDENTITY,
  ADD COLUMN url_length integer GENERATED ALWAYS AS (length(launch_url)) STORED;
CREATE INDEX liveid_test_note_idx ON liveid.calls (note);
CREATE FUNCTION liveid_test_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.liveid_test_audit
    VALUES (NEW.uid, TG_WHEN,
            current_user = (SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class
                             WHERE oid = 'liveid.calls'::pg_catalog.regclass),
            pg_catalog.current_setting('search_path'));
    IF TG_WHEN = 'BEFORE' THEN
        NEW.note := 'set by a trigger';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER liveid_test_before BEFORE INSERT ON liveid.calls
    FOR EACH ROW WHEN (NEW.external_id = 'TRIGGERED') EXECUTE FUNCTION liveid_test_audit_row();
CREATE TRIGGER liveid_test_after AFTER INSERT ON liveid.calls
    FOR EACH ROW EXECUTE FUNCTION liveid_test_audit_row();
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'DEFAULTED') IS NOT NULL AS started;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'TRIGGERED') IS NOT NULL AS started;
SELECT external_id, note, serial > 0 AS has_serial, url_length = length(launch_url) AS generated
  FROM liveid.calls WHERE external_id IN ('DEFAULTED', 'TRIGGERED') ORDER BY serial;
-- the new index has the row
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT external_id FROM liveid.calls WHERE note = 'set by a trigger';
SELECT external_id FROM liveid.calls WHERE note = 'set by a trigger';
-- and so has liveid's own partial index on external_id (its predicate is
-- prepared before the service answers)
EXPLAIN (COSTS OFF) SELECT count(*) FROM liveid.calls WHERE external_id = 'DEFAULTED';
SELECT count(*) AS found_by_external_id FROM liveid.calls WHERE external_id = 'DEFAULTED';
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT c.external_id, a.fired, a.by_owner, a.search_path
  FROM liveid_test_audit a JOIN liveid.calls c USING (uid) ORDER BY c.serial, a.fired DESC;
-- a failing trigger fails the start, and nothing is left
CREATE OR REPLACE FUNCTION liveid_test_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the owner''s trigger refused %', NEW.external_id;
END $$;
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                         external_id => 'REFUSED')$$);
SELECT count(*) AS refused_rows FROM liveid.calls WHERE external_id = 'REFUSED';
DROP TRIGGER liveid_test_before ON liveid.calls;
DROP TRIGGER liveid_test_after ON liveid.calls;
DROP FUNCTION liveid_test_audit_row();
DROP TABLE liveid_test_audit;
DROP INDEX liveid.liveid_test_note_idx;
ALTER TABLE liveid.calls DROP COLUMN note, DROP COLUMN serial, DROP COLUMN url_length;
-- the table's constraints and unique indexes hold (the owner's here)
BEGIN;
ALTER TABLE liveid.calls ADD CONSTRAINT liveid_test_no_forbidden CHECK (external_id <> 'FORBIDDEN');
CREATE UNIQUE INDEX liveid_test_unique_ext ON liveid.calls (external_id) WHERE external_id LIKE 'ONCE-%';
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                         external_id => 'FORBIDDEN')$$);
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'ONCE-1') IS NOT NULL AS started;
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                         external_id => 'ONCE-1')$$);
ROLLBACK;
-- a column of liveid's whose type was changed takes the value as an INSERT
-- would (cast to the new type)
BEGIN;
ALTER TABLE liveid.calls ALTER COLUMN method TYPE varchar(10);
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$);
-- a start that failed inside try()'s subtransaction leaves the transport
-- ready for the next call of the same transaction
SELECT liveid.request('GET', '/sim/health') IS NOT NULL AS transport_ready;
ROLLBACK;
BEGIN;
ALTER TABLE liveid.calls DROP COLUMN expire;
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$);
ROLLBACK;
-- (the dropped column failed before anything was sent: sql/ledger.sql
-- shows it; the next call finds the connection ready)
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01') IS NOT NULL AS started;

-- ---------------------------------------------------------------- async_request_info
-- Through a call's life: no call before the link is opened, then one call
-- waiting, answered, closed; the ledger follows.
SELECT * FROM liveid.async_request_info(:'uid1');
SELECT status, id_conference, close_status, closed_at FROM liveid.calls WHERE uid = :'uid1';
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'uid1')) ->> 'idConference' AS conf1 \gset
SELECT uid = :'uid1' AS uid_ok, id_conference = :'conf1' AS conference_ok, status, close_status,
       abs(extract(epoch FROM started_at - now())) < 60 AS started_now, ended_at
  FROM liveid.async_request_info(:'uid1');
SELECT status, id_conference = :'conf1' AS conference_ok, close_status, closed_at FROM liveid.calls WHERE uid = :'uid1';
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', :'conf1')) ->> 'status' AS sim;
SELECT status, close_status, ended_at FROM liveid.async_request_info(:'uid1');
SELECT status, close_status, closed_at FROM liveid.calls WHERE uid = :'uid1';
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', :'conf1', 'closeStatus', 'N')) ->> 'status' AS sim;
SELECT status, close_status, ended_at >= started_at AS ended_ok FROM liveid.async_request_info(:'uid1');
SELECT c.status, c.close_status, c.id_conference = :'conf1' AS conference_ok, c.closed_at = i.ended_at AS closed_at_ok
  FROM liveid.calls c, liveid.async_request_info(:'uid1') i WHERE c.uid = :'uid1';
-- a poll that learns nothing new writes no new row version
SELECT xmin AS xmin_before FROM liveid.calls WHERE uid = :'uid1' \gset
SELECT count(*) FROM liveid.async_request_info(:'uid1');
SELECT xmin = :'xmin_before' AS row_untouched FROM liveid.calls WHERE uid = :'uid1';

-- Suspended (S), then opened again: two calls; the ledger follows the latest.
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'uid2')) ->> 'idConference' AS conf2a \gset
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', :'conf2a')) ->> 'status' AS sim;
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', :'conf2a', 'closeStatus', 'S')) ->> 'status' AS sim;
SELECT status, close_status, closed_at IS NOT NULL AS closed FROM liveid.calls WHERE uid = :'uid2';
SELECT status, close_status FROM liveid.async_request_info(:'uid2');
SELECT status, close_status, closed_at IS NOT NULL AS closed FROM liveid.calls WHERE uid = :'uid2';
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'uid2')) ->> 'idConference' AS conf2b \gset
SELECT id_conference = :'conf2a' AS first, status, close_status, ended_at IS NOT NULL AS ended
  FROM liveid.async_request_info(:'uid2') ORDER BY started_at, 1 DESC;
SELECT status, close_status, id_conference = :'conf2b' AS latest_conference, closed_at
  FROM liveid.calls WHERE uid = :'uid2';

-- In a read-only transaction the answer comes back and the ledger stays.
SELECT liveid.request('POST', '/sim/cancel', jsonb_build_object('idConference', :'conf2b')) ->> 'status' AS sim;
BEGIN READ ONLY;
SELECT id_conference = :'conf2b' AS latest, status
  FROM liveid.async_request_info(:'uid2') ORDER BY 1;
COMMIT;
SELECT status FROM liveid.calls WHERE uid = :'uid2';
SELECT count(*) FROM liveid.async_request_info(:'uid2');
SELECT status FROM liveid.calls WHERE uid = :'uid2';

-- A request not in the ledger (rolled back above): rows, and no ledger row.
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'uid_rb')) ->> 'status' AS sim;
SELECT status FROM liveid.async_request_info(:'uid_rb');
SELECT count(*) AS ledger_rows FROM liveid.calls WHERE uid = :'uid_rb';
-- an unknown uid, an empty or NULL one; the uid is URL-encoded
SELECT * FROM liveid.async_request_info('11111111-2222-4333-8444-555555555555');
SELECT * FROM liveid.async_request_info('a/../../x?y=1&z');
SELECT * FROM liveid.async_request_info('');
SELECT * FROM liveid.async_request_info(NULL);

-- ---------------------------------------------------------------- launch_form
-- Every value is HTML-escaped: "><script> in every text field.
SELECT replace(liveid.launch_form(
         liveid.customer('it', 'a@example.com', '"><script>alert(1)</script>', 'B'),
         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
         organization => '"><script>',
         external_id => '"><script>',
         redirect_url => 'https://example.com/?q="><script>&a=''b''',
         redirect_method => 'POST',
         operator_external_id => '"><script>',
         op_info => '"><script>',
         skip_av_rec_test => false),
       rtrim(current_setting('liveid.url'), '/'), '<liveid.url>') AS form;
-- the embedded mode: an iframe allowed camera, microphone and geolocation,
-- and the form targeting it
SELECT replace(liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'),
                                  process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                  process_self => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02',
                                  organization => 'DEMO', mode => 'embedded'),
               rtrim(current_setting('liveid.url'), '/'), '<liveid.url>') AS form;
-- no remote call: it works in a read-only transaction, and starts nothing
BEGIN READ ONLY;
SELECT length(liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'),
                                 process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                 organization => 'DEMO')) > 0 AS html;
COMMIT;

-- The form as a browser would post it: the fields are taken from the HTML
-- the function produced, unescaped, URL-encoded, and POSTed by curl to the
-- form's own action; the simulator's /app/service-start accepts them.
CREATE FUNCTION pg_temp.html_unescape(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(replace(replace(replace(s, '&lt;', '<'), '&gt;', '>'),
                                   '&quot;', '"'), '&#39;', ''''), '&amp;', '&')
$$;
CREATE FUNCTION pg_temp.url_encode(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(CASE WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90
                                      OR b BETWEEN 97 AND 122 OR b IN (45, 46, 95, 126)
                                    THEN chr(b)
                                    ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END,
                               '' ORDER BY i), '')
      FROM (SELECT convert_to(s, 'UTF8') AS u) x,
           LATERAL generate_series(0, length(u) - 1) AS i,
           LATERAL get_byte(u, i) AS b
$$;
CREATE FUNCTION pg_temp.form_fields(html text) RETURNS TABLE (n bigint, name text, value text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT n, pg_temp.html_unescape(m[1]), pg_temp.html_unescape(m[2])
      FROM regexp_matches(html, '<input type="hidden" name="([^"]*)" value="([^"]*)">', 'g')
           WITH ORDINALITY AS r(m, n)
$$;
CREATE FUNCTION pg_temp.form_body(html text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(pg_temp.url_encode(name) || '=' || pg_temp.url_encode(value), '&' ORDER BY n)
      FROM pg_temp.form_fields(html)
$$;
CREATE FUNCTION pg_temp.form_action(html text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.html_unescape((regexp_match(html, '<form method="post" action="([^"]*)"'))[1])
$$;

SELECT liveid.launch_form(
         liveid.customer('it', 'mario.rossi@example.com', 'Mario', 'Rossi',
                         data => '{"note": {"datatype": "text", "label": "Note <b>", "value": "\"quoted\" & ''single''"}}'),
         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', organization => 'DEMO',
         external_id => '"><script>alert(1)</script>',
         redirect_url => 'https://shop.example/done?a=1&b="2"', redirect_method => 'POST',
         operator_external_id => 'OP-02', op_info => '<b>VIP</b> & ''friends''',
         skip_av_rec_test => true, disable_rtc_test => false) AS form \gset
-- what the browser would send, and the customer inside json
SELECT n, name, CASE WHEN name = 'json' THEN '(Base64)' ELSE value END AS value
  FROM pg_temp.form_fields(:'form') ORDER BY n;
SELECT convert_from(decode(value, 'base64'), 'UTF8')::jsonb =
       liveid.customer('it', 'mario.rossi@example.com', 'Mario', 'Rossi',
                       data => '{"note": {"datatype": "text", "label": "Note <b>", "value": "\"quoted\" & ''single''"}}')
       AS json_is_the_customer
  FROM pg_temp.form_fields(:'form') WHERE name = 'json';
SELECT pg_temp.form_action(:'form') = rtrim(current_setting('liveid.url'), '/') || '/app/service-start' AS action_ok;
SELECT pg_temp.form_body(:'form') AS form_body, pg_temp.form_action(:'form') AS form_action \gset
\setenv FORM_BODY :form_body
\setenv FORM_ACTION :form_action
\! curl -s -w '\nHTTP %{http_code}\n' --data-binary "$FORM_BODY" "$FORM_ACTION" | grep -oE 'id="(status|error)"[^>]*>[^<]*|^HTTP [0-9]+'
-- the embedded form too
SELECT liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'),
                          process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                          process_self => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02',
                          organization => 'DEMO', mode => 'embedded') AS form \gset
SELECT pg_temp.form_body(:'form') AS form_body, pg_temp.form_action(:'form') AS form_action \gset
\setenv FORM_BODY :form_body
\setenv FORM_ACTION :form_action
\! curl -s -w '\nHTTP %{http_code}\n' --data-binary "$FORM_BODY" "$FORM_ACTION" | grep -oE 'id="(status|error)"[^>]*>[^<]*|^HTTP [0-9]+'
-- and a form the service refuses shows its reason (an operator it does not know)
SELECT liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'),
                          process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', organization => 'DEMO',
                          operator_id => '0a7e5c1d-0000-4000-8000-000000000099') AS form \gset
SELECT pg_temp.form_body(:'form') AS form_body, pg_temp.form_action(:'form') AS form_action \gset
\setenv FORM_BODY :form_body
\setenv FORM_ACTION :form_action
\! curl -s -w '\nHTTP %{http_code}\n' --data-binary "$FORM_BODY" "$FORM_ACTION" | grep -oE 'id="(status|error)"[^>]*>[^<]*|^HTTP [0-9]+'

-- ---------------------------------------------------------------- privileges
-- liveid_user starts calls and reads the ledger; the rows are written as
-- the ledger's owner, and record who called.  Writing the ledger directly
-- is refused.  Without liveid_user, nothing.
CREATE ROLE liveid_test_starter LOGIN;
CREATE ROLE liveid_test_outsider LOGIN;
GRANT liveid_user TO liveid_test_starter;
SET ROLE liveid_test_starter;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'BY-STARTER') AS starter_url \gset
SELECT external_id, created_by, status FROM liveid.calls WHERE external_id = 'BY-STARTER';
-- row-level security: a liveid_user sees the calls it started, and no other
SELECT count(*) AS rows_seen, bool_and(created_by = current_user) AS all_mine FROM liveid.calls;
SELECT try($$INSERT INTO liveid.calls (uid, organization, process, launch_url, created_by)
             VALUES ('forged', 'DEMO', '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 'https://evil.example', 'postgres')$$);
SELECT try($$UPDATE liveid.calls SET status = 'closed', close_status = 'N'$$);
SELECT try($$DELETE FROM liveid.calls$$);
SELECT length(liveid.launch_form(liveid.customer('it', 'a@example.com', 'A', 'B'),
                                 process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                                 organization => 'DEMO')) > 0 AS launch_form;
SELECT try($$SELECT liveid.request('GET', '/sim/health')$$);
RESET ROLE;
SELECT substring(:'starter_url' FROM 'uId=(.*)$') AS uid3 \gset
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'uid3')) ->> 'status' AS sim;
-- the user's poll updates the ledger too (as its owner)
SET ROLE liveid_test_starter;
SELECT status FROM liveid.async_request_info(:'uid3');
SELECT status FROM liveid.calls WHERE uid = :'uid3';
RESET ROLE;
SET ROLE liveid_test_outsider;
SELECT try($$SELECT liveid.customer('it', 'a@example.com', 'A', 'B')$$);
SELECT try($$SELECT liveid.service_start('{}')$$);
SELECT try($$SELECT * FROM liveid.calls$$);
RESET ROLE;

-- A caller's search_path cannot make the ledger's statements run code of
-- theirs with the owner's rights: an "=" for text earlier in the path is
-- not used.
CREATE SCHEMA liveid_test_trap AUTHORIZATION liveid_test_starter;
SET ROLE liveid_test_starter;
CREATE FUNCTION liveid_test_trap.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'trap ran as %', current_user;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR liveid_test_trap.= (LEFTARG = text, RIGHTARG = text,
                                    FUNCTION = liveid_test_trap.texteq);
SET search_path = liveid_test_trap, pg_catalog;
SELECT 'a'::text = 'a'::text AS trap_works_in_my_own_queries;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'TRAPPED') IS NOT NULL AS started;
SELECT count(*) AS polled FROM liveid.async_request_info(:'uid3');
RESET search_path;
RESET ROLE;
SELECT created_by FROM liveid.calls WHERE external_id = 'TRAPPED';
DROP SCHEMA liveid_test_trap CASCADE;
DROP ROLE liveid_test_starter;
DROP ROLE liveid_test_outsider;

-- No key and no token is ever stored: not the API key, nor the direct
-- token given above.
SELECT count(*) AS rows_with_secrets
  FROM liveid.calls c
 WHERE position(current_setting('liveid_test.api_key') IN c::text) > 0
    OR position('c2lnbmF0dXJl' IN c::text) > 0;

-- Every row names its process one way: process alone, or the pair (the
-- rule service_start checks before a call starts, and the only writer).
SELECT count(*) AS rows, count(*) FILTER (WHERE process_live IS NOT NULL) AS with_the_pair,
       count(*) FILTER (WHERE NOT (
         (process IS NOT NULL AND process_live IS NULL AND process_self IS NULL) OR
         (process IS NULL AND process_live IS NOT NULL AND process_self IS NOT NULL))) AS named_otherwise
  FROM liveid.calls;
