-- Installing liveid: the schema, the two roles, and helpers for the tests.
CREATE EXTENSION liveid;
SELECT extname, extversion, extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'liveid';
SELECT rolname, rolcanlogin FROM pg_roles
 WHERE rolname IN ('liveid_user', 'liveid_admin') ORDER BY rolname;
SELECT pg_has_role('liveid_admin', 'liveid_user', 'MEMBER') AS admin_is_user;

-- Runs a statement and says how it ended: "ok", or SQLSTATE and message.
-- It also fails loudly if the API key ever shows up in a message, detail
-- or hint.
CREATE FUNCTION public.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    IF position(current_setting('liveid_test.api_key') IN concat(msg, det, hnt)) > 0 THEN
        RETURN 'SECRET LEAKED';
    END IF;
    RETURN st || ': ' || msg;
END
$$;
GRANT EXECUTE ON FUNCTION public.try(text) TO PUBLIC;

-- A counter of the simulator's /sim/stats.
CREATE FUNCTION public.liveid_test_stat(counter text) RETURNS bigint
LANGUAGE sql AS $$ SELECT (liveid.request('GET', '/sim/stats') ->> counter)::bigint $$;
-- the simulator's request counter once nothing more arrives (its own read
-- is the only one in 100 ms): a request of an earlier batch that an error
-- cut short can reach the simulator after the statement has ended
CREATE FUNCTION public.liveid_test_requests_settled() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    before bigint := liveid_test_stat('requests');
    now_ bigint;
BEGIN
    FOR i IN 1 .. 100 LOOP
        PERFORM pg_sleep(0.1);
        now_ := liveid_test_stat('requests');
        IF now_ = before + 1 THEN
            RETURN now_;
        END IF;
        before := now_;
    END LOOP;
    RAISE EXCEPTION 'the simulator kept receiving requests for 10 s';
END $$;
