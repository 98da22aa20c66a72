-- One balance row per key, replacing the spend counters (`key_spend`, one row per key, period
-- and shard). A batch of creates checks its keys' budgets against these rows and adds its
-- holds to them in its last statement, only where each budget still covers them (the rows
-- locked from that statement to the commit), so a key's budget holds exactly across replicas
-- without an advisory lock taken for the whole insert. It is derived from the ledger and written only by the store's
-- ledger module (src/sql/ledger/), in the transaction of the ledger row it follows:
--   topups       the sum of top-ups and adjustments (ledger kinds topup, adjust)
--   spent        the sum of `ledger.spend`: balance = topups - spent = sum(ledger.amount)
--   day, month   the latest UTC day (2026-12-07) and month (2026-12) spent in, and
--   day_spent,   what was spent in them (a change to an earlier period's hold leaves them
--   month_spent  alone: budgets count the current day and month only).
-- Replicas of the previous build still write key_spend until they stop: none may commit
-- between the copy below and the drop, or its change would be lost.
LOCK TABLE key_spend IN EXCLUSIVE MODE;

CREATE TABLE key_balances (
    key_id      TEXT PRIMARY KEY,
    topups      BIGINT NOT NULL DEFAULT 0,
    spent       BIGINT NOT NULL DEFAULT 0,
    day         TEXT NOT NULL DEFAULT '',
    day_spent   BIGINT NOT NULL DEFAULT 0,
    month       TEXT NOT NULL DEFAULT '',
    month_spent BIGINT NOT NULL DEFAULT 0
);

INSERT INTO key_balances (key_id, topups, spent, day, day_spent, month, month_spent)
SELECT k.id,
       coalesce((SELECT sum(s.spent) FROM key_spend s WHERE s.key_id = k.id AND s.period = 'topups'), 0),
       coalesce((SELECT sum(s.spent) FROM key_spend s WHERE s.key_id = k.id AND s.period = 'all'), 0),
       coalesce((SELECT max(s.period) FROM key_spend s WHERE s.key_id = k.id AND length(s.period) = 10), ''),
       coalesce((SELECT sum(s.spent) FROM key_spend s WHERE s.key_id = k.id AND s.period =
                 (SELECT max(m.period) FROM key_spend m WHERE m.key_id = k.id AND length(m.period) = 10)), 0),
       coalesce((SELECT max(s.period) FROM key_spend s WHERE s.key_id = k.id AND length(s.period) = 7), ''),
       coalesce((SELECT sum(s.spent) FROM key_spend s WHERE s.key_id = k.id AND s.period =
                 (SELECT max(m.period) FROM key_spend m WHERE m.key_id = k.id AND length(m.period) = 7)), 0)
FROM api_keys k;

DROP TABLE key_spend;

-- The processes sharing this store, each beating every few seconds (ReplicaStore): how many
-- were seen lately is how many share each key's rate limits.
CREATE TABLE replicas (
    id      TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
