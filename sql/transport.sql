-- The transport: waits PostgreSQL can see, interim answers and Expect,
-- paths refused before sending, liveid.proxy, and the service's error text
-- made safe for DETAIL.

-- The DETAIL of the error a statement raises (NULL when it raises none).
CREATE FUNCTION pg_temp.detail_of(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    det text;
BEGIN
    EXECUTE stmt;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL;
    RETURN det;
END
$$;

-- A call waiting for its answer shows in pg_stat_activity as waiting on an
-- extension, and a cancel still ends it at once.
SELECT dblink_connect('slow', format('dbname=%s host=%s port=%s user=%s',
       current_database(), split_part(current_setting('unix_socket_directories'), ',', 1),
       current_setting('port'), current_user));
SELECT dblink_send_query('slow', $$SELECT * FROM liveid.available_operators('FAULT-DELAY-3000')$$);
SELECT pg_sleep(0.3);
SELECT wait_event_type, wait_event FROM pg_stat_activity
 WHERE query LIKE '%FAULT-DELAY-3000%' AND pid <> pg_backend_pid();
SELECT clock_timestamp() AS t0 \gset
SELECT pg_cancel_backend(pid) FROM pg_stat_activity
 WHERE query LIKE '%FAULT-DELAY-3000%' AND pid <> pg_backend_pid();
SELECT * FROM dblink_get_result('slow') AS t(o text, n int);
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 s' AS stopped_promptly;
SELECT * FROM dblink_get_result('slow') AS t(o text, n int);
SELECT * FROM dblink('slow', $$SELECT available_operators >= 0 FROM liveid.available_operators('DEMO')$$) AS t(works_after bool);
-- and termination too
SELECT dblink_send_query('slow', $$SELECT * FROM liveid.available_operators('FAULT-DELAY-3000')$$);
SELECT pg_sleep(0.3);
SELECT wait_event_type, wait_event FROM pg_stat_activity
 WHERE query LIKE '%FAULT-DELAY-3000%' AND pid <> pg_backend_pid();
SELECT clock_timestamp() AS t0 \gset
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE query LIKE '%FAULT-DELAY-3000%' AND pid <> pg_backend_pid();
SELECT try($$SELECT * FROM dblink_get_result('slow') AS t(o text, n int)$$) LIKE '%terminating connection%' AS terminated;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 s' AS stopped_promptly;
SELECT dblink_disconnect('slow');

-- Interim answers (102, 103, 100) before the real one are read past at
-- once, not waited out.
SET liveid.timeout = '5s';
SELECT clock_timestamp() AS t0 \gset
SELECT available_operators >= 0 AS answered FROM liveid.available_operators('FAULT-INTERIM-3');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 s' AS at_once;
RESET liveid.timeout;

-- No request carries "Expect: 100-continue" (curl sends it for bodies over
-- 1 MiB and then waits up to 1 s for a 100): the simulator counts the
-- requests that had an Expect header.  The 1.5 MiB body is refused by the
-- simulator (413); only the header matters here.
SELECT (liveid.request('GET', '/sim/stats') ->> 'expectHeaders')::int AS expect_before \gset
SELECT liveid.request('POST', '/api/service/getAvailableOperators',
                      jsonb_build_object('orgCode', 'DEMO', 'pad', repeat('x', 4096))) ? 'availableOperators' AS answered_4k;
SELECT try(format('SELECT liveid.request(%L, %L, %L)', 'POST', '/api/service/getAvailableOperators',
                  jsonb_build_object('orgCode', 'DEMO', 'pad', repeat('x', 1536 * 1024)))) IS NOT NULL AS sent_1536k;
SELECT (liveid.request('GET', '/sim/stats') ->> 'expectHeaders')::int - :expect_before AS requests_with_expect;

-- Paths: encoded dots, slashes and backslashes before the query string,
-- and over-long paths or query strings, are refused before anything is
-- sent (an encoded value in the query string is fine).
SELECT what, try(format('SELECT liveid.request(%L, %L)', 'GET', p)) AS result
  FROM (VALUES
    ('/%2e%2e/x', '/%2e%2e/x'),
    ('/a/%2E%2E/b', '/a/%2E%2E/b'),
    ('/a/%2e', '/a/%2e'),
    ('/a%2fb', '/a%2fb'),
    ('/a%2Fb', '/a%2Fb'),
    ('/a%5cb', '/a%5cb'),
    ('/a%5Cb', '/a%5Cb'),
    ('/a%2', '/a%2'),
    ('/api/v2/getAsyncRequestInfo?uId=a%2F%2E%2E%5C', '/api/v2/getAsyncRequestInfo?uId=a%2F%2E%2E%5C'),
    ('a path of 2049 bytes', '/' || repeat('a', 2048)),
    ('a path of 2048 bytes', '/' || repeat('a', 2047)),
    ('a query string of 8193 bytes', '/sim/health?' || repeat('a', 8192)),
    ('a query string of 8192 bytes', '/sim/health?' || repeat('a', 8191))) AS t(what, p);
\set VERBOSITY default
SELECT liveid.request('GET', '/x/%2e%2e/sim/stats');
\set VERBOSITY terse

-- The context line names the path without its query string (ids).
\set VERBOSITY default
SELECT liveid.request('GET', '/api/v2/getAsyncRequestInfo?uId=00000000-0000-4000-8000-000000000000');
\set VERBOSITY terse

-- The service's error text in DETAIL: short, control characters escaped,
-- and the API key it echoes masked.
SELECT length(d) <= 310 AS short,
       d !~ '[[:cntrl:]]' AS no_control_characters,
       position('\x01\x07\x1b' IN d) > 0 AS escaped,
       position('********' IN d) > 0 AS masked,
       position(current_setting('liveid_test.api_key') IN d) = 0 AS no_key,
       left(d, 61) AS begins
  FROM pg_temp.detail_of($$SELECT * FROM liveid.available_operators('FAULT-ECHO')$$) AS d;
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-ECHO')$$);

-- liveid.proxy: none by default; http(s)://host[:port] only, never with
-- credentials (and the refusal does not repeat them); superuser only.
SHOW liveid.proxy;
SELECT v AS value, try(format('SET liveid.proxy = %L', v)) AS result
  FROM unnest(ARRAY[
    'http://127.0.0.1:3128',
    'https://proxy.example:8443/',
    'http://[::1]:3128',
    '',
    'socks5://127.0.0.1:1080',
    'proxy.example:3128',
    'http://proxy.example/path',
    'http://proxy.example?x',
    'http://:3128',
    'http://',
    'http://user:secret@proxy.example:3128']) AS v;
SELECT try($$SET liveid.proxy = 'http://user:secret@proxy.example:3128'$$) LIKE '%secret%' AS shows_password;
SET ROLE liveid_admin;
SELECT try($$SET liveid.proxy = 'http://127.0.0.1:3128'$$);
RESET ROLE;
-- a proxy that is named is used: nothing listens on this one
SET liveid.proxy = 'http://127.0.0.1:1';
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
RESET liveid.proxy;
SELECT available_operators >= 0 AS works_after FROM liveid.available_operators('DEMO');

-- Over-long arguments are refused with 22023 before anything is sent, not
-- sent to fail at the service or in the connection.
SELECT (liveid.request('GET', '/sim/stats') ->> 'requests')::int AS n0 \gset
SELECT try($$SELECT * FROM liveid.available_operators(repeat('x', 100000))$$) AS long_organization;
SELECT try($$SELECT * FROM liveid.async_request_info(repeat('u', 100000))$$) AS long_uid;
SELECT try($$SELECT liveid.request('GET', '/sim/health?x=' || repeat('y', 100000))$$) AS long_query;
SELECT (liveid.request('GET', '/sim/stats') ->> 'requests')::int - :n0 - 1 AS requests_sent;
