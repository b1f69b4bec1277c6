-- Responses kept by `POST /v1/responses` with `store: true` (the default), for
-- `previous_response_id` and `GET` / `DELETE /v1/responses/{id}`. Each belongs to the
-- consumer that created it; no other consumer can read, continue or delete it.
-- `response` is the Responses object (JSON); `conversation` is the whole conversation
-- as chat messages (JSON array: earlier turns, this input, this output), without the
-- request's `instructions`, which a continuation does not inherit.
-- A record, not configuration: writing one does not bump the store revision.
CREATE TABLE IF NOT EXISTS responses (
    id           TEXT   PRIMARY KEY,
    consumer     TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    response     TEXT   NOT NULL,
    conversation TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_consumer ON responses (consumer, created_at);
