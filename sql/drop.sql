-- DROP EXTENSION leaves nothing behind but its roles.
DROP FUNCTION public.try(text);
DROP FUNCTION public.liveid_test_requests_settled();
DROP FUNCTION public.liveid_test_stat(text);
DROP EXTENSION liveid;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'liveid';
SELECT count(*) AS functions FROM pg_proc WHERE proname LIKE 'liveid%'
   OR pronamespace::regnamespace::text = 'liveid';
SELECT count(*) AS objects FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE e.extname = 'liveid';
SELECT rolname FROM pg_roles WHERE rolname LIKE 'liveid%' ORDER BY 1;
-- and it can be created again, keeping the roles as they were
CREATE EXTENSION liveid;
SELECT rolname FROM pg_roles WHERE rolname LIKE 'liveid%' ORDER BY 1;
DROP EXTENSION liveid;
