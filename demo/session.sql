-- The example session of `make demo`: what liveid can do so far.
-- Each step has a title; under it, each SQL statement as typed, then what
-- it returns.  The requests to /sim/... are the simulator standing in for
-- the customer and the operator: an application never sends them.
\pset footer off
\set VERBOSITY default
\echo
\echo '== Step 1. Install: the API key is set in postgresql.conf and shown to nobody'
CREATE EXTENSION liveid;
SHOW liveid.api_key;

\echo
\echo '== Step 2. Operators, queues, languages and waiting times, as plain SQL'
SET liveid.organization = 'DEMO';
SELECT * FROM liveid.available_operators();
SELECT * FROM liveid.queue('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SELECT string_agg(lang, ', ') AS languages FROM liveid.available_languages();
SELECT period_start, period_end, average_wait, calls FROM liveid.daily_waiting_times();

\echo
\echo '== Step 3. Errors are clear, carry the right SQLSTATE, and never show the key'
SELECT * FROM liveid.available_operators('NO-SUCH-ORG');
\echo '   SQLSTATE' :LAST_ERROR_SQLSTATE '(invalid_parameter_value: the service refused the request)'
SET liveid.timeout = '300ms';
SELECT * FROM liveid.available_operators('FAULT-DELAY-2000');
\echo '   SQLSTATE' :LAST_ERROR_SQLSTATE '(connection_failure: the service did not answer in time)'
RESET liveid.timeout;
SELECT liveid.request('GET', '//elsewhere.example/steal');
\echo '   SQLSTATE' :LAST_ERROR_SQLSTATE '(refused before anything is sent: every request stays under liveid.url)'

\echo
\echo '== Step 4. Roles: liveid_user may watch, not reconfigure'
CREATE ROLE demo_operator LOGIN IN ROLE liveid_user;
SET ROLE demo_operator;
SELECT * FROM liveid.available_operators('DEMO');
SET liveid.url = 'http://attacker.example';
SELECT liveid.request('GET', '/sim/stats');
RESET ROLE;
DROP ROLE demo_operator;

\echo
\echo '== Step 5. A customer table of our own, and one row of it as the call form'
CREATE TABLE customers (
    id          serial PRIMARY KEY,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text NOT NULL,
    fiscal_code text,
    birth_date  date,
    mobile      text,
    premium     boolean
);
COMMENT ON COLUMN customers.fiscal_code IS 'Codice fiscale';
INSERT INTO customers (first_name, last_name, email, fiscal_code, birth_date, mobile, premium)
VALUES ('Mario', 'Rossi', 'mario.rossi@example.com', 'RSSMRA85M01H501Z', '1985-08-01', '+39 333 1234567', true);
SELECT jsonb_pretty(liveid.row_to_data(c, options => '{"exclude": ["id", "first_name", "last_name", "email"], "readonly": ["fiscal_code"]}'))
  FROM customers c WHERE id = 1;

\echo
\echo '== Step 6. Start the identification: the launch URL to e-mail, and the ledger row'
SET liveid.process = '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01';
SELECT liveid.service_start(
         liveid.customer(lang => 'it', email => c.email, name => c.first_name, surname => c.last_name,
                         data => liveid.row_to_data(c, options => '{"exclude": ["id", "first_name", "last_name", "email"]}')),
         external_id => 'CUSTOMER-' || c.id) AS launch_url
  FROM customers c WHERE id = 1 \gset
\echo
\echo 'Launch URL (the link to e-mail to the customer):'
\echo '   ' :launch_url
\echo
\set ECHO none
SELECT uid FROM liveid.calls \gset call_
\set ECHO queries
SELECT organization, external_id, created_by, status FROM liveid.calls;

\echo
\echo '== Step 7. Follow the call with liveid.async_request_info'
\echo 'In real life the customer opens the link and an operator answers and closes'
\echo 'the call.  Here the simulator stands in for both: the requests to /sim/open,'
\echo '/sim/answer and /sim/close below are marked [SIMULATOR STAND-IN]; an'
\echo 'application never sends them.'
\echo
\echo '[SIMULATOR STAND-IN for the customer] the customer opens the launch URL:'
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'call_uid')) ->> 'status' AS sim_customer_opens_link;
\echo 'What the application sees: the customer waits for an operator, in the queue.'
SELECT status, close_status FROM liveid.async_request_info(:'call_uid');
SELECT * FROM liveid.queue();
\echo '[SIMULATOR STAND-IN for the operator] an operator answers:'
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', id_conference)) ->> 'status' AS sim_operator
  FROM liveid.async_request_info(:'call_uid');
\echo 'What the application sees: the call is under way.'
SELECT status, close_status FROM liveid.async_request_info(:'call_uid');
\echo '[SIMULATOR STAND-IN for the operator] the operator closes the call as completed (N):'
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', id_conference, 'closeStatus', 'N')) ->> 'status' AS sim_operator
  FROM liveid.async_request_info(:'call_uid');
\echo 'What the application sees: the call is closed, with its close code.'
\echo 'close_status: N completed, S suspended by the operator, A aborted by the'
\echo 'operator, K ended by the system after an unexpected error.'
SELECT status, close_status,
       CASE close_status WHEN 'N' THEN 'completed' WHEN 'S' THEN 'suspended'
                         WHEN 'A' THEN 'aborted' WHEN 'K' THEN 'ended by the system' END AS meaning,
       ended_at IS NOT NULL AS ended
  FROM liveid.async_request_info(:'call_uid');
\echo 'The ledger is up to date (close_status as above):'
SELECT external_id, status, close_status, closed_at IS NOT NULL AS closed FROM liveid.calls;

\echo
\echo '== Step 8. Queue metrics after the call'
SELECT * FROM liveid.queue();
SELECT * FROM liveid.available_operators();
SELECT period_start::date AS day, average_wait, calls FROM liveid.daily_waiting_times() LIMIT 7;

\echo
\echo '== Step 9. Each team sees its own customers: row-level security on the ledger'
CREATE ROLE demo_team_a LOGIN IN ROLE liveid_user;
CREATE ROLE demo_team_b LOGIN IN ROLE liveid_user;
SET ROLE demo_team_a;
SELECT liveid.service_start(liveid.customer('it', 'anna.bianchi@example.com', 'Anna', 'Bianchi'),
                            external_id => 'TEAM-A-1') IS NOT NULL AS team_a_started;
SELECT external_id, created_by FROM liveid.calls;
SET ROLE demo_team_b;
SELECT count(*) AS calls_team_b_sees FROM liveid.calls;
\echo 'Nor may team B look up the first call, which it did not start:'
SELECT * FROM liveid.async_request_info(:'call_uid');
RESET ROLE;
\echo 'The table owner (or a member of liveid_admin) sees every call:'
SELECT external_id, created_by FROM liveid.calls ORDER BY created_at;
DROP ROLE demo_team_a, demo_team_b;

\echo
\echo '== Step 10. Calls that end by themselves: a server callback, confirmed with the service'
\echo 'liveid-receiver (started beside this session) takes the callbacks LiveID+ posts'
\echo 'and hands each to liveid.receive_callback.  It logs in as a role that may do'
\echo 'that and nothing else, whose statements are never logged (they carry secrets):'
CREATE ROLE demo_receiver LOGIN IN ROLE liveid_receiver;
ALTER ROLE demo_receiver SET log_statement = 'none';
ALTER ROLE demo_receiver SET log_parameter_max_length = 0;
\echo 'Calls started with liveid.callback_url set get a server callback, and in its'
\echo 'otherParams their ref and a per-call secret (only its hash is kept):'
SET liveid.callback_url = :'receiver_url';
SELECT liveid.service_start(liveid.customer('it', 'luca.verdi@example.com', 'Luca', 'Verdi'),
                            external_id => 'CALLBACK-1') IS NOT NULL AS started;
\set ECHO none
SELECT uid AS cb_uid FROM liveid.calls WHERE external_id = 'CALLBACK-1' \gset
\set ECHO queries
SELECT external_id, ref, status FROM liveid.calls WHERE external_id = 'CALLBACK-1';
\echo 'Every change of a ledger row is announced on the channel liveid_calls:'
LISTEN liveid_calls;
\echo '[SIMULATOR STAND-IN] the customer opens the link; an operator answers, then'
\echo 'aborts the identification (A) because the document has expired:'
\set ECHO none
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'cb_uid')) ->> 'idConference' AS cb_conf \gset
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', :'cb_conf')) ->> 'status' AS answered \gset
\set ECHO queries
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', :'cb_conf',
         'closeStatus', 'A', 'abortCode', 'DOC_EXPIRED', 'note', 'ID card expired in 2025')) ->> 'status' AS sim_operator;
\echo 'LiveID+ posts the callback to the receiver; the application waits for it:'
DO $$ BEGIN
  FOR i IN 1..100 LOOP
    EXIT WHEN EXISTS (SELECT FROM liveid.call_events e JOIN liveid.calls c USING (uid)
                       WHERE c.external_id = 'CALLBACK-1');
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
\echo 'What the callback claimed, and what the service confirmed before the ledger took it:'
SELECT e.event, e.close_status, e.abort_code, e.note, e.confirmed_close_status, e.mismatch,
       e.payload #> '{otherParams,liveid_token}' AS token_kept
  FROM liveid.call_events e JOIN liveid.calls c USING (uid) WHERE c.external_id = 'CALLBACK-1';
SELECT external_id, status, close_status, closed_at IS NOT NULL AS closed
  FROM liveid.calls WHERE external_id = 'CALLBACK-1';
\echo 'Abort codes are set per process: what they mean is yours to record.'
INSERT INTO liveid.abort_codes VALUES (current_setting('liveid.process')::uuid, 'DOC_EXPIRED', 'the identity document has expired');
SELECT c.external_id, e.abort_code, a.meaning
  FROM liveid.call_events e JOIN liveid.calls c USING (uid)
  JOIN liveid.abort_codes a ON a.process = c.process AND a.abort_code = e.abort_code;
\echo 'A forged callback (the right ref, a made-up secret) is refused, and nothing is stored:'
\set ECHO none
SELECT ref AS cb_ref FROM liveid.calls WHERE external_id = 'CALLBACK-1' \gset
\set ECHO queries
SET ROLE demo_receiver;
SELECT liveid.receive_callback(jsonb_build_object('closeStatus', 'N', 'idConference', :'cb_conf',
         'otherParams', jsonb_build_object('liveid_ref', :'cb_ref', 'liveid_token', 'guessed')));
\echo '   SQLSTATE' :LAST_ERROR_SQLSTATE '(invalid_authorization_specification: the receiver answers 403)'
RESET ROLE;
SELECT count(*) AS events FROM liveid.call_events;

\echo
\echo '== Step 11. A callback that never came: liveid.refresh_calls catches it'
\echo 'This call names a callback endpoint LiveID+ cannot reach, so no callback arrives.'
SELECT liveid.service_start(liveid.customer('it', 'sara.neri@example.com', 'Sara', 'Neri',
                                            callback_url => 'https://callbacks.demo-bank.example/liveid'),
                            external_id => 'NO-CALLBACK-1') IS NOT NULL AS started;
\set ECHO none
SELECT uid AS nc_uid FROM liveid.calls WHERE external_id = 'NO-CALLBACK-1' \gset
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'nc_uid')) ->> 'idConference' AS nc_conf \gset
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', :'nc_conf')) ->> 'status' AS answered \gset
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', :'nc_conf', 'closeStatus', 'N')) ->> 'status' AS closed \gset
\set ECHO queries
\echo '[SIMULATOR STAND-IN] the customer was identified (N); the ledger does not know yet:'
SELECT external_id, status, close_status FROM liveid.calls WHERE status NOT IN ('closed', 'cancelled', 'expired', 'rejected');
\echo 'refresh_calls asks the service about every call not final, several at once,'
\echo 'and returns how many rows changed (run it from pg_cron: liveid.schedule_refresh()):'
SELECT liveid.refresh_calls();
SELECT external_id, status, close_status FROM liveid.calls ORDER BY created_at;
UNLISTEN liveid_calls;

\echo
\echo '== Step 12. Metrics snapshots, scheduled with pg_cron, and reports for the contact-centre manager'
\echo 'One snapshot now: the organization (operators, the last hour''s waiting time) and'
\echo 'each of its processes (queues), all requests at once; the rows written:'
SELECT liveid.collect_metrics();
SELECT organization, process, available_operators, waiting, average_wait, calls FROM liveid.metrics_latest;
\echo 'And one every minute from pg_cron (preloaded in this cluster; schedules are GMT):'
CREATE EXTENSION pg_cron;
SELECT liveid.schedule_metrics('* * * * *') > 0 AS scheduled;
SELECT jobname, schedule, command FROM cron.job ORDER BY jobname;
\echo 'liveid.metrics holds the snapshots liveid.collect_metrics() takes from pg_cron.'
\echo 'Backfilled for the demo: a day of snapshots every 10 minutes, computed here by'
\echo 'SQL as the superuser, as collect_metrics would have taken them.'
INSERT INTO liveid.metrics (taken_at, organization, process, available_operators, waiting, average_wait, calls)
SELECT t, 'DEMO', p.process,
       CASE WHEN p.process IS NULL THEN 1 + round(5 * l.load)::integer END,
       CASE WHEN p.process IS NOT NULL THEN round(9 * l.load + l.noise)::integer END,
       CASE WHEN p.process IS NULL THEN make_interval(secs => round(45 + 720 * l.load * l.load + 30 * l.noise)) END,
       CASE WHEN p.process IS NULL THEN round(40 * l.load)::integer END
  FROM generate_series(now() - interval '1 day', now(), interval '10 minutes') t
 CROSS JOIN LATERAL (SELECT greatest(0, sin(pi() * (extract(hour FROM t) + extract(minute FROM t) / 60 - 8) / 11)) AS load,
                            (extract(epoch FROM t)::bigint / 600 % 5) / 4.0 AS noise) l
 CROSS JOIN (VALUES (NULL::uuid), (current_setting('liveid.process')::uuid)) p(process);
SELECT hour, samples, avg_available_operators, min_available_operators, avg_wait
  FROM liveid.metrics_hourly WHERE process IS NULL ORDER BY hour DESC LIMIT 6;
\echo 'The share of hours whose average wait was over 5 minutes, and the busiest hours:'
SELECT * FROM liveid.waiting_share(interval '5 minutes');
SELECT weekday, hour_of_day, avg_waiting, avg_available_operators
  FROM liveid.metrics_busiest_hours ORDER BY avg_waiting DESC, hour_of_day LIMIT 3;
\echo 'How the calls of this session ended, from the ledger:'
SELECT * FROM liveid.calls_daily;
\echo 'All of it as one self-contained HTML page (inline SVG, no script, nothing external):'
\set QUIET on
\pset tuples_only on
\pset format unaligned
\o /tmp/liveid-report.html
SELECT liveid.report_html(now() - interval '1 day');
\o
\pset format aligned
\pset tuples_only off
\set QUIET off
\echo '(written to /tmp/liveid-report.html)'

\echo
\echo '== Step 13. Starts that follow the transaction: an outbox, sent by a background worker'
\echo 'A trigger on our customer table starts an identification for each new customer.'
\echo 'liveid.enqueue_start checks the start as service_start does, but only stores it'
\echo 'in liveid.outbox, in the inserting transaction; liveid''s background worker'
\echo '(liveid.worker_database) sends it after COMMIT, and a rollback sends nothing.'
SET liveid.organization = 'DEMO';
SET liveid.process = '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01';
CREATE FUNCTION start_identification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM liveid.enqueue_start(
        liveid.customer('it', NEW.email, NEW.first_name, NEW.last_name,
                        data => liveid.row_to_data(NEW, options => '{"exclude": ["id", "first_name", "last_name", "email"]}')),
        external_id => 'CUSTOMER-' || NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER customers_identify AFTER INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION start_identification();
SELECT (liveid.request('GET', '/sim/stats') ->> 'pushes')::int AS pushes_before \gset
LISTEN liveid_calls;
BEGIN;
INSERT INTO customers (first_name, last_name, email, birth_date)
VALUES ('Giulia', 'Bianchi', 'giulia.bianchi@example.com', '1990-03-12'),
       ('Luca', 'Verdi', 'luca.verdi@example.com', '1978-11-30');
\echo 'Inside the transaction the starts are queued, and nothing has reached the service:'
SELECT external_id, state, attempts FROM liveid.outbox ORDER BY external_id;
SELECT (liveid.request('GET', '/sim/stats') ->> 'pushes')::int - :pushes_before AS requests_sent;
COMMIT;
\echo 'The commit wakes the worker (no polling); its notifications arrive on liveid_calls:'
SELECT pg_sleep(1);
SELECT external_id, state, attempts, sent_at - queued_at < interval '5 seconds' AS sent_within_seconds
  FROM liveid.outbox ORDER BY external_id;
SELECT o.external_id, c.status, c.created_by, c.launch_url
  FROM liveid.outbox o JOIN liveid.calls c USING (ref) ORDER BY o.external_id;
UNLISTEN liveid_calls;
\echo 'A rolled-back insert sends nothing:'
BEGIN;
INSERT INTO customers (first_name, last_name, email) VALUES ('Anna', 'Neri', 'anna.neri@example.com');
ROLLBACK;
SELECT count(*) AS queued_or_sent FROM liveid.outbox;
\echo 'And a synchronous service_start whose transaction rolls back is rejected at the'
\echo 'service by the worker, so its link stops working (nothing in the rollback waits):'
BEGIN;
SELECT substring(liveid.service_start(liveid.customer('it', 'anna.neri@example.com', 'Anna', 'Neri'),
                 external_id => 'ROLLED-BACK') FROM 'uId=(.*)$') AS rolled_back_uid \gset
ROLLBACK;
SELECT pg_sleep(1);
SELECT liveid.request('GET', '/sim/requests/' || :'rolled_back_uid') -> 'rejected' AS rejected_at_the_service;

\echo
\echo '== Summary'
\echo 'liveid installed with its key hidden (1); watched operators, queues, languages'
\echo 'and waiting times in SQL (2, 8); showed errors with their SQLSTATE (3) and'
\echo 'the limits of liveid_user (4); built the call form from a table row (5);'
\echo 'started an identification and got its launch URL, recorded in liveid.calls'
\echo '(6); followed it to its close code N, completed (7), the simulator standing'
\echo 'in for the customer and the operator; kept each team to its own calls (9);'
\echo 'saw a call end through a server callback, confirmed with the service before'
\echo 'the ledger took it, and a forged one refused (10); and caught with'
\echo 'refresh_calls a call whose callback never came (11); and reported on queues,'
\echo 'operators, waiting times and outcomes, as views and as an HTML page (12);'
\echo 'and started identifications from a trigger that follow their transaction:'
\echo 'sent after commit, nothing on rollback, a rolled-back start rejected (13).'
