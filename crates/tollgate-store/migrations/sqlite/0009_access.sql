-- Who may call what (PRODUCT.md, "Consumer credentials", "Subscriptions and the
-- developer portal", "Users, roles, audit").

-- A consumer's subscription to a service or prompt-API (`service` is a plain name:
-- names are unique across both). `status` is pending | approved | rejected | revoked;
-- only approved ones let calls through. Configuration: writes bump the revision so
-- every node's snapshot follows.
CREATE TABLE IF NOT EXISTS subscriptions (
    id         TEXT   PRIMARY KEY,
    consumer   TEXT   NOT NULL,
    service    TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_by_time ON subscriptions (created_at, id);
CREATE INDEX IF NOT EXISTS subscriptions_by_pair ON subscriptions (consumer, service);

-- Credentials other than API keys. `lookup` is what a request names the credential
-- by (basic username, JWT issuer, HMAC access key), unique per kind. `secret` holds
-- the argon2id hash of a basic password, or the encrypted JWT HS secret / HMAC secret
-- key; `public_key` the PEM of an RS256 / ES256 issuer (not a secret).
CREATE TABLE IF NOT EXISTS consumer_credentials (
    id         TEXT   PRIMARY KEY,
    consumer   TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    lookup     TEXT   NOT NULL,
    algorithm  TEXT,
    public_key TEXT,
    secret     TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (kind, lookup)
);
CREATE INDEX IF NOT EXISTS consumer_credentials_by_consumer ON consumer_credentials (consumer);

-- The audit log: one row per admin or portal write, written in the transaction of
-- the write itself. `before` / `after` are JSON with secrets redacted. Not
-- configuration: an audit row alone never bumps the revision (the write it records
-- does, when it is configuration).
CREATE TABLE IF NOT EXISTS audit_log (
    id         TEXT   PRIMARY KEY,
    at         BIGINT NOT NULL,
    username   TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    resource   TEXT   NOT NULL,
    name       TEXT,
    before_doc TEXT,
    after_doc  TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at, id);
