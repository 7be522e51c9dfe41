-- The payload builders: liveid.data_field, liveid.row_to_data and
-- liveid.data_agg make the "data" object of a ServiceStartJson.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';

-- A row with every supported column type, and one with NULLs.
CREATE DOMAIN email AS text;
CREATE TABLE payload_types (
    id       integer,
    small    smallint,
    big      bigint,
    amount   numeric(10,2),
    ratio    real,
    precise  double precision,
    active   boolean,
    birth    date,
    alarm    time,
    alarm_tz timetz,
    seen     timestamp,
    seen_tz  timestamptz,
    note     text,
    code     varchar(10),
    grade    char(3),
    ref      uuid,
    contact  email,
    phone    text,
    website  text,
    "città"  text
);
INSERT INTO payload_types VALUES
  (1, -32768, 9223372036854775807, 1234567.50, 0.1, 1.5e-7, true,
   '1985-08-01', '09:05:03', '23:59:59.999+05:30', '2024-02-29 12:34:56.789',
   '2024-03-01 00:30:00+01', E'Quote " backslash \\ and\na newline', 'Ünïcödé',
   'AB', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'mario.rossi@example.it',
   '+39 02 1234567', 'https://example.com/a?b=1', 'Città 🎉'),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- One field per column: datatype from the type, label made readable,
-- order = position; NULL is "" in a field that stays.
SELECT id, jsonb_pretty(liveid.row_to_data(p)) FROM payload_types p ORDER BY id;

-- These values do not depend on DateStyle, TimeZone, IntervalStyle,
-- extra_float_digits or lc_numeric (with a locale that has a decimal comma
-- where the machine has one).
CREATE TEMP TABLE payload_golden AS
SELECT id, liveid.row_to_data(p) AS data FROM payload_types p;
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kathmandu';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = -15;
DO $$
BEGIN
    SET lc_numeric = 'de_DE.UTF-8';
EXCEPTION WHEN OTHERS THEN
    BEGIN
        SET lc_numeric = 'it_IT.UTF-8';
    EXCEPTION WHEN OTHERS THEN
        SET lc_numeric = 'C.UTF-8';
    END;
END
$$;
SELECT id, liveid.row_to_data(p) = g.data AS same
  FROM payload_types p JOIN payload_golden g USING (id) ORDER BY id;
SELECT liveid.data_field(seen_tz, 'Seen') ->> 'value' AS utc,
       liveid.data_field(birth, 'Birth') ->> 'value' AS iso_date,
       liveid.data_field(precise, 'Precise') ->> 'value' AS plain
  FROM payload_types WHERE id = 1;
RESET DateStyle;
RESET TimeZone;
RESET IntervalStyle;
RESET extra_float_digits;
RESET lc_numeric;
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';

-- Numbers: plain decimal, never an exponent; -0 is 0; numeric keeps its scale.
SELECT v::text AS sql, liveid.data_field(v, 'n') ->> 'value' AS value
  FROM (VALUES (1e21::float8), (-1.5e-7::float8), (123456789.125::float8),
               ('-0'::float8), (1.7976931348623157e308::float8 / 1e300)) AS x(v);
SELECT liveid.data_field(3.4028235e38::real, 'n') ->> 'value' AS real_max,
       liveid.data_field(1e-20::numeric, 'n') ->> 'value' AS numeric_tiny,
       liveid.data_field(-0.500::numeric, 'n') ->> 'value' AS numeric_scale,
       liveid.data_field(-2147483648, 'n') ->> 'value' AS int_min;

-- Dates and times: ISO forms, milliseconds only when not zero (truncated).
SELECT liveid.data_field('0001-01-01'::date, 'd') ->> 'value' AS first_day,
       liveid.data_field('9999-12-31'::date, 'd') ->> 'value' AS last_day,
       liveid.data_field('00:00:00.000999'::time, 't') ->> 'value' AS sub_ms,
       liveid.data_field('23:59:59.9999'::time, 't') ->> 'value' AS truncated,
       liveid.data_field('10:00:00.5-08'::timetz, 't') ->> 'value' AS tz_dropped,
       liveid.data_field('1999-12-31 23:59:59.999999-01'::timestamptz, 't') ->> 'value' AS utc;

-- data_field: every argument, named notation.
SELECT liveid.data_field('RSSMRA85M01H501Z'::text, label => 'Fiscal code', "order" => 1,
                         attributes => '{"readonly": true, "maxlength": 16, "pattern": "[A-Z0-9]{16}"}');
SELECT liveid.data_field(42, label => 'Answer', datatype => 'text', display => 'operator');
SELECT liveid.data_field(NULL::date, 'Expiry', display => 'none');
SELECT liveid.data_field(NULL::integer, '');
-- inferred from a domain's name (email) or its base type; a literal needs a cast
SELECT liveid.data_field('mario@example.it'::email, 'E-mail') ->> 'datatype' AS domain_email,
       liveid.data_field('not an address'::email, 'E-mail') ->> 'datatype' AS not_an_address,
       liveid.data_field(NULL::email, 'E-mail') ->> 'datatype' AS null_email,
       liveid.data_field('mario@example.it'::text, 'E-mail') ->> 'datatype' AS plain_text,
       liveid.data_field('5 minutes'::interval, 'Wait') ->> 'value' AS interval_text;
CREATE DOMAIN work_email AS email;
CREATE DOMAIN mobile_phone AS varchar(20);
CREATE DOMAIN home_page_url AS text;
CREATE DOMAIN phone_code AS integer;
SELECT liveid.data_field('a@b.it'::work_email, 'x') ->> 'datatype' AS domain_of_email,
       liveid.data_field('+39 333'::mobile_phone, 'x') ->> 'datatype' AS mobile_phone,
       liveid.data_field('http://x.it'::home_page_url, 'x') ->> 'datatype' AS home_page_url,
       liveid.data_field(39::phone_code, 'x') ->> 'datatype' AS not_text_like;
-- a datatype given picks the part of a date or timestamp it shows
SELECT liveid.data_field('2026-11-24'::date, 'Expiry', 'month') ->> 'value' AS month_of_date,
       liveid.data_field('2026-11-24 08:30:15'::timestamp, 'x', 'date') ->> 'value' AS date_of_ts,
       liveid.data_field('2026-11-24 08:30:15'::timestamp, 'x', 'time') ->> 'value' AS time_of_ts,
       liveid.data_field('2026-11-24 23:30:00-02'::timestamptz, 'x', 'date') ->> 'value' AS utc_date,
       liveid.data_field('2026-11-24 08:30:15'::timestamp, 'x', 'month') ->> 'value' AS month_of_ts;
SELECT liveid.data_field(true, 'Consent') AS checkbox;
SELECT liveid.data_field('2024-05'::text, 'Expiry', 'month') AS month_text;

-- data_field without a label: a field without a "label" member, which
-- data_agg labels with its key made readable; its messages say "(no label)".
SELECT liveid.data_field(1) AS no_label, liveid.data_field(1, NULL) AS null_label;
SELECT jsonb_pretty(liveid.data_agg(k, f))
  FROM (VALUES ('birth_date', liveid.data_field('1985-08-01'::date, "order" => 2)),
               ('__città_di_nascita_', liveid.data_field('Roma'::text, attributes => '{"maxlength": 40}')),
               ('nome', liveid.data_field('Mario'::text, 'First name'))) AS v(k, f);
SELECT liveid.data_agg('iban', '{"datatype": "text", "value": "IT60X"}') AS hand_made;
SELECT try($$SELECT liveid.data_field('x'::text, datatype => 'date')$$) AS no_label_message;
SELECT try($$SELECT liveid.data_agg('a', '{"datatype": "text"}')$$) AS still_needs_value;
-- a label-less field that reaches the service is 22023 naming it
SELECT try($$SELECT liveid.customer('it', 'a@example.com', 'A', 'B',
                     data => jsonb_build_object('birth_date', liveid.data_field(current_date)))$$) AS customer;
SELECT try($$SELECT liveid.service_start('{"lang": "it", "liveid_email": "a@example.com", "liveid_name": "A",
                     "liveid_surname": "B", "data": {"iban": {"datatype": "text", "value": ""}}}',
                     organization => 'DEMO')$$) AS service_start;
SELECT try($$SELECT liveid.launch_form('{"lang": "it", "liveid_email": "a@example.com", "liveid_name": "A",
                     "liveid_surname": "B", "data": {"iban": {"datatype": "text", "value": ""}}}',
                     organization => 'DEMO')$$) AS launch_form;
\set VERBOSITY default
SELECT liveid.customer('it', 'a@example.com', 'A', 'B', data => jsonb_build_object('x', liveid.data_field(1)));

-- data_field: the rules (22023).
SELECT liveid.data_field(1, 'n', 'numeric');
SELECT liveid.data_field('x'::text, 'Born', 'date');
SELECT liveid.data_field(1, 'n', display => 'hidden');
SELECT liveid.data_field(1, 'n', attributes => '{"colour": "red"}');
SELECT liveid.data_field(1, 'n', attributes => '{"maxlength": "16"}');
SELECT liveid.data_field(1, 'n', attributes => '{"label": "other"}');
SELECT liveid.data_field('NaN'::numeric, 'Amount');
SELECT liveid.data_field('infinity'::date, 'Birth');
SELECT liveid.data_field('10000-01-01'::date, 'Birth');
SELECT liveid.data_field('0044-03-15 BC'::timestamp, 'Ides');
SELECT liveid.data_field('24:00:00'::time, 'Alarm');
\set VERBOSITY terse
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '[1]')$$);
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '{"readonly": "yes"}')$$);
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '{"size": -1}')$$);
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '{"min": [1]}')$$);
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '{"value": "2"}')$$);
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '{"order": 2}')$$);
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '{"display": "none"}')$$);
SELECT try($$SELECT liveid.data_field(1, 'n', attributes => '{"datatype": "tel"}')$$);
SELECT try($$SELECT liveid.data_field(1, '', 'colour')$$);
SELECT try($$SELECT liveid.data_field('NaN'::float8, 'n')$$);
SELECT try($$SELECT liveid.data_field('-Infinity'::float8, 'n')$$);
SELECT try($$SELECT liveid.data_field('Infinity'::real, 'n')$$);
SELECT try($$SELECT liveid.data_field('-Infinity'::numeric, 'n')$$);
SELECT try($$SELECT liveid.data_field('-infinity'::date, 'n')$$);
SELECT try($$SELECT liveid.data_field('infinity'::timestamp, 'n')$$);
SELECT try($$SELECT liveid.data_field('-infinity'::timestamptz, 'n')$$);
SELECT try($$SELECT liveid.data_field('0044-03-15 BC'::date, 'n')$$);
SELECT try($$SELECT liveid.data_field('10000-01-01 00:00'::timestamp, 'n')$$);
SELECT try($$SELECT liveid.data_field('x'::text, 'n', 'email')$$);
SELECT try($$SELECT liveid.data_field('ftp://x'::text, 'n', 'url')$$);
SELECT try($$SELECT liveid.data_field(true, 'n', 'number')$$);
SELECT try($$SELECT liveid.data_field('x', 'n')$$);

-- row_to_data: labels from the argument, else the column's comment, else
-- the name made readable (underscores to spaces, first letter upper case).
CREATE TABLE payload_people (
    fiscal_code      text,
    "Ünïcödé"        text,
    birth_date       date,
    __odd__name_     text,
    "IBAN"           text,
    "_"              integer,
    customer_e_mail  text,
    email_status     text,
    web_link         text,
    fax              text
);
COMMENT ON COLUMN payload_people.fiscal_code IS 'Codice fiscale';
COMMENT ON COLUMN payload_people."Ünïcödé" IS 'Ünïcödé 🎉';
INSERT INTO payload_people VALUES
  ('RSSMRA85M01H501Z', 'ÀÉÎ', '1985-08-01', 'x', 'IT60X0542811101000000123456', 7,
   'mario@example.it', 'sent', 'example.com', '+39 06 000');
SELECT key, f ->> 'label' AS label, f ->> 'datatype' AS datatype, f -> 'order' AS ord,
       f ->> 'value' AS value
  FROM payload_people p, jsonb_each(liveid.row_to_data(p)) AS e(key, f)
 ORDER BY (f ->> 'order')::int;
SELECT key, f ->> 'label' AS label
  FROM payload_people p,
       jsonb_each(liveid.row_to_data(p, labels => '{"fiscal_code": "Fiscal code", "_": "Count", "IBAN": ""}')) AS e(key, f)
 ORDER BY (f ->> 'order')::int;

-- Options: exclude, hidden, operator_only, readonly, datatypes, attributes.
SELECT jsonb_pretty(liveid.row_to_data(p, options => '{
    "exclude": ["id", "small", "big", "ratio", "precise", "alarm", "alarm_tz", "seen",
                "seen_tz", "code", "grade", "ref", "website", "città"],
    "hidden": ["note"],
    "operator_only": ["amount", "phone"],
    "readonly": ["birth", "contact"],
    "datatypes": {"birth": "month", "phone": "text"},
    "attributes": {"contact": {"required": true, "placeholder": "name@example.com"},
                   "amount": {"step": "0.01", "min": 0, "readonly": false}}
  }'))
  FROM payload_types p WHERE id = 1;
-- true means every column; a column named in the other list is the exception
SELECT key, f ->> 'display' AS display, f -> 'readonly' AS readonly
  FROM payload_people p,
       jsonb_each(liveid.row_to_data(p, options => '{"operator_only": true, "hidden": ["fiscal_code"],
                                                     "readonly": true, "exclude": ["_", "fax"]}')) AS e(key, f)
 ORDER BY (f ->> 'order')::int;
SELECT liveid.row_to_data(p, options => '{"exclude": true}') AS nothing,
       liveid.row_to_data(p, options => '{"exclude": false, "hidden": [], "readonly": false}') =
       liveid.row_to_data(p) AS false_is_none,
       liveid.row_to_data(p, '{}', '{}') = liveid.row_to_data(p) AS empty_is_none
  FROM payload_people p;

-- Options and labels: every mistake names what is wrong.
\set VERBOSITY default
SELECT liveid.row_to_data(p, options => '{"hiden": ["fax"]}') FROM payload_people p;
SELECT liveid.row_to_data(p, options => '{"hidden": ["Fax"]}') FROM payload_people p;
SELECT liveid.row_to_data(p, options => '{"hidden": "fax"}') FROM payload_people p;
SELECT liveid.row_to_data(p, options => '{"hidden": ["fax"], "operator_only": ["fax"]}') FROM payload_people p;
SELECT liveid.row_to_data(p, labels => '{"fax": null}') FROM payload_people p;
SELECT liveid.row_to_data(p, options => '{"attributes": {"fax": {"colour": "red"}}}') FROM payload_people p;
SELECT liveid.row_to_data(p, options => '{"datatypes": {"web_link": "url"}}') FROM payload_people p;
\set VERBOSITY terse
SELECT try($$SELECT liveid.row_to_data(p, options => '[]') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => 'null') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, labels => '["a"]') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, labels => '{"nope": "x"}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, labels => '{"fax": 1}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"exclude": [1]}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"readonly": {"fax": true}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"hidden": true, "operator_only": true}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"datatypes": ["fax"]}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"datatypes": {"fax": 1}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"datatypes": {"fax": "phone"}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"datatypes": {"birth_date": "time"}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"attributes": {"fax": 16}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"attributes": {"fax": {"maxlength": 1.5}}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"attributes": {"fax": {"disabled": 1}}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"attributes": {"fax": {"title": {"a": 1}}}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"attributes": {"fax": {"label": "Fax"}}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(p, options => '{"attributes": {"nope": {}}}') FROM payload_people p$$);
SELECT try($$SELECT liveid.row_to_data(ROW('NaN'::numeric))$$);
SELECT try($$SELECT liveid.row_to_data(ROW('NaN'::float8))$$);
SELECT try($$SELECT liveid.row_to_data(ROW('infinity'::date))$$);
SELECT try($$SELECT liveid.row_to_data(ROW('24:00'::time))$$);

-- Any row type: a ROW(), a subquery, a composite type with comments; a
-- NULL row is NULL; dropped columns are skipped and do not count in order.
SELECT liveid.row_to_data(ROW(1, 'a'::text));
SELECT liveid.row_to_data(s) FROM (SELECT 1 AS n, 'x@y.it'::text AS mail) s;
CREATE TYPE payload_address AS (street text, postal_code varchar(5));
COMMENT ON COLUMN payload_address.street IS 'Via';
SELECT liveid.row_to_data(ROW('Via Roma 1', '00100')::payload_address);
SELECT liveid.row_to_data(NULL::payload_address) IS NULL AS null_row;
SELECT liveid.row_to_data(ROW(NULL, NULL)::payload_address) -> 'street' AS all_null_fields;
SELECT liveid.row_to_data(s) FROM (SELECT 1 AS a, 2 AS a) s;
SELECT liveid.row_to_data(s, options => '{"exclude": ["a"]}') FROM (SELECT 1 AS a, 2 AS b) s;
CREATE TABLE payload_dropped (a int, gone text, b text);
INSERT INTO payload_dropped VALUES (1, 'x', 'y');
ALTER TABLE payload_dropped DROP COLUMN gone;
ALTER TABLE payload_dropped ADD COLUMN c date DEFAULT '2026-01-02';
SELECT liveid.row_to_data(d) FROM payload_dropped d;
SELECT try($$SELECT liveid.row_to_data(d, labels => '{"gone": "x"}') FROM payload_dropped d$$);

-- One call site, labels and options changing from row to row.
SELECT o, liveid.row_to_data(d, options => o::jsonb) -> 'a' AS a
  FROM payload_dropped d,
       (VALUES ('{"hidden": ["a"]}'), ('{}'), ('{"readonly": ["a"]}'), ('{}')) AS v(o);
-- ... and the same options again in a new datum: the plan keeps what it
-- read from its own copy (the second row parses q, "LOST", where the first
-- row's options were, before its own options)
SELECT i, liveid.row_to_data(ROW(i), options => COALESCE(
            CASE WHEN i > 1 AND q::jsonb IS NOT NULL THEN NULL::jsonb END, o::jsonb)) -> 'f1' ->> 'title' AS title
  FROM (VALUES (1, '{"attributes": {"f1": {"title": "kept"}}}', '{"attributes": {"f1": {"title": "LOST"}}}'),
               (2, '{"attributes": {"f1": {"title": "kept"}}}', '{"attributes": {"f1": {"title": "LOST"}}}')) AS v(i, o, q);
-- ... and the row type changing under a running plpgsql loop
CREATE FUNCTION payload_alter_loop() RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR i IN 1..2 LOOP
        SELECT * INTO r FROM payload_dropped;
        RETURN NEXT liveid.row_to_data(r);
        IF i = 1 THEN
            ALTER TABLE payload_dropped ADD COLUMN mobile text DEFAULT '+39 1';
        END IF;
    END LOOP;
END
$$;
SELECT * FROM payload_alter_loop();

-- Large values are kept whole.
SELECT length(liveid.row_to_data(ROW(repeat('é', 100000))) -> 'f1' ->> 'value') AS chars;

-- data_agg: (key, field) rows to a data object; fields checked; {} for no rows.
SELECT jsonb_pretty(liveid.data_agg(k, f))
  FROM (VALUES ('name', liveid.data_field('Mario'::text, 'Name', "order" => 1)),
               ('born', liveid.data_field('1985-08-01'::date, 'Born', "order" => 2)),
               ('città', liveid.data_field('Roma'::text, 'Città', "order" => 3))) AS v(k, f);
SELECT liveid.data_agg(k, f) AS no_rows
  FROM (VALUES ('a', liveid.data_field(1, 'a'))) AS v(k, f) WHERE false;
SELECT g, liveid.data_agg(k, liveid.data_field(v, k) || jsonb_build_object('order', v)) AS data
  FROM (VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3)) AS t(g, k, v)
 GROUP BY g ORDER BY g;
-- with row_to_data's fields, re-keyed
SELECT liveid.data_agg('customer_' || key, f) ? 'customer_fax' AS rekeyed
  FROM payload_people p, jsonb_each(liveid.row_to_data(p)) AS e(key, f);
\set VERBOSITY default
SELECT liveid.data_agg(k, liveid.data_field(v, 'V'))
  FROM (VALUES ('a', 1), ('b', 2), ('a', 3)) AS t(k, v);
SELECT liveid.data_agg(k, liveid.data_field(v, 'V'))
  FROM (VALUES ('a', 1), (NULL, 2)) AS t(k, v);
SELECT liveid.data_agg(k, NULL) FROM (VALUES ('a')) AS t(k);
SELECT liveid.data_agg('a', '{"datatype": "text", "label": "A"}');
\set VERBOSITY terse
SELECT try($$SELECT liveid.data_agg('', liveid.data_field(1, 'x'))$$);
SELECT try($$SELECT liveid.data_agg('a', '"text"')$$);
SELECT try($$SELECT liveid.data_agg('a', '{"datatype": "colour", "label": "A", "value": ""}')$$);
SELECT try($$SELECT liveid.data_agg('a', '{"datatype": "date", "label": "A", "value": "1/2/2024"}')$$);
SELECT try($$SELECT liveid.data_agg('a', '{"datatype": "text", "label": "A", "value": "", "nested": {"x": 1}}')$$);

-- Privileges: liveid_user may use the builders (the aggregate's support
-- functions are not callable by anyone but their owner), PUBLIC may not.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('liveid_user', p.oid, 'EXECUTE') AS liveid_user,
       EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public
  FROM pg_proc p
 WHERE p.pronamespace = 'liveid'::regnamespace
   AND p.proname IN ('data_field', 'row_to_data', 'data_agg', 'data_agg_transfn', 'data_agg_finalfn')
 ORDER BY 1::text;
SET ROLE liveid_user;
SELECT liveid.data_agg(k, liveid.data_field(v, k)) ->> 'b' AS as_liveid_user
  FROM (VALUES ('a', 1), ('b', 2)) AS t(k, v);
SELECT liveid.row_to_data(ROW(1)) -> 'f1' ->> 'value' AS as_liveid_user;
RESET ROLE;
-- a role with the schema but no grant on the functions
CREATE ROLE regress_payload_nobody;
GRANT USAGE ON SCHEMA liveid TO regress_payload_nobody;
SET ROLE regress_payload_nobody;
SELECT try($$SELECT liveid.data_field(1, 'n')$$);
SELECT try($$SELECT liveid.row_to_data(ROW(1))$$);
SELECT try($$SELECT liveid.data_agg('a', '{}')$$);
RESET ROLE;
REVOKE USAGE ON SCHEMA liveid FROM regress_payload_nobody;
DROP ROLE regress_payload_nobody;

DROP FUNCTION payload_alter_loop();
DROP TABLE payload_types, payload_people, payload_dropped;
DROP TYPE payload_address;
DROP DOMAIN work_email, mobile_phone, home_page_url, phone_code, email;
