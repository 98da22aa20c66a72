//! The in-flight lookups of the dispatcher, poller and reaper stay index scans on a deep queue
//! after migration 0015 made `tasks_slots` and `tasks_active` hold only submitting and running
//! tasks (so a create writes no entry in them): on 60,000 tasks of which 1.5 % are in flight,
//! each lookup's plan reads only indexes of tasks in flight (those two, or `tasks_key_active`
//! where the planner prefers it), never the whole table nor an index of every task, and the
//! two indexes stay the size of the in-flight set (the assertion that fails on the definitions
//! before 0015: the plans read indexes of the same names either way). The statements are the
//! lookups' own `WHERE`/`ORDER BY` shapes (`sql/claims.rs`, `sql/stats.rs`, `reap_sql.rs`),
//! with literals.
//! Skipped without `VIDGATE_TEST_PG_URL` (a failure under CI).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use sqlx::Row;
use vidgate_store::postgres::testing::TestPgStore;

/// The indexes that hold only submitting and running tasks.
const IN_FLIGHT: [&str; 3] = ["tasks_slots", "tasks_active", "tasks_key_active"];

/// (what the lookup is, its statement)
const LOOKUPS: [(&str, &str); 5] = [
    (
        "an account's slot count (the dispatcher's claim)",
        "SELECT count(*) FROM tasks WHERE pool = 'p' AND account = 'a1'
           AND state IN ('submitting', 'running')",
    ),
    (
        "the poll claim",
        "SELECT seq FROM tasks WHERE state = 'running' AND pool = 'p' AND next_poll_at <= 50000
           AND (lease_until IS NULL OR lease_until < 50000)
         ORDER BY next_poll_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    ),
    (
        "the queue stats",
        "SELECT state, count(*) AS n FROM tasks WHERE pool = 'p'
           AND state IN ('submitting', 'running') GROUP BY state",
    ),
    (
        "the requeue of lapsed submit leases",
        "SELECT seq FROM tasks WHERE state = 'submitting' AND lease_until < 50000 LIMIT 100",
    ),
    (
        "the release of lapsed poll leases",
        "SELECT seq FROM tasks WHERE state = 'running' AND lease_until < 50000 LIMIT 100",
    ),
];

#[tokio::test]
async fn in_flight_lookups_read_small_indexes_on_a_deep_queue() {
    let Some(test) = TestPgStore::create().await else { return };
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    // 60,000 tasks: one in 100 running (with a next poll), one in 200 submitting, the rest queued.
    sqlx::query(
        "INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at,
                            run_after, deadline_at, account, next_poll_at, lease_until)
         SELECT 't' || g, 'k' || (g % 16), 'p',
                CASE WHEN g % 100 = 0 THEN 'running' WHEN g % 200 = 1 THEN 'submitting'
                     ELSE 'queued' END,
                0, '{}', g, g, 0, 10000000 + g,
                CASE WHEN g % 100 IN (0, 1) THEN 'a' || (g % 3) END,
                CASE WHEN g % 100 = 0 THEN g END,
                CASE WHEN g % 100 IN (0, 1) THEN g END
         FROM generate_series(1, 60000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE tasks").execute(&pool).await.unwrap();

    for (what, statement) in LOOKUPS {
        let explain = format!("EXPLAIN {statement}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(explain)).fetch_all(&pool).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "{what} reads the whole table:\n{plan}");
        let read = indexes_read(&plan);
        assert!(!read.is_empty(), "{what} reads no index:\n{plan}");
        assert!(
            read.iter().all(|i| IN_FLIGHT.contains(&i.as_str())),
            "{what} reads an index of every task ({read:?}):\n{plan}"
        );
    }

    // 900 tasks in flight: both indexes hold those and no queued task. With the 59,100 queued
    // tasks in them (before 0015) each was about 400 kB here.
    for index in ["tasks_slots", "tasks_active"] {
        let size: i64 = sqlx::query("SELECT pg_relation_size(to_regclass($1))::BIGINT")
            .bind(index)
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        assert!(size <= 64 * 1024, "{index} is {size} bytes: it holds queued tasks");
    }
    pool.close().await;
}

/// The indexes a text plan scans.
fn indexes_read(plan: &str) -> Vec<String> {
    let mut read = Vec::new();
    let markers = [
        "Index Scan using ",
        "Index Scan Backward using ",
        "Index Only Scan using ",
        "Index Only Scan Backward using ",
        "Bitmap Index Scan on ",
    ];
    for marker in markers {
        for (at, _) in plan.match_indices(marker) {
            let rest = &plan[at + marker.len()..];
            let name = rest.split_whitespace().next().unwrap_or_default();
            read.push(name.to_owned());
        }
    }
    read
}
