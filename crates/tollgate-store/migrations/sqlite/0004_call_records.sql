-- Tollgate store schema, version 4: call records in PRODUCT.md's shape.
--
-- A 401 is recorded with no consumer (and no key), and a body that could not be parsed
-- with no model, so those columns become nullable. SQLite cannot drop NOT NULL: the
-- table is rebuilt and the rows copied. Rows from before keep what they had: the door
-- (unknown then) reads `openai`, `ttfb_ms` becomes `ttft_ms`, `cached` a cache `hit`.
-- JSON columns (attempts, steps) are TEXT, booleans BIGINT 0/1.
CREATE TABLE calls_new (
    request_id          TEXT   NOT NULL PRIMARY KEY,
    at                  BIGINT NOT NULL,
    consumer            TEXT,
    team                TEXT,
    key_id              TEXT,
    door                TEXT   NOT NULL,
    model               TEXT,
    provider            TEXT,
    target_model        TEXT,
    attempts            TEXT   NOT NULL,
    status              BIGINT NOT NULL,
    error_code          TEXT,
    latency_ms          BIGINT NOT NULL,
    upstream_latency_ms BIGINT,
    ttft_ms             BIGINT,
    input_tokens        BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    cache_read_tokens   BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    cost_micros         BIGINT NOT NULL,
    reserved_micros     BIGINT NOT NULL,
    cache               TEXT,
    stream              BIGINT NOT NULL,
    client_ip           TEXT,
    user_agent          TEXT,
    steps               TEXT   NOT NULL
);
INSERT INTO calls_new (
    request_id, at, consumer, team, key_id, door, model, provider, target_model, attempts,
    status, error_code, latency_ms, upstream_latency_ms, ttft_ms, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros,
    reserved_micros, cache, stream, client_ip, user_agent, steps
)
SELECT request_id, at, consumer, team, key_id, 'openai', model, provider, NULL, '[]',
       status, error_code, latency_ms, NULL, ttfb_ms, input_tokens,
       output_tokens, 0, 0, 0, cost_micros,
       0, CASE WHEN cached <> 0 THEN 'hit' ELSE NULL END, 0, NULL, NULL, '[]'
FROM calls;
DROP TABLE calls;
ALTER TABLE calls_new RENAME TO calls;
CREATE INDEX calls_by_at ON calls (at);
CREATE INDEX calls_by_consumer ON calls (consumer, at);
CREATE INDEX calls_by_team ON calls (team, at);
CREATE INDEX calls_by_key ON calls (key_id, at);
CREATE INDEX calls_by_model ON calls (model, at);
