-- Percentiles kept on every rollup row: the histogram bucket index of the row's
-- latency p50/p95/p99 and TTFT p50 (NULL without data), maintained by the rollup
-- upsert as rows merge. A percentile time series then reads one narrow column per
-- point instead of 27 histogram columns. Existing rows are filled in here.
-- Also the gateway's overhead (latency minus the upstream's time to first byte) of
-- whole answers, as a sum and a count; rows written before this start at zero.
ALTER TABLE rollup_minute ADD COLUMN overhead_ms_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_minute ADD COLUMN overhead_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_minute ADD COLUMN lat_p50 BIGINT;
ALTER TABLE rollup_minute ADD COLUMN lat_p95 BIGINT;
ALTER TABLE rollup_minute ADD COLUMN lat_p99 BIGINT;
ALTER TABLE rollup_minute ADD COLUMN ttft_p50 BIGINT;
UPDATE rollup_minute SET
    lat_p50 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 50 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 50 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 50 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 50 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 50 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 50 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 50 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 50 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 50 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 50 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 50 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 50 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 50 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 50 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 50 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 50 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 50 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 50 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 50 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 50 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 50 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 50 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 50 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 50 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 50 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 50 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    lat_p95 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 95 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 95 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 95 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 95 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 95 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 95 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 95 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 95 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 95 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 95 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 95 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 95 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 95 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 95 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 95 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 95 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 95 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 95 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 95 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 95 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 95 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 95 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 95 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 95 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 95 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 95 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    lat_p99 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 99 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 99 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 99 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 99 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 99 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 99 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 99 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 99 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 99 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 99 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 99 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 99 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 99 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 99 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 99 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 99 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 99 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 99 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 99 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 99 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 99 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 99 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 99 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 99 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 99 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 99 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    ttft_p50 = CAST(CASE WHEN ttft_count <= 0 THEN NULL
        WHEN ttft_00 >= ((ttft_count) * 50 + 99) / 100 THEN 0
        WHEN ttft_00 + ttft_01 >= ((ttft_count) * 50 + 99) / 100 THEN 1
        WHEN ttft_00 + ttft_01 + ttft_02 >= ((ttft_count) * 50 + 99) / 100 THEN 2
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 >= ((ttft_count) * 50 + 99) / 100 THEN 3
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 >= ((ttft_count) * 50 + 99) / 100 THEN 4
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 >= ((ttft_count) * 50 + 99) / 100 THEN 5
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 >= ((ttft_count) * 50 + 99) / 100 THEN 6
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 >= ((ttft_count) * 50 + 99) / 100 THEN 7
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 >= ((ttft_count) * 50 + 99) / 100 THEN 8
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 >= ((ttft_count) * 50 + 99) / 100 THEN 9
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 >= ((ttft_count) * 50 + 99) / 100 THEN 10
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 >= ((ttft_count) * 50 + 99) / 100 THEN 11
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 >= ((ttft_count) * 50 + 99) / 100 THEN 12
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 >= ((ttft_count) * 50 + 99) / 100 THEN 13
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 >= ((ttft_count) * 50 + 99) / 100 THEN 14
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 >= ((ttft_count) * 50 + 99) / 100 THEN 15
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 >= ((ttft_count) * 50 + 99) / 100 THEN 16
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 >= ((ttft_count) * 50 + 99) / 100 THEN 17
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 >= ((ttft_count) * 50 + 99) / 100 THEN 18
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 >= ((ttft_count) * 50 + 99) / 100 THEN 19
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 >= ((ttft_count) * 50 + 99) / 100 THEN 20
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 >= ((ttft_count) * 50 + 99) / 100 THEN 21
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 >= ((ttft_count) * 50 + 99) / 100 THEN 22
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 >= ((ttft_count) * 50 + 99) / 100 THEN 23
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 + ttft_24 >= ((ttft_count) * 50 + 99) / 100 THEN 24
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 + ttft_24 + ttft_25 >= ((ttft_count) * 50 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT);

ALTER TABLE rollup_hour ADD COLUMN overhead_ms_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_hour ADD COLUMN overhead_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_hour ADD COLUMN lat_p50 BIGINT;
ALTER TABLE rollup_hour ADD COLUMN lat_p95 BIGINT;
ALTER TABLE rollup_hour ADD COLUMN lat_p99 BIGINT;
ALTER TABLE rollup_hour ADD COLUMN ttft_p50 BIGINT;
UPDATE rollup_hour SET
    lat_p50 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 50 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 50 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 50 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 50 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 50 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 50 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 50 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 50 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 50 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 50 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 50 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 50 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 50 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 50 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 50 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 50 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 50 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 50 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 50 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 50 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 50 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 50 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 50 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 50 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 50 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 50 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    lat_p95 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 95 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 95 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 95 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 95 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 95 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 95 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 95 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 95 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 95 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 95 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 95 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 95 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 95 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 95 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 95 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 95 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 95 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 95 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 95 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 95 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 95 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 95 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 95 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 95 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 95 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 95 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    lat_p99 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 99 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 99 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 99 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 99 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 99 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 99 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 99 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 99 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 99 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 99 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 99 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 99 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 99 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 99 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 99 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 99 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 99 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 99 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 99 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 99 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 99 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 99 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 99 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 99 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 99 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 99 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    ttft_p50 = CAST(CASE WHEN ttft_count <= 0 THEN NULL
        WHEN ttft_00 >= ((ttft_count) * 50 + 99) / 100 THEN 0
        WHEN ttft_00 + ttft_01 >= ((ttft_count) * 50 + 99) / 100 THEN 1
        WHEN ttft_00 + ttft_01 + ttft_02 >= ((ttft_count) * 50 + 99) / 100 THEN 2
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 >= ((ttft_count) * 50 + 99) / 100 THEN 3
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 >= ((ttft_count) * 50 + 99) / 100 THEN 4
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 >= ((ttft_count) * 50 + 99) / 100 THEN 5
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 >= ((ttft_count) * 50 + 99) / 100 THEN 6
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 >= ((ttft_count) * 50 + 99) / 100 THEN 7
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 >= ((ttft_count) * 50 + 99) / 100 THEN 8
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 >= ((ttft_count) * 50 + 99) / 100 THEN 9
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 >= ((ttft_count) * 50 + 99) / 100 THEN 10
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 >= ((ttft_count) * 50 + 99) / 100 THEN 11
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 >= ((ttft_count) * 50 + 99) / 100 THEN 12
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 >= ((ttft_count) * 50 + 99) / 100 THEN 13
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 >= ((ttft_count) * 50 + 99) / 100 THEN 14
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 >= ((ttft_count) * 50 + 99) / 100 THEN 15
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 >= ((ttft_count) * 50 + 99) / 100 THEN 16
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 >= ((ttft_count) * 50 + 99) / 100 THEN 17
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 >= ((ttft_count) * 50 + 99) / 100 THEN 18
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 >= ((ttft_count) * 50 + 99) / 100 THEN 19
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 >= ((ttft_count) * 50 + 99) / 100 THEN 20
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 >= ((ttft_count) * 50 + 99) / 100 THEN 21
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 >= ((ttft_count) * 50 + 99) / 100 THEN 22
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 >= ((ttft_count) * 50 + 99) / 100 THEN 23
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 + ttft_24 >= ((ttft_count) * 50 + 99) / 100 THEN 24
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 + ttft_24 + ttft_25 >= ((ttft_count) * 50 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT);

ALTER TABLE rollup_day ADD COLUMN overhead_ms_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_day ADD COLUMN overhead_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_day ADD COLUMN lat_p50 BIGINT;
ALTER TABLE rollup_day ADD COLUMN lat_p95 BIGINT;
ALTER TABLE rollup_day ADD COLUMN lat_p99 BIGINT;
ALTER TABLE rollup_day ADD COLUMN ttft_p50 BIGINT;
UPDATE rollup_day SET
    lat_p50 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 50 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 50 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 50 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 50 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 50 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 50 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 50 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 50 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 50 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 50 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 50 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 50 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 50 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 50 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 50 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 50 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 50 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 50 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 50 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 50 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 50 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 50 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 50 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 50 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 50 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 50 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    lat_p95 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 95 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 95 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 95 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 95 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 95 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 95 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 95 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 95 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 95 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 95 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 95 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 95 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 95 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 95 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 95 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 95 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 95 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 95 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 95 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 95 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 95 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 95 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 95 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 95 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 95 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 95 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    lat_p99 = CAST(CASE WHEN requests <= 0 THEN NULL
        WHEN lat_00 >= ((requests) * 99 + 99) / 100 THEN 0
        WHEN lat_00 + lat_01 >= ((requests) * 99 + 99) / 100 THEN 1
        WHEN lat_00 + lat_01 + lat_02 >= ((requests) * 99 + 99) / 100 THEN 2
        WHEN lat_00 + lat_01 + lat_02 + lat_03 >= ((requests) * 99 + 99) / 100 THEN 3
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 >= ((requests) * 99 + 99) / 100 THEN 4
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 >= ((requests) * 99 + 99) / 100 THEN 5
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 >= ((requests) * 99 + 99) / 100 THEN 6
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 >= ((requests) * 99 + 99) / 100 THEN 7
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 >= ((requests) * 99 + 99) / 100 THEN 8
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 >= ((requests) * 99 + 99) / 100 THEN 9
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 >= ((requests) * 99 + 99) / 100 THEN 10
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 >= ((requests) * 99 + 99) / 100 THEN 11
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 >= ((requests) * 99 + 99) / 100 THEN 12
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 >= ((requests) * 99 + 99) / 100 THEN 13
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 >= ((requests) * 99 + 99) / 100 THEN 14
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 >= ((requests) * 99 + 99) / 100 THEN 15
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 >= ((requests) * 99 + 99) / 100 THEN 16
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 >= ((requests) * 99 + 99) / 100 THEN 17
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 >= ((requests) * 99 + 99) / 100 THEN 18
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 >= ((requests) * 99 + 99) / 100 THEN 19
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 >= ((requests) * 99 + 99) / 100 THEN 20
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 >= ((requests) * 99 + 99) / 100 THEN 21
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 >= ((requests) * 99 + 99) / 100 THEN 22
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 >= ((requests) * 99 + 99) / 100 THEN 23
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 >= ((requests) * 99 + 99) / 100 THEN 24
        WHEN lat_00 + lat_01 + lat_02 + lat_03 + lat_04 + lat_05 + lat_06 + lat_07 + lat_08 + lat_09 + lat_10 + lat_11 + lat_12 + lat_13 + lat_14 + lat_15 + lat_16 + lat_17 + lat_18 + lat_19 + lat_20 + lat_21 + lat_22 + lat_23 + lat_24 + lat_25 >= ((requests) * 99 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT),
    ttft_p50 = CAST(CASE WHEN ttft_count <= 0 THEN NULL
        WHEN ttft_00 >= ((ttft_count) * 50 + 99) / 100 THEN 0
        WHEN ttft_00 + ttft_01 >= ((ttft_count) * 50 + 99) / 100 THEN 1
        WHEN ttft_00 + ttft_01 + ttft_02 >= ((ttft_count) * 50 + 99) / 100 THEN 2
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 >= ((ttft_count) * 50 + 99) / 100 THEN 3
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 >= ((ttft_count) * 50 + 99) / 100 THEN 4
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 >= ((ttft_count) * 50 + 99) / 100 THEN 5
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 >= ((ttft_count) * 50 + 99) / 100 THEN 6
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 >= ((ttft_count) * 50 + 99) / 100 THEN 7
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 >= ((ttft_count) * 50 + 99) / 100 THEN 8
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 >= ((ttft_count) * 50 + 99) / 100 THEN 9
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 >= ((ttft_count) * 50 + 99) / 100 THEN 10
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 >= ((ttft_count) * 50 + 99) / 100 THEN 11
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 >= ((ttft_count) * 50 + 99) / 100 THEN 12
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 >= ((ttft_count) * 50 + 99) / 100 THEN 13
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 >= ((ttft_count) * 50 + 99) / 100 THEN 14
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 >= ((ttft_count) * 50 + 99) / 100 THEN 15
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 >= ((ttft_count) * 50 + 99) / 100 THEN 16
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 >= ((ttft_count) * 50 + 99) / 100 THEN 17
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 >= ((ttft_count) * 50 + 99) / 100 THEN 18
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 >= ((ttft_count) * 50 + 99) / 100 THEN 19
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 >= ((ttft_count) * 50 + 99) / 100 THEN 20
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 >= ((ttft_count) * 50 + 99) / 100 THEN 21
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 >= ((ttft_count) * 50 + 99) / 100 THEN 22
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 >= ((ttft_count) * 50 + 99) / 100 THEN 23
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 + ttft_24 >= ((ttft_count) * 50 + 99) / 100 THEN 24
        WHEN ttft_00 + ttft_01 + ttft_02 + ttft_03 + ttft_04 + ttft_05 + ttft_06 + ttft_07 + ttft_08 + ttft_09 + ttft_10 + ttft_11 + ttft_12 + ttft_13 + ttft_14 + ttft_15 + ttft_16 + ttft_17 + ttft_18 + ttft_19 + ttft_20 + ttft_21 + ttft_22 + ttft_23 + ttft_24 + ttft_25 >= ((ttft_count) * 50 + 99) / 100 THEN 25
        ELSE 26 END AS BIGINT);

