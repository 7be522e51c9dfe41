-- liveid.request: one authenticated call under liveid.url, and nowhere else.
SELECT liveid.request('POST', '/api/service/getQueue',
                      '{"id_process": "6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01"}') ? 'queue' AS has_queue;
SELECT liveid.request('post', '/api/service/availableLanguages', '{"orgCode": "DEMO"}') -> 'languages';
-- a query string is part of the path
SELECT try($$SELECT liveid.request('GET', '/api/v2/getAsyncRequestInfo?uId=00000000-0000-4000-8000-000000000000')$$);

-- Arguments.
SELECT try($$SELECT liveid.request(NULL, '/x')$$);
SELECT try($$SELECT liveid.request('GET', NULL)$$);
SELECT try($$SELECT liveid.request('TRACE', '/x')$$);

-- Confinement to liveid.url: every path that could name another host or
-- leave the base path is refused before anything is sent.
SELECT p AS path, try(format('SELECT liveid.request(%L, %L)', 'GET', p)) AS result
  FROM unnest(ARRAY[
    'https://evil.example/x',
    'api/service/getQueue',
    '//evil.example/x',
    '/x//y',
    '/@evil.example',
    '/x\y',
    '/../x',
    '/api/..',
    '/x y',
    E'/x\ny',
    '/:8080/x',
    '']) AS p;

-- A redirect is never followed: it is an error, and the other host never
-- sees the request.
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-REDIRECT')$$);
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-REDIRECT-307')$$);
SELECT liveid.request('GET', '/sim/stats') ->> 'redirectedHits' AS redirected_hits;

-- One connection per backend, kept alive across calls; a User-Agent that
-- names liveid, libcurl and PostgreSQL.
SELECT (liveid.request('GET', '/sim/stats') ->> 'connections')::int AS connections_before \gset
SELECT count(*) AS calls FROM generate_series(1, 20), LATERAL liveid.available_operators('DEMO');
SELECT (liveid.request('GET', '/sim/stats') ->> 'connections')::int - :connections_before AS new_connections;
SELECT liveid.request('GET', '/sim/stats') ->> 'lastUserAgent'
       ~ '^liveid/1\.0 libcurl/[0-9.]+ PostgreSQL/[0-9.]+' AS user_agent_ok;

-- Errors from the service: its own message in DETAIL.
\set VERBOSITY default
SELECT * FROM liveid.available_operators('NO-SUCH-ORG');
SELECT * FROM liveid.available_operators('ACME');
\set VERBOSITY terse
