-- Installing liveid: the schema, the two roles, and a helper for the tests.
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
