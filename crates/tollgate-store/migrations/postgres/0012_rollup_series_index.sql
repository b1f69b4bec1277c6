-- A covering index for time series (PostgreSQL only). A series reads one or two narrow
-- columns of every rollup row of a dimension in a time range: a by-consumer minute
-- series over a day is 72,000 rows. Through the primary key PostgreSQL fetches each
-- of those rows from the heap, where they lie scattered among the other dimensions'
-- rows of the same minutes (about 140 MB of pages for that series). With the columns
-- a series point reads (rollups.rs, Metric::point_columns) included here, the same
-- query is an index-only scan of about 11 MB. SQLite reads the same series fast
-- enough from its table and has no such index.
CREATE INDEX rollup_minute_series ON rollup_minute (dim, bucket, value)
    INCLUDE (requests, errors, input_tokens, output_tokens, cost_micros,
             lat_p50, lat_p95, lat_p99, ttft_p50, overhead_ms_sum, overhead_calls);
CREATE INDEX rollup_hour_series ON rollup_hour (dim, bucket, value)
    INCLUDE (requests, errors, input_tokens, output_tokens, cost_micros,
             lat_p50, lat_p95, lat_p99, ttft_p50, overhead_ms_sum, overhead_calls);
CREATE INDEX rollup_day_series ON rollup_day (dim, bucket, value)
    INCLUDE (requests, errors, input_tokens, output_tokens, cost_micros,
             lat_p50, lat_p95, lat_p99, ttft_p50, overhead_ms_sum, overhead_calls);
-- An index-only scan skips the heap only for pages the visibility map marks
-- all-visible, which vacuum does. Rollup rows are written and rewritten (every batch
-- adds to its minute, hour and day rows), so vacuum them after 2 % of a table has
-- changed rather than the default 20 %: recent buckets, the ones dashboards read
-- most, then stay index-only too, and the hour and day tables do not bloat.
ALTER TABLE rollup_minute SET (autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE rollup_hour SET (autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE rollup_day SET (autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
