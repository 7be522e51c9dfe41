-- The four utility APIs as set-returning functions.
SELECT organization, available_operators >= 0 AS ok, pg_typeof(available_operators)
  FROM liveid.available_operators('DEMO');
SELECT process, waiting >= 0 AS ok FROM liveid.queue('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SELECT * FROM liveid.available_languages('DEMO');
SELECT * FROM liveid.available_languages('FAULT-DELAY-1') ORDER BY lang;

-- daily_waiting_times: seven UTC days, then the last 60 minutes.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE period_end - period_start = '1 day') AS days,
       count(*) FILTER (WHERE period_end - period_start = '1 hour') AS hours,
       count(DISTINCT period_start) AS distinct_starts,
       bool_and(average_wait >= '0' AND calls >= 0) AS sane
  FROM liveid.daily_waiting_times('DEMO');
SELECT period_start = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '7 days' AS first_day_ok
  FROM liveid.daily_waiting_times('DEMO') LIMIT 1;
SELECT abs(extract(epoch FROM period_end - now())) < 60 AS last_hour_ends_now
  FROM liveid.daily_waiting_times('DEMO') OFFSET 7;

-- A NULL argument means the setting; neither is a clear error.
\set VERBOSITY default
SELECT * FROM liveid.available_operators();
SELECT * FROM liveid.queue();
SET liveid.process = 'not-a-uuid';
SELECT * FROM liveid.queue();
\set VERBOSITY terse
SET liveid.organization = 'DEMO';
SET liveid.process = '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02';
SELECT organization FROM liveid.available_operators();
SELECT organization FROM liveid.available_operators(NULL);
SELECT process FROM liveid.queue();
SELECT count(*) FROM liveid.available_languages();
SELECT count(*) FROM liveid.daily_waiting_times();
-- an argument wins over the setting
SELECT organization FROM liveid.available_operators('FAULT-DELAY-1');
SELECT try($$SELECT * FROM liveid.available_operators('')$$);
RESET liveid.organization;
RESET liveid.process;

-- Unknown organization or process, another organization's: clear errors.
SELECT try($$SELECT * FROM liveid.available_operators('NOPE')$$);
SELECT try($$SELECT * FROM liveid.queue('11111111-2222-4333-8444-555555555555')$$);
SELECT try($$SELECT * FROM liveid.queue('b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301')$$);
SELECT try($$SELECT * FROM liveid.available_operators('ACME')$$);

-- Used in plain SQL: joins and lateral calls.
SELECT o.code, l.lang
  FROM (VALUES ('DEMO'), ('FAULT-DELAY-1')) AS o(code),
       LATERAL liveid.available_languages(o.code) AS l
 ORDER BY 1, 2;
