-- Upstream events name a task by its upstream id when they cannot name vidgate's.
CREATE INDEX tasks_upstream ON tasks (upstream_task_id) WHERE upstream_task_id IS NOT NULL;
