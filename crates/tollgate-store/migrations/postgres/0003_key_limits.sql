-- A key's own rate limit and budget (JSON: {"rate_limit", "budget"}), on top of
-- its consumer's and team's.
ALTER TABLE consumer_keys ADD COLUMN limits TEXT;
