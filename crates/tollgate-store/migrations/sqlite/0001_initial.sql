-- Tollgate store schema, version 1.
--
-- Portable subset shared by SQLite and PostgreSQL: ids and names as TEXT, times as
-- BIGINT unix milliseconds, booleans as BIGINT 0/1, JSON as TEXT. The postgres
-- directory holds the same statements; keep the two in step (a later migration may
-- differ per engine where that pays, e.g. for partitioned call logs).

-- Every configuration resource: providers, models, teams, consumers, alerts.
-- `spec` is the resource's JSON without its secrets; `secret` holds those, encrypted
-- with the master key ("v1:" + base64(nonce || ciphertext)), or NULL.
CREATE TABLE IF NOT EXISTS resources (
    kind       TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    spec       TEXT   NOT NULL,
    secret     TEXT,
    source     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Consumer API keys: only the SHA-256 (hex) of a key and a short clear prefix.
CREATE TABLE IF NOT EXISTS consumer_keys (
    id         TEXT   NOT NULL PRIMARY KEY,
    consumer   TEXT   NOT NULL,
    name       TEXT,
    hash       TEXT   NOT NULL UNIQUE,
    prefix     TEXT   NOT NULL,
    models     TEXT,
    expires_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL,
    source     TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS consumer_keys_by_consumer ON consumer_keys (consumer);

-- Console users; passwords as argon2id PHC strings.
CREATE TABLE IF NOT EXISTS users (
    username      TEXT   NOT NULL PRIMARY KEY,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Console sessions; only the SHA-256 (hex) of the token is kept.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    username   TEXT   NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);

-- One row: a counter bumped by every write, in the writing transaction, so that
-- nodes and snapshot builders can tell cheaply whether anything changed.
CREATE TABLE IF NOT EXISTS store_revision (
    id       BIGINT NOT NULL PRIMARY KEY,
    revision BIGINT NOT NULL
);
INSERT INTO store_revision (id, revision) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
