-- API keys: never stored where every role can read them, one per
-- organization from liveid.api_key_file (scripts/with-sim.sh writes one
-- with ACME's key, liveid_test.key_file; DEMO's comes from liveid.api_key).

-- The key file setting: server configuration only, superuser only.
SELECT name, context, setting FROM pg_settings
 WHERE name = 'liveid.api_key_file';
SET liveid.api_key_file = '/tmp/x';
-- where the file is is shown to superusers only
SET ROLE liveid_admin;
SELECT count(*) FROM pg_settings WHERE name = 'liveid.api_key_file';
SHOW liveid.api_key_file;
RESET ROLE;

-- ALTER ROLE/DATABASE ... SET and a function's SET clause would store the
-- key in catalogs every role reads: refused, without the value.
CREATE ROLE keys_role;
SELECT try(format('ALTER ROLE keys_role SET liveid.api_key = %L',
                  current_setting('liveid_test.api_key')));
SELECT try(format('ALTER ROLE keys_role IN DATABASE %I SET liveid.api_key = %L',
                  current_database(), current_setting('liveid_test.api_key')));
SELECT try(format('ALTER DATABASE %I SET liveid.api_key = %L',
                  current_database(), current_setting('liveid_test.api_key')));
SELECT try(format('CREATE FUNCTION keys_f() RETURNS int LANGUAGE sql SET liveid.api_key = %L AS %L',
                  current_setting('liveid_test.api_key'), 'SELECT 1'));
-- the whole error, hint included, as a client sees it
DO $$
BEGIN
    EXECUTE 'ALTER ROLE keys_role SET liveid.api_key = ''not-a-real-key''';
END
$$;
SELECT count(*) AS stored FROM pg_db_role_setting s, unnest(s.setconfig) c
 WHERE c LIKE 'liveid.api_key%';
SELECT count(*) AS stored FROM pg_proc WHERE proname = 'keys_f';
DROP ROLE keys_role;

-- Waits (up to 20 s) until a new session sees a configuration loaded after
-- since: the postmaster has reloaded, and new backends inherit its keys.
CREATE FUNCTION keys_wait_reload(since timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    conn text := format('dbname=%s host=%s port=%s user=%s', current_database(),
                        current_setting('unix_socket_directories'),
                        current_setting('port'), current_user);
    t timestamptz;
BEGIN
    FOR i IN 1..400 LOOP
        SELECT x INTO t FROM dblink(conn, 'SELECT pg_conf_load_time()') AS d(x timestamptz);
        IF t > since THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;

-- Without the key file, ACME's calls carry DEMO's key: refused.
SELECT try($$SELECT * FROM liveid.available_operators('ACME')$$);

-- The key file, put in force by a reload (the path is never echoed).
SELECT current_setting('liveid_test.key_file') AS key_file,
       pg_conf_load_time() AS since \gset
ALTER SYSTEM SET liveid.api_key_file = :'key_file';
SELECT pg_reload_conf();
SELECT keys_wait_reload(:'since') AS reloaded;
\c
SELECT setting = current_setting('liveid_test.key_file') AS file_in_force
  FROM pg_settings WHERE name = 'liveid.api_key_file';

-- Each organization's own key: DEMO's from liveid.api_key, ACME's from the
-- file, in one query.
SELECT o.code, a.organization, a.available_operators >= 0 AS answered
  FROM (VALUES ('DEMO'), ('ACME')) o(code),
       LATERAL liveid.available_operators(o.code) a
 ORDER BY 1;
SELECT o.code, count(*) > 0 AS languages
  FROM (VALUES ('DEMO'), ('ACME')) o(code),
       LATERAL liveid.available_languages(o.code) l
 GROUP BY 1 ORDER BY 1;
-- liveid.organization picks the key of a call that names none
SET liveid.organization = 'ACME';
SELECT organization FROM liveid.available_operators();
SELECT count(*) > 0 AS acme_queue
  FROM liveid.queue('b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301');
RESET liveid.organization;
-- ACME's process with DEMO's key is refused by the service
SELECT try($$SELECT * FROM liveid.queue('b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301')$$);

-- A call started for ACME is asked about with ACME's key, the one of the
-- organization the ledger recorded (DEMO's would be refused).
SELECT liveid.service_start(liveid.customer('en', 'a@example.com', 'A', 'B'),
         organization => 'ACME', process => 'b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301',
         external_id => 'keys-acme') ~ '[?&]uId=' AS started;
SELECT uid AS acme_uid FROM liveid.calls WHERE external_id = 'keys-acme' \gset
SELECT try(format('SELECT * FROM liveid.async_request_info(%L)', :'acme_uid'));
DELETE FROM liveid.calls WHERE external_id = 'keys-acme';

-- An organization with no key anywhere: 22023 naming it and the
-- settings, nothing sent (the last line counts its own stats request).
SELECT (liveid.request('GET', '/sim/stats') ->> 'requests')::int AS before \gset
SET liveid.api_key = '';
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
SELECT try($$SELECT * FROM liveid.available_languages('NOKEY')$$);
SELECT try($$SELECT liveid.request('GET', '/sim/stats')$$);
SELECT * FROM liveid.available_operators('DEMO');
RESET liveid.api_key;
SELECT (liveid.request('GET', '/sim/stats') ->> 'requests')::int - :before AS sent;
-- the file's ACME key works whatever liveid.api_key says
SET liveid.api_key = '';
SELECT organization FROM liveid.available_operators('ACME');
RESET liveid.api_key;

-- The key file out of force again, for the tests that follow.
SELECT pg_conf_load_time() AS since \gset
ALTER SYSTEM RESET liveid.api_key_file;
SELECT pg_reload_conf();
SELECT keys_wait_reload(:'since') AS reloaded;
\c
SELECT try($$SELECT * FROM liveid.available_operators('ACME')$$);
DROP FUNCTION keys_wait_reload(timestamptz);
