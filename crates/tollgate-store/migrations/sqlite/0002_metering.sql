-- Tollgate store schema, version 2: metering and alert deliveries.
--
-- None of these tables is configuration: writing to them never bumps store_revision.
-- The postgres directory holds the same tables; only the ledger's id column differs
-- (SQLite's INTEGER PRIMARY KEY AUTOINCREMENT, PostgreSQL's identity column).

-- One row per request: what it consumed. The call-log work extends this table.
CREATE TABLE IF NOT EXISTS calls (
    request_id    TEXT   NOT NULL PRIMARY KEY,
    at            BIGINT NOT NULL,
    consumer      TEXT   NOT NULL,
    key_id        TEXT   NOT NULL,
    team          TEXT,
    model         TEXT   NOT NULL,
    provider      TEXT,
    status        BIGINT NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_micros   BIGINT NOT NULL,
    cached        BIGINT NOT NULL,
    error_code    TEXT,
    latency_ms    BIGINT NOT NULL,
    ttfb_ms       BIGINT
);
CREATE INDEX IF NOT EXISTS calls_by_consumer ON calls (consumer, at);
CREATE INDEX IF NOT EXISTS calls_by_team ON calls (team, at);
CREATE INDEX IF NOT EXISTS calls_by_key ON calls (key_id, at);

-- Prepaid credits: an append-only ledger; the balance is the sum of amount_micros
-- (positive: top-up, refund; negative: charge; either: adjustment).
CREATE TABLE IF NOT EXISTS credit_ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer      TEXT   NOT NULL,
    at            BIGINT NOT NULL,
    amount_micros BIGINT NOT NULL,
    kind          TEXT   NOT NULL,
    reason        TEXT   NOT NULL,
    actor         TEXT   NOT NULL,
    request_id    TEXT
);
CREATE INDEX IF NOT EXISTS credit_ledger_by_consumer ON credit_ledger (consumer, id);
-- A request is charged at most once, even when a batch of charges is retried.
CREATE UNIQUE INDEX IF NOT EXISTS credit_ledger_one_charge_per_request
    ON credit_ledger (request_id) WHERE kind = 'charge' AND request_id IS NOT NULL;

-- Alert deliveries, one row per (channel, crossing). The UNIQUE constraint lets only
-- one node claim a crossing; threshold_percent is 0 for events without a threshold
-- (NULLs would never collide). The lease (owner, until) says which node delivers a
-- pending event; another takes it over once the lease has run out.
CREATE TABLE IF NOT EXISTS alert_events (
    id                TEXT   NOT NULL PRIMARY KEY,
    alert             TEXT   NOT NULL,
    type              TEXT   NOT NULL,
    scope             TEXT   NOT NULL,
    period_key        TEXT   NOT NULL,
    threshold_percent BIGINT NOT NULL,
    payload           TEXT   NOT NULL,
    status            TEXT   NOT NULL,
    attempts          BIGINT NOT NULL,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    last_attempt_at   BIGINT,
    delivered_at      BIGINT,
    lease_owner       TEXT,
    lease_until       BIGINT NOT NULL,
    UNIQUE (alert, type, scope, period_key, threshold_percent)
);
CREATE INDEX IF NOT EXISTS alert_events_by_status ON alert_events (status, created_at);
CREATE INDEX IF NOT EXISTS alert_events_by_created ON alert_events (created_at);
