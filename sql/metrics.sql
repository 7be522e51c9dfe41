-- liveid.collect_metrics(): one snapshot of an organization's operators,
-- waiting times and queues into liveid.metrics, its requests all at once,
-- all or nothing; then the snapshots older than liveid.metrics_retention go.
--
-- The ledger and liveid.metrics hold only this file's rows.
TRUNCATE liveid.calls CASCADE;
TRUNCATE liveid.metrics;
CREATE FUNCTION public.liveid_test_sim(path text, body jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT liveid.request('POST', path, body) ->> 'success' $$;
-- what the utility functions say now of DEMO and of procs, in the table's shape
CREATE FUNCTION public.liveid_test_utility(procs uuid[])
RETURNS TABLE (process uuid, available_operators integer, waiting integer,
               average_wait interval, calls integer)
LANGUAGE sql AS $$
SELECT NULL::uuid, (SELECT o.available_operators FROM liveid.available_operators('DEMO') o),
       NULL::integer, w.average_wait, w.calls
  FROM liveid.daily_waiting_times('DEMO') w WHERE w.period_end - w.period_start = '1 hour'
UNION ALL
SELECT p, NULL, (SELECT q.waiting FROM liveid.queue(p) q), NULL, NULL FROM unnest(procs) p
$$;
-- rows of the latest snapshot
CREATE VIEW public.liveid_test_latest AS
SELECT * FROM liveid.metrics WHERE taken_at = (SELECT max(taken_at) FROM liveid.metrics);
\set p1 '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01'
\set p2 '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02'
\set p3 '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b03'

-- ---------------------------------------------------------------- arguments
-- all refused before anything is sent
SELECT liveid_test_requests_settled() AS n0 \gset
SELECT try($$SELECT liveid.collect_metrics('DEMO', ARRAY[NULL]::uuid[])$$) AS null_element;
SELECT try($$SELECT liveid.collect_metrics('DEMO', ARRAY['6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', NULL]::uuid[])$$) AS null_second_element;
SELECT try(format($$SELECT liveid.collect_metrics('DEMO', %L::uuid[])$$,
                  (SELECT array_agg(format('00000000-0000-4000-8000-%s', lpad(i::text, 12, '0')))
                     FROM generate_series(1, 1001) i))) AS too_many;
SELECT try($$SELECT liveid.collect_metrics('DEMO', ARRAY[['6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01'], ['6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02']]::uuid[])$$) AS two_dimensions;
SELECT try($$SELECT liveid.collect_metrics('', '{}')$$) AS empty_organization;
\set VERBOSITY default
SELECT liveid.collect_metrics();
\set VERBOSITY terse
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;
SELECT count(*) AS rows_written FROM liveid.metrics;

-- ---------------------------------------------------------------- one snapshot
-- the organization's row, and one per distinct process; every row the same
-- taken_at; values as the utility functions give them around it (the
-- simulator's figures change each minute: the snapshot matches the reading
-- before it or the one after it, since at most one minute starts between)
CREATE TEMP TABLE before AS SELECT * FROM liveid_test_utility(ARRAY[:'p1', :'p2', :'p3']::uuid[]);
SELECT liveid.collect_metrics('DEMO', ARRAY[:'p3', :'p1', :'p2', :'p1']::uuid[]) AS written;
CREATE TEMP TABLE after AS SELECT * FROM liveid_test_utility(ARRAY[:'p1', :'p2', :'p3']::uuid[]);
SELECT organization, process, available_operators IS NOT NULL AS has_operators,
       waiting IS NOT NULL AS has_waiting, average_wait IS NOT NULL AS has_average_wait,
       calls IS NOT NULL AS has_calls
  FROM liveid.metrics ORDER BY process NULLS FIRST;
SELECT count(DISTINCT taken_at) AS taken_ats,
       bool_and(abs(extract(epoch FROM taken_at - clock_timestamp())) < 600) AS taken_now
  FROM liveid.metrics;
SELECT m.process,
       (m.available_operators, m.waiting, m.average_wait, m.calls)
         IS NOT DISTINCT FROM (b.available_operators, b.waiting, b.average_wait, b.calls)
       OR (m.available_operators, m.waiting, m.average_wait, m.calls)
         IS NOT DISTINCT FROM (a.available_operators, a.waiting, a.average_wait, a.calls)
         AS as_the_utility_functions
  FROM liveid.metrics m
  JOIN before b ON b.process IS NOT DISTINCT FROM m.process
  JOIN after a ON a.process IS NOT DISTINCT FROM m.process
 ORDER BY m.process NULLS FIRST;
-- no processes: the organization's row alone
SELECT liveid.collect_metrics('DEMO', '{}') AS written;
SELECT process, available_operators >= 0 AS operators_ok, average_wait >= '0' AS wait_ok,
       calls >= 0 AS calls_ok FROM liveid_test_latest;
-- as a member of liveid_admin, who may not write the table itself
CREATE ROLE liveid_test_admin;
GRANT liveid_admin TO liveid_test_admin;
SET ROLE liveid_test_admin;
SELECT try($$INSERT INTO liveid.metrics (taken_at, organization) VALUES (now(), 'DEMO')$$) AS insert_by_hand;
SELECT liveid.collect_metrics('DEMO', ARRAY[:'p1']::uuid[]) AS written_by_admin;
RESET ROLE;
DROP ROLE liveid_test_admin;
-- liveid_user may read, not collect
CREATE ROLE liveid_test_user;
GRANT liveid_user TO liveid_test_user;
SET ROLE liveid_test_user;
SELECT try($$SELECT liveid.collect_metrics('DEMO', '{}')$$) AS as_liveid_user;
SELECT count(*) > 0 AS user_reads_latest FROM liveid.metrics_latest;
RESET ROLE;
DROP ROLE liveid_test_user;

-- ---------------------------------------------------------------- processes NULL
-- liveid.process and every process of the organization's calls in the
-- ledger (process, or the pair), each once; another organization's not
INSERT INTO liveid.calls (uid, organization, process, process_live, process_self,
                          launch_url, created_by, status)
VALUES ('m-1', 'DEMO', :'p1', NULL, NULL, 'https://x.example', 'postgres', 'closed'),
       ('m-2', 'DEMO', NULL, :'p1', :'p2', 'https://x.example', 'postgres', 'created'),
       ('m-3', 'ACME', 'b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301', NULL, NULL,
        'https://x.example', 'postgres', 'created');
TRUNCATE liveid.metrics;
SELECT liveid.collect_metrics('DEMO') AS written_from_the_ledger;
SELECT process FROM liveid.metrics ORDER BY process NULLS FIRST;
SET liveid.organization = 'DEMO';
SET liveid.process = :'p3';
SELECT liveid.collect_metrics() AS written_from_ledger_and_setting;
SELECT process FROM liveid_test_latest ORDER BY process NULLS FIRST;
SET liveid.process = :'p1';
SELECT liveid.collect_metrics() AS written_setting_already_in_ledger;
SET liveid.process = 'not-a-uuid';
SELECT try($$SELECT liveid.collect_metrics()$$) AS bad_process_setting;
RESET liveid.process;
RESET liveid.organization;
DELETE FROM liveid.calls WHERE uid LIKE 'm-%';

-- ---------------------------------------------------------------- all or nothing
-- one failing request fails the snapshot with that request's SQLSTATE, as
-- the single function would, and nothing is written
TRUNCATE liveid.metrics;
SELECT try($$SELECT liveid.collect_metrics('DEMO', ARRAY['6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', '00000000-fa17-4002-8000-000000000500', '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02']::uuid[])$$) AS failing_process;
SELECT try($$SELECT * FROM liveid.queue('00000000-fa17-4002-8000-000000000500')$$) AS queue_alone;
SELECT try($$SELECT liveid.collect_metrics('DEMO', ARRAY['6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', '00000000-fa17-4002-8000-000000000401']::uuid[])$$) AS unauthorized_process;
SELECT try($$SELECT liveid.collect_metrics('DEMO', ARRAY['00000000-fa17-4004-8000-000000000001']::uuid[])$$) AS wrong_shape;
SELECT try($$SELECT liveid.collect_metrics('FAULT-STATUS-500', '{}')$$) AS failing_organization;
SELECT try($$SELECT liveid.collect_metrics('FAULT-SHAPE', '{}')$$) AS organization_wrong_shape;
SELECT count(*) AS rows_written FROM liveid.metrics;

-- ---------------------------------------------------------------- nothing sent where it cannot be written
SELECT liveid_test_requests_settled() AS n0 \gset
BEGIN READ ONLY;
SELECT try($$SELECT liveid.collect_metrics('DEMO', ARRAY['6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01']::uuid[])$$) AS read_only;
COMMIT;
-- from inside a write of liveid.metrics (an object of the owner's)
CREATE FUNCTION public.liveid_test_nested() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN PERFORM liveid.collect_metrics('DEMO', '{}'); RETURN NEW; END $$;
CREATE TRIGGER liveid_test_nested BEFORE INSERT ON liveid.metrics
    FOR EACH ROW EXECUTE FUNCTION public.liveid_test_nested();
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;
SELECT try($$SELECT liveid.collect_metrics('DEMO', '{}')$$) AS from_a_trigger;
DROP TRIGGER liveid_test_nested ON liveid.metrics;
DROP FUNCTION public.liveid_test_nested();
SELECT count(*) AS rows_written FROM liveid.metrics;

-- ---------------------------------------------------------------- retention
-- snapshots older than liveid.metrics_retention (30 days) go with the next one
SHOW liveid.metrics_retention;
INSERT INTO liveid.metrics (taken_at, organization, process, waiting)
VALUES (now() - interval '31 days', 'DEMO', :'p1', 1),
       (now() - interval '29 days', 'DEMO', :'p1', 2),
       (now() - interval '31 days', 'ACME', 'b7d0c3e4-1f2a-4b5c-8d6e-7f8091a2b301', 3);
SELECT liveid.collect_metrics('DEMO', '{}') AS written;
SELECT organization, waiting FROM liveid.metrics WHERE waiting IS NOT NULL ORDER BY waiting;
SET liveid.metrics_retention = '1d';
SELECT liveid.collect_metrics('DEMO', '{}') AS written;
SELECT count(*) FILTER (WHERE taken_at < now() - interval '1 day') AS older_than_a_day,
       count(*) AS snapshots FROM liveid.metrics;
SELECT try($$SET liveid.metrics_retention = '30s'$$) AS under_a_minute;
RESET liveid.metrics_retention;
-- a failed snapshot deletes nothing either
INSERT INTO liveid.metrics (taken_at, organization) VALUES (now() - interval '40 days', 'DEMO');
SELECT try($$SELECT liveid.collect_metrics('FAULT-STATUS-503', '{}')$$) AS failing;
SELECT count(*) AS old_row_kept FROM liveid.metrics WHERE taken_at < now() - interval '30 days';

-- ---------------------------------------------------------------- requests in flight at once
-- eight processes (delay faults of 1 to 8 ms: distinct ids every
-- organization has) and the organization's two requests, each answer held
-- back 300 ms: the simulator counts all ten in flight at once with
-- liveid.max_concurrency 16, four with 4
TRUNCATE liveid.metrics;
SELECT array_agg(format('00000000-fa17-4001-8000-%s', lpad(i::text, 12, '0'))) AS eight
  FROM generate_series(1, 8) i \gset
SELECT liveid_test_sim('/sim/latency', '{"ms": 300}');
SELECT liveid.collect_metrics('DEMO', :'eight'::uuid[]) AS written;
SELECT liveid_test_stat('apiPeakInFlight') AS peak_in_flight;
SELECT liveid_test_sim('/sim/latency', '{"ms": 300}');
SET liveid.max_concurrency = 4;
SELECT liveid.collect_metrics('DEMO', :'eight'::uuid[]) AS written;
SELECT liveid_test_stat('apiPeakInFlight') AS peak_in_flight;
SELECT liveid_test_sim('/sim/latency', '{"ms": 0}');
RESET liveid.max_concurrency;
SELECT count(*) AS rows, count(DISTINCT taken_at) AS snapshots FROM liveid.metrics;

-- ---------------------------------------------------------------- pg_cron absent
-- (t/cron.t schedules the job with pg_cron loaded)
\set SHOW_CONTEXT never
SELECT liveid.schedule_metrics();
SELECT liveid.unschedule_metrics();
\set SHOW_CONTEXT errors
CREATE ROLE liveid_test_user;
GRANT liveid_user TO liveid_test_user;
SET ROLE liveid_test_user;
SELECT try($$SELECT liveid.schedule_metrics()$$) AS as_liveid_user;
SELECT try($$SELECT liveid.unschedule_metrics()$$) AS as_liveid_user;
RESET ROLE;
DROP ROLE liveid_test_user;

TRUNCATE liveid.metrics;
DROP VIEW public.liveid_test_latest;
DROP FUNCTION public.liveid_test_utility(uuid[]);
DROP FUNCTION public.liveid_test_sim(text, jsonb);
