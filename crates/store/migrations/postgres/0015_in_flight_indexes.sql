-- Two of the tasks' indexes held every queued task although only tasks in flight are looked
-- up through them: the slot count of an upstream account (`tasks_slots`: submitting and
-- running tasks of a pool and account) and the poll claim (`tasks_active`: running tasks by
-- next poll; the requeue of lapsed submit leases). Every create inserted into both. Now they
-- hold submitting and running tasks only (same columns; no query looks up queued tasks
-- through them: the dispatcher's claim uses tasks_queue, the reaper tasks_deadline), so a
-- create writes five index entries for its task instead of seven: 8 % less WAL and 13 % fewer
-- buffers touched per create (`bench/pg-creates.sh`; README, "Fewer index entries, and why
-- two replicas make smaller batches"), and each index is a fraction of its size (1.3 MB ->
-- 88 kB over 200,000 tasks, 1 % of them in flight). The deadline index keeps queued tasks:
-- the reaper expires them.
-- SQLite keeps its indexes: its one writer is not where its creates wait.
-- The rebuild locks `tasks` (reads included) until it commits: each build reads the table
-- once and sorts only the tasks in flight (about 0.4 s for both over 1,000,000 tasks on the
-- 2-core machine the README's figures come from); replicas still running wait that long.
DROP INDEX tasks_slots;
CREATE INDEX tasks_slots ON tasks (pool, account, state) WHERE state IN ('submitting', 'running');
DROP INDEX tasks_active;
CREATE INDEX tasks_active ON tasks (state, next_poll_at) WHERE state IN ('submitting', 'running');
