-- The outbox without its worker (this cluster sets no
-- liveid.worker_database): enqueue_start checks its arguments with
-- service_start's own code, then refuses with 55000 since nothing would
-- send the start; the outbox's tables and who may read them.

-- Each bad argument gets the same SQLSTATE and message from both
-- functions, so the checks are one.  args are the named arguments after
-- the customer.
CREATE FUNCTION pg_temp.both_fail(args text, customer text DEFAULT $$liveid.customer('it', 'a@example.com', 'A', 'B')$$)
RETURNS TABLE (sqlstate text, message text, same boolean) LANGUAGE plpgsql AS $$
DECLARE
    s1 text; m1 text; s2 text; m2 text;
BEGIN
    BEGIN
        EXECUTE format('SELECT liveid.service_start(%s%s)', customer, args);
        s1 := 'no error';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS s1 = RETURNED_SQLSTATE, m1 = MESSAGE_TEXT;
    END;
    BEGIN
        EXECUTE format('SELECT liveid.enqueue_start(%s%s)', customer, args);
        s2 := 'no error';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS s2 = RETURNED_SQLSTATE, m2 = MESSAGE_TEXT;
    END;
    RETURN QUERY SELECT s2, m2, s1 = s2 AND m1 IS NOT DISTINCT FROM m2;
END $$;

SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01'$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO', process_live => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01'$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', external_id => repeat('x', 101)$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', redirect_url => 'ftp://example.com/done'$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', operator_email => 'nobody', direct => 'x'$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', method => 'later'$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', expire => now() - interval '1 day'$$);
SELECT * FROM pg_temp.both_fail($$, organization => repeat('x', 101), process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01'$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO'$$, $$'{"lang": "it"}'::jsonb$$);
SELECT * FROM pg_temp.both_fail($$, organization => 'DEMO'$$, 'NULL');

-- A valid start: the 55000 says what to configure, and nothing is stored.
\set VERBOSITY default
SELECT liveid.enqueue_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                            organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
-- a read-only transaction is 25006 before anything is stored
BEGIN READ ONLY;
SELECT liveid.enqueue_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                            organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
ROLLBACK;
\set VERBOSITY terse
SELECT count(*) AS queued FROM liveid.outbox;

-- Who reads what: a liveid_user the outbox (its own rows, by row-level
-- security), nobody but the owner the requests, which hold the secrets.
SELECT c.relname, c.relrowsecurity AS rls,
       has_table_privilege('liveid_user', c.oid, 'SELECT') AS user_select,
       has_table_privilege('liveid_admin', c.oid, 'SELECT') AS admin_select,
       has_table_privilege('liveid_user', c.oid, 'INSERT') AS user_insert,
       has_table_privilege('liveid_admin', c.oid, 'UPDATE') AS admin_update
  FROM pg_class c WHERE c.oid IN ('liveid.outbox'::regclass, 'liveid.outbox_requests'::regclass)
 ORDER BY 1;
SELECT polname, polroles::regrole[] FROM pg_policy
 WHERE polrelid = 'liveid.outbox'::regclass ORDER BY 1;
-- both are dumped with their rows, so that a restore sends what was queued
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'liveid'
 ORDER BY 1::text;
