-- Money and webhook deliveries are written by the store's Rust code (src/sql/ledger.rs and
-- src/sql/webhooks.rs), in the transaction of the transition that causes them, no longer by
-- triggers. The queue counters stay triggers: they only count.
DROP TRIGGER tasks_hold;
DROP TRIGGER tasks_settle;
DROP TRIGGER tasks_webhook_on_end;

-- What a settlement was priced on (the upstream's usage figures, JSON), and on an `overage`
-- row what the upstream reported beyond the hold, which is not charged (micro-credits).
ALTER TABLE ledger ADD COLUMN usage TEXT;
ALTER TABLE ledger ADD COLUMN uncharged INTEGER;

-- A request that ended for its owner while the upstream may still have its job (a deadline,
-- a crashing step, a lost answer) is followed until `reconcile_until`: it keeps its upstream
-- slot and its hold meanwhile. Claims count these per account and per key.
-- Requests an earlier build stopped following had their hold released when they timed out
-- (a late success would have been a `late_charge` row). This build keeps holds open while it
-- follows a job and writes no late charges, so those already released are followed no longer.
UPDATE tasks SET reconcile_until = NULL, next_poll_at = NULL
 WHERE reconcile_until IS NOT NULL
   AND EXISTS (SELECT 1 FROM ledger l WHERE l.request_id = tasks.id AND l.phase = 'close');

CREATE INDEX tasks_following_slots ON tasks (pool, account) WHERE reconcile_until IS NOT NULL;
CREATE INDEX tasks_following_keys ON tasks (key_id) WHERE reconcile_until IS NOT NULL;

-- When the task was last claimed for a poll: an upstream event brings the next poll forward,
-- but never to less than the poll interval after the last one (a flood of replayed callbacks
-- costs at most one upstream call per task per interval, across replicas).
ALTER TABLE tasks ADD COLUMN last_poll_at INTEGER;
