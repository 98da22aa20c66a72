-- Per-key limits (NULL: the configured default) and, for the max-queued limit, how many of
-- each key's tasks are queued, kept by triggers on every move into or out of 'queued' like
-- the queue counters (0002), so checking the limit costs one row read.

ALTER TABLE api_keys ADD COLUMN create_rate REAL;
ALTER TABLE api_keys ADD COLUMN create_burst INTEGER;
ALTER TABLE api_keys ADD COLUMN max_queued INTEGER;
ALTER TABLE api_keys ADD COLUMN max_body_bytes INTEGER;

CREATE TABLE key_queue_counts (
    key_id TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (key_id, shard)
);

CREATE TRIGGER tasks_key_queue_enter_on_insert AFTER INSERT ON tasks WHEN new.state = 'queued'
BEGIN
    INSERT INTO key_queue_counts (key_id, shard, n) VALUES (new.key_id, 0, 1)
        ON CONFLICT (key_id, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tasks_key_queue_enter AFTER UPDATE OF state ON tasks
WHEN new.state = 'queued' AND old.state <> 'queued'
BEGIN
    INSERT INTO key_queue_counts (key_id, shard, n) VALUES (new.key_id, 0, 1)
        ON CONFLICT (key_id, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tasks_key_queue_leave AFTER UPDATE OF state ON tasks
WHEN old.state = 'queued' AND new.state <> 'queued'
BEGIN
    UPDATE key_queue_counts SET n = n - 1 WHERE key_id = old.key_id AND shard = 0;
END;

CREATE TRIGGER tasks_key_queue_leave_on_delete AFTER DELETE ON tasks WHEN old.state = 'queued'
BEGIN
    UPDATE key_queue_counts SET n = n - 1 WHERE key_id = old.key_id AND shard = 0;
END;

INSERT INTO key_queue_counts (key_id, shard, n)
    SELECT key_id, 0, count(*) FROM tasks WHERE state = 'queued' GROUP BY key_id;
