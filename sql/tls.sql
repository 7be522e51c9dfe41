-- HTTPS: the simulator with a test CA made at test time.  Without the CA
-- the certificate cannot be verified (08006); with liveid.ca_file it works.
SELECT set_config('liveid.url', current_setting('liveid_test.tls_url'), false) IS NOT NULL AS https;
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
SELECT set_config('liveid.ca_file', current_setting('liveid_test.ca_file'), false) IS NOT NULL AS ca_set;
SELECT organization, available_operators >= 0 AS ok FROM liveid.available_operators('DEMO');
SELECT count(*) FROM liveid.available_languages('DEMO');
-- a CA file that is not there
SET liveid.ca_file = '/nonexistent/ca.pem';
SELECT try($$SELECT * FROM liveid.available_operators('DEMO')$$);
RESET liveid.ca_file;
RESET liveid.url;
SELECT organization FROM liveid.available_operators('DEMO');
