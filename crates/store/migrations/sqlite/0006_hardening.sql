-- Hardening.
-- poll_event: an upstream event arrived for a running task; set by make_due, cleared when a
--   poll is claimed, so a poll in flight when the event came re-polls at once instead of
--   writing its own (later) next_poll_at over the event's.
-- crashes: leases on this task that ran out (the worker died or hung mid-step) since its last
--   finished step; the reaper fails the task once it reaches queue.max_step_attempts.
ALTER TABLE tasks ADD COLUMN poll_event INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;

-- Key names are unique among active keys only, so a revoked key's name can be used again.
-- SQLite cannot drop an inline UNIQUE: the table is rebuilt with the same columns.
CREATE TABLE api_keys_new (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    key_hash                TEXT NOT NULL UNIQUE,
    prefix                  TEXT NOT NULL,
    created_at              INTEGER NOT NULL,
    revoked_at              INTEGER,
    webhook_secret          TEXT,
    previous_webhook_secret TEXT,
    previous_secret_until   INTEGER,
    create_rate             REAL,
    create_burst            INTEGER,
    max_queued              INTEGER,
    max_body_bytes          INTEGER
);
INSERT INTO api_keys_new (id, name, key_hash, prefix, created_at, revoked_at, webhook_secret,
        previous_webhook_secret, previous_secret_until, create_rate, create_burst, max_queued,
        max_body_bytes)
    SELECT id, name, key_hash, prefix, created_at, revoked_at, webhook_secret,
        previous_webhook_secret, previous_secret_until, create_rate, create_burst, max_queued,
        max_body_bytes
    FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
