-- A batch of plain creates is one autocommit statement on PostgreSQL (the store's
-- `sql/autocommit_batch.rs`): it inserts the tasks and their holds and, last, adds the holds
-- to each key's balance row only where the key's budget still covers them. A key whose row
-- moved under the batch (another replica spent the same credits since the batch read it)
-- leaves its row unchanged; then nothing of the statement may stay, and the batch runs again
-- in a transaction with the rows locked. This function is how the statement fails whole:
-- given how many balance rows it changed and how many it meant to, it raises SQLSTATE VG001
-- (which the store recognises) unless they are equal. It writes nothing: the money stays in
-- the store's Rust code (`tests/no_money_triggers.rs`).
CREATE FUNCTION vidgate_budgets_held(changed BIGINT, meant BIGINT) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
BEGIN
    IF changed <> meant THEN
        RAISE EXCEPTION 'a batch''s holds no longer fit its keys'' budgets (% of % rows)',
            changed, meant USING ERRCODE = 'VG001';
    END IF;
    RETURN TRUE;
END;
$$;

-- The queue counters of new tasks are written by the statement that inserts them (the
-- store's `task_rows.rs`, `insert_items!`), before the statement's balance rows: as an
-- AFTER STATEMENT trigger they were taken after them, the reverse of a transaction's batch
-- (counters in its insert, balance rows in its last statement), and two such batches could
-- each wait on a row the other holds. It also spares each batch the trigger's three
-- statements. Every INSERT of tasks the store makes is that statement; state changes and
-- deletes keep their per-row triggers. (An INSERT into tasks by hand no longer counts in the
-- queue counters.)
DROP TRIGGER tasks_inserted_counts ON tasks;
DROP FUNCTION vidgate_tasks_inserted_counts();
