/* liveid--1.0.sql: the SQL surface of liveid 1.0 (see sql-api.md) */

\echo Use "CREATE EXTENSION liveid" to load this file. \quit

-- The roles are cluster-wide: made if absent, kept by DROP EXTENSION.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'liveid_user') THEN
        CREATE ROLE liveid_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'liveid_admin') THEN
        CREATE ROLE liveid_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'liveid_receiver') THEN
        CREATE ROLE liveid_receiver NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'liveid_monitor') THEN
        CREATE ROLE liveid_monitor NOLOGIN;
    END IF;
    IF NOT pg_has_role('liveid_admin', 'liveid_user', 'MEMBER') THEN
        GRANT liveid_user TO liveid_admin;
    END IF;
END
$$;

CREATE SCHEMA liveid;
REVOKE ALL ON SCHEMA liveid FROM PUBLIC;
GRANT USAGE ON SCHEMA liveid TO liveid_user, liveid_admin, liveid_receiver;
COMMENT ON SCHEMA liveid IS 'LiveID+ video identification as SQL: start calls, build their forms, query the service and keep a ledger of calls';

-- Transport: one authenticated call to liveid.url || path (administrators).
CREATE FUNCTION liveid.request(method text, path text, body jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_request'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.request(text, text, jsonb) IS 'make one authenticated call to any LiveID+ API path and return its JSON answer (for administrators)';

-- Utility APIs.
CREATE FUNCTION liveid.available_operators(organization text DEFAULT NULL)
RETURNS TABLE (organization text, available_operators integer)
AS 'MODULE_PATHNAME', 'liveid_available_operators'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION liveid.available_operators(text) IS 'how many operators of an organization are available to answer calls now';

CREATE FUNCTION liveid.queue(process uuid DEFAULT NULL)
RETURNS TABLE (process uuid, waiting integer)
AS 'MODULE_PATHNAME', 'liveid_queue'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION liveid.queue(uuid) IS 'how many customers are waiting in the queue of a process now';

CREATE FUNCTION liveid.available_languages(organization text DEFAULT NULL)
RETURNS TABLE (organization text, lang text)
AS 'MODULE_PATHNAME', 'liveid_available_languages'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 5;
COMMENT ON FUNCTION liveid.available_languages(text) IS 'the languages the operators of an organization speak, one row each';

CREATE FUNCTION liveid.daily_waiting_times(organization text DEFAULT NULL)
RETURNS TABLE (organization text, period_start timestamptz, period_end timestamptz,
               average_wait interval, calls integer)
AS 'MODULE_PATHNAME', 'liveid_daily_waiting_times'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 8;
COMMENT ON FUNCTION liveid.daily_waiting_times(text) IS 'the average wait and number of calls of an organization for each day of the last week and for the last hour';

-- ==== Payload builders (src/payload.c, src/row_to_data.c) ====
-- The data object of a ServiceStartJson: one field per key, each
-- {"datatype", "label", "value", ["order"], ["display"], [HTML attributes]}.
-- Datatypes and values are inferred from SQL types as docs/payload.md
-- says; a NULL value is sent as "" (the field stays).
-- STABLE: labels come from column comments and some output functions
-- (interval, money, ...) follow settings.

-- One field.  A literal value needs a cast ('x'::text): anyelement cannot
-- take an untyped literal.  A NULL label leaves the label out: data_agg
-- gives such a field its key made readable, customer() refuses it.
CREATE FUNCTION liveid.data_field(value anyelement, label text DEFAULT NULL,
                                  datatype text DEFAULT NULL, "order" integer DEFAULT NULL,
                                  display text DEFAULT NULL, attributes jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_data_field'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION liveid.data_field(anyelement, text, text, integer, text, jsonb) IS 'one field of the form the operator sees, its datatype inferred from the value''s SQL type unless given (data_agg labels it when label is NULL)';

-- A row as the data object: one field per column (key = column name;
-- label from labels, else the column's comment, else the name made
-- readable; order = position among the non-dropped columns).  options:
-- exclude, hidden, operator_only, readonly (each true or an array of
-- column names), datatypes ({"col": "month"}) and attributes
-- ({"col": {"maxlength": 16}}).  NULL for a NULL row.
CREATE FUNCTION liveid.row_to_data(r record, labels jsonb DEFAULT NULL,
                                   options jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_row_to_data'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION liveid.row_to_data(record, jsonb, jsonb) IS 'a whole row as the data object of a customer, one form field per column labelled from labels, the column''s comment or its name';

CREATE FUNCTION liveid.data_agg_transfn(internal, key text, field jsonb)
RETURNS internal
AS 'MODULE_PATHNAME', 'liveid_data_agg_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION liveid.data_agg_transfn(internal, text, jsonb) IS 'support function of the aggregate liveid.data_agg: checks and keeps one (key, field) row';

CREATE FUNCTION liveid.data_agg_finalfn(internal)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_data_agg_finalfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION liveid.data_agg_finalfn(internal) IS 'support function of the aggregate liveid.data_agg: makes the data object of the rows kept';

-- The data object of (key, field) rows: each field is checked against the
-- rules and, without a label, labelled with its key made readable; a NULL
-- key or field and a key given twice are 22023.  No rows give
-- {} (not NULL), an empty data object the service accepts, so that
-- liveid.customer(..., data => (SELECT liveid.data_agg(...) ...)) works
-- whether or not there are fields to send.
CREATE AGGREGATE liveid.data_agg(key text, field jsonb) (
    SFUNC = liveid.data_agg_transfn,
    STYPE = internal,
    FINALFUNC = liveid.data_agg_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE liveid.data_agg(text, jsonb) IS 'the data object of a customer from (key, field) rows, labelling a field without a label with its key made readable';

GRANT EXECUTE ON FUNCTION
    liveid.data_field(anyelement, text, text, integer, text, jsonb),
    liveid.row_to_data(record, jsonb, jsonb),
    liveid.data_agg(text, jsonb)
TO liveid_user;
-- ==== end of payload builders ====

-- ==== Starting calls and the ledger (src/start.c, src/ledger.c) ====

-- The ledger: one row per call liveid.service_start() started.  Only the
-- extension writes it, always as the table's owner in a security-restricted
-- operation with search_path pinned (src/ledger.c): nothing of a caller's
-- runs with the owner's rights.  A liveid_user reads the calls it started
-- (row-level security below), liveid_admin all of them.  It holds no key
-- and no token.
CREATE TABLE liveid.calls (
    uid           text PRIMARY KEY,
    organization  text NOT NULL,
    process       uuid,
    external_id   text,
    launch_url    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    name NOT NULL,
    status        text NOT NULL DEFAULT 'created',
    close_status  text,
    id_conference text,
    closed_at     timestamptz,
    process_live  uuid,
    process_self  uuid,
    method        text NOT NULL DEFAULT 'start',
    expire        timestamptz,
    ref           uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    -- either process, or the pair process_live + process_self
    CONSTRAINT calls_process_check CHECK (
        (process IS NOT NULL AND process_live IS NULL AND process_self IS NULL)
        OR (process IS NULL AND process_live IS NOT NULL AND process_self IS NOT NULL))
);
-- callbacks name the conference, integrators their own reference
CREATE INDEX calls_id_conference_idx ON liveid.calls (id_conference)
    WHERE id_conference IS NOT NULL;
CREATE INDEX calls_external_id_idx ON liveid.calls (external_id)
    WHERE external_id IS NOT NULL;
COMMENT ON TABLE liveid.calls IS 'the ledger of LiveID+ calls started with liveid.service_start(), one row each, written only by the extension';
COMMENT ON COLUMN liveid.calls.organization IS 'the organization the call was started for';
COMMENT ON COLUMN liveid.calls.external_id IS 'the caller''s own reference for the call (service_start''s external_id), if any';
COMMENT ON COLUMN liveid.calls.created_at IS 'when the call was started';
COMMENT ON COLUMN liveid.calls.id_conference IS 'the id of the latest conference of the call, once the customer opened the link';
COMMENT ON COLUMN liveid.calls.closed_at IS 'when the latest conference of the call ended';
COMMENT ON COLUMN liveid.calls.process_live IS 'id_process of the live (operator) process; NULL when process was given';
COMMENT ON COLUMN liveid.calls.process_self IS 'id_process of the self (unattended) process; NULL when process was given';
COMMENT ON COLUMN liveid.calls.method IS 'how the call was pushed: start (the default) or live';
COMMENT ON COLUMN liveid.calls.expire IS 'when the service removes the call if nobody opened it; NULL for the service''s own limit';
COMMENT ON COLUMN liveid.calls.uid IS 'the asynchronous request''s uId';
COMMENT ON COLUMN liveid.calls.process IS 'id_process; NULL when the pair process_live + process_self was given';
COMMENT ON COLUMN liveid.calls.launch_url IS 'the link the customer opens';
COMMENT ON COLUMN liveid.calls.created_by IS 'the role that called service_start';
COMMENT ON COLUMN liveid.calls.status IS 'created, then the latest call''s: waiting, answered, closed, cancelled, expired; expired also when expire passed unopened; rejected after reject_call';
COMMENT ON COLUMN liveid.calls.ref IS 'liveid''s own id of the call, made before anything is sent; server callbacks carry it as otherParams.liveid_ref';
COMMENT ON COLUMN liveid.calls.close_status IS 'N completed, S suspended, A aborted, K system error';
-- the ledger is user data: pg_dump keeps its rows
SELECT pg_catalog.pg_extension_config_dump('liveid.calls', '');
REVOKE ALL ON TABLE liveid.calls FROM PUBLIC;
GRANT SELECT ON TABLE liveid.calls TO liveid_user;
-- Each team sees its own customers' links: a liveid_user the calls it
-- started (as the role in force, so SET ROLE to a team role shares them),
-- liveid_admin every call.  The owner, who writes, is not subject to them.
ALTER TABLE liveid.calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY calls_started_by_me ON liveid.calls FOR SELECT TO liveid_user
    USING (created_by = current_user);
CREATE POLICY calls_all_for_admin ON liveid.calls FOR SELECT TO liveid_admin
    USING (true);

-- The per-call callback secrets: the SHA-256 of each call's liveid_token,
-- which nobody but the table's owner can read (nothing is granted on it).
-- A call without a server callback has no row.
CREATE TABLE liveid.call_tokens (
    ref           uuid PRIMARY KEY REFERENCES liveid.calls (ref) ON DELETE CASCADE,
    token_sha256  bytea NOT NULL CHECK (length(token_sha256) = 32)
);
COMMENT ON TABLE liveid.call_tokens IS 'the SHA-256 of each call''s callback secret (otherParams.liveid_token), readable by the owner only';
COMMENT ON COLUMN liveid.call_tokens.ref IS 'the call (liveid.calls.ref)';
COMMENT ON COLUMN liveid.call_tokens.token_sha256 IS 'SHA-256 of the call''s liveid_token; the token itself is stored nowhere';
SELECT pg_catalog.pg_extension_config_dump('liveid.call_tokens', '');
REVOKE ALL ON TABLE liveid.call_tokens FROM PUBLIC;

-- The server callbacks received, one row per distinct delivery (a retry
-- of the same body is the same row), each confirmed with the service
-- before the ledger took its outcome.
CREATE TABLE liveid.call_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             text NOT NULL REFERENCES liveid.calls (uid) ON DELETE CASCADE,
    ref             uuid NOT NULL,
    id_conference   text,
    event           text NOT NULL CHECK (event IN ('close', 'error')),
    close_status    text CHECK (close_status IN ('N', 'S', 'A', 'K')),
    abort_code      text,
    note            text,
    confirmed_status text,
    confirmed_close_status text,
    mismatch        boolean NOT NULL,
    payload         jsonb NOT NULL,
    payload_sha256  bytea NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT call_events_delivery_key UNIQUE (ref, payload_sha256)
);
CREATE INDEX call_events_uid_idx ON liveid.call_events (uid);
COMMENT ON SEQUENCE liveid.call_events_id_seq IS 'the ids of liveid.call_events';
COMMENT ON TABLE liveid.call_events IS 'the server callbacks received through liveid.receive_callback(), what each claimed and what the service confirmed';
COMMENT ON COLUMN liveid.call_events.id IS 'the event''s id, which receive_callback returns';
COMMENT ON COLUMN liveid.call_events.uid IS 'the call (liveid.calls.uid)';
COMMENT ON COLUMN liveid.call_events.ref IS 'the call''s ref, as the callback carried it';
COMMENT ON COLUMN liveid.call_events.id_conference IS 'the conference the callback is about (idConference or callID)';
COMMENT ON COLUMN liveid.call_events.event IS 'close (the operator closed the call) or error (an unexpected error)';
COMMENT ON COLUMN liveid.call_events.close_status IS 'the close status the callback claimed: N, S, A or K';
COMMENT ON COLUMN liveid.call_events.abort_code IS 'the abort code the callback claimed (close status A); codes are set per process (see liveid.abort_codes)';
COMMENT ON COLUMN liveid.call_events.note IS 'the operator''s note the callback carried';
COMMENT ON COLUMN liveid.call_events.confirmed_status IS 'the conference''s status as getAsyncRequestInfo reported it when the callback arrived';
COMMENT ON COLUMN liveid.call_events.confirmed_close_status IS 'the conference''s close status as getAsyncRequestInfo reported it: what the ledger recorded';
COMMENT ON COLUMN liveid.call_events.mismatch IS 'true when the claim and the service''s word differ (logged as a warning); the ledger keeps the service''s';
COMMENT ON COLUMN liveid.call_events.payload IS 'the callback''s body as received, without its secrets (otherParams.liveid_token, message.token)';
COMMENT ON COLUMN liveid.call_events.payload_sha256 IS 'SHA-256 of payload, which makes a repeated delivery the same event';
COMMENT ON COLUMN liveid.call_events.received_at IS 'when the callback was first received';
SELECT pg_catalog.pg_extension_config_dump('liveid.call_events', '');
REVOKE ALL ON TABLE liveid.call_events FROM PUBLIC;
GRANT SELECT ON TABLE liveid.call_events TO liveid_user;
-- a liveid_user sees the events of the calls it sees
ALTER TABLE liveid.call_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY call_events_of_my_calls ON liveid.call_events FOR SELECT TO liveid_user
    USING (EXISTS (SELECT FROM liveid.calls c WHERE c.uid = call_events.uid));
CREATE POLICY call_events_all_for_admin ON liveid.call_events FOR SELECT TO liveid_admin
    USING (true);

-- What the abort codes of each process mean: LiveID+ sets them per process
-- on request, so they are an open set that administrators describe here.
CREATE TABLE liveid.abort_codes (
    process     uuid NOT NULL,
    abort_code  text NOT NULL,
    meaning     text NOT NULL,
    PRIMARY KEY (process, abort_code)
);
COMMENT ON TABLE liveid.abort_codes IS 'what each abort code of a process means, as agreed with LiveID+ (filled in by administrators)';
COMMENT ON COLUMN liveid.abort_codes.process IS 'the process (id_process) the code belongs to';
COMMENT ON COLUMN liveid.abort_codes.abort_code IS 'the code, as callbacks carry it in message.abortCode';
COMMENT ON COLUMN liveid.abort_codes.meaning IS 'what it means, for reports';
SELECT pg_catalog.pg_extension_config_dump('liveid.abort_codes', '');
REVOKE ALL ON TABLE liveid.abort_codes FROM PUBLIC;
GRANT SELECT ON TABLE liveid.abort_codes TO liveid_user;
GRANT INSERT, UPDATE, DELETE ON TABLE liveid.abort_codes TO liveid_admin;

-- A validated ServiceStartJson.
CREATE FUNCTION liveid.customer(lang text, email text, name text, surname text,
                                data jsonb DEFAULT '{}',
                                callback_url text DEFAULT NULL,
                                callback_params jsonb DEFAULT NULL,
                                priority integer DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_customer'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION liveid.customer(text, text, text, text, jsonb, text, jsonb, integer) IS 'the customer of a call (a ServiceStartJson) from its language, e-mail address, name, surname and form data, checked as service_start will';

-- Starts an asynchronous call, records it, returns its launch URL.
CREATE FUNCTION liveid.service_start(customer jsonb, process uuid DEFAULT NULL,
                                     organization text DEFAULT NULL,
                                     external_id text DEFAULT NULL,
                                     redirect_url text DEFAULT NULL,
                                     redirect_method text DEFAULT NULL,
                                     operator_id uuid DEFAULT NULL,
                                     operator_email text DEFAULT NULL,
                                     operator_external_id text DEFAULT NULL,
                                     direct text DEFAULT NULL,
                                     op_info text DEFAULT NULL,
                                     skip_av_rec_test boolean DEFAULT NULL,
                                     disable_rtc_test boolean DEFAULT NULL,
                                     process_live uuid DEFAULT NULL,
                                     process_self uuid DEFAULT NULL,
                                     method text DEFAULT 'start',
                                     expire timestamptz DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'liveid_service_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.service_start(jsonb, uuid, text, text, text, text, uuid, text, text, text, text, boolean, boolean, uuid, uuid, text, timestamptz) IS 'start an asynchronous LiveID+ call for a customer, record it in liveid.calls and return the link the customer opens';

-- The HTML form (or iframe and form) of a synchronous /app/service-start.
CREATE FUNCTION liveid.launch_form(customer jsonb, process uuid DEFAULT NULL,
                                   organization text DEFAULT NULL,
                                   external_id text DEFAULT NULL,
                                   redirect_url text DEFAULT NULL,
                                   redirect_method text DEFAULT NULL,
                                   operator_id uuid DEFAULT NULL,
                                   operator_email text DEFAULT NULL,
                                   operator_external_id text DEFAULT NULL,
                                   direct text DEFAULT NULL,
                                   op_info text DEFAULT NULL,
                                   skip_av_rec_test boolean DEFAULT NULL,
                                   disable_rtc_test boolean DEFAULT NULL,
                                   process_live uuid DEFAULT NULL,
                                   process_self uuid DEFAULT NULL,
                                   mode text DEFAULT 'standalone')
RETURNS text
AS 'MODULE_PATHNAME', 'liveid_launch_form'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION liveid.launch_form(jsonb, uuid, text, text, text, text, uuid, text, text, text, text, boolean, boolean, uuid, uuid, text) IS 'the HTML form (or iframe and form) that opens a synchronous LiveID+ call for a customer in the browser';

-- The calls of an asynchronous request; brings the ledger up to date.
CREATE FUNCTION liveid.async_request_info(uid text)
RETURNS TABLE (uid text, id_conference text, status text, close_status text,
               started_at timestamptz, ended_at timestamptz)
AS 'MODULE_PATHNAME', 'liveid_async_request_info'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION liveid.async_request_info(text) IS 'the conferences of a call started with service_start, with their status, as the service reports them now';

GRANT EXECUTE ON FUNCTION
    liveid.customer(text, text, text, text, jsonb, text, jsonb, integer),
    liveid.service_start(jsonb, uuid, text, text, text, text, uuid, text, text,
                         text, text, boolean, boolean, uuid, uuid, text, timestamptz),
    liveid.launch_form(jsonb, uuid, text, text, text, text, uuid, text, text,
                       text, text, boolean, boolean, uuid, uuid, text),
    liveid.async_request_info(text)
TO liveid_user;
-- ==== end of starting calls ====

-- ==== Results coming back (src/callback.c) ====
-- One server callback: checked, authenticated by its call's secret,
-- confirmed with the service, stored in liveid.call_events; the ledger
-- takes the service's word.  The same id again for a repeated delivery.
CREATE FUNCTION liveid.receive_callback(payload jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'liveid_receive_callback'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.receive_callback(jsonb) IS 'store one LiveID+ server callback in liveid.call_events after checking its call''s secret and confirming the outcome with the service; returns the event id';
-- the role liveid-receiver logs in with needs this one function only
GRANT EXECUTE ON FUNCTION liveid.receive_callback(jsonb) TO liveid_receiver, liveid_admin;
-- ==== end of results coming back ====

-- ==== Results and call data (src/result.c, src/calldata.c) ====

-- The LiveIDPlusResult of a redirect, decoded and checked; records nothing
-- (it passed through the customer's browser: the customer's word, not
-- proof) and drops message.token and otherParams.liveid_token.
CREATE FUNCTION liveid.parse_result(result text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_parse_result'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION liveid.parse_result(text) IS 'the event of a LiveIDPlusResult redirect parameter (its value, URL-encoded or not, or the query string or form body holding it) as jsonb, without the ConferenceToken and callback token; the customer''s word, not proof of an outcome: records nothing';

-- The addresses notified when server callbacks fail (key of liveid.organization).
CREATE FUNCTION liveid.register_alert_email(process uuid, VARIADIC emails text[])
RETURNS void
AS 'MODULE_PATHNAME', 'liveid_register_alert_email'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.register_alert_email(uuid, text[]) IS 'register the e-mail addresses LiveID+ notifies when the server callbacks of a process fail, replacing the previous ones (for administrators)';

-- Call data behind a ConferenceToken the functions obtain themselves;
-- a liveid_user may name only the conferences of the calls it started.
CREATE FUNCTION liveid.conference_data(id_conference text, module text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_conference_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.conference_data(text, text) IS 'the data LiveID+ holds of a conference (dates, end pattern, operator, modules; module photo or formfilling, NULL for all)';

CREATE FUNCTION liveid.audit_data(id_conference text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'liveid_audit_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.audit_data(text) IS 'the audit trail LiveID+ keeps of a conference, a JSON array of {date, event, detail} objects';

CREATE FUNCTION liveid.delete_audit_data(id_conference text)
RETURNS void
AS 'MODULE_PATHNAME', 'liveid_delete_audit_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.delete_audit_data(text) IS 'make LiveID+ delete the audit trail of a conference (for administrators)';

-- Cancels a call nobody answered yet; its ledger row becomes 'rejected'.
CREATE FUNCTION liveid.reject_call(uid text, reason text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'liveid_reject_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.reject_call(text, text) IS 'reject a call started with service_start that nobody has answered: its link stops working and liveid.calls records it as rejected';

REVOKE ALL ON FUNCTION
    liveid.parse_result(text), liveid.register_alert_email(uuid, text[]),
    liveid.conference_data(text, text), liveid.audit_data(text),
    liveid.delete_audit_data(text), liveid.reject_call(text, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    liveid.parse_result(text), liveid.conference_data(text, text),
    liveid.audit_data(text), liveid.reject_call(text, text)
TO liveid_user;
GRANT EXECUTE ON FUNCTION
    liveid.register_alert_email(uuid, text[]), liveid.delete_audit_data(text)
TO liveid_admin;
-- ==== end of results and call data ====

-- ==== Keeping the ledger up to date (src/refresh.c) ====
-- the calls refresh_calls asks about, oldest first
CREATE INDEX calls_pending_idx ON liveid.calls (created_at)
    WHERE status IN ('created', 'waiting', 'answered');

-- Every call that is not final, oldest first, asked about with up to
-- liveid.max_concurrency requests in flight; a liveid_user refreshes the
-- calls it started.  A failed request is a WARNING, all failing an ERROR.
CREATE FUNCTION liveid.refresh_calls(max_calls integer DEFAULT 1000)
RETURNS integer
AS 'MODULE_PATHNAME', 'liveid_refresh_calls'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.refresh_calls(integer) IS 'bring the calls of liveid.calls that are not final (created, waiting, answered) up to date from the service, oldest first, and return how many rows changed';

-- pg_cron's job for it.  pg_cron keeps its jobs in one database
-- (cron.database_name) and runs them there: liveid schedules from, and
-- for, that database.  55000 with a hint anywhere else.
CREATE FUNCTION liveid.check_pg_cron(caller text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cron_db text;
BEGIN
    IF to_regprocedure('cron.schedule(text,text,text)') IS NOT NULL THEN
        RETURN;
    END IF;
    -- cron.database_name is for superusers and pg_read_all_settings only
    BEGIN
        cron_db := current_setting('cron.database_name', true);
    EXCEPTION WHEN insufficient_privilege THEN
        cron_db := NULL;
    END;
    IF cron_db IS NOT NULL AND cron_db <> current_database() THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('pg_cron keeps its jobs in the database %L (cron.database_name).', cron_db),
                  HINT = format('Call %s in the database %s (with liveid installed there), or schedule the job for this database from there with cron.schedule_in_database(), or set cron.database_name = %L, restart the server and run CREATE EXTENSION pg_cron here.',
                                caller, quote_ident(cron_db), current_database());
    END IF;
    RAISE EXCEPTION 'pg_cron is not installed in this database'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('%s needs the extension pg_cron.', caller),
              HINT = format('Install pg_cron (Debian: postgresql-15-cron); in postgresql.conf add it to shared_preload_libraries (shared_preload_libraries = ''pg_cron'', or ''liveid,pg_cron'') and set cron.database_name = %L; restart the server, then run CREATE EXTENSION pg_cron.',
                            current_database());
END
$$;
COMMENT ON FUNCTION liveid.check_pg_cron(text) IS 'raise 55000 with a hint on installing pg_cron when it is absent from this database (used by the schedule functions)';

-- The one way the schedule functions register and remove their pg_cron
-- jobs: in this database (pg_cron's own), under the caller's name;
-- scheduling again replaces the job (pg_cron: the same name and user, the
-- same job).  caller names the SQL function in errors.
CREATE FUNCTION liveid.cron_schedule(caller text, job text, schedule text, command text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM liveid.check_pg_cron(caller);
    IF schedule IS NULL THEN
        RAISE EXCEPTION 'invalid value for argument "schedule"'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must not be NULL.',
                  HINT = 'Pass a cron schedule such as ''*/5 * * * *''.';
    END IF;
    RETURN cron.schedule(job, schedule, command);
END
$$;
COMMENT ON FUNCTION liveid.cron_schedule(text, text, text, text) IS 'register (or replace) the caller''s pg_cron job of that name (used by the schedule functions); returns its job id';

CREATE FUNCTION liveid.cron_unschedule(caller text, job text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM liveid.check_pg_cron(caller);
    SELECT j.jobid INTO id FROM cron.job j
     WHERE j.jobname = job AND j.username = current_user;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    RETURN cron.unschedule(id);
END
$$;
COMMENT ON FUNCTION liveid.cron_unschedule(text, text) IS 'remove the caller''s pg_cron job of that name; false when there is none (used by the unschedule functions)';

-- The job liveid-refresh.
CREATE FUNCTION liveid.schedule_refresh(schedule text DEFAULT '*/5 * * * *')
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN liveid.cron_schedule('liveid.schedule_refresh()', 'liveid-refresh', schedule,
                            'SELECT liveid.refresh_calls()');
COMMENT ON FUNCTION liveid.schedule_refresh(text) IS 'register (or replace) the pg_cron job liveid-refresh that runs liveid.refresh_calls() in this database on schedule; returns its job id';

CREATE FUNCTION liveid.unschedule_refresh()
RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN liveid.cron_unschedule('liveid.unschedule_refresh()', 'liveid-refresh');
COMMENT ON FUNCTION liveid.unschedule_refresh() IS 'remove the pg_cron job liveid-refresh; false when there is none';

GRANT EXECUTE ON FUNCTION liveid.refresh_calls(integer) TO liveid_user;
GRANT EXECUTE ON FUNCTION liveid.check_pg_cron(text), liveid.cron_schedule(text, text, text, text),
    liveid.cron_unschedule(text, text), liveid.schedule_refresh(text),
    liveid.unschedule_refresh() TO liveid_admin;
-- ==== end of keeping the ledger up to date ====

-- ==== Operations: metrics snapshots and their reports ====
-- One row per organization (process NULL: its operators and its waiting
-- times over the last 60 minutes) and one per process (its queue) of each
-- snapshot liveid.collect_metrics() takes.  Written only by the extension,
-- as the table's owner; read by liveid_user.
CREATE TABLE liveid.metrics (
    taken_at            timestamptz NOT NULL,
    organization        text NOT NULL,
    process             uuid,
    available_operators integer CHECK (available_operators >= 0),
    waiting             integer CHECK (waiting >= 0),
    average_wait        interval CHECK (average_wait >= interval '0'),
    calls               integer CHECK (calls >= 0),
    -- the organization's row has operators and waiting times, a process's its queue
    CONSTRAINT metrics_row_check CHECK (
        (process IS NULL AND waiting IS NULL)
        OR (process IS NOT NULL AND available_operators IS NULL AND average_wait IS NULL AND calls IS NULL))
);
CREATE UNIQUE INDEX metrics_snapshot_idx
    ON liveid.metrics (organization, coalesce(process, '00000000-0000-0000-0000-000000000000'::uuid), taken_at);
CREATE INDEX metrics_taken_at_idx ON liveid.metrics (taken_at);
COMMENT ON TABLE liveid.metrics IS 'snapshots of operators, queues and waiting times taken by liveid.collect_metrics(): per snapshot one row for the organization (process NULL) and one per process';
COMMENT ON COLUMN liveid.metrics.taken_at IS 'when the snapshot was taken (the same for all its rows)';
COMMENT ON COLUMN liveid.metrics.organization IS 'the organization code';
COMMENT ON COLUMN liveid.metrics.process IS 'the process (id_process) of a queue row; NULL on the organization''s own row';
COMMENT ON COLUMN liveid.metrics.available_operators IS 'operators available then (the organization''s row)';
COMMENT ON COLUMN liveid.metrics.waiting IS 'people waiting in the process''s queue then (a process''s row)';
COMMENT ON COLUMN liveid.metrics.average_wait IS 'the average wait over the 60 minutes before (the organization''s row)';
COMMENT ON COLUMN liveid.metrics.calls IS 'calls over the 60 minutes before (the organization''s row)';
SELECT pg_catalog.pg_extension_config_dump('liveid.metrics', '');
REVOKE ALL ON TABLE liveid.metrics FROM PUBLIC;
GRANT SELECT ON TABLE liveid.metrics TO liveid_user;

-- The snapshots by hour and by day, in the session's time zone: for the
-- organization's row (process NULL) the operators and the waiting times,
-- for a process's row its queue.
CREATE VIEW liveid.metrics_hourly AS
SELECT date_trunc('hour', taken_at) AS hour, organization, process,
       count(*) AS samples,
       round(avg(waiting), 2) AS avg_waiting, max(waiting) AS max_waiting,
       round(avg(available_operators), 2) AS avg_available_operators,
       min(available_operators) AS min_available_operators,
       justify_interval(date_trunc('second', avg(average_wait))) AS avg_wait
  FROM liveid.metrics
 GROUP BY 1, 2, 3;
COMMENT ON VIEW liveid.metrics_hourly IS 'the metrics snapshots of each hour (session time zone), per organization (process NULL) and process';
COMMENT ON COLUMN liveid.metrics_hourly.hour IS 'the start of the hour';
COMMENT ON COLUMN liveid.metrics_hourly.organization IS 'the organization code';
COMMENT ON COLUMN liveid.metrics_hourly.process IS 'the process; NULL for the organization''s own rows';
COMMENT ON COLUMN liveid.metrics_hourly.samples IS 'snapshots taken in the hour';
COMMENT ON COLUMN liveid.metrics_hourly.avg_waiting IS 'average queue length (process rows)';
COMMENT ON COLUMN liveid.metrics_hourly.max_waiting IS 'longest queue seen (process rows)';
COMMENT ON COLUMN liveid.metrics_hourly.avg_available_operators IS 'average operators available (organization rows)';
COMMENT ON COLUMN liveid.metrics_hourly.min_available_operators IS 'fewest operators available (organization rows)';
COMMENT ON COLUMN liveid.metrics_hourly.avg_wait IS 'average of the 60-minute waiting times reported (organization rows), to the second';

CREATE VIEW liveid.metrics_daily AS
SELECT taken_at::date AS day, organization, process,
       count(*) AS samples,
       round(avg(waiting), 2) AS avg_waiting, max(waiting) AS max_waiting,
       round(avg(available_operators), 2) AS avg_available_operators,
       min(available_operators) AS min_available_operators,
       justify_interval(date_trunc('second', avg(average_wait))) AS avg_wait
  FROM liveid.metrics
 GROUP BY 1, 2, 3;
COMMENT ON VIEW liveid.metrics_daily IS 'the metrics snapshots of each day (session time zone), per organization (process NULL) and process';
COMMENT ON COLUMN liveid.metrics_daily.day IS 'the day';
COMMENT ON COLUMN liveid.metrics_daily.organization IS 'the organization code';
COMMENT ON COLUMN liveid.metrics_daily.process IS 'the process; NULL for the organization''s own rows';
COMMENT ON COLUMN liveid.metrics_daily.samples IS 'snapshots taken in the day';
COMMENT ON COLUMN liveid.metrics_daily.avg_waiting IS 'average queue length (process rows)';
COMMENT ON COLUMN liveid.metrics_daily.max_waiting IS 'longest queue seen (process rows)';
COMMENT ON COLUMN liveid.metrics_daily.avg_available_operators IS 'average operators available (organization rows)';
COMMENT ON COLUMN liveid.metrics_daily.min_available_operators IS 'fewest operators available (organization rows)';
COMMENT ON COLUMN liveid.metrics_daily.avg_wait IS 'average of the 60-minute waiting times reported (organization rows), to the second';

CREATE VIEW liveid.metrics_latest AS
SELECT DISTINCT ON (organization, process)
       taken_at, organization, process, available_operators, waiting, average_wait, calls
  FROM liveid.metrics
 ORDER BY organization, process, taken_at DESC;
COMMENT ON VIEW liveid.metrics_latest IS 'the latest snapshot row of each organization (process NULL) and process';
COMMENT ON COLUMN liveid.metrics_latest.taken_at IS 'when it was taken';
COMMENT ON COLUMN liveid.metrics_latest.organization IS 'the organization code';
COMMENT ON COLUMN liveid.metrics_latest.process IS 'the process; NULL for the organization''s own row';
COMMENT ON COLUMN liveid.metrics_latest.available_operators IS 'operators available (organization row)';
COMMENT ON COLUMN liveid.metrics_latest.waiting IS 'people waiting (process row)';
COMMENT ON COLUMN liveid.metrics_latest.average_wait IS 'the average wait over the 60 minutes before (organization row)';
COMMENT ON COLUMN liveid.metrics_latest.calls IS 'calls over the 60 minutes before (organization row)';
GRANT SELECT ON liveid.metrics_hourly, liveid.metrics_daily, liveid.metrics_latest TO liveid_user;
-- ---- Reports a contact-centre manager asks for ----
-- The share of hours in which the 60-minute average wait (the mean of the
-- hour's snapshots, as metrics_hourly has it) was over a threshold.
CREATE FUNCTION liveid.waiting_share(threshold interval,
                                     since timestamptz DEFAULT now() - interval '7 days')
RETURNS TABLE (organization text, hours bigint, hours_over bigint, share numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF threshold IS NULL OR threshold < interval '0' THEN
        RAISE EXCEPTION 'invalid value for argument "threshold"'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must be an interval of zero or more.',
                  HINT = 'Pass a waiting time such as interval ''5 minutes''.';
    END IF;
    IF since IS NULL THEN
        RAISE EXCEPTION 'invalid value for argument "since"'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must not be NULL.';
    END IF;
    RETURN QUERY
    SELECT h.organization, count(*), count(*) FILTER (WHERE h.avg_wait > threshold),
           round(count(*) FILTER (WHERE h.avg_wait > threshold)::numeric / count(*), 3)
      FROM liveid.metrics_hourly h
     WHERE h.process IS NULL AND h.avg_wait IS NOT NULL AND h.hour >= since
     GROUP BY h.organization
     ORDER BY h.organization;
END
$$;
COMMENT ON FUNCTION liveid.waiting_share(interval, timestamptz) IS 'per organization, the hours since since with snapshots, those whose average 60-minute wait was over threshold, and their share (0 to 1)';

-- Per organization, weekday and hour of day (session time zone): the
-- average total queue (all its processes) and operators of its snapshots.
CREATE VIEW liveid.metrics_busiest_hours AS
WITH snapshots AS (
    SELECT organization, taken_at,
           sum(waiting) FILTER (WHERE process IS NOT NULL) AS waiting,
           sum(available_operators) FILTER (WHERE process IS NULL) AS available_operators
      FROM liveid.metrics
     GROUP BY organization, taken_at
)
SELECT organization,
       extract(isodow FROM taken_at)::integer AS isodow,
       to_char(taken_at, 'Dy') AS weekday,
       extract(hour FROM taken_at)::integer AS hour_of_day,
       count(*) AS samples,
       round(avg(waiting), 2) AS avg_waiting,
       max(waiting)::integer AS max_waiting,
       round(avg(available_operators), 2) AS avg_available_operators
  FROM snapshots
 GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW liveid.metrics_busiest_hours IS 'the average queue and operators of each organization per weekday and hour of day (session time zone), over all its snapshots';
COMMENT ON COLUMN liveid.metrics_busiest_hours.organization IS 'the organization code';
COMMENT ON COLUMN liveid.metrics_busiest_hours.isodow IS 'the weekday, 1 Monday to 7 Sunday (ISO)';
COMMENT ON COLUMN liveid.metrics_busiest_hours.weekday IS 'the weekday''s abbreviated English name (Mon to Sun)';
COMMENT ON COLUMN liveid.metrics_busiest_hours.hour_of_day IS 'the hour of day, 0 to 23';
COMMENT ON COLUMN liveid.metrics_busiest_hours.samples IS 'snapshots taken in that hour on those weekdays';
COMMENT ON COLUMN liveid.metrics_busiest_hours.avg_waiting IS 'average people waiting, all the organization''s queues together';
COMMENT ON COLUMN liveid.metrics_busiest_hours.max_waiting IS 'most people waiting in one snapshot, all queues together';
COMMENT ON COLUMN liveid.metrics_busiest_hours.avg_available_operators IS 'average operators available';

-- How the calls started each day ended, from the ledger.  security_invoker:
-- the ledger's row-level security applies, so a liveid_user counts the
-- calls it started, as it sees them in liveid.calls.
CREATE VIEW liveid.calls_daily WITH (security_invoker = true) AS
SELECT created_at::date AS day, organization,
       count(*) AS started,
       count(*) FILTER (WHERE status = 'closed') AS closed,
       count(*) FILTER (WHERE status = 'closed' AND close_status = 'N') AS completed,
       count(*) FILTER (WHERE status = 'closed' AND close_status = 'S') AS suspended,
       count(*) FILTER (WHERE status = 'closed' AND close_status = 'A') AS aborted,
       count(*) FILTER (WHERE status = 'closed' AND close_status = 'K') AS system_error,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status = 'expired') AS expired,
       count(*) FILTER (WHERE status = 'rejected') AS rejected,
       count(*) FILTER (WHERE status IN ('created', 'waiting', 'answered')) AS still_open
  FROM liveid.calls
 GROUP BY 1, 2;
COMMENT ON VIEW liveid.calls_daily IS 'how the calls started each day (session time zone) ended, per organization, from the ledger (row-level security applies)';
COMMENT ON COLUMN liveid.calls_daily.day IS 'the day the calls were started';
COMMENT ON COLUMN liveid.calls_daily.organization IS 'the organization code';
COMMENT ON COLUMN liveid.calls_daily.started IS 'calls started';
COMMENT ON COLUMN liveid.calls_daily.closed IS 'calls closed by an operator, whatever their close status';
COMMENT ON COLUMN liveid.calls_daily.completed IS 'closed with close status N (completed)';
COMMENT ON COLUMN liveid.calls_daily.suspended IS 'closed with close status S (suspended)';
COMMENT ON COLUMN liveid.calls_daily.aborted IS 'closed with close status A (aborted)';
COMMENT ON COLUMN liveid.calls_daily.system_error IS 'closed with close status K (system error)';
COMMENT ON COLUMN liveid.calls_daily.cancelled IS 'cancelled';
COMMENT ON COLUMN liveid.calls_daily.expired IS 'expired unanswered';
COMMENT ON COLUMN liveid.calls_daily.rejected IS 'rejected with reject_call';
COMMENT ON COLUMN liveid.calls_daily.still_open IS 'not final yet: created, waiting or answered';
GRANT SELECT ON liveid.metrics_busiest_hours, liveid.calls_daily TO liveid_user;

-- ---- liveid.report_html(): one self-contained page ----
-- Text for HTML, in an element or a quoted attribute: & < > " ' escaped.
CREATE FUNCTION liveid.html_escape(value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN replace(replace(replace(replace(replace(value,
       '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;');
COMMENT ON FUNCTION liveid.html_escape(text) IS 'the text escaped for HTML (&, <, >, " and '' as entities), for an element or a quoted attribute';

-- A line chart as inline SVG: one polyline per series (a circle per point
-- when a series has a single point), x over [min, max] of at, y from 0 to
-- the largest value.  series: [{"name", "color", "values": [...]}], the
-- values aligned with at; a NULL value leaves a gap.
CREATE FUNCTION liveid.svg_line_chart(caption text, at timestamptz[], labels text[], series jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w constant integer := 900; h constant integer := 160;
    l constant integer := 50; t constant integer := 20; b constant integer := 30;
    n integer := coalesce(cardinality(at), 0);
    t0 double precision; span double precision;
    ymax double precision;
    s jsonb; pts text; svg text; legend text := '';
    i integer; v double precision; px double precision; py double precision;
BEGIN
    IF n = 0 THEN
        RETURN '';
    END IF;
    t0 := extract(epoch FROM at[1]);
    span := greatest(extract(epoch FROM at[n]) - t0, 1);
    SELECT greatest(max(e::double precision), 1) INTO ymax
      FROM jsonb_array_elements(series) x, jsonb_array_elements_text(x->'values') e;
    svg := format('<svg class="chart" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s">',
                  w, h + t + b, w, h + t + b, liveid.html_escape(caption))
        || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999"/>', l, t + h, w - 10, t + h)
        || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999"/>', l, t, l, t + h)
        || format('<text x="%s" y="%s" text-anchor="end" font-size="11">%s</text>', l - 4, t + 4, round(ymax::numeric, 1))
        || format('<text x="%s" y="%s" text-anchor="end" font-size="11">0</text>', l - 4, t + h)
        || format('<text x="%s" y="%s" font-size="11">%s</text>', l, t + h + 16, liveid.html_escape(labels[1]))
        || format('<text x="%s" y="%s" text-anchor="end" font-size="11">%s</text>', w - 10, t + h + 16, liveid.html_escape(labels[n]));
    FOR s IN SELECT * FROM jsonb_array_elements(series) LOOP
        pts := '';
        FOR i IN 1 .. n LOOP
            v := (s->'values'->>(i - 1))::double precision;
            CONTINUE WHEN v IS NULL;
            px := l + (w - 10 - l) * (extract(epoch FROM at[i]) - t0) / span;
            py := t + h - h * v / ymax;
            pts := pts || format('%s,%s ', round(px::numeric, 1), round(py::numeric, 1));
        END LOOP;
        IF pts <> '' THEN
            svg := svg || format('<polyline class="series" fill="none" stroke="%s" stroke-width="2" points="%s"/>',
                                 liveid.html_escape(s->>'color'), rtrim(pts));
            IF position(' ' IN rtrim(pts)) = 0 THEN
                svg := svg || format('<circle cx="%s" cy="%s" r="3" fill="%s"/>',
                                     split_part(rtrim(pts), ',', 1), split_part(rtrim(pts), ',', 2),
                                     liveid.html_escape(s->>'color'));
            END IF;
        END IF;
        legend := legend || format('<span class="key" style="background:%s"></span>%s ',
                                   liveid.html_escape(s->>'color'), liveid.html_escape(s->>'name'));
    END LOOP;
    RETURN format('<figure><figcaption>%s</figcaption>%s</svg><div class="legend">%s</div></figure>',
                  liveid.html_escape(caption), svg, legend);
END
$$;
COMMENT ON FUNCTION liveid.svg_line_chart(text, timestamptz[], text[], jsonb) IS 'an HTML figure holding an inline SVG line chart of the series (one polyline each) over the times at, labelled with labels (used by report_html)';

-- A bar chart as inline SVG: one bar (a stack of rects, one per series)
-- per label, y from 0 to the largest stack.  series as svg_line_chart's.
CREATE FUNCTION liveid.svg_bar_chart(caption text, labels text[], series jsonb, unit text DEFAULT '')
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w constant integer := 900; h constant integer := 160;
    l constant integer := 50; t constant integer := 20; b constant integer := 30;
    n integer := coalesce(cardinality(labels), 0);
    ymax double precision := 1; stack double precision;
    slot double precision; bw double precision;
    s jsonb; svg text; legend text := '';
    i integer; v double precision; y double precision;
BEGIN
    IF n = 0 THEN
        RETURN '';
    END IF;
    FOR i IN 1 .. n LOOP
        SELECT coalesce(sum((x->'values'->>(i - 1))::double precision), 0) INTO stack
          FROM jsonb_array_elements(series) x;
        ymax := greatest(ymax, stack);
    END LOOP;
    slot := (w - 10 - l)::double precision / n;
    bw := greatest(slot * 0.7, 1);
    svg := format('<svg class="chart" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s">',
                  w, h + t + b, w, h + t + b, liveid.html_escape(caption))
        || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999"/>', l, t + h, w - 10, t + h)
        || format('<text x="%s" y="%s" text-anchor="end" font-size="11">%s%s</text>', l - 4, t + 4,
                  round(ymax::numeric, 1), liveid.html_escape(unit))
        || format('<text x="%s" y="%s" text-anchor="end" font-size="11">0</text>', l - 4, t + h)
        || format('<text x="%s" y="%s" font-size="11">%s</text>', l, t + h + 16, liveid.html_escape(labels[1]))
        || format('<text x="%s" y="%s" text-anchor="end" font-size="11">%s</text>', w - 10, t + h + 16, liveid.html_escape(labels[n]));
    FOR i IN 1 .. n LOOP
        y := t + h;
        FOR s IN SELECT * FROM jsonb_array_elements(series) LOOP
            v := coalesce((s->'values'->>(i - 1))::double precision, 0);
            CONTINUE WHEN v <= 0;
            y := y - h * v / ymax;
            svg := svg || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s %s: %s</title></rect>',
                                 round((l + slot * (i - 1) + (slot - bw) / 2)::numeric, 1), round(y::numeric, 1),
                                 round(bw::numeric, 1), round((h * v / ymax)::numeric, 1),
                                 liveid.html_escape(s->>'color'), liveid.html_escape(labels[i]),
                                 liveid.html_escape(s->>'name'), round(v::numeric, 1));
        END LOOP;
    END LOOP;
    FOR s IN SELECT * FROM jsonb_array_elements(series) LOOP
        legend := legend || format('<span class="key" style="background:%s"></span>%s ',
                                   liveid.html_escape(s->>'color'), liveid.html_escape(s->>'name'));
    END LOOP;
    RETURN format('<figure><figcaption>%s</figcaption>%s</svg><div class="legend">%s</div></figure>',
                  liveid.html_escape(caption), svg, legend);
END
$$;
COMMENT ON FUNCTION liveid.svg_bar_chart(text, text[], jsonb, text) IS 'an HTML figure holding an inline SVG bar chart, one stacked bar per label with a rect per series (used by report_html)';

-- The report: queue and operators over time, waiting times and how calls
-- ended per day, for one organization (NULL: liveid.organization, else
-- all) from since to now.  Self-contained: inline SVG and CSS only, no
-- script, no URL; a Content-Security-Policy forbids anything external.
-- Bounded: by hour up to 14 days of data, by day up to 400, else by week.
-- Security invoker: a liveid_user's calls are the ones it sees.
CREATE FUNCTION liveid.report_html(since timestamptz DEFAULT now() - interval '7 days',
                                   organization text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org text := coalesce(organization, nullif(current_setting('liveid.organization', true), ''));
    until timestamptz := now();
    first_at timestamptz; last_at timestamptz;
    unit text; day_unit text; fmt text; day_fmt text;
    at timestamptz[]; labels text[]; queue jsonb; ops jsonb; waits jsonb;
    days text[]; ended jsonb; rows text;
    body text := '';
BEGIN
    IF since IS NULL OR since > until THEN
        RAISE EXCEPTION 'invalid value for argument "since"'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must be a time before now (-infinity for all the data).';
    END IF;
    IF organization = '' THEN
        RAISE EXCEPTION 'invalid value for argument "organization"'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must not be empty.',
                  HINT = 'Pass an organization code, or NULL for liveid.organization (all organizations when it is not set).';
    END IF;

    -- the span of the data decides the buckets, so the page stays small
    SELECT min(x), max(x) INTO first_at, last_at FROM (
        SELECT m.taken_at FROM liveid.metrics m
         WHERE m.taken_at BETWEEN since AND until AND (org IS NULL OR m.organization = org)
        UNION ALL
        SELECT c.created_at FROM liveid.calls c
         WHERE c.created_at BETWEEN since AND until AND (org IS NULL OR c.organization = org)) s(x);
    unit := CASE WHEN last_at - first_at <= interval '14 days' THEN 'hour'
                 WHEN last_at - first_at <= interval '400 days' THEN 'day' ELSE 'week' END;
    day_unit := CASE unit WHEN 'week' THEN 'week' ELSE 'day' END;
    fmt := CASE unit WHEN 'hour' THEN 'YYYY-MM-DD HH24:00' WHEN 'day' THEN 'YYYY-MM-DD' ELSE 'IYYY-"W"IW' END;
    day_fmt := CASE day_unit WHEN 'day' THEN 'YYYY-MM-DD' ELSE 'IYYY-"W"IW' END;

    -- queue (all processes) and operators: each organization's average
    -- over its snapshots in the bucket, summed over the organizations
    WITH snaps AS (
        SELECT m.organization, m.taken_at,
               sum(m.waiting) FILTER (WHERE m.process IS NOT NULL) AS q,
               sum(m.available_operators) FILTER (WHERE m.process IS NULL) AS o
          FROM liveid.metrics m
         WHERE m.taken_at BETWEEN since AND until AND (org IS NULL OR m.organization = org)
         GROUP BY 1, 2),
    buckets AS (
        SELECT b, sum(q) AS q, sum(o) AS o FROM (
            SELECT date_trunc(unit, taken_at) AS b, avg(q) AS q, avg(o) AS o
              FROM snaps GROUP BY 1, snaps.organization) per_org
         GROUP BY b)
    SELECT array_agg(b ORDER BY b), array_agg(to_char(b, fmt) ORDER BY b),
           jsonb_agg(round(q, 2) ORDER BY b), jsonb_agg(round(o, 2) ORDER BY b)
      INTO at, labels, queue, ops FROM buckets;
    IF at IS NULL THEN
        body := body || '<h2>Queue and operators</h2><p class="empty">No metrics snapshots in this period.</p>';
    ELSE
        -- a series without a value (no queue rows, say) is said, not drawn
        body := body || '<h2>Queue and operators</h2>'
            || CASE WHEN jsonb_path_exists(queue, '$[*] ? (@ != null)')
                    THEN liveid.svg_line_chart('People waiting (all queues), average per ' || unit, at, labels,
                             jsonb_build_array(jsonb_build_object('name', 'waiting', 'color', '#d62728', 'values', queue)))
                    ELSE '<p class="empty">No queue snapshots in this period.</p>' END
            || CASE WHEN jsonb_path_exists(ops, '$[*] ? (@ != null)')
                    THEN liveid.svg_line_chart('Operators available, average per ' || unit, at, labels,
                             jsonb_build_array(jsonb_build_object('name', 'operators', 'color', '#2ca02c', 'values', ops)))
                    ELSE '<p class="empty">No operator snapshots in this period.</p>' END;
        -- the average of the 60-minute waits the service reported, in minutes
        SELECT array_agg(to_char(b, day_fmt) ORDER BY b), jsonb_agg(round(w, 1) ORDER BY b)
          INTO days, waits FROM (
            SELECT date_trunc(day_unit, m.taken_at) AS b,
                   avg(extract(epoch FROM m.average_wait)) / 60 AS w
              FROM liveid.metrics m
             WHERE m.taken_at BETWEEN since AND until AND (org IS NULL OR m.organization = org)
               AND m.process IS NULL AND m.average_wait IS NOT NULL
             GROUP BY 1) x;
        body := body || '<h2>Waiting times</h2>'
            || CASE WHEN days IS NULL THEN '<p class="empty">No waiting times in this period.</p>'
                    ELSE liveid.svg_bar_chart('Average wait per ' || day_unit || ' (minutes)', days,
                             jsonb_build_array(jsonb_build_object('name', 'average wait', 'color', '#1f77b4', 'values', waits)), ' min') END;
    END IF;

    -- how the calls started in the period ended, from calls_daily
    WITH d AS (
        SELECT date_trunc(day_unit, cd.day) AS b, sum(cd.started) AS started,
               sum(cd.completed) AS completed, sum(cd.suspended) AS suspended,
               sum(cd.aborted) AS aborted, sum(cd.system_error) AS system_error,
               sum(cd.closed - cd.completed - cd.suspended - cd.aborted - cd.system_error) AS closed_other,
               sum(cd.cancelled) AS cancelled, sum(cd.expired) AS expired,
               sum(cd.rejected) AS rejected, sum(cd.still_open) AS still_open
          FROM liveid.calls_daily cd
         WHERE cd.day BETWEEN since::date AND until::date AND (org IS NULL OR cd.organization = org)
         GROUP BY 1)
    SELECT array_agg(to_char(b, day_fmt) ORDER BY b),
           jsonb_build_array(
               jsonb_build_object('name', 'completed (N)', 'color', '#2ca02c', 'values', jsonb_agg(completed ORDER BY b)),
               jsonb_build_object('name', 'suspended (S)', 'color', '#ff7f0e', 'values', jsonb_agg(suspended ORDER BY b)),
               jsonb_build_object('name', 'aborted (A)', 'color', '#d62728', 'values', jsonb_agg(aborted ORDER BY b)),
               jsonb_build_object('name', 'system error (K)', 'color', '#8c564b', 'values', jsonb_agg(system_error ORDER BY b)),
               jsonb_build_object('name', 'closed, no status', 'color', '#e377c2', 'values', jsonb_agg(closed_other ORDER BY b)),
               jsonb_build_object('name', 'cancelled', 'color', '#7f7f7f', 'values', jsonb_agg(cancelled ORDER BY b)),
               jsonb_build_object('name', 'expired', 'color', '#bcbd22', 'values', jsonb_agg(expired ORDER BY b)),
               jsonb_build_object('name', 'rejected', 'color', '#9467bd', 'values', jsonb_agg(rejected ORDER BY b)),
               jsonb_build_object('name', 'still open', 'color', '#17becf', 'values', jsonb_agg(still_open ORDER BY b))),
           string_agg(format('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>',
                             to_char(b, day_fmt), started, completed, suspended, aborted, system_error,
                             cancelled, expired, rejected, still_open), '' ORDER BY b)
      INTO days, ended, rows FROM d;
    IF days IS NULL THEN
        body := body || '<h2>How calls ended</h2><p class="empty">No calls started in this period.</p>';
    ELSE
        body := body || '<h2>How calls ended</h2>'
            || liveid.svg_bar_chart('Calls started per ' || day_unit || ', by how they ended', days, ended)
            || '<table><tr><th>' || day_unit || '</th><th>started</th><th>N</th><th>S</th><th>A</th><th>K</th>'
            || '<th>cancelled</th><th>expired</th><th>rejected</th><th>open</th></tr>' || rows || '</table>';
        -- the abort codes the callbacks claimed, with what they mean
        SELECT string_agg(format('<tr><td>%s</td><td>%s</td><td>%s</td></tr>',
                                 liveid.html_escape(code), liveid.html_escape(coalesce(meaning, '')), n),
                          '' ORDER BY n DESC, code)
          INTO rows FROM (
            SELECT e.abort_code AS code, a.meaning, count(*) AS n
              FROM liveid.call_events e JOIN liveid.calls c USING (uid)
              LEFT JOIN liveid.abort_codes a ON a.process = c.process AND a.abort_code = e.abort_code
             WHERE e.abort_code IS NOT NULL AND c.created_at BETWEEN since AND until
               AND (org IS NULL OR c.organization = org)
             GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 20) x;
        IF rows IS NOT NULL THEN
            body := body || '<h2>Abort codes</h2><table><tr><th>code</th><th>meaning</th><th>calls</th></tr>'
                || rows || '</table>';
        END IF;
    END IF;

    RETURN '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        || '<meta http-equiv="Content-Security-Policy" content="default-src ''none''; style-src ''unsafe-inline''">'
        || '<title>' || liveid.html_escape(format('LiveID+ report: %s', coalesce(org, 'all organizations'))) || '</title>'
        || '<style>body{font-family:sans-serif;margin:24px;color:#222;background:#fff}'
        || 'figure{margin:0 0 16px}figcaption{font-weight:bold;margin-bottom:4px}'
        || '.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}'
        || 'table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}'
        || '.empty{color:#666;font-style:italic}</style></head><body>'
        || '<h1>' || liveid.html_escape(format('LiveID+ report: %s', coalesce(org, 'all organizations'))) || '</h1>'
        || '<p class="period">' || liveid.html_escape(format('%s to %s (%s)',
               CASE WHEN isfinite(since) THEN to_char(since, 'YYYY-MM-DD HH24:MI') ELSE 'the first data' END,
               to_char(until, 'YYYY-MM-DD HH24:MI'), current_setting('TimeZone'))) || '</p>'
        || CASE WHEN first_at IS NULL THEN '<p class="empty">No data for this period.</p>' ELSE '' END
        || body || '</body></html>';
END
$$;
COMMENT ON FUNCTION liveid.report_html(timestamptz, text) IS 'a self-contained HTML page (inline SVG charts, no script, no external resource) of the queue, operators, waiting times and how calls ended for an organization (NULL: liveid.organization, else all) from since to now';
GRANT EXECUTE ON FUNCTION liveid.waiting_share(interval, timestamptz), liveid.html_escape(text),
    liveid.svg_line_chart(text, timestamptz[], text[], jsonb), liveid.svg_bar_chart(text, text[], jsonb, text),
    liveid.report_html(timestamptz, text) TO liveid_user;

-- One snapshot (src/metrics.c): all its requests at once, all or nothing.
CREATE FUNCTION liveid.collect_metrics(organization text DEFAULT NULL, processes uuid[] DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'liveid_collect_metrics'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.collect_metrics(text, uuid[]) IS 'take one snapshot of the organization''s operators, waiting times and process queues into liveid.metrics (processes NULL: liveid.process and the ledger''s), delete those older than liveid.metrics_retention, and return the rows written';

-- The job liveid-metrics, as liveid-refresh (pg_cron's own database).
CREATE FUNCTION liveid.schedule_metrics(schedule text DEFAULT '* * * * *')
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN liveid.cron_schedule('liveid.schedule_metrics()', 'liveid-metrics', schedule,
                            'SELECT liveid.collect_metrics()');
COMMENT ON FUNCTION liveid.schedule_metrics(text) IS 'register (or replace) the pg_cron job liveid-metrics that runs liveid.collect_metrics() in this database on schedule; returns its job id';

CREATE FUNCTION liveid.unschedule_metrics()
RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN liveid.cron_unschedule('liveid.unschedule_metrics()', 'liveid-metrics');
COMMENT ON FUNCTION liveid.unschedule_metrics() IS 'remove the pg_cron job liveid-metrics; false when there is none';
GRANT EXECUTE ON FUNCTION liveid.collect_metrics(text, uuid[]), liveid.schedule_metrics(text),
    liveid.unschedule_metrics() TO liveid_admin;
-- ==== end of operations ====

-- ==== Monitoring (contrib/prometheus): aggregates only ====
-- liveid_monitor (a Prometheus exporter's role) reads counts, never a row
-- of the ledger: this view runs with its owner's rights (the extension's
-- owner, whom the ledger's row-level security does not restrict), so it
-- counts every call, and shows no uid, link, process or creator.
CREATE VIEW liveid.calls_by_status WITH (security_barrier) AS
SELECT organization, status, close_status, count(*) AS calls
  FROM liveid.calls
 GROUP BY 1, 2, 3;
COMMENT ON VIEW liveid.calls_by_status IS 'how many calls of the ledger each organization has in each status and close status (all calls, whoever started them): counts only, for monitoring';
COMMENT ON COLUMN liveid.calls_by_status.organization IS 'the organization code';
COMMENT ON COLUMN liveid.calls_by_status.status IS 'the calls'' status (liveid.calls.status)';
COMMENT ON COLUMN liveid.calls_by_status.close_status IS 'the calls'' close status (N, S, A, K; NULL while not closed)';
COMMENT ON COLUMN liveid.calls_by_status.calls IS 'how many calls';
GRANT USAGE ON SCHEMA liveid TO liveid_monitor;
GRANT SELECT ON liveid.calls_by_status TO liveid_monitor, liveid_admin;
GRANT SELECT ON liveid.metrics_latest TO liveid_monitor;
-- ==== end of monitoring ====

-- ==== the outbox: starts that follow the transaction ====
-- liveid.enqueue_start() stores a start in the caller's transaction; the
-- background worker (liveid.worker_database) sends it after commit and
-- records the call in liveid.calls under the same ref.
CREATE TABLE liveid.outbox (
    ref             uuid PRIMARY KEY,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    uid             text,
    next_attempt_at timestamptz,
    queued_by       name NOT NULL,
    organization    text NOT NULL,
    process         uuid,
    process_live    uuid,
    process_self    uuid,
    external_id     text,
    method          text NOT NULL,
    expire          timestamptz,
    CONSTRAINT outbox_sent_check CHECK ((state = 'sent') = (uid IS NOT NULL AND sent_at IS NOT NULL)),
    CONSTRAINT outbox_queued_check CHECK ((state = 'queued') = (next_attempt_at IS NOT NULL)),
    CONSTRAINT outbox_process_check CHECK (
        (process IS NOT NULL AND process_live IS NULL AND process_self IS NULL)
        OR (process IS NULL AND process_live IS NOT NULL AND process_self IS NOT NULL))
);
-- what the worker claims next
CREATE INDEX outbox_due_idx ON liveid.outbox (next_attempt_at) WHERE state = 'queued';
COMMENT ON TABLE liveid.outbox IS 'starts stored by liveid.enqueue_start() in their transaction and sent by the background worker after commit, one row each';
COMMENT ON COLUMN liveid.outbox.ref IS 'the start''s ref, which enqueue_start returned; the call has the same ref in liveid.calls once sent';
COMMENT ON COLUMN liveid.outbox.state IS 'queued (waiting, or waiting to be retried), sending (in flight), sent (recorded in liveid.calls), failed (see last_error)';
COMMENT ON COLUMN liveid.outbox.attempts IS 'how many times the worker has sent it';
COMMENT ON COLUMN liveid.outbox.last_error IS 'why the latest attempt failed';
COMMENT ON COLUMN liveid.outbox.queued_at IS 'when enqueue_start stored it (its transaction''s start)';
COMMENT ON COLUMN liveid.outbox.sent_at IS 'when the service accepted it';
COMMENT ON COLUMN liveid.outbox.uid IS 'the uId the service gave the call (liveid.calls.uid), once sent';
COMMENT ON COLUMN liveid.outbox.next_attempt_at IS 'when the worker sends it (again), while queued';
COMMENT ON COLUMN liveid.outbox.queued_by IS 'the role that called enqueue_start; liveid.calls.created_by once sent';
COMMENT ON COLUMN liveid.outbox.organization IS 'the organization the call is started for';
COMMENT ON COLUMN liveid.outbox.process IS 'id_process; NULL when the pair process_live + process_self was given';
COMMENT ON COLUMN liveid.outbox.process_live IS 'id_process of the live (operator) process; NULL when process was given';
COMMENT ON COLUMN liveid.outbox.process_self IS 'id_process of the self (unattended) process; NULL when process was given';
COMMENT ON COLUMN liveid.outbox.external_id IS 'the caller''s own reference for the call, if any';
COMMENT ON COLUMN liveid.outbox.method IS 'how the call is pushed: start or live';
COMMENT ON COLUMN liveid.outbox.expire IS 'when the service removes the call if nobody opened it; NULL for the service''s own limit';
SELECT pg_catalog.pg_extension_config_dump('liveid.outbox', '');
REVOKE ALL ON TABLE liveid.outbox FROM PUBLIC;
GRANT SELECT ON TABLE liveid.outbox TO liveid_user;
-- as for the ledger: a liveid_user sees what it queued, liveid_admin all
ALTER TABLE liveid.outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY outbox_queued_by_me ON liveid.outbox FOR SELECT TO liveid_user
    USING (queued_by = current_user);
CREATE POLICY outbox_all_for_admin ON liveid.outbox FOR SELECT TO liveid_admin
    USING (true);

-- The request of each start not sent yet: it holds the callback secret,
-- so nobody but the table's owner reads it (nothing is granted on it), and
-- it is deleted once the start is sent or failed.
CREATE TABLE liveid.outbox_requests (
    ref           uuid PRIMARY KEY REFERENCES liveid.outbox (ref) ON DELETE CASCADE,
    body          text NOT NULL,
    token_sha256  bytea CHECK (length(token_sha256) = 32)
);
COMMENT ON TABLE liveid.outbox_requests IS 'the pushAsyncCall body of each start of liveid.outbox not sent yet, readable by the owner only';
COMMENT ON COLUMN liveid.outbox_requests.ref IS 'the start (liveid.outbox.ref)';
COMMENT ON COLUMN liveid.outbox_requests.body IS 'the JSON body to send, with the callback secret in it';
COMMENT ON COLUMN liveid.outbox_requests.token_sha256 IS 'SHA-256 of the start''s liveid_token, for liveid.call_tokens; NULL without a server callback';
SELECT pg_catalog.pg_extension_config_dump('liveid.outbox_requests', '');
REVOKE ALL ON TABLE liveid.outbox_requests FROM PUBLIC;

-- Stores a start for the background worker; returns its ref.
CREATE FUNCTION liveid.enqueue_start(customer jsonb, process uuid DEFAULT NULL,
                                     organization text DEFAULT NULL,
                                     external_id text DEFAULT NULL,
                                     redirect_url text DEFAULT NULL,
                                     redirect_method text DEFAULT NULL,
                                     operator_id uuid DEFAULT NULL,
                                     operator_email text DEFAULT NULL,
                                     operator_external_id text DEFAULT NULL,
                                     direct text DEFAULT NULL,
                                     op_info text DEFAULT NULL,
                                     skip_av_rec_test boolean DEFAULT NULL,
                                     disable_rtc_test boolean DEFAULT NULL,
                                     process_live uuid DEFAULT NULL,
                                     process_self uuid DEFAULT NULL,
                                     method text DEFAULT 'start',
                                     expire timestamptz DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'liveid_enqueue_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION liveid.enqueue_start(jsonb, uuid, text, text, text, text, uuid, text, text, text, text, boolean, boolean, uuid, uuid, text, timestamptz) IS 'check a start as service_start does and store it in liveid.outbox in the caller''s transaction; the background worker sends it after commit; returns its ref';
-- ==== end of the outbox ====

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
GRANT EXECUTE ON FUNCTION
    liveid.enqueue_start(jsonb, uuid, text, text, text, text, uuid, text, text,
                         text, text, boolean, boolean, uuid, uuid, text, timestamptz)
TO liveid_user;
