/* liveid--1.0.sql: the SQL surface of liveid 1.0 (see sql-api.md) */

\echo Use "CREATE EXTENSION liveid" to load this file. \quit

-- The two roles are cluster-wide: made if absent, kept by DROP EXTENSION.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'liveid_user') THEN
        CREATE ROLE liveid_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'liveid_admin') THEN
        CREATE ROLE liveid_admin NOLOGIN;
    END IF;
    IF NOT pg_has_role('liveid_admin', 'liveid_user', 'MEMBER') THEN
        GRANT liveid_user TO liveid_admin;
    END IF;
END
$$;

CREATE SCHEMA liveid;
REVOKE ALL ON SCHEMA liveid FROM PUBLIC;
GRANT USAGE ON SCHEMA liveid TO liveid_user, liveid_admin;

-- Transport: one authenticated call to liveid.url || path (administrators).
CREATE FUNCTION liveid.request(method text, path text, body jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_request'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Utility APIs.
CREATE FUNCTION liveid.available_operators(organization text DEFAULT NULL)
RETURNS TABLE (organization text, available_operators integer)
AS 'MODULE_PATHNAME', 'liveid_available_operators'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;

CREATE FUNCTION liveid.queue(process uuid DEFAULT NULL)
RETURNS TABLE (process uuid, waiting integer)
AS 'MODULE_PATHNAME', 'liveid_queue'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;

CREATE FUNCTION liveid.available_languages(organization text DEFAULT NULL)
RETURNS TABLE (organization text, lang text)
AS 'MODULE_PATHNAME', 'liveid_available_languages'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 5;

CREATE FUNCTION liveid.daily_waiting_times(organization text DEFAULT NULL)
RETURNS TABLE (organization text, period_start timestamptz, period_end timestamptz,
               average_wait interval, calls integer)
AS 'MODULE_PATHNAME', 'liveid_daily_waiting_times'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 8;

-- ==== Payload builders (src/payload.c) ====
-- ==== end of payload builders ====

-- ==== Starting calls and the ledger (src/start.c) ====
-- ==== end of starting calls ====

-- Privileges: nothing for PUBLIC; the utility functions for liveid_user,
-- everything else for liveid_admin only.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA liveid FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    liveid.available_operators(text),
    liveid.queue(uuid),
    liveid.available_languages(text),
    liveid.daily_waiting_times(text)
TO liveid_user;
GRANT EXECUTE ON FUNCTION liveid.request(text, text, jsonb) TO liveid_admin;
