-- The example session of `make demo`: what liveid can do so far.
\pset footer off
\echo
\echo '== Install: the key is set in postgresql.conf and shown to nobody'
CREATE EXTENSION liveid;
SHOW liveid.api_key;

\echo
\echo '== Operators, queues, languages and waiting times, as plain SQL'
SET liveid.organization = 'DEMO';
SELECT * FROM liveid.available_operators();
SELECT * FROM liveid.queue('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01');
SELECT string_agg(lang, ', ') AS languages FROM liveid.available_languages();
SELECT period_start, period_end, average_wait, calls FROM liveid.daily_waiting_times();

\echo
\echo '== Errors are clear, carry the right SQLSTATE, and never show the key'
\set VERBOSITY verbose
SELECT * FROM liveid.available_operators('NO-SUCH-ORG');
SET liveid.timeout = '300ms';
SELECT * FROM liveid.available_operators('FAULT-DELAY-2000');
RESET liveid.timeout;
SELECT liveid.request('GET', '//elsewhere.example/steal');
\set VERBOSITY default

\echo
\echo '== Roles: liveid_user may watch, not reconfigure'
CREATE ROLE demo_operator LOGIN IN ROLE liveid_user;
SET ROLE demo_operator;
SELECT * FROM liveid.available_operators('DEMO');
SET liveid.url = 'http://attacker.example';
SELECT liveid.request('GET', '/sim/stats');
RESET ROLE;
DROP ROLE demo_operator;

\echo
\echo '== A customer table of our own, and one row of it as the call form'
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
\echo '== Start the identification: the launch URL to e-mail, and the ledger row'
SET liveid.process = '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01';
SELECT liveid.service_start(
         liveid.customer(lang => 'it', email => c.email, name => c.first_name, surname => c.last_name,
                         data => liveid.row_to_data(c, options => '{"exclude": ["id", "first_name", "last_name", "email"]}')),
         external_id => 'CUSTOMER-' || c.id) AS launch_url
  FROM customers c WHERE id = 1 \gset
\echo :launch_url
SELECT uid, organization, external_id, created_by, status FROM liveid.calls \gset call_
SELECT organization, external_id, created_by, status FROM liveid.calls;

\echo
\echo '== Follow the call (the simulator plays the customer and the operator)'
SELECT liveid.request('POST', '/sim/open', jsonb_build_object('uId', :'call_uid')) ->> 'status' AS customer_opens_link;
SELECT status, close_status FROM liveid.async_request_info(:'call_uid');
SELECT * FROM liveid.queue();
SELECT liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', id_conference)) ->> 'status' AS operator
  FROM liveid.async_request_info(:'call_uid');
SELECT status, close_status FROM liveid.async_request_info(:'call_uid');
SELECT liveid.request('POST', '/sim/close', jsonb_build_object('idConference', id_conference, 'closeStatus', 'N')) ->> 'status' AS operator
  FROM liveid.async_request_info(:'call_uid');
SELECT status, close_status, ended_at IS NOT NULL AS ended FROM liveid.async_request_info(:'call_uid');
\echo 'The ledger is up to date:'
SELECT external_id, status, close_status, closed_at IS NOT NULL AS closed FROM liveid.calls;

\echo
\echo '== Queue metrics'
SELECT * FROM liveid.queue();
SELECT * FROM liveid.available_operators();
SELECT period_start::date AS day, average_wait, calls FROM liveid.daily_waiting_times() LIMIT 7;

\echo
\echo '== Each team sees its own customers: row-level security on the ledger'
CREATE ROLE demo_team_a LOGIN IN ROLE liveid_user;
CREATE ROLE demo_team_b LOGIN IN ROLE liveid_user;
SET ROLE demo_team_a;
SELECT liveid.service_start(liveid.customer('it', 'anna.bianchi@example.com', 'Anna', 'Bianchi'),
                            external_id => 'TEAM-A-1') IS NOT NULL AS team_a_started;
SELECT external_id, created_by FROM liveid.calls;
SET ROLE demo_team_b;
SELECT count(*) AS calls_team_b_sees FROM liveid.calls;
SELECT * FROM liveid.async_request_info(:'call_uid');
RESET ROLE;
SELECT external_id, created_by FROM liveid.calls ORDER BY created_at;
DROP ROLE demo_team_a, demo_team_b;
