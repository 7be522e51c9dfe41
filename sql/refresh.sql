-- liveid.refresh_calls(): every call that is not final brought up to date
-- from the service, oldest first, several requests in flight at once;
-- returns how many ledger rows changed.
--
-- The ledger holds only this file's calls.
TRUNCATE liveid.calls CASCADE;
-- a started call's uid (DEMO's live process)
CREATE FUNCTION public.liveid_test_start(ext text, expire timestamptz DEFAULT NULL) RETURNS text
LANGUAGE sql AS $$
SELECT substring(liveid.service_start(liveid.customer('it', 'a@example.com', 'A', 'B'),
                 organization => 'DEMO', process => '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01',
                 external_id => ext, expire => expire) FROM 'uId=(.*)$')
$$;
-- drives the simulator: the customer opens a call's link (its conference's
-- id), and the other control endpoints (their "success")
CREATE FUNCTION public.liveid_test_open(uid text) RETURNS text
LANGUAGE sql AS $$ SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', uid)) ->> 'idConference' $$;
CREATE FUNCTION public.liveid_test_sim(path text, body jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT liveid.request('POST', path, body) ->> 'success' $$;
GRANT EXECUTE ON FUNCTION public.liveid_test_start(text, timestamptz) TO liveid_user;

-- ---------------------------------------------------------------- arguments
SELECT try($$SELECT liveid.refresh_calls(NULL)$$) AS null_max;
SELECT try($$SELECT liveid.refresh_calls(0)$$) AS zero;
SELECT try($$SELECT liveid.refresh_calls(-5)$$) AS negative;
SELECT try($$SELECT liveid.refresh_calls(100001)$$) AS too_many;
SELECT liveid.refresh_calls() AS changed_in_an_empty_ledger;

-- ---------------------------------------------------------------- every kind of call
-- Calls the customer opened and left waiting or answered, closed N, S, A
-- (with an abort code), K (an error), cancelled; one that expires unopened
-- and one nobody opened yet; a rejected row and a uid the service does not
-- know, written by hand.
SELECT liveid_test_start('R-WAIT') AS r_wait \gset
SELECT liveid_test_start('R-ANSWERED') AS r_answered \gset
SELECT liveid_test_start('R-N') AS r_n \gset
SELECT liveid_test_start('R-S') AS r_s \gset
SELECT liveid_test_start('R-A') AS r_a \gset
SELECT liveid_test_start('R-K') AS r_k \gset
SELECT liveid_test_start('R-CANCELLED') AS r_cancelled \gset
SELECT liveid_test_start('R-EXPIRES', now() + interval '2 seconds') AS r_expires \gset
SELECT liveid_test_start('R-CREATED') AS r_created \gset
INSERT INTO liveid.calls (uid, organization, process, external_id, launch_url, created_by, status)
VALUES ('rejected-by-hand', 'DEMO', '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 'R-REJECTED',
        'https://x.example', 'postgres', 'rejected'),
       ('unknown-to-the-service', 'DEMO', '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 'R-UNKNOWN',
        'https://x.example', 'postgres', 'created');
SELECT liveid_test_open(:'r_wait') IS NOT NULL AS opened;
SELECT liveid_test_open(:'r_answered') AS c_answered \gset
SELECT liveid_test_sim('/sim/answer', jsonb_build_object('idConference', :'c_answered')) IS NOT NULL AS answered;
SELECT liveid_test_open(:'r_n') AS c_n \gset
SELECT liveid_test_open(:'r_s') AS c_s \gset
SELECT liveid_test_open(:'r_a') AS c_a \gset
SELECT liveid_test_open(:'r_k') AS c_k \gset
SELECT liveid_test_open(:'r_cancelled') AS c_cancelled \gset
SELECT count(liveid_test_sim('/sim/answer', jsonb_build_object('idConference', c))) AS answered
  FROM unnest(ARRAY[:'c_n', :'c_s', :'c_a']) c;
SELECT liveid_test_sim('/sim/close', jsonb_build_object('idConference', :'c_n', 'closeStatus', 'N')) AS closed_n;
SELECT liveid_test_sim('/sim/close', jsonb_build_object('idConference', :'c_s', 'closeStatus', 'S')) AS closed_s;
SELECT liveid_test_sim('/sim/close', jsonb_build_object('idConference', :'c_a', 'closeStatus', 'A',
                                                        'abortCode', 'DOC-01')) AS closed_a;
SELECT liveid_test_sim('/sim/error', jsonb_build_object('idConference', :'c_k')) AS failed_k;
SELECT liveid_test_sim('/sim/cancel', jsonb_build_object('idConference', :'c_cancelled')) AS cancelled;
-- R-EXPIRES' expire passes
SELECT pg_sleep(2.5);
SELECT external_id, status FROM liveid.calls ORDER BY external_id;

-- One refresh: every row but the rejected one asked about; the unknown
-- uid is a WARNING (the service's 404) and the others still change.
SELECT liveid_test_requests_settled() AS n0 \gset
SELECT liveid.refresh_calls() AS changed;
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;
SELECT external_id, status, close_status, id_conference IS NOT NULL AS has_conference,
       closed_at IS NOT NULL AS has_closed_at
  FROM liveid.calls ORDER BY external_id;
-- the expired call's closed_at is its expire
SELECT closed_at = expire AS closed_when_it_expired FROM liveid.calls WHERE external_id = 'R-EXPIRES';

-- Nothing new: no row changes, and only the calls still not final are
-- asked about (waiting, answered, created, the unknown one).
SELECT liveid_test_requests_settled() AS n0 \gset
SELECT liveid.refresh_calls() AS changed_again;
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;

-- ---------------------------------------------------------------- max_calls, oldest first
-- The waiting call is answered and the answered one closed; one call at
-- a time refreshes the oldest first.
SELECT liveid_test_sim('/sim/answer', jsonb_build_object('idConference', id_conference)) IS NOT NULL AS answered
  FROM liveid.calls WHERE external_id = 'R-WAIT';
SELECT liveid_test_sim('/sim/close', jsonb_build_object('idConference', :'c_answered', 'closeStatus', 'N')) AS closed;
SELECT liveid_test_requests_settled() AS n0 \gset
SELECT liveid.refresh_calls(1) AS changed_oldest;
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;
SELECT external_id, status FROM liveid.calls WHERE external_id IN ('R-WAIT', 'R-ANSWERED') ORDER BY 1;
SELECT liveid.refresh_calls(2) AS changed_next;
SELECT external_id, status FROM liveid.calls WHERE external_id IN ('R-WAIT', 'R-ANSWERED') ORDER BY 1;

-- ---------------------------------------------------------------- failing before anything is sent
SELECT liveid_test_requests_settled() AS n0 \gset
BEGIN READ ONLY;
SELECT try($$SELECT liveid.refresh_calls()$$) AS read_only;
ROLLBACK;
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;
CREATE FUNCTION public.liveid_test_wrapped_refresh() RETURNS integer
LANGUAGE plpgsql PARALLEL SAFE AS $$ BEGIN RETURN liveid.refresh_calls(); END $$;
SELECT liveid_test_requests_settled() AS n0 \gset
SET force_parallel_mode = on;
SELECT try($$SELECT public.liveid_test_wrapped_refresh()$$) AS parallel_mode;
RESET force_parallel_mode;
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;
DROP FUNCTION public.liveid_test_wrapped_refresh();
-- from inside a ledger write (a trigger of the owner's on the row refresh
-- changes): 55000, and the row is left as it was
CREATE FUNCTION public.liveid_test_reenter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liveid.refresh_calls();
    RETURN NEW;
END $$;
CREATE TRIGGER liveid_test_reenter AFTER UPDATE ON liveid.calls
    FOR EACH ROW EXECUTE FUNCTION public.liveid_test_reenter();
SELECT liveid_test_open(:'r_created') IS NOT NULL AS opened;
-- (whether the unknown uid's WARNING comes first depends on which answer
-- arrives first)
SET client_min_messages = error;
SELECT try($$SELECT liveid.refresh_calls()$$) AS reentered;
RESET client_min_messages;
SELECT status FROM liveid.calls WHERE external_id = 'R-CREATED';
DROP TRIGGER liveid_test_reenter ON liveid.calls;
DROP FUNCTION public.liveid_test_reenter();

-- ---------------------------------------------------------------- every request failing
-- a pg_cron run against a service that is down must fail: an ERROR with
-- the first failure's SQLSTATE (the WARNINGs' details hold timings)
SET liveid.url = 'http://127.0.0.1:1';
SET client_min_messages = error;
SELECT try($$SELECT liveid.refresh_calls()$$) AS service_down;
RESET client_min_messages;
RESET liveid.url;
SELECT status FROM liveid.calls WHERE external_id = 'R-CREATED';

-- ---------------------------------------------------------------- row-level security
-- A liveid_user refreshes only the calls it started.
CREATE ROLE liveid_test_alice LOGIN;
CREATE ROLE liveid_test_bob LOGIN;
GRANT liveid_user TO liveid_test_alice, liveid_test_bob;
SET ROLE liveid_test_alice;
SELECT liveid_test_start('ALICE-1') AS alice_uid \gset
SET ROLE liveid_test_bob;
SELECT liveid_test_start('BOB-1') AS bob_uid \gset
RESET ROLE;
SELECT count(liveid_test_open(u)) AS opened
  FROM unnest(ARRAY[:'alice_uid', :'bob_uid']) u;
SELECT liveid_test_requests_settled() AS n0 \gset
SET ROLE liveid_test_alice;
SELECT liveid.refresh_calls() AS alice_changed;
RESET ROLE;
SELECT liveid_test_stat('requests') - :n0 - 1 AS requests_sent;
SELECT external_id, status FROM liveid.calls WHERE external_id IN ('ALICE-1', 'BOB-1') ORDER BY 1;
SET ROLE liveid_test_bob;
SELECT liveid.refresh_calls() AS bob_changed;
RESET ROLE;
SELECT external_id, status FROM liveid.calls WHERE external_id IN ('ALICE-1', 'BOB-1') ORDER BY 1;
DROP ROLE liveid_test_alice, liveid_test_bob;

-- ---------------------------------------------------------------- requests in flight at once
-- 32 opened calls, each answer held back by the simulator: with
-- liveid.max_concurrency 16 the simulator sees 16 requests in flight at
-- once (its own count, not a clock), never more; with 4, four.
TRUNCATE liveid.calls CASCADE;
SELECT count(liveid_test_start('C-' || i)) AS started FROM generate_series(1, 32) i;
SELECT count(liveid_test_open(uid)) AS opened FROM liveid.calls;
SELECT liveid_test_stat('connections') AS conn0 \gset
SELECT liveid_test_sim('/sim/latency', '{"ms": 400}');
SET liveid.max_concurrency = 16;
SELECT liveid.refresh_calls() AS changed;
SELECT liveid_test_stat('apiPeakInFlight') AS peak_in_flight;
SELECT liveid_test_stat('connections') - :conn0 <= 16 AS at_most_16_new_connections;
SELECT count(liveid_test_sim('/sim/answer', jsonb_build_object('idConference', id_conference))) AS answered
  FROM liveid.calls;
SELECT liveid_test_sim('/sim/latency', '{"ms": 200}');
SET liveid.max_concurrency = 4;
SELECT liveid.refresh_calls(8) AS changed;
SELECT liveid_test_stat('apiPeakInFlight') AS peak_in_flight;
SELECT liveid_test_sim('/sim/latency', '{"ms": 0}');
RESET liveid.max_concurrency;
SELECT status, count(*) FROM liveid.calls GROUP BY status ORDER BY status;

-- ---------------------------------------------------------------- pg_cron absent
-- (t/cron.t schedules the job with pg_cron loaded)
\set SHOW_CONTEXT never
SELECT liveid.schedule_refresh();
SELECT liveid.unschedule_refresh();
\set SHOW_CONTEXT errors
-- for liveid_admin only
CREATE ROLE liveid_test_user;
GRANT liveid_user TO liveid_test_user;
SET ROLE liveid_test_user;
SELECT try($$SELECT liveid.schedule_refresh()$$) AS as_liveid_user;
RESET ROLE;
DROP ROLE liveid_test_user;

TRUNCATE liveid.calls CASCADE;
DROP FUNCTION public.liveid_test_start(text, timestamptz);
DROP FUNCTION public.liveid_test_sim(text, jsonb);
DROP FUNCTION public.liveid_test_open(text);
