-- \df+ and \d+ explain everything: every object of the extension, and
-- every column of its tables and views, has a comment.

-- the kinds of object the extension has, so that "none missing" below
-- is not said of nothing
SELECT DISTINCT d.classid::regclass::text AS catalog
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND e.extname = 'liveid'
 ORDER BY 1;

-- the objects and columns without a comment: none
WITH members AS (
    SELECT d.classid, d.objid
      FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND e.extname = 'liveid'
)
SELECT pg_describe_object(m.classid, m.objid, 0) AS without_comment
  FROM members m
 WHERE NOT EXISTS (SELECT FROM pg_description c
                    WHERE c.classoid = m.classid AND c.objoid = m.objid
                      AND c.objsubid = 0)
UNION ALL
SELECT pg_describe_object(m.classid, m.objid, a.attnum)
  FROM members m
  JOIN pg_class r ON m.classid = 'pg_class'::regclass AND r.oid = m.objid
  JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
                       AND r.relkind <> 'S'  -- a sequence's columns are PostgreSQL's
 WHERE col_description(r.oid, a.attnum) IS NULL
 ORDER BY 1;

-- two of them, as \dn+ and \df+ show them
SELECT obj_description('liveid'::regnamespace, 'pg_namespace') AS schema;
SELECT obj_description('liveid.service_start'::regproc, 'pg_proc') AS service_start;
