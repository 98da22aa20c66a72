-- Money and webhook deliveries are written by the store's Rust code: see
-- migrations/sqlite/0010_money_in_rust.sql.
DROP TRIGGER tasks_ledger ON tasks;
DROP FUNCTION vidgate_tasks_ledger();
DROP FUNCTION vidgate_key_spend(TEXT, TEXT[], BIGINT);
DROP TRIGGER tasks_webhook_on_end ON tasks;
DROP FUNCTION vidgate_tasks_webhook_on_end();

ALTER TABLE ledger ADD COLUMN usage TEXT;
ALTER TABLE ledger ADD COLUMN uncharged BIGINT;

-- Requests an earlier build stopped following had their hold released when they timed out
-- (a late success would have been a `late_charge` row). This build keeps holds open while it
-- follows a job and writes no late charges, so those already released are followed no longer.
UPDATE tasks SET reconcile_until = NULL, next_poll_at = NULL
 WHERE reconcile_until IS NOT NULL
   AND EXISTS (SELECT 1 FROM ledger l WHERE l.request_id = tasks.id AND l.phase = 'close');

CREATE INDEX tasks_following_slots ON tasks (pool, account) WHERE reconcile_until IS NOT NULL;
CREATE INDEX tasks_following_keys ON tasks (key_id) WHERE reconcile_until IS NOT NULL;

ALTER TABLE tasks ADD COLUMN last_poll_at BIGINT;
