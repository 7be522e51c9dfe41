-- Every fault class of the simulator gives its SQLSTATE and a clean
-- message with no secret in it, and the backend works after each one.
SELECT f AS fault, try(format('SELECT * FROM liveid.available_operators(%L)', f)) AS result,
       (SELECT available_operators >= 0 FROM liveid.available_operators('DEMO')) AS works_after
  FROM unnest(ARRAY[
    'FAULT-STATUS-500',
    'FAULT-STATUS-503',
    'FAULT-STATUS-400',
    'FAULT-STATUS-404',
    'FAULT-STATUS-401',
    'FAULT-STATUS-403',
    'FAULT-NOTJSON',
    'FAULT-SHAPE-1',
    'FAULT-SHAPE-2',
    'FAULT-SHAPE-3',
    'FAULT-TRUNCATE',
    'FAULT-RESET',
    'FAULT-BIG',
    'FAULT-BIGCHUNKED',
    'FAULT-REDIRECT',
    'FAULT-DELAY-100',
    'FAULT-TRICKLE-5']) AS f;

-- An answer of the wrong shape names what was missing or mistyped.
\set VERBOSITY default
SELECT * FROM liveid.available_operators('FAULT-SHAPE-1');
SELECT * FROM liveid.available_operators('FAULT-SHAPE-2');
SELECT * FROM liveid.available_languages('FAULT-SHAPE-3');
\set VERBOSITY terse

-- The same through a process id, and for the other functions.
SELECT try($$SELECT * FROM liveid.queue('00000000-fa17-4002-8000-000000000502')$$);
SELECT try($$SELECT * FROM liveid.queue('00000000-fa17-4004-8000-000000000002')$$);
SELECT try($$SELECT * FROM liveid.queue('00000000-fa17-4006-8000-000000000000')$$);
SELECT try($$SELECT * FROM liveid.available_languages('FAULT-SHAPE-2')$$);
SELECT try($$SELECT * FROM liveid.daily_waiting_times('FAULT-SHAPE-1')$$);
SELECT try($$SELECT * FROM liveid.daily_waiting_times('FAULT-SHAPE-3')$$);
SELECT try($$SELECT liveid.request('POST', '/api/service/getAvailableOperators', '{"orgCode": "FAULT-NOTJSON"}')$$);

-- Connection failures: nothing listening, a host that does not resolve.
SET liveid.url = 'http://127.0.0.1:1';
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
SET liveid.url = 'http://no-such-host.invalid';
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
RESET liveid.url;
-- A slow answer: the whole-request timeout.
SET liveid.timeout = '300ms';
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-TRICKLE-50')$$);
RESET liveid.timeout;

-- statement_timeout during a slow answer: PostgreSQL's own error, at once.
SET statement_timeout = '200ms';
SELECT * FROM liveid.available_operators('FAULT-DELAY-5000');
RESET statement_timeout;
SELECT available_operators >= 0 AS works_after FROM liveid.available_operators('DEMO');

-- Query cancel and backend termination from another session (dblink runs
-- the slow call in a second backend).  The transfer stops long before the
-- simulator's 5 s answer.
SELECT dblink_connect('slow', format('dbname=%s host=%s port=%s user=%s',
       current_database(), split_part(current_setting('unix_socket_directories'), ',', 1),
       current_setting('port'), current_user));
SELECT dblink_send_query('slow', $$SELECT * FROM liveid.available_operators('FAULT-DELAY-5000')$$);
SELECT pg_sleep(0.3);
SELECT clock_timestamp() AS t0 \gset
SELECT pg_cancel_backend(pid) FROM pg_stat_activity
 WHERE query LIKE '%FAULT-DELAY-5000%' AND pid <> pg_backend_pid();
\set VERBOSITY terse
SELECT * FROM dblink_get_result('slow') AS t(o text, n int);
\set VERBOSITY default
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 s' AS stopped_promptly;
SELECT * FROM dblink_get_result('slow') AS t(o text, n int);
SELECT * FROM dblink('slow', $$SELECT available_operators >= 0 FROM liveid.available_operators('DEMO')$$) AS t(works_after bool);

SELECT dblink_send_query('slow', $$SELECT * FROM liveid.available_operators('FAULT-DELAY-5000')$$);
SELECT pg_sleep(0.3);
SELECT clock_timestamp() AS t0 \gset
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE query LIKE '%FAULT-DELAY-5000%' AND pid <> pg_backend_pid();
SELECT try($$SELECT * FROM dblink_get_result('slow') AS t(o text, n int)$$) LIKE '%terminating connection%' AS terminated;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 s' AS stopped_promptly;
SELECT dblink_disconnect('slow');
