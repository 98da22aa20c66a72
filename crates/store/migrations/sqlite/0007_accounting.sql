-- Accounting: what each request is held and charged, an append-only ledger, and per-key
-- budgets. Triggers write the ledger in the same transaction as the task's own change,
-- whoever makes it (the API's insert, a worker's completion, a cancel, the reaper), so a hold
-- is written exactly when a priced task is inserted and closed exactly once, when the task
-- first reaches a final state: there is no moment in between for a crash to fall into.
--
-- Amounts are integer micro-credits. `ledger.amount` is the row's effect on the key's
-- balance (a hold −hold, a settlement hold − cost, a release +hold, a top-up +credits);
-- `ledger.spend` its effect on what the key spent (hold, cost − hold, −hold, 0). A key's
-- balance is its top-ups minus its spend: `sum(amount)` over its rows, always.

ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
-- The bootstrap key (VIDGATE_BOOTSTRAP_KEY) is the deployment's automation: it administers.
UPDATE api_keys SET role = 'admin' WHERE id LIKE 'key_bootstrap%';
-- Refuse creates the balance cannot cover (the balance is kept either way).
ALTER TABLE api_keys ADD COLUMN prepaid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN day_limit INTEGER;
ALTER TABLE api_keys ADD COLUMN month_limit INTEGER;
ALTER TABLE api_keys ADD COLUMN max_running INTEGER;

-- hold: micro-credits held at create (NULL: the request has no price); quote: how (JSON);
-- cost: micro-credits charged, written with the success; charge: its usage and cost (JSON).
ALTER TABLE tasks ADD COLUMN hold INTEGER;
ALTER TABLE tasks ADD COLUMN quote TEXT;
ALTER TABLE tasks ADD COLUMN cost INTEGER;
ALTER TABLE tasks ADD COLUMN charge TEXT;

-- How many upstream slots each key's tasks hold (max_running), read by every claim.
CREATE INDEX tasks_key_active ON tasks (key_id) WHERE state IN ('submitting', 'running');

-- A request that timed out while the upstream had it is still followed until this time, so
-- a late success is charged as the upstream charges it (a `late_charge` ledger row).
ALTER TABLE tasks ADD COLUMN reconcile_until INTEGER;
CREATE INDEX tasks_reconcile ON tasks (next_poll_at) WHERE reconcile_until IS NOT NULL;

CREATE TABLE ledger (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    key_id     TEXT NOT NULL,
    request_id TEXT,
    -- hold | settle | release | topup | adjust
    kind       TEXT NOT NULL,
    -- 'open' for a hold, 'close' for its settlement or release, 'late' for a charge after a
    -- timeout: one of each per request.
    phase      TEXT,
    amount     INTEGER NOT NULL,
    spend      INTEGER NOT NULL,
    -- The request's UTC day and month (the periods its spend counts in).
    day        TEXT,
    month      TEXT,
    model      TEXT,
    -- Seconds of video charged (settlements).
    seconds    REAL,
    -- Who made a top-up or adjustment, and why.
    note       TEXT
);
CREATE UNIQUE INDEX ledger_once ON ledger (request_id, phase) WHERE phase IS NOT NULL;
CREATE INDEX ledger_key_at ON ledger (key_id, at);
CREATE INDEX ledger_at ON ledger (at);

-- What each key spent per period ('2026-12-03', '2026-12', 'all') and its top-ups ('topups'),
-- kept by the triggers so a budget check reads a few rows. (`shard` spreads PostgreSQL's
-- hot rows; SQLite has one writer and uses shard 0.)
CREATE TABLE key_spend (
    key_id TEXT NOT NULL,
    period TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    spent  INTEGER NOT NULL,
    PRIMARY KEY (key_id, period, shard)
);

CREATE TRIGGER tasks_hold AFTER INSERT ON tasks WHEN new.hold IS NOT NULL
BEGIN
    INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day, month, model)
        VALUES (new.created_at, new.key_id, new.id, 'hold', 'open', -new.hold, new.hold,
                strftime('%Y-%m-%d', new.created_at / 1000, 'unixepoch'),
                strftime('%Y-%m', new.created_at / 1000, 'unixepoch'),
                json_extract(new.quote, '$.model_name'));
    INSERT INTO key_spend (key_id, period, shard, spent)
        SELECT new.key_id, p, 0, new.hold FROM (
            SELECT strftime('%Y-%m-%d', new.created_at / 1000, 'unixepoch') AS p
            UNION ALL SELECT strftime('%Y-%m', new.created_at / 1000, 'unixepoch')
            UNION ALL SELECT 'all')
        WHERE TRUE
        ON CONFLICT (key_id, period, shard) DO UPDATE SET spent = spent + excluded.spent;
END;

CREATE TRIGGER tasks_settle AFTER UPDATE OF state ON tasks
WHEN new.hold IS NOT NULL
 AND old.state IN ('queued', 'submitting', 'running')
 AND new.state IN ('succeeded', 'failed', 'cancelled')
BEGIN
    INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day, month, model,
                        seconds)
        SELECT coalesce(new.finished_at, new.updated_at), new.key_id, new.id,
               CASE WHEN new.state = 'succeeded' THEN 'settle' ELSE 'release' END, 'close',
               new.hold - CASE WHEN new.state = 'succeeded' THEN coalesce(new.cost, new.hold) ELSE 0 END,
               CASE WHEN new.state = 'succeeded' THEN coalesce(new.cost, new.hold) ELSE 0 END - new.hold,
               h.day, h.month, h.model,
               CASE WHEN new.state = 'succeeded' THEN json_extract(new.charge, '$.cost.seconds') END
        FROM ledger h WHERE h.request_id = new.id AND h.phase = 'open';
    UPDATE key_spend
       SET spent = spent - new.hold
                 + CASE WHEN new.state = 'succeeded' THEN coalesce(new.cost, new.hold) ELSE 0 END
     WHERE key_id = new.key_id AND shard = 0 AND period IN (
           SELECT day FROM ledger WHERE request_id = new.id AND phase = 'open'
           UNION ALL SELECT month FROM ledger WHERE request_id = new.id AND phase = 'open'
           UNION ALL SELECT 'all');
END;

-- What admin keys did over `/admin/`: who, what, to what, when, with what (never a secret).
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor_key_id TEXT NOT NULL,
    actor_name   TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    detail       TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
