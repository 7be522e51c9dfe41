-- The ledger liveid.calls: written only as its owner, with nothing of the
-- caller's running; read under row-level security; and everything that
-- can fail locally fails before anything is sent.
--
-- requests_sent counts what reached the simulator between two readings of
-- its counter (the second reading counts itself, hence the - 1).
CREATE FUNCTION public.liveid_test_requests() RETURNS integer
LANGUAGE sql AS $$ SELECT (liveid.request('GET', '/sim/stats') ->> 'requests')::integer $$;

-- ---------------------------------------------------------------- the table's own rule
-- Either process or the pair process_live + process_self: a CHECK on the
-- table, whoever writes.
SELECT try($$INSERT INTO liveid.calls (uid, organization, launch_url, created_by)
             VALUES ('no-process', 'DEMO', 'https://x.example', 'postgres')$$);
SELECT try($$INSERT INTO liveid.calls (uid, organization, process, process_live, process_self, launch_url, created_by)
             VALUES ('both', 'DEMO', gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
                     'https://x.example', 'postgres')$$);
SELECT try($$INSERT INTO liveid.calls (uid, organization, process_live, launch_url, created_by)
             VALUES ('half', 'DEMO', gen_random_uuid(), 'https://x.example', 'postgres')$$);

-- ---------------------------------------------------------------- nobody's code but the owner's
-- The owner extends the ledger with a default, a CHECK and an expression
-- index that call a helper of the owner's; the helper calls lower()
-- unqualified.  A liveid_user puts a look-alike lower() first on its own
-- search_path: it must never run (it would run with the owner's rights),
-- for the insert of a start nor the update of a poll, with or without a
-- trigger on the table.
CREATE ROLE liveid_test_mallory LOGIN;
GRANT liveid_user TO liveid_test_mallory;
CREATE SCHEMA liveid_test_mallory AUTHORIZATION liveid_test_mallory;
CREATE FUNCTION public.liveid_test_norm(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN lower(t); END $$;
SET ROLE liveid_test_mallory;
CREATE TABLE liveid_test_mallory.ran (who name, arg text);
CREATE FUNCTION liveid_test_mallory.lower(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO liveid_test_mallory.ran VALUES (current_user, $1);
    RETURN 'pwned';
END $$;
-- in mallory's own queries the look-alike does run
SET search_path = liveid_test_mallory, pg_catalog, public;
SELECT public.liveid_test_norm('ABC') AS in_my_own_query;
RESET search_path;
RESET ROLE;
SELECT count(*) AS ran_in_my_own_query FROM liveid_test_mallory.ran;
TRUNCATE liveid_test_mallory.ran;

ALTER TABLE liveid.calls ADD COLUMN liveid_test_note text DEFAULT public.liveid_test_norm('Noted');
ALTER TABLE liveid.calls ADD CONSTRAINT liveid_test_org_check
    CHECK (public.liveid_test_norm(organization) = 'demo');
CREATE INDEX liveid_test_norm_idx ON liveid.calls (public.liveid_test_norm(external_id));
CREATE FUNCTION public.liveid_test_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.liveid_test_note := NEW.liveid_test_note || ' and touched';
    RETURN NEW;
END $$;

-- Mallory starts and polls a call with the look-alike first on the path,
-- first without a trigger on the ledger, then with one.
SET ROLE liveid_test_mallory;
SET search_path = liveid_test_mallory, pg_catalog, public;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'MALLORY-1') IS NOT NULL AS started;
RESET search_path;
RESET ROLE;
SELECT uid AS m1 FROM liveid.calls WHERE external_id = 'MALLORY-1' \gset
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'m1')) ->> 'status' AS sim;
SET ROLE liveid_test_mallory;
SET search_path = liveid_test_mallory, pg_catalog, public;
SELECT status FROM liveid.async_request_info(:'m1');
RESET search_path;
RESET ROLE;
CREATE TRIGGER liveid_test_touch BEFORE INSERT OR UPDATE ON liveid.calls
    FOR EACH ROW EXECUTE FUNCTION public.liveid_test_touch();
SET ROLE liveid_test_mallory;
SET search_path = liveid_test_mallory, pg_catalog, public;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'MALLORY-2') IS NOT NULL AS started;
RESET search_path;
RESET ROLE;
SELECT uid AS m2 FROM liveid.calls WHERE external_id = 'MALLORY-2' \gset
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'m2')) ->> 'status' AS sim;
SET ROLE liveid_test_mallory;
SET search_path = liveid_test_mallory, pg_catalog, public;
SELECT status FROM liveid.async_request_info(:'m2');
RESET search_path;
RESET ROLE;
-- the look-alike never ran; the rows hold what the owner's code computes
SELECT count(*) AS look_alike_ran FROM liveid_test_mallory.ran;
SELECT external_id, status, liveid_test_note, created_by
  FROM liveid.calls WHERE external_id LIKE 'MALLORY-%' ORDER BY external_id;
SET enable_seqscan = off;
SELECT count(*) AS found_through_the_expression_index
  FROM liveid.calls WHERE public.liveid_test_norm(external_id) = 'mallory-2';
RESET enable_seqscan;
DROP TRIGGER liveid_test_touch ON liveid.calls;
DROP FUNCTION public.liveid_test_touch();
DROP INDEX liveid.liveid_test_norm_idx;
ALTER TABLE liveid.calls DROP CONSTRAINT liveid_test_org_check, DROP COLUMN liveid_test_note;
DROP FUNCTION public.liveid_test_norm(text);

-- ---------------------------------------------------------------- failing before anything is sent
-- Each local failure keeps the request from going out at all.
SELECT liveid_test_requests() AS n0 \gset
BEGIN READ ONLY;
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$) AS read_only;
ROLLBACK;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;

-- parallel mode (a PARALLEL SAFE wrapper run with force_parallel_mode)
CREATE FUNCTION public.liveid_test_wrapped_start() RETURNS text
LANGUAGE plpgsql PARALLEL SAFE AS $$
BEGIN
    RETURN liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
END $$;
SELECT liveid_test_requests() AS n0 \gset
SET force_parallel_mode = on;
SELECT try($$SELECT public.liveid_test_wrapped_start()$$) AS parallel_mode;
RESET force_parallel_mode;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
DROP FUNCTION public.liveid_test_wrapped_start();

-- a ledger that is missing, or whose row no longer fits
BEGIN;
ALTER TABLE liveid.calls RENAME TO calls_elsewhere;
SELECT liveid_test_requests() AS n0 \gset
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$) AS missing;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
ROLLBACK;
BEGIN;
ALTER TABLE liveid.calls DROP COLUMN expire;
SELECT liveid_test_requests() AS n0 \gset
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$) AS unusable;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
ROLLBACK;

-- liveid called from inside a ledger write: a clear error, and no second
-- request (only the start's own pushAsyncCall went out)
CREATE FUNCTION public.liveid_test_reenter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM liveid.available_operators('DEMO');
    RETURN NEW;
END $$;
BEGIN;
CREATE TRIGGER liveid_test_reenter AFTER INSERT ON liveid.calls
    FOR EACH ROW EXECUTE FUNCTION public.liveid_test_reenter();
SELECT liveid_test_requests() AS n0 \gset
SELECT try($$SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                                         process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01')$$) AS reentered;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
ROLLBACK;
DROP FUNCTION public.liveid_test_reenter();
-- and the flag is down again: the next call works
SELECT available_operators >= 0 AS works_after FROM liveid.available_operators('DEMO');

-- ---------------------------------------------------------------- row-level security
-- Two teams' users see (and refresh) only the calls they started; an
-- administrator sees and refreshes all.
CREATE ROLE liveid_test_alice LOGIN;
CREATE ROLE liveid_test_bob LOGIN;
CREATE ROLE liveid_test_carol LOGIN;
GRANT liveid_user TO liveid_test_alice, liveid_test_bob;
GRANT liveid_admin TO liveid_test_carol;
SET ROLE liveid_test_alice;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'ALICE-1') IS NOT NULL AS started;
SET ROLE liveid_test_bob;
SELECT liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'), organization => 'DEMO',
                            process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                            external_id => 'BOB-1') IS NOT NULL AS started;
RESET ROLE;
SELECT uid AS alice_uid FROM liveid.calls WHERE external_id = 'ALICE-1' \gset
SELECT uid AS bob_uid FROM liveid.calls WHERE external_id = 'BOB-1' \gset
SET ROLE liveid_test_alice;
SELECT external_id, created_by FROM liveid.calls ORDER BY external_id;
SELECT count(*) AS alice_rows FROM liveid.async_request_info(:'alice_uid');
RESET ROLE;
SELECT liveid_test_requests() AS n0 \gset
SET ROLE liveid_test_alice;
SELECT replace(try(format('SELECT * FROM liveid.async_request_info(%L)', :'bob_uid')), :'bob_uid', '<bob''s uid>')
       AS bobs_call;
SELECT try($$SELECT * FROM liveid.async_request_info('not-in-the-ledger')$$) AS unknown_call;
RESET ROLE;
SELECT liveid_test_requests() - :n0 - 1 AS requests_sent;
SET ROLE liveid_test_bob;
SELECT external_id, created_by FROM liveid.calls ORDER BY external_id;
SET ROLE liveid_test_carol;
SELECT external_id FROM liveid.calls WHERE external_id IN ('ALICE-1', 'BOB-1') ORDER BY 1;
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'bob_uid')) ->> 'status' AS sim;
SELECT status FROM liveid.async_request_info(:'bob_uid');
SELECT status FROM liveid.calls WHERE uid = :'bob_uid';
-- an administrator may ask about a uid the ledger does not hold
SELECT try($$SELECT * FROM liveid.async_request_info('not-in-the-ledger')$$) AS admin_unknown_call;
RESET ROLE;
DROP ROLE liveid_test_alice, liveid_test_bob, liveid_test_carol;
DROP SCHEMA liveid_test_mallory CASCADE;
DROP ROLE liveid_test_mallory;
DROP FUNCTION public.liveid_test_requests();
