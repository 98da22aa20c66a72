-- The queue counters of new tasks, counted once per INSERT statement instead of once per
-- row: a batch of creates (one multi-row INSERT) adds to each counter row once, with one
-- statement per counter table, where per-row triggers ran two plpgsql functions and four
-- upserts for every task. A transaction adds to one shard of each counter (of eight, picked
-- by its transaction id), whatever number of INSERTs it makes: two replicas' batches then
-- share a counter row one time in eight, and never hold one shard each while waiting for the
-- other's (a deadlock); the rows are upserted in key order for the same reason. State changes and deletes keep
-- their per-row triggers (they come one task at a time). SQLite keeps per-row triggers: it
-- has no statement-level ones, and one writer.

DROP TRIGGER tasks_queue_counts ON tasks;
DROP TRIGGER tasks_key_queue_counts ON tasks;
CREATE TRIGGER tasks_queue_counts AFTER UPDATE OF state OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION vidgate_tasks_queue_counts();
CREATE TRIGGER tasks_key_queue_counts AFTER UPDATE OF state OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION vidgate_tasks_key_queue_counts();

CREATE FUNCTION vidgate_tasks_inserted_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sh INT := (txid_current() % 8)::INT;
BEGIN
    INSERT INTO queue_rank_counts (pool, rank, shard, n)
        SELECT pool, rank, sh, count(*) FROM inserted WHERE state = 'queued'
        GROUP BY pool, rank ORDER BY pool, rank
        ON CONFLICT (pool, rank, shard) DO UPDATE SET n = queue_rank_counts.n + excluded.n;
    INSERT INTO queue_counts (pool, rank, bucket, shard, n)
        SELECT pool, rank, seq >> 12, sh, count(*) FROM inserted WHERE state = 'queued'
        GROUP BY pool, rank, seq >> 12 ORDER BY pool, rank, seq >> 12
        ON CONFLICT (pool, rank, bucket, shard) DO UPDATE SET n = queue_counts.n + excluded.n;
    INSERT INTO key_queue_counts (key_id, shard, n)
        SELECT key_id, sh, count(*) FROM inserted WHERE state = 'queued'
        GROUP BY key_id ORDER BY key_id
        ON CONFLICT (key_id, shard) DO UPDATE SET n = key_queue_counts.n + excluded.n;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_inserted_counts AFTER INSERT ON tasks REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION vidgate_tasks_inserted_counts();
