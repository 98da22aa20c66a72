-- Per-key limits and per-key queued counts: see migrations/sqlite/0005_limits.sql. Counts
-- land on one of four shards at random, like the queue counters, so one key's concurrent
-- inserts from several replicas do not serialize on one row.

ALTER TABLE api_keys ADD COLUMN create_rate DOUBLE PRECISION;
ALTER TABLE api_keys ADD COLUMN create_burst BIGINT;
ALTER TABLE api_keys ADD COLUMN max_queued BIGINT;
ALTER TABLE api_keys ADD COLUMN max_body_bytes BIGINT;

CREATE TABLE key_queue_counts (
    key_id TEXT NOT NULL,
    shard  INT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (key_id, shard)
);

CREATE FUNCTION vidgate_key_queue_count(k TEXT, delta BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO key_queue_counts (key_id, shard, n) VALUES (k, floor(random() * 4)::INT, delta)
        ON CONFLICT (key_id, shard) DO UPDATE SET n = key_queue_counts.n + delta;
END;
$$;

CREATE FUNCTION vidgate_tasks_key_queue_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'queued'
       AND (TG_OP = 'DELETE' OR NEW.state <> 'queued') THEN
        PERFORM vidgate_key_queue_count(OLD.key_id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'queued'
       AND (TG_OP = 'INSERT' OR OLD.state <> 'queued') THEN
        PERFORM vidgate_key_queue_count(NEW.key_id, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_key_queue_counts AFTER INSERT OR UPDATE OF state OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION vidgate_tasks_key_queue_counts();

INSERT INTO key_queue_counts (key_id, shard, n)
    SELECT key_id, 0, count(*) FROM tasks WHERE state = 'queued' GROUP BY key_id;
