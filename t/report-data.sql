-- Realistic data for t/report.t and docs/report.png: written by hand as the
-- superuser, as liveid.collect_metrics() and service_start would have.
-- a week of snapshots every 10 minutes, two queues, office hours busier
INSERT INTO liveid.metrics (taken_at, organization, process, available_operators, waiting, average_wait, calls)
SELECT t, 'DEMO', p.process,
       CASE WHEN p.process IS NULL THEN 1 + round(5 * l.load)::integer END,
       CASE WHEN p.process IS NOT NULL THEN round(p.share * (9 * l.load + l.noise))::integer END,
       CASE WHEN p.process IS NULL THEN make_interval(secs => round(45 + 720 * l.load * l.load + 30 * l.noise)) END,
       CASE WHEN p.process IS NULL THEN round(40 * l.load)::integer END
  FROM generate_series(date_trunc('hour', now()) - interval '7 days', now(), interval '10 minutes') t
 CROSS JOIN LATERAL (SELECT greatest(0, sin(pi() * (extract(hour FROM t) + extract(minute FROM t) / 60 - 8) / 11))
                            * CASE WHEN extract(isodow FROM t) > 5 THEN 0.3 ELSE 1 END AS load,
                            (extract(epoch FROM t)::bigint / 600 % 5) / 4.0 AS noise) l
 CROSS JOIN (VALUES (NULL::uuid, NULL::numeric),
                    ('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 0.7),
                    ('6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b02', 0.3)) p(process, share);
-- and the calls of that week, ending as calls do
INSERT INTO liveid.calls (uid, organization, process, launch_url, created_at, created_by, status, close_status)
SELECT 'demo-' || i, 'DEMO', '6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01', 'x',
       date_trunc('day', now()) - (i % 7) * interval '1 day' + interval '8 hours' + (i * 37 % 600) * interval '1 minute',
       current_user,
       CASE WHEN i % 20 < 13 THEN 'closed' WHEN i % 20 < 15 THEN 'expired' WHEN i % 20 = 15 THEN 'cancelled'
            WHEN i % 20 = 16 THEN 'rejected' ELSE 'closed' END,
       CASE WHEN i % 20 < 13 THEN 'N' WHEN i % 20 = 17 THEN 'S' WHEN i % 20 IN (18, 19) THEN 'A' END
  FROM generate_series(1, 150) i
 WHERE date_trunc('day', now()) - (i % 7) * interval '1 day' + interval '8 hours' + (i * 37 % 600) * interval '1 minute' < now();
