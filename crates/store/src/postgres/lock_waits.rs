//! What tests that force an interleaving of PostgreSQL writers wait on: a session blocked by
//! another's lock (`pg_stat_activity`, `pg_blocking_pids`), a backend's pid, and the server's
//! count of deadlocks. They poll, every 10 ms for up to 5 s, instead of sleeping for a guess.

use std::time::Duration;

use sqlx::Row;

/// How often, and how many times, a wait looks before it gives up.
const EVERY: Duration = Duration::from_millis(10);
const LOOKS: u32 = 500;

/// Returns once exactly one session whose statement starts with `statement` ("" for any)
/// waits for a lock the session `blocker` holds; panics naming `what` after 5 s.
pub async fn blocked_by(pool: &sqlx::PgPool, blocker: i32, statement: &str, what: &str) {
    let like = format!("{statement}%");
    wait_for(pool, what, move |pool| {
        let like = like.clone();
        async move {
            sqlx::query(
                "SELECT count(*) = 1 FROM pg_stat_activity
                  WHERE pg_blocking_pids(pid) @> ARRAY[$1::int] AND query LIKE $2",
            )
            .bind(blocker)
            .bind(like)
            .fetch_one(&pool)
            .await
        }
    })
    .await;
}

/// Returns once the session `pid` waits for a heavyweight lock; panics naming `what` after
/// 5 s.
pub async fn waits_for_a_lock(pool: &sqlx::PgPool, pid: i32, what: &str) {
    wait_for(pool, what, move |pool| async move {
        sqlx::query(
            "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
        )
        .bind(pid)
        .fetch_one(&pool)
        .await
    })
    .await;
}

/// Polls `looks` (a statement answering one boolean) until it is true.
async fn wait_for<F, Fut>(pool: &sqlx::PgPool, what: &str, looks: F)
where
    F: Fn(sqlx::PgPool) -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<sqlx::postgres::PgRow>>,
{
    for _ in 0..LOOKS {
        let row = looks(pool.clone()).await.expect("pg_stat_activity is readable");
        if row.get::<bool, _>(0) {
            return;
        }
        tokio::time::sleep(EVERY).await;
    }
    panic!("{what} never waited");
}

/// The pid of the session `conn`.
pub async fn backend_pid(conn: &mut sqlx::PgConnection) -> i32 {
    sqlx::query("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .expect("a session answers its pid")
        .get(0)
}

/// The deadlocks the server has broken in this database so far (`pg_stat_database`, which
/// every test sharing the database adds to, and which a backend flushes a second or so late).
pub async fn deadlocks(pool: &sqlx::PgPool) -> i64 {
    sqlx::query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(pool)
        .await
        .expect("pg_stat_database is readable")
        .get(0)
}

/// Locks key `key_id`'s balance row in the transaction open on `conn` (as another replica's
/// batch or a top-up would), and answers that session's pid, for `blocked_by`.
pub async fn hold_balance_row(conn: &mut sqlx::PgConnection, key_id: &str) -> i32 {
    sqlx::query("SELECT spent FROM key_balances WHERE key_id = $1 FOR UPDATE")
        .bind(key_id)
        .execute(&mut *conn)
        .await
        .expect("the key's balance row is locked");
    backend_pid(conn).await
}
