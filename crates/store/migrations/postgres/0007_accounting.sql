-- Accounting: see migrations/sqlite/0007_accounting.sql for what each table and column means.
-- Here spend counters land on one of four shards at random, like the queue counters, so one
-- key's concurrent creates from several replicas do not serialize on one row (a key with a
-- budget serializes its creates on an advisory lock instead, to check the budget exactly).

ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
-- The bootstrap key (VIDGATE_BOOTSTRAP_KEY) is the deployment's automation: it administers.
UPDATE api_keys SET role = 'admin' WHERE id LIKE 'key_bootstrap%';
ALTER TABLE api_keys ADD COLUMN prepaid BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_keys ADD COLUMN day_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN month_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN max_running BIGINT;

ALTER TABLE tasks ADD COLUMN hold BIGINT;
ALTER TABLE tasks ADD COLUMN quote TEXT;
ALTER TABLE tasks ADD COLUMN cost BIGINT;
ALTER TABLE tasks ADD COLUMN charge TEXT;

-- How many upstream slots each key's tasks hold (max_running), read by every claim.
CREATE INDEX tasks_key_active ON tasks (key_id) WHERE state IN ('submitting', 'running');

-- A request that timed out while the upstream had it is still followed until this time, so
-- a late success is charged as the upstream charges it (a `late_charge` ledger row).
ALTER TABLE tasks ADD COLUMN reconcile_until BIGINT;
CREATE INDEX tasks_reconcile ON tasks (next_poll_at) WHERE reconcile_until IS NOT NULL;

CREATE TABLE ledger (
    seq        BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    key_id     TEXT NOT NULL,
    request_id TEXT,
    kind       TEXT NOT NULL,
    phase      TEXT,
    amount     BIGINT NOT NULL,
    spend      BIGINT NOT NULL,
    day        TEXT,
    month      TEXT,
    model      TEXT,
    seconds    DOUBLE PRECISION,
    note       TEXT
);
CREATE UNIQUE INDEX ledger_once ON ledger (request_id, phase) WHERE phase IS NOT NULL;
CREATE INDEX ledger_key_at ON ledger (key_id, at);
CREATE INDEX ledger_at ON ledger (at);

CREATE TABLE key_spend (
    key_id TEXT NOT NULL,
    period TEXT NOT NULL,
    shard  INT NOT NULL,
    spent  BIGINT NOT NULL,
    PRIMARY KEY (key_id, period, shard)
);

CREATE FUNCTION vidgate_key_spend(k TEXT, periods TEXT[], delta BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE s INT := floor(random() * 4)::INT;
BEGIN
    INSERT INTO key_spend (key_id, period, shard, spent)
        SELECT k, p, s, delta FROM unnest(periods) AS p
        ON CONFLICT (key_id, period, shard) DO UPDATE SET spent = key_spend.spent + delta;
END;
$$;

CREATE FUNCTION vidgate_tasks_ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d TEXT;
    m TEXT;
    charged BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        d := to_char(to_timestamp(NEW.created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD');
        m := to_char(to_timestamp(NEW.created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM');
        INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day, month, model)
            VALUES (NEW.created_at, NEW.key_id, NEW.id, 'hold', 'open', -NEW.hold, NEW.hold,
                    d, m, NEW.quote::jsonb ->> 'model_name');
        PERFORM vidgate_key_spend(NEW.key_id, ARRAY[d, m, 'all'], NEW.hold);
    ELSIF OLD.state IN ('queued', 'submitting', 'running')
          AND NEW.state IN ('succeeded', 'failed', 'cancelled') THEN
        charged := CASE WHEN NEW.state = 'succeeded' THEN coalesce(NEW.cost, NEW.hold) ELSE 0 END;
        SELECT day, month INTO d, m FROM ledger WHERE request_id = NEW.id AND phase = 'open';
        INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day, month, model,
                            seconds)
            SELECT coalesce(NEW.finished_at, NEW.updated_at), NEW.key_id, NEW.id,
                   CASE WHEN NEW.state = 'succeeded' THEN 'settle' ELSE 'release' END, 'close',
                   NEW.hold - charged, charged - NEW.hold, h.day, h.month, h.model,
                   CASE WHEN NEW.state = 'succeeded'
                        THEN (NEW.charge::jsonb -> 'cost' ->> 'seconds')::float8 END
            FROM ledger h WHERE h.request_id = NEW.id AND h.phase = 'open';
        IF d IS NOT NULL THEN
            PERFORM vidgate_key_spend(NEW.key_id, ARRAY[d, m, 'all'], charged - NEW.hold);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_ledger AFTER INSERT OR UPDATE OF state ON tasks
    FOR EACH ROW WHEN (NEW.hold IS NOT NULL) EXECUTE FUNCTION vidgate_tasks_ledger();

-- What admin keys did over `/admin/`: who, what, to what, when, with what (never a secret).
CREATE TABLE audit_log (
    seq          BIGSERIAL PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor_key_id TEXT NOT NULL,
    actor_name   TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    detail       TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
