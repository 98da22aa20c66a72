-- vidgate's schema (PostgreSQL). The same tables and meaning as migrations/sqlite: times are
-- milliseconds since the Unix epoch, as BIGINT (INTEGER is 32-bit here).

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE tasks (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    key_id           TEXT NOT NULL,
    pool             TEXT NOT NULL,
    state            TEXT NOT NULL,
    rank             BIGINT NOT NULL,
    request          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    run_after        BIGINT NOT NULL,
    deadline_at      BIGINT NOT NULL,
    dispatched_at    BIGINT,
    submitted_at     BIGINT,
    finished_at      BIGINT,
    fence            BIGINT NOT NULL DEFAULT 0,
    submit_attempts  BIGINT NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      BIGINT,
    account          TEXT,
    upstream_task_id TEXT,
    next_poll_at     BIGINT,
    progress         BIGINT NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    result           TEXT,
    error            TEXT,
    error_type       TEXT
);

CREATE INDEX tasks_queue ON tasks (pool, state, rank DESC, seq);
CREATE INDEX tasks_by_key ON tasks (key_id, seq DESC);
CREATE INDEX tasks_slots ON tasks (pool, account, state);
CREATE INDEX tasks_active ON tasks (state, next_poll_at) WHERE state IN ('queued', 'submitting', 'running');
CREATE INDEX tasks_deadline ON tasks (deadline_at) WHERE state IN ('queued', 'submitting', 'running');

CREATE TABLE task_logs (
    seq      BIGSERIAL PRIMARY KEY,
    task_id  TEXT NOT NULL,
    at       BIGINT NOT NULL,
    level    TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (task_id, seq);

CREATE TABLE dedup (
    key_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    body_hash  TEXT,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, kind, value)
);
CREATE INDEX dedup_expiry ON dedup (expires_at);
