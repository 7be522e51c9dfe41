-- LiveID+ answers reach the database only as valid jsonb in the database
-- encoding, exactly as jsonb_in makes it of the same text, and parsing one
-- costs memory bounded by its size.
\set VERBOSITY terse

-- answer(n): FAULT-ANSWER-<n>, a crafted answer of the simulator;
-- echo(doc): FAULT-ANSWER-0, an answer that is doc, byte for byte.
CREATE FUNCTION answer(n int) RETURNS jsonb LANGUAGE sql AS $$
  SELECT liveid.request('POST', '/api/service/getAvailableOperators',
                        jsonb_build_object('orgCode', 'FAULT-ANSWER-' || n))
$$;
CREATE FUNCTION echo(doc text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT liveid.request('POST', '/api/service/getAvailableOperators',
                        jsonb_build_object('orgCode', 'FAULT-ANSWER-0', 'answer', doc))
$$;
-- the DETAIL a statement fails with
CREATE FUNCTION answer_detail(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE det text;
BEGIN
    EXECUTE stmt;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL;
    RETURN det;
END
$$;
-- jsonb and bytea are alike on disk: this cast shows a jsonb's raw bytes
CREATE CAST (jsonb AS bytea) WITHOUT FUNCTION;

-- Documents of every kind: generated ones cross JB_OFFSET_STRIDE (32) and
-- its double with elements and members, mix every scalar before numbers
-- and containers (so that every padding occurs), and repeat keys.
CREATE FUNCTION answer_value(i int, depth int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE i % 12
        WHEN 0 THEN (i::bigint * 7919 % 100000 - 50000)::text
        WHEN 1 THEN (i * 31 % 1000)::text || '.' || lpad((i % 97)::text, i % 5 + 2, '0')
        WHEN 2 THEN '-' || (i % 9 + 1) || '.' || (i % 7) || 'e' || (i % 600 - 300)
        WHEN 3 THEN '"' || repeat('s', i % 9) || '"'
        WHEN 4 THEN 'true'
        WHEN 5 THEN 'false'
        WHEN 6 THEN 'null'
        WHEN 7 THEN '"caf\u00e9 \"q\" \\ \/ \b\f\n\r\t \u0041 é ü ' || i || '"'
        WHEN 8 THEN CASE WHEN depth > 0 THEN answer_array(i, i / 12 % 70, depth - 1) ELSE '[]' END
        WHEN 9 THEN CASE WHEN depth > 0 THEN answer_object(i, i / 12 % 70, depth - 1) ELSE '{}' END
        WHEN 10 THEN repeat('9', i % 40 + 1)
        ELSE '"' || repeat('x', i % 5) || '"'
    END;
END
$$;
CREATE FUNCTION answer_array(seed int, n int, depth int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN '[' || coalesce((SELECT string_agg(answer_value((seed * 131 + k) % 1000003, depth),
                                              CASE k % 3 WHEN 0 THEN ',' WHEN 1 THEN ', ' ELSE E' ,\n\t' END
                                              ORDER BY k)
                            FROM generate_series(1, n) k), '') || ']';
END
$$;
CREATE FUNCTION answer_object(seed int, n int, depth int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    -- keys of 1 to 4 characters and more, some repeated, some not ASCII
    RETURN '{' || coalesce((SELECT string_agg(
                                '"' || CASE k % 5 WHEN 0 THEN 'é' WHEN 1 THEN 'zz' ELSE repeat('k', k % 3) END
                                    || (k * 7 % (n / 2 + 3)) || '":' || answer_value((seed * 137 + k) % 1000003, depth),
                                ',' ORDER BY k)
                            FROM generate_series(1, n) k), '') || '}';
END
$$;
CREATE TABLE answer_docs (id serial, doc text);
INSERT INTO answer_docs (doc) VALUES
  ('0'), ('-0'), ('1'), ('-1.5e300'), ('1E-400'), ('0.10'), ('9007199254740993'),
  ('123456789012345678901234567890.123456789012345678901234567890'),
  ('""'), ('"x"'), ('true'), ('false'), ('null'), (E' \n\t\r 42 \n'),
  ('[]'), ('{}'), (' [ ] '), ('{ }'), ('[[]]'), ('[{}]'), ('{"":{}}'), ('{"":1}'),
  ('{"a":1,"a":2}'), ('{"b":1,"a":2,"b":3,"a":4}'), ('{"aa":1,"b":2,"ccc":3,"d":4}'),
  ('{"\u0041":1,"A":2}'), ('{"a\"b":1,"a\\b":2}'), ('{"é":1,"z":2,"€":3,"e":4}'),
  ('[[[[[[[[[[]]]]]]]]]]'), ('{"a":{"b":{"c":{"d":{}}}}}'), ('[1,"a",[2,"b",{"c":[3,null]}]]'),
  (E' \n\t\r{ "x" : [ 1 , 2 ] , "y" : { } } \n'),
  ('"\"\\\/\b\f\n\r\t\u0001\u001f\u007f\u00e9\u20ac\ud83d\ude00"'),
  ('["€", "日本", "😀", "\u65e5", "é"]'),
  ('"' || repeat('long ', 20000) || '"'),
  ('[' || repeat('"' || repeat('y', 300) || '",', 200) || '0]'),
  ('{"n":[0,-0,0.0,1.0,1e0,1E+2,1e-2,-1.25e-7,12345678901234567890123456789,0.000000000000000000001]}');
INSERT INTO answer_docs (doc)
  SELECT CASE WHEN o THEN answer_object(s::int, n, d) ELSE answer_array(s::int, n, d) END
    FROM unnest(ARRAY[0, 1, 2, 3, 31, 32, 33, 34, 63, 64, 65, 66, 100, 129, 200]) WITH ORDINALITY AS a(n, s),
         generate_series(0, 2) AS d, unnest(ARRAY[false, true]) AS o;

-- Byte for byte what jsonb_in makes of the same text: equal, the same
-- text, the same hashes, the same binary send, the same raw bytes.
SELECT count(*) AS documents,
       count(*) FILTER (WHERE r = j) AS equal,
       count(*) FILTER (WHERE r::text = j::text) AS same_text,
       count(*) FILTER (WHERE jsonb_hash(r) = jsonb_hash(j)
                          AND jsonb_hash_extended(r, 7) = jsonb_hash_extended(j, 7)) AS same_hashes,
       count(*) FILTER (WHERE jsonb_send(r) = jsonb_send(j)) AS same_send,
       count(*) FILTER (WHERE r::bytea = j::bytea) AS same_bytes
  FROM (SELECT echo(doc) AS r, doc::jsonb AS j FROM answer_docs) t;
-- what the documents hold
SELECT count(*) FILTER (WHERE jsonb_typeof(j) NOT IN ('array', 'object')) AS scalars,
       count(*) FILTER (WHERE j::text ~ '\[\]|\{\}') AS with_empty_containers,
       count(*) FILTER (WHERE jsonb_typeof(j) = 'object' AND
                              (SELECT count(*) FROM json_object_keys(doc::json)) >
                              (SELECT count(*) FROM jsonb_object_keys(j))) AS with_duplicate_keys,
       count(*) FILTER (WHERE jsonb_typeof(j) = 'array' AND jsonb_array_length(j) > 64) AS arrays_over_64,
       count(*) FILTER (WHERE jsonb_typeof(j) = 'object' AND
                              (SELECT count(*) FROM jsonb_object_keys(j)) > 64) AS objects_over_64,
       count(*) FILTER (WHERE octet_length(doc) > 100000) AS over_100kB
  FROM (SELECT doc, doc::jsonb AS j FROM answer_docs) t;

-- Numbers are exactly as written (numeric, never a double).
SELECT answer(4) = '{"a":0.1,"b":9007199254740993,"c":-1.5e300,"d":1e-400,
                     "e":123456789012345678901234567890.000000000000000000001,
                     "f":-0,"g":1E+2,"h":0.10}'::jsonb AS exact,
       answer(4)->>'a' AS a, answer(4)->>'b' AS b, answer(4)->>'h' AS h,
       (answer(4)->>'d')::numeric = 1e-400 AS tiny, (answer(4)->>'c')::numeric = -1.5e300 AS huge;

-- Text in and outside Latin-1, escaped or not, and a surrogate pair.
SELECT answer(5)->>'latin' AS latin, answer(5)->>'escaped' AS escaped,
       answer(5)->>'raw' AS raw, answer(5)->>'pair' AS pair, answer(5)->>'euro' AS euro;

-- Answers that cannot be stored: 58000 (never a cut string, a changed
-- number or bytes that are not text).
SELECT n, try(format('SELECT answer(%s)', n)) AS result
  FROM unnest(ARRAY[1, 2, 3, 6, 7, 8, 13, 14, 15]) AS n;
-- exactly as deep as allowed is fine
SELECT jsonb_path_query_first(answer(12), 'strict $.size()') AS depth_1000_ok;
-- the DETAIL says where, and shows no raw byte
\set VERBOSITY default
SELECT answer(1);
SELECT answer(2);
SELECT answer(3);
SELECT answer(6);
SELECT answer(7);
SELECT answer(8);
SELECT answer(14);
SELECT * FROM liveid.available_operators('FAULT-NOTJSON');
\set VERBOSITY terse
-- an empty answer is NULL; blanks alone are not JSON
SELECT echo('') IS NULL AS empty_is_null;
SELECT try($$SELECT echo(' ')$$);
SELECT try($$SELECT echo('[1,')$$);
SELECT try($$SELECT echo('{"a" 1}')$$);

-- The service's error text of a failed answer: at most 300 characters,
-- cut with "...", control characters as \xNN, never raw bytes.
SELECT length(d) <= 300 AS short, d LIKE '%...' AS cut, d !~ '[\x01-\x1f\x7f]' AS no_control,
       left(d, 40) AS begins
  FROM answer_detail($$SELECT * FROM liveid.available_operators('FAULT-ANSWER-9')$$) AS d;
SELECT answer_detail($$SELECT * FROM liveid.available_operators('FAULT-ANSWER-16')$$) AS anything;

-- The utility functions read members through typed accessors.
SELECT * FROM liveid.available_operators('FAULT-ANSWER-17');
SELECT * FROM liveid.available_languages('FAULT-ANSWER-17');
SELECT period_start, average_wait, calls
  FROM liveid.daily_waiting_times('FAULT-ANSWER-17') LIMIT 1;
\set VERBOSITY default
SELECT * FROM liveid.available_operators('FAULT-ANSWER-18');
SELECT * FROM liveid.available_languages('FAULT-ANSWER-18');
SELECT * FROM liveid.daily_waiting_times('FAULT-ANSWER-18');
\set VERBOSITY terse

-- Memory: the backend's peak resident size grows by less than 10 times
-- the answer (about 7.9 MB) while it is parsed, in a fresh connection for
-- each: [0,0,...], {"b":[0,...],"a":[0,...]}, ["ab",...], and a flat
-- object of 600,000 keys in reverse order.  Only booleans are shown.  (The
-- sanitized run of scripts/test.sh sets liveid_test.memory_factor higher:
-- AddressSanitizer's shadow memory and quarantine count in the RSS too.)
CREATE FUNCTION answer_peak_kb() RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint
$$;
\c
SELECT answer_peak_kb() AS peak \gset
SELECT jsonb_array_length(liveid.request('POST', '/api/service/getAvailableOperators',
                                         '{"orgCode": "FAULT-ZEROS-7900000"}')) = 3949999 AS zeros;
SELECT answer_peak_kb() - :peak < current_setting('liveid_test.memory_factor')::int * 7900000 / 1024 AS zeros_within_bound;
\c
SELECT answer_peak_kb() AS peak \gset
SELECT jsonb_array_length(answer(19)->'a') > 1900000 AS halves;
SELECT answer_peak_kb() - :peak < current_setting('liveid_test.memory_factor')::int * 7900000 / 1024 AS halves_within_bound;
\c
SELECT answer_peak_kb() AS peak \gset
SELECT jsonb_array_length(answer(20)) > 1500000 AS strings;
SELECT answer_peak_kb() - :peak < current_setting('liveid_test.memory_factor')::int * 7900000 / 1024 AS strings_within_bound;
\c
SELECT answer_peak_kb() AS peak \gset
SELECT answer(21) ? 'k0658333' AS flat_object;
SELECT answer_peak_kb() - :peak < current_setting('liveid_test.memory_factor')::int * 7900000 / 1024 AS flat_object_within_bound;

-- A LATIN1 database: answers are converted; a character LATIN1 lacks keeps
-- PostgreSQL's own error, a \u escape of one is 58000.
SELECT current_database() AS regression_db \gset
CREATE DATABASE answers_latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C';
\c answers_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION liveid;
CREATE EXTENSION dblink;
CREATE FUNCTION answer(n int) RETURNS jsonb LANGUAGE sql AS $$
  SELECT liveid.request('POST', '/api/service/getAvailableOperators',
                        jsonb_build_object('orgCode', 'FAULT-ANSWER-' || n))
$$;
CREATE FUNCTION echo(doc text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT liveid.request('POST', '/api/service/getAvailableOperators',
                        jsonb_build_object('orgCode', 'FAULT-ANSWER-0', 'answer', doc))
$$;
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END
$$;
SELECT answer(10) = '{"latin": "caffè crème ½", "escaped": "café ½"}' AS converted,
       answer(10)->>'latin' AS latin, octet_length(answer(10)->>'latin') AS latin1_bytes;
SELECT n, try(format('SELECT answer(%s)', n)) AS result FROM unnest(ARRAY[5, 11]) AS n;
\set VERBOSITY default
SELECT answer(11);
-- a failed answer's error text too: what LATIN1 lacks shows as an escape
SELECT * FROM liveid.available_operators('FAULT-ANSWER-16');
\set VERBOSITY terse
-- the same documents (those LATIN1 can hold), byte for byte as jsonb_in
-- makes them here: keys are sorted by their LATIN1 bytes
CREATE CAST (jsonb AS bytea) WITHOUT FUNCTION;
SELECT count(*) AS documents,
       count(*) FILTER (WHERE r = j AND r::text = j::text AND jsonb_hash(r) = jsonb_hash(j)
                          AND jsonb_send(r) = jsonb_send(j) AND r::bytea = j::bytea) AS identical
  FROM (SELECT echo(doc) AS r, doc::jsonb AS j
          FROM dblink(format('dbname=%s host=%s port=%s', :'regression_db',
                             current_setting('unix_socket_directories'), current_setting('port')),
                      $$SELECT doc FROM answer_docs WHERE doc::jsonb::text !~ '[^\x01-\u00ff]'$$) AS t(doc text)) t;
\c :regression_db
DROP DATABASE answers_latin1;

DROP TABLE answer_docs;
DROP CAST (jsonb AS bytea);
DROP FUNCTION answer(int), echo(text), answer_detail(text), answer_value(int, int),
  answer_array(int, int, int), answer_object(int, int, int), answer_peak_kb();
