-- A task's first log line ("accepted and queued (pool …)") is read from the task row itself
-- (its created_at and pool) instead of being stored beside it: one statement and one index
-- entry less in every create's transaction. The copies stored before are removed.
DELETE FROM task_logs WHERE message LIKE 'accepted and queued (pool %';
