-- Webhooks: see migrations/sqlite/0004_webhooks.sql.

ALTER TABLE tasks ADD COLUMN webhook_url TEXT;
ALTER TABLE tasks ADD COLUMN public_base TEXT;

ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT;
ALTER TABLE api_keys ADD COLUMN previous_webhook_secret TEXT;
ALTER TABLE api_keys ADD COLUMN previous_secret_until BIGINT;

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    task_id         TEXT NOT NULL UNIQUE,
    key_id          TEXT NOT NULL,
    url             TEXT NOT NULL,
    payload         TEXT,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    fence           BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT,
    last_status     BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    seq         BIGSERIAL PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    status      BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_task ON webhook_attempts (task_id, seq);

CREATE FUNCTION vidgate_tasks_webhook_on_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.webhook_url IS NOT NULL
       AND NEW.state IN ('succeeded', 'failed', 'cancelled')
       AND OLD.state NOT IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO webhook_deliveries (id, task_id, key_id, url, state, next_attempt_at, created_at, updated_at)
        VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id, NEW.key_id, NEW.webhook_url,
                'pending', NEW.updated_at, NEW.updated_at, NEW.updated_at)
        ON CONFLICT (task_id) DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_webhook_on_end AFTER UPDATE OF state ON tasks
    FOR EACH ROW EXECUTE FUNCTION vidgate_tasks_webhook_on_end();
