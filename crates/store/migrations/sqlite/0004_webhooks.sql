-- Webhooks: where a request's completion is sent, each key's signing secret (with the one it
-- replaced, accepted until a deadline during rotation), and durable deliveries. A delivery is
-- enqueued by a trigger in the same transaction that ends the task (a transactional outbox),
-- whichever code path ends it: completion, cancellation, timeout.

ALTER TABLE tasks ADD COLUMN webhook_url TEXT;
-- The base URL the request was made on, for absolute media URLs in webhook payloads.
ALTER TABLE tasks ADD COLUMN public_base TEXT;

ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT;
ALTER TABLE api_keys ADD COLUMN previous_webhook_secret TEXT;
ALTER TABLE api_keys ADD COLUMN previous_secret_until INTEGER;

CREATE TABLE webhook_deliveries (
    -- Standard Webhooks' webhook-id: the same for every attempt and every redelivery.
    id              TEXT PRIMARY KEY,
    task_id         TEXT NOT NULL UNIQUE,
    key_id          TEXT NOT NULL,
    url             TEXT NOT NULL,
    -- Frozen at the first attempt, so every attempt sends the same bytes.
    payload         TEXT,
    state           TEXT NOT NULL,
    -- Attempts in the current round (a redelivery starts a new round).
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    fence           INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_task ON webhook_attempts (task_id, seq);

CREATE TRIGGER tasks_webhook_on_end AFTER UPDATE OF state ON tasks
WHEN new.webhook_url IS NOT NULL
  AND new.state IN ('succeeded', 'failed', 'cancelled')
  AND old.state NOT IN ('succeeded', 'failed', 'cancelled')
BEGIN
    INSERT INTO webhook_deliveries (id, task_id, key_id, url, state, next_attempt_at, created_at, updated_at)
    VALUES ('msg_' || lower(hex(randomblob(16))), new.id, new.key_id, new.webhook_url, 'pending',
            new.updated_at, new.updated_at, new.updated_at)
    ON CONFLICT (task_id) DO NOTHING;
END;
