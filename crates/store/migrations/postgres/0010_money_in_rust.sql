-- Money and webhook deliveries are written by the store's Rust code: see
-- migrations/sqlite/0010_money_in_rust.sql.
DROP TRIGGER tasks_ledger ON tasks;
DROP FUNCTION vidgate_tasks_ledger();
DROP FUNCTION vidgate_key_spend(TEXT, TEXT[], BIGINT);
DROP TRIGGER tasks_webhook_on_end ON tasks;
DROP FUNCTION vidgate_tasks_webhook_on_end();

ALTER TABLE ledger ADD COLUMN usage TEXT;
ALTER TABLE ledger ADD COLUMN uncharged BIGINT;

CREATE INDEX tasks_following_slots ON tasks (pool, account) WHERE reconcile_until IS NOT NULL;
CREATE INDEX tasks_following_keys ON tasks (key_id) WHERE reconcile_until IS NOT NULL;

ALTER TABLE tasks ADD COLUMN last_poll_at BIGINT;
