-- Nothing for PUBLIC; utility functions for liveid_user; the rest (and
-- every setting that could weaken security) for administrators only.
SELECT p.proname, r.rolname
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'liveid'
  CROSS JOIN LATERAL aclexplode(p.proacl) a
  LEFT JOIN pg_roles r ON r.oid = a.grantee
 WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
 ORDER BY 1, 2;
SELECT count(*) AS public_grants
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'liveid',
       aclexplode(p.proacl) a
 WHERE a.grantee = 0;

CREATE ROLE liveid_test_user LOGIN;
CREATE ROLE liveid_test_nobody LOGIN;
CREATE ROLE liveid_test_reader LOGIN;
GRANT liveid_user TO liveid_test_user;
GRANT pg_read_all_settings TO liveid_test_reader;

SET ROLE liveid_test_user;
SELECT organization, available_operators >= 0 AS ok FROM liveid.available_operators('DEMO');
SELECT count(*) FROM liveid.available_languages('DEMO');
-- the key cannot be read in any way
SHOW liveid.api_key;
SELECT current_setting('liveid.api_key');
SELECT count(*) FROM pg_settings WHERE name = 'liveid.api_key';
-- the url, the key, the CA and the size cap cannot be changed
SET liveid.url = 'http://evil.example';
SELECT set_config('liveid.url', 'http://evil.example', false);
SET liveid.api_key = 'x';
SET liveid.ca_file = '/tmp/evil.pem';
SET liveid.max_response_size = '1GB';
-- but the everyday settings can
SET liveid.organization = 'DEMO';
SET liveid.timeout = '3s';
-- liveid.request is for administrators
SELECT liveid.request('GET', '/sim/stats');
RESET ROLE;

-- A member of pg_read_all_settings sees only a mask.
SET ROLE liveid_test_reader;
SHOW liveid.api_key;
SELECT count(*) FROM pg_settings
 WHERE name LIKE 'liveid.%'
   AND (setting LIKE '%' || current_setting('liveid_test.api_key') || '%'
        OR reset_val LIKE '%' || current_setting('liveid_test.api_key') || '%'
        OR boot_val LIKE '%' || current_setting('liveid_test.api_key') || '%');
RESET ROLE;

-- Without liveid_user: nothing at all.
SET ROLE liveid_test_nobody;
SELECT * FROM liveid.available_operators('DEMO');
RESET ROLE;

-- liveid_admin may call liveid.request.
GRANT liveid_admin TO liveid_test_user;
SET ROLE liveid_test_user;
SELECT liveid.request('GET', '/sim/health') ->> 'success' AS success;
RESET ROLE;

-- liveid_monitor: two aggregate views, no row of the ledger or metrics.
SELECT c.relname, a.privilege_type
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'liveid'
  CROSS JOIN LATERAL aclexplode(c.relacl) a
 WHERE a.grantee = 'liveid_monitor'::regrole
 ORDER BY 1, 2;
GRANT liveid_monitor TO liveid_test_nobody;
SET ROLE liveid_test_nobody;
SELECT count(*) FROM liveid.calls_by_status;
SELECT count(*) FROM liveid.metrics_latest;
SELECT count(*) FROM liveid.calls;
SELECT count(*) FROM liveid.metrics;
SELECT * FROM liveid.available_operators('DEMO');
RESET ROLE;

DROP ROLE liveid_test_user;
DROP ROLE liveid_test_nobody;
DROP ROLE liveid_test_reader;
