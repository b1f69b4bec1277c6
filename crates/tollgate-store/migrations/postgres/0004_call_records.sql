-- Tollgate store schema, version 4: call records in PRODUCT.md's shape.
--
-- A 401 is recorded with no consumer (and no key), and a body that could not be parsed
-- with no model, so those columns become nullable. The SQLite migration rebuilds the
-- table (it cannot drop NOT NULL); here the columns are altered in place, to the same
-- names and types. Rows from before keep what they had: the door (unknown then) reads
-- `openai`, `ttfb_ms` becomes `ttft_ms`, `cached` a cache `hit`. JSON columns
-- (attempts, steps) are TEXT, booleans BIGINT 0/1.
ALTER TABLE calls ALTER COLUMN consumer DROP NOT NULL;
ALTER TABLE calls ALTER COLUMN key_id DROP NOT NULL;
ALTER TABLE calls ALTER COLUMN model DROP NOT NULL;
ALTER TABLE calls RENAME COLUMN ttfb_ms TO ttft_ms;
ALTER TABLE calls ADD COLUMN door TEXT NOT NULL DEFAULT 'openai';
ALTER TABLE calls ADD COLUMN target_model TEXT;
ALTER TABLE calls ADD COLUMN attempts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE calls ADD COLUMN upstream_latency_ms BIGINT;
ALTER TABLE calls ADD COLUMN cache_read_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN reserved_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN cache TEXT;
ALTER TABLE calls ADD COLUMN stream BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN client_ip TEXT;
ALTER TABLE calls ADD COLUMN user_agent TEXT;
ALTER TABLE calls ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';
UPDATE calls SET cache = 'hit' WHERE cached <> 0;
ALTER TABLE calls DROP COLUMN cached;
-- Defaults only served the rows above; every insert names every column.
ALTER TABLE calls ALTER COLUMN door DROP DEFAULT;
ALTER TABLE calls ALTER COLUMN attempts DROP DEFAULT;
ALTER TABLE calls ALTER COLUMN cache_read_tokens DROP DEFAULT;
ALTER TABLE calls ALTER COLUMN cache_write_tokens DROP DEFAULT;
ALTER TABLE calls ALTER COLUMN reasoning_tokens DROP DEFAULT;
ALTER TABLE calls ALTER COLUMN reserved_micros DROP DEFAULT;
ALTER TABLE calls ALTER COLUMN stream DROP DEFAULT;
ALTER TABLE calls ALTER COLUMN steps DROP DEFAULT;
CREATE INDEX IF NOT EXISTS calls_by_at ON calls (at);
CREATE INDEX IF NOT EXISTS calls_by_model ON calls (model, at);
