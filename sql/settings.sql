-- Settings: defaults, units, who may set them; the key is never shown.
SELECT name, boot_val, unit, context
  FROM pg_settings WHERE name LIKE 'liveid.%' ORDER BY name;

-- liveid.api_key is set (postgresql.conf) but shown to nobody, not even
-- a superuser, and not listed in pg_settings.
SHOW liveid.api_key;
SELECT current_setting('liveid.api_key');
SELECT count(*) FROM pg_settings WHERE name = 'liveid.api_key';
SELECT count(*) FROM pg_settings
 WHERE setting LIKE '%' || current_setting('liveid_test.api_key') || '%'
    OR reset_val LIKE '%' || current_setting('liveid_test.api_key') || '%';

-- Units.
SET liveid.timeout = '5s';
SHOW liveid.timeout;
SET liveid.connect_timeout = 1500;
SHOW liveid.connect_timeout;
SET liveid.max_response_size = '1MB';
SHOW liveid.max_response_size;
RESET liveid.timeout;
RESET liveid.connect_timeout;
RESET liveid.max_response_size;

-- The prefix is reserved; liveid.url must be a plain http(s) base URL.
SET liveid.no_such_setting = 1;
SET liveid.url = 'ftp://example.com';
SET liveid.url = 'https://';
SET liveid.url = 'https://example.com/?x=1';
SET liveid.url = 'https://user:pw@example.com';
SET liveid.timeout = 0;

-- A SET takes effect on the very next call.
SELECT organization, available_operators >= 0 AS answered
  FROM liveid.available_operators('DEMO');
SET liveid.api_key = 'not-the-key';
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
RESET liveid.api_key;
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
SET liveid.timeout = '200ms';
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-DELAY-1000')$$);
RESET liveid.timeout;
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-DELAY-300')$$);
SET liveid.max_response_size = '2kB';
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-BIG-4096')$$);
SELECT try($$SELECT * FROM liveid.available_operators('FAULT-BIG-1024')$$);
RESET liveid.max_response_size;

-- A key set in a transaction is rolled back with it, and still hidden.
BEGIN;
SET LOCAL liveid.api_key = 'another-key';
SHOW liveid.api_key;
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
ROLLBACK;
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
-- An empty key shows as empty; with no other key for DEMO the call is
-- refused (22023) before anything is sent.
SET liveid.api_key = '';
SHOW liveid.api_key;
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
RESET liveid.api_key;
