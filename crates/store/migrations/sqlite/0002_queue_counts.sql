-- Queue positions without scanning the queue. A queued task's position is
--   (queued tasks of higher rank) + (queued tasks of its rank in earlier buckets of 4096 seqs)
--   + (queued tasks of its rank in its own bucket with a smaller seq)
-- The first two come from these counters, the third from at most 4096 index entries, so a
-- status call costs the same with a million requests queued as with ten. Triggers keep the
-- counters in step with every move into or out of the 'queued' state, whoever makes it.
-- (`shard` spreads PostgreSQL's hot counter rows; SQLite has one writer and uses shard 0.)

CREATE TABLE queue_rank_counts (
    pool   TEXT NOT NULL,
    rank   INTEGER NOT NULL,
    shard  INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (pool, rank, shard)
);

CREATE TABLE queue_counts (
    pool   TEXT NOT NULL,
    rank   INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    shard  INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (pool, rank, bucket, shard)
);

CREATE TRIGGER tasks_queue_enter_on_insert AFTER INSERT ON tasks WHEN new.state = 'queued'
BEGIN
    INSERT INTO queue_rank_counts (pool, rank, shard, n) VALUES (new.pool, new.rank, 0, 1)
        ON CONFLICT (pool, rank, shard) DO UPDATE SET n = n + 1;
    INSERT INTO queue_counts (pool, rank, bucket, shard, n) VALUES (new.pool, new.rank, new.seq >> 12, 0, 1)
        ON CONFLICT (pool, rank, bucket, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tasks_queue_enter AFTER UPDATE OF state ON tasks
WHEN new.state = 'queued' AND old.state <> 'queued'
BEGIN
    INSERT INTO queue_rank_counts (pool, rank, shard, n) VALUES (new.pool, new.rank, 0, 1)
        ON CONFLICT (pool, rank, shard) DO UPDATE SET n = n + 1;
    INSERT INTO queue_counts (pool, rank, bucket, shard, n) VALUES (new.pool, new.rank, new.seq >> 12, 0, 1)
        ON CONFLICT (pool, rank, bucket, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tasks_queue_leave AFTER UPDATE OF state ON tasks
WHEN old.state = 'queued' AND new.state <> 'queued'
BEGIN
    UPDATE queue_rank_counts SET n = n - 1 WHERE pool = old.pool AND rank = old.rank AND shard = 0;
    UPDATE queue_counts SET n = n - 1 WHERE pool = old.pool AND rank = old.rank AND bucket = old.seq >> 12 AND shard = 0;
END;

CREATE TRIGGER tasks_queue_leave_on_delete AFTER DELETE ON tasks WHEN old.state = 'queued'
BEGIN
    UPDATE queue_rank_counts SET n = n - 1 WHERE pool = old.pool AND rank = old.rank AND shard = 0;
    UPDATE queue_counts SET n = n - 1 WHERE pool = old.pool AND rank = old.rank AND bucket = old.seq >> 12 AND shard = 0;
END;

-- Counters for tasks queued before this migration.
INSERT INTO queue_rank_counts (pool, rank, shard, n)
    SELECT pool, rank, 0, count(*) FROM tasks WHERE state = 'queued' GROUP BY pool, rank;
INSERT INTO queue_counts (pool, rank, bucket, shard, n)
    SELECT pool, rank, seq >> 12, 0, count(*) FROM tasks WHERE state = 'queued' GROUP BY pool, rank, seq >> 12;
