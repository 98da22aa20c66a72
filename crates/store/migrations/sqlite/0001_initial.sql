-- vidgate's schema (SQLite). Times are milliseconds since the Unix epoch (INTEGER = 64-bit
-- here; the PostgreSQL schema uses BIGINT for the same columns).

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    key_id           TEXT NOT NULL,
    pool             TEXT NOT NULL,
    state            TEXT NOT NULL,
    rank             INTEGER NOT NULL,
    request          TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    run_after        INTEGER NOT NULL,
    deadline_at      INTEGER NOT NULL,
    dispatched_at    INTEGER,
    submitted_at     INTEGER,
    finished_at      INTEGER,
    fence            INTEGER NOT NULL DEFAULT 0,
    submit_attempts  INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      INTEGER,
    account          TEXT,
    upstream_task_id TEXT,
    next_poll_at     INTEGER,
    progress         INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    result           TEXT,
    error            TEXT,
    error_type       TEXT
);

-- Claims and queue_position walk the queue in dispatch order.
CREATE INDEX tasks_queue ON tasks (pool, state, rank DESC, seq);
-- A key's listing, newest first.
CREATE INDEX tasks_by_key ON tasks (key_id, seq DESC);
-- Slot accounting per upstream account.
CREATE INDEX tasks_slots ON tasks (pool, account, state);
-- Polls due, leases and deadlines to sweep, among the few unfinished tasks.
CREATE INDEX tasks_active ON tasks (state, next_poll_at) WHERE state IN ('queued', 'submitting', 'running');
CREATE INDEX tasks_deadline ON tasks (deadline_at) WHERE state IN ('queued', 'submitting', 'running');

CREATE TABLE task_logs (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id  TEXT NOT NULL,
    at       INTEGER NOT NULL,
    level    TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (task_id, seq);

-- Per-key claims on session ids (3 days) and idempotency keys (24 h).
CREATE TABLE dedup (
    key_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    body_hash  TEXT,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, kind, value)
);
CREATE INDEX dedup_expiry ON dedup (expires_at);
