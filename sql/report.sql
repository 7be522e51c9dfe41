-- The reports: waiting_share, metrics_busiest_hours, calls_daily and
-- report_html, over snapshots and ledger rows written here by hand (as
-- the superuser) for a fixed past period.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET liveid.organization = '';

-- DEMO: four snapshots on Monday 2025-03-03 and one a week later, each an
-- organization row and two queues; a hostile organization code with one
-- snapshot; LONG spans 45 days, so its report goes by day, and OLD, queues
-- only, 14 months, so by week.
INSERT INTO liveid.metrics (taken_at, organization, process, available_operators, waiting, average_wait, calls) VALUES
  ('2025-03-03 09:00+00', 'DEMO', NULL, 3, NULL, '2 minutes', 10),
  ('2025-03-03 09:00+00', 'DEMO', '00000000-0000-0000-0000-0000000000a1', NULL, 1, NULL, NULL),
  ('2025-03-03 09:00+00', 'DEMO', '00000000-0000-0000-0000-0000000000a2', NULL, 2, NULL, NULL),
  ('2025-03-03 09:30+00', 'DEMO', NULL, 2, NULL, '6 minutes', 12),
  ('2025-03-03 09:30+00', 'DEMO', '00000000-0000-0000-0000-0000000000a1', NULL, 4, NULL, NULL),
  ('2025-03-03 09:30+00', 'DEMO', '00000000-0000-0000-0000-0000000000a2', NULL, 0, NULL, NULL),
  ('2025-03-03 10:00+00', 'DEMO', NULL, 4, NULL, '1 minute', 8),
  ('2025-03-03 10:00+00', 'DEMO', '00000000-0000-0000-0000-0000000000a1', NULL, 0, NULL, NULL),
  ('2025-03-03 10:00+00', 'DEMO', '00000000-0000-0000-0000-0000000000a2', NULL, 1, NULL, NULL),
  ('2025-03-03 10:30+00', 'DEMO', NULL, 4, NULL, '3 minutes', 9),
  ('2025-03-03 10:30+00', 'DEMO', '00000000-0000-0000-0000-0000000000a1', NULL, 2, NULL, NULL),
  ('2025-03-03 10:30+00', 'DEMO', '00000000-0000-0000-0000-0000000000a2', NULL, 1, NULL, NULL),
  ('2025-03-10 09:15+00', 'DEMO', NULL, 1, NULL, '10 minutes', 5),
  ('2025-03-10 09:15+00', 'DEMO', '00000000-0000-0000-0000-0000000000a1', NULL, 5, NULL, NULL),
  ('2025-03-10 09:15+00', 'DEMO', '00000000-0000-0000-0000-0000000000a2', NULL, 3, NULL, NULL),
  ('2025-03-03 09:00+00', '<script>alert(1)</script>&"', NULL, 1, NULL, '20 minutes', 4),
  ('2025-03-03 09:00+00', '<script>alert(1)</script>&"', '00000000-0000-0000-0000-0000000000b1', NULL, 7, NULL, NULL),
  ('2025-01-01 12:00+00', 'LONG', NULL, 5, NULL, '4 minutes', 3),
  ('2025-02-15 12:00+00', 'LONG', NULL, 6, NULL, '2 minutes', 3),
  ('2023-01-02 12:00+00', 'OLD', '00000000-0000-0000-0000-0000000000c1', NULL, 2, NULL, NULL),
  ('2023-06-14 12:00+00', 'OLD', '00000000-0000-0000-0000-0000000000c1', NULL, 3, NULL, NULL),
  ('2024-03-01 12:00+00', 'OLD', '00000000-0000-0000-0000-0000000000c1', NULL, 4, NULL, NULL);

-- waiting_share: DEMO's hours average 4, 2 and 10 minutes
SELECT * FROM liveid.waiting_share(interval '3 minutes', '2025-03-01 00:00+00');
SELECT * FROM liveid.waiting_share(interval '10 minutes', '2025-03-04 00:00+00');
SELECT * FROM liveid.waiting_share(interval '1 hour', '2025-03-01 00:00+00')
 WHERE organization = 'DEMO';
SELECT * FROM liveid.waiting_share(NULL);
SELECT * FROM liveid.waiting_share(interval '-1 minute');
SELECT * FROM liveid.waiting_share(interval '1 minute', NULL);

-- the busiest hours: queues summed per snapshot, then averaged
SELECT * FROM liveid.metrics_busiest_hours ORDER BY organization, isodow, hour_of_day;

-- the ledger: DEMO's calls of 2025-03-03 end every way, one of the 4th
-- was started by a user; the hostile organization has one aborted call
-- whose abort code (and its meaning) is hostile too
CREATE ROLE liveid_report_user LOGIN IN ROLE liveid_user;
INSERT INTO liveid.calls (uid, organization, process, launch_url, created_at, created_by, status, close_status) VALUES
  ('r1', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 08:00+00', 'postgres', 'closed', 'N'),
  ('r2', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 08:10+00', 'postgres', 'closed', 'N'),
  ('r3', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 08:20+00', 'postgres', 'closed', 'S'),
  ('r4', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 08:30+00', 'postgres', 'closed', 'A'),
  ('r5', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 08:40+00', 'postgres', 'closed', 'K'),
  ('r6', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 08:50+00', 'postgres', 'cancelled', NULL),
  ('r7', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 09:00+00', 'postgres', 'expired', NULL),
  ('r8', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 09:10+00', 'postgres', 'rejected', NULL),
  ('r9', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 09:20+00', 'postgres', 'waiting', NULL),
  ('r10', 'DEMO', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-03-03 23:59+00', 'postgres', 'created', NULL),
  ('r11', 'DEMO', '00000000-0000-0000-0000-0000000000a2', 'x', '2025-03-04 00:00+00', 'liveid_report_user', 'closed', 'N'),
  ('r12', '<script>alert(1)</script>&"', '00000000-0000-0000-0000-0000000000b1', 'x', '2025-03-03 09:00+00', 'postgres', 'closed', 'A');
INSERT INTO liveid.call_events (uid, ref, event, close_status, abort_code, mismatch, payload, payload_sha256)
SELECT uid, ref, 'close', 'A', '<script>alert(1)</script>&"', false, '{}', sha256(uid::bytea)
  FROM liveid.calls WHERE uid IN ('r4', 'r12');
INSERT INTO liveid.abort_codes VALUES
  ('00000000-0000-0000-0000-0000000000a1', '<script>alert(1)</script>&"', '<b>document</b> & "expired"');

SELECT * FROM liveid.calls_daily ORDER BY day, organization;
-- row-level security holds: a user counts the calls it started
SET ROLE liveid_report_user;
SELECT * FROM liveid.calls_daily ORDER BY day, organization;
RESET ROLE;

-- html_escape
SELECT liveid.html_escape('<a href="x">O''Brien & co</a>') AS escaped;
SELECT liveid.html_escape(NULL) IS NULL AS null_stays_null;

-- report_html for DEMO: a title, four charts (queue and operators as
-- polylines, waits and calls as rects: 2 days of waits, 8 + 1 stacked
-- segments of calls), the table of days, the abort code escaped, and
-- nothing that loads or runs anything
CREATE TEMP TABLE pages AS
SELECT 'demo' AS page, liveid.report_html('2025-03-01 00:00+00', 'DEMO') AS html;
INSERT INTO pages SELECT 'hostile', liveid.report_html('2025-03-01 00:00+00', '<script>alert(1)</script>&"');
INSERT INTO pages SELECT 'long', liveid.report_html('2024-12-01 00:00+00', 'LONG');
INSERT INTO pages SELECT 'old', liveid.report_html('-infinity', 'OLD');
INSERT INTO pages SELECT 'all', liveid.report_html('2024-12-01 00:00+00');
INSERT INTO pages SELECT 'empty', liveid.report_html(now() - interval '1 hour', 'DEMO');
INSERT INTO pages SELECT 'nobody', liveid.report_html('2024-12-01 00:00+00', 'NOBODY');
CREATE FUNCTION pg_temp.occurrences(h text, s text) RETURNS integer
LANGUAGE sql AS $$ SELECT (length(h) - length(replace(h, s, ''))) / length(s) $$;
SELECT page,
       substring(html FROM '<h1>.*</h1>') AS title,
       pg_temp.occurrences(html, '<svg') AS svg,
       pg_temp.occurrences(html, '<polyline') AS polyline,
       pg_temp.occurrences(html, '<circle') AS circle,
       pg_temp.occurrences(html, '<rect') AS rect,
       pg_temp.occurrences(html, '<tr>') AS table_rows,
       pg_temp.occurrences(html, 'class="empty"') AS empty_notes
  FROM pages ORDER BY page;
-- nothing external, nothing to run, nothing unescaped, in any page
SELECT page,
       html LIKE '<!DOCTYPE html>%' AS doctype,
       html LIKE '%<meta charset="utf-8">%' AS charset,
       html LIKE '%content="default-src ''none''; style-src ''unsafe-inline''"%' AS csp,
       html ~* '<script|<link|<img|<iframe|<object|<embed|https?:|url\(|javascript:' AS external,
       pg_temp.occurrences(html, '&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;') AS escaped_code,
       html LIKE '%&lt;b&gt;document&lt;/b&gt; &amp; &quot;expired&quot;%' AS escaped_meaning
  FROM pages ORDER BY page;
-- the series' values: DEMO's queue per hour (3.5, 2, 8) and operators
-- (2.5, 4, 1) over 2025-03-03 09:00 .. 2025-03-10 09:00; LONG by day,
-- OLD by ISO week
SELECT page, regexp_matches(html, '<polyline[^>]*stroke="(#[0-9a-f]+)"[^>]*points="([^"]*)"', 'g') AS series
  FROM pages WHERE page IN ('demo', 'long', 'old') ORDER BY page;
SELECT page, regexp_matches(html, '<text[^>]*>([0-9][^<]*)</text>', 'g') AS labels
  FROM pages WHERE page IN ('long', 'old') ORDER BY page;
SELECT regexp_matches(html, '<p class="empty">([^<]*)</p>', 'g') AS notes
  FROM pages WHERE page = 'old';
SELECT regexp_matches(html, '<tr><td>([^<]*)</td><td>([^<]*)</td>', 'g') AS calls_per_day
  FROM pages WHERE page = 'demo';
SELECT regexp_matches(html, '<title>([^<]*)</title>', 'g') AS waits
  FROM pages WHERE page = 'demo' ORDER BY 1;

-- organization NULL: liveid.organization, else all organizations
SET liveid.organization = 'DEMO';
SELECT liveid.report_html('2025-03-01 00:00+00') = liveid.report_html('2025-03-01 00:00+00', 'DEMO') AS default_organization;
RESET liveid.organization;
SET liveid.organization = '';

-- a user sees only its own calls in the report
SET ROLE liveid_report_user;
SELECT regexp_matches(liveid.report_html('2025-03-01 00:00+00', 'DEMO'),
                      '<tr><td>([^<]*)</td><td>([^<]*)</td>', 'g') AS my_calls_per_day;
RESET ROLE;

-- bad arguments
SELECT liveid.report_html(NULL);
SELECT liveid.report_html('infinity');
SELECT liveid.report_html(now() + interval '1 day');
SELECT liveid.report_html(now() - interval '1 day', '');

DELETE FROM liveid.abort_codes;
DELETE FROM liveid.calls;
DELETE FROM liveid.metrics;
DROP ROLE liveid_report_user;
