-- Queue positions without scanning the queue: see migrations/sqlite/0002_queue_counts.sql.
-- Here concurrent transactions from several replicas update the counters, so each change
-- lands on one of four shards at random: the rows are summed anyway, and a hot counter row
-- would otherwise serialize every insert across the cluster.

CREATE TABLE queue_rank_counts (
    pool   TEXT NOT NULL,
    rank   BIGINT NOT NULL,
    shard  INT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (pool, rank, shard)
);

CREATE TABLE queue_counts (
    pool   TEXT NOT NULL,
    rank   BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    shard  INT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (pool, rank, bucket, shard)
);

CREATE FUNCTION vidgate_queue_count(p TEXT, r BIGINT, s BIGINT, delta BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    sh INT := floor(random() * 4)::INT;
BEGIN
    INSERT INTO queue_rank_counts (pool, rank, shard, n) VALUES (p, r, sh, delta)
        ON CONFLICT (pool, rank, shard) DO UPDATE SET n = queue_rank_counts.n + delta;
    INSERT INTO queue_counts (pool, rank, bucket, shard, n) VALUES (p, r, s >> 12, sh, delta)
        ON CONFLICT (pool, rank, bucket, shard) DO UPDATE SET n = queue_counts.n + delta;
END;
$$;

CREATE FUNCTION vidgate_tasks_queue_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'queued'
       AND (TG_OP = 'DELETE' OR NEW.state <> 'queued') THEN
        PERFORM vidgate_queue_count(OLD.pool, OLD.rank, OLD.seq, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'queued'
       AND (TG_OP = 'INSERT' OR OLD.state <> 'queued') THEN
        PERFORM vidgate_queue_count(NEW.pool, NEW.rank, NEW.seq, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_queue_counts AFTER INSERT OR UPDATE OF state OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION vidgate_tasks_queue_counts();

INSERT INTO queue_rank_counts (pool, rank, shard, n)
    SELECT pool, rank, 0, count(*) FROM tasks WHERE state = 'queued' GROUP BY pool, rank;
INSERT INTO queue_counts (pool, rank, bucket, shard, n)
    SELECT pool, rank, seq >> 12, 0, count(*) FROM tasks WHERE state = 'queued' GROUP BY pool, rank, seq >> 12;
