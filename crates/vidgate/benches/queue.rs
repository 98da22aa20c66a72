//! Queue benchmark (not a test): claims per second with 1, 2 and 4 concurrent claimers, and
//! the cost of a status call with 1,000,000 requests queued, on SQLite and (when
//! `VIDGATE_TEST_PG_URL` names a server) PostgreSQL. Prints one JSON object.
//!
//!     cargo bench -p vidgate --bench queue            # QUEUED=1000000 CLAIMS=3000 by default

#![allow(clippy::unwrap_used)] // a benchmark: a panic is how it reports failure

use std::sync::Arc;
use std::time::{Duration, Instant};
use vidgate_domain::Pool;

use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use tokio_util::sync::CancellationToken;
use vidgate::config::{Config, Secret};
use vidgate::startup::{Application, BuildOptions, WorkerMode};
use vidgate_domain::{Clock, SystemClock};
use vidgate_store::{Completion, LogEntry, Slot, Store};

const KEY: &str = "bench-key";
const KEY_ID: &str = "key_bootstrap";
const REQUEST: &str = r#"{"model_name":"Vidu","model_version":"q2","prompt":"bench","output_config":{"duration":1.0}}"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres { admin: String, db: String },
}

impl Backend {
    fn url(&self) -> String {
        match self {
            Backend::Sqlite(dir) => format!("sqlite://{}", dir.path().join("vidgate.db").display()),
            Backend::Postgres { admin, db } => {
                let mut u = url::Url::parse(admin).unwrap();
                u.set_path(&format!("/{db}"));
                u.to_string()
            }
        }
    }

    async fn fresh(kind: &str, tag: &str) -> Option<Backend> {
        match kind {
            "sqlite" => Some(Backend::Sqlite(tempfile::tempdir().unwrap())),
            _ => {
                let admin = std::env::var("VIDGATE_TEST_PG_URL").ok().filter(|u| !u.is_empty())?;
                let db = format!("vidgate_bench_{tag}_{}", std::process::id());
                let pool = sqlx::PgPool::connect(&admin).await.unwrap();
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                Some(Backend::Postgres { admin, db })
            }
        }
    }

    async fn cleanup(self) {
        if let Backend::Postgres { admin, db } = self {
            let pool = sqlx::PgPool::connect(&admin).await.unwrap();
            let _ =
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
                    .execute(&pool)
                    .await;
        }
    }

    fn config(&self) -> Config {
        let mut c = Config::defaults();
        c.server.listen = "127.0.0.1:0".parse().unwrap();
        c.auth.bootstrap_key = Secret::new(KEY);
        c.store.sqlite_durability = vidgate_store::sqlite::Durability::Normal;
        match self {
            Backend::Sqlite(dir) => c.store.data_dir = dir.path().to_path_buf(),
            Backend::Postgres { .. } => {
                c.store.data_dir = std::env::temp_dir().join("vidgate-bench-media");
                c.store.database_url = Secret::new(self.url());
            }
        }
        c
    }

    /// Inserts `n` queued tasks with plain SQL, and their queue counters: SQLite's triggers
    /// count them; on PostgreSQL the store's insert statement counts what it inserts, so a
    /// plain INSERT is followed by the counters' backfill.
    async fn seed(&self, n: usize) {
        let ranks = "CASE x % 6 WHEN 0 THEN 10 WHEN 1 THEN 5 WHEN 2 THEN -3 ELSE 0 END";
        match self {
            Backend::Sqlite(_) => {
                let pool = sqlx::SqlitePool::connect(&self.url()).await.unwrap();
                let sql = format!(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n})
                     INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at, run_after, deadline_at)
                     SELECT printf('%08x-0000-7000-8000-%012x', x, x), '{KEY_ID}', 'sandbox', 'queued', {ranks},
                            '{REQUEST}', 0, 0, 0, 9000000000000 FROM c"
                );
                sqlx::query(AssertSqlSafe(sql)).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Backend::Postgres { .. } => {
                // No trigger counts inserts on PostgreSQL (migration 0016): the counters are
                // backfilled once, as the migrations that made them did.
                let pool = sqlx::PgPool::connect(&self.url()).await.unwrap();
                let sql = format!(
                    "INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at, run_after, deadline_at)
                     SELECT lpad(to_hex(x), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(x), 12, '0'), '{KEY_ID}',
                            'sandbox', 'queued', {ranks}, '{REQUEST}', 0, 0, 0, 9000000000000
                     FROM generate_series(1, {n}) AS x"
                );
                sqlx::query(AssertSqlSafe(sql)).execute(&pool).await.unwrap();
                for backfill in [
                    "INSERT INTO queue_rank_counts (pool, rank, shard, n) SELECT pool, rank, 0, count(*)
                     FROM tasks WHERE state = 'queued' GROUP BY pool, rank
                     ON CONFLICT (pool, rank, shard) DO UPDATE SET n = queue_rank_counts.n + excluded.n",
                    "INSERT INTO queue_counts (pool, rank, bucket, shard, n) SELECT pool, rank, seq >> 12, 0, count(*)
                     FROM tasks WHERE state = 'queued' GROUP BY pool, rank, seq >> 12
                     ON CONFLICT (pool, rank, bucket, shard) DO UPDATE SET n = queue_counts.n + excluded.n",
                    "INSERT INTO key_queue_counts (key_id, shard, n) SELECT key_id, 0, count(*)
                     FROM tasks WHERE state = 'queued' GROUP BY key_id
                     ON CONFLICT (key_id, shard) DO UPDATE SET n = key_queue_counts.n + excluded.n",
                    // What autovacuum does soon after a bulk load.
                    "VACUUM ANALYZE",
                ] {
                    sqlx::query(backfill).execute(&pool).await.unwrap();
                }
                pool.close().await;
            }
        }
    }
}

async fn build(backend: &Backend) -> (Application, Arc<dyn Store>) {
    let options = BuildOptions {
        clock: Arc::new(SystemClock),
        workers: WorkerMode::Manual,
        announce_first_key: false,
    };
    let app = Application::build(backend.config(), options).await.unwrap();
    let store = app.store.clone();
    (app, store)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[i] * 1000.0).round() / 1000.0
}

/// Claims (and completes, as a dispatcher freeing its slot would) with `workers` loops.
async fn claims_per_second(store: Arc<dyn Store>, workers: usize, claims: usize) -> f64 {
    let slots = Arc::new(vec![Slot { account: "bench".into(), limit: 1_000_000 }]);
    let per = claims / workers;
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let (store, slots) = (store.clone(), slots.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..per {
                let now = SystemClock.now_ms();
                let task = store
                    .claim_next_queued(
                        Pool::Sandbox,
                        &slots,
                        &format!("bench-{w}"),
                        now,
                        now + 60_000,
                    )
                    .await
                    .unwrap()
                    .expect("seeded enough");
                store
                    .complete(
                        task.lease(),
                        Completion::Cancelled,
                        now,
                        LogEntry::info(now, "bench"),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    (per * workers) as f64 / started.elapsed().as_secs_f64()
}

async fn bench_backend(kind: &str) -> Option<Value> {
    let claims = env_usize("CLAIMS", 3000);
    let queued = env_usize("QUEUED", 1_000_000);

    // Claims per second.
    let mut claim_rates = serde_json::Map::new();
    for workers in [1, 2, 4] {
        let backend = Backend::fresh(kind, &format!("claims{workers}")).await?;
        let (app, store) = build(&backend).await;
        backend.seed(claims + 100).await;
        let rate = claims_per_second(store, workers, claims).await;
        claim_rates.insert(format!("{workers}_workers"), json!(rate.round()));
        drop(app);
        backend.cleanup().await;
    }

    // Status calls with `queued` requests in the queue.
    let backend = Backend::fresh(kind, "position").await?;
    let (app, store) = build(&backend).await;
    let seeded = Instant::now();
    backend.seed(queued).await;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let sample: Vec<usize> = (0..2000).map(|i| 1 + (i * 7919 + 13) % queued).collect();
    let id = |x: usize| format!("{x:08x}-0000-7000-8000-{x:012x}");
    let mut store_ms = Vec::new();
    for &x in &sample {
        let started = Instant::now();
        let t = store.get_task_any(id(x).parse().unwrap()).await.unwrap().unwrap();
        let pos = store.queue_position(&t).await.unwrap();
        store_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(pos >= 0 && pos < queued as i64);
    }
    let addr = app.local_addr();
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut http_ms = Vec::new();
    let mut last = Value::Null;
    for &x in &sample {
        let started = Instant::now();
        let r = http
            .get(format!("http://{addr}/tencent-vod/v1/aigc-video/requests/{}/status", id(x)))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        last = r.json().await.unwrap();
        http_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    stop.cancel();
    store_ms.sort_by(f64::total_cmp);
    http_ms.sort_by(f64::total_cmp);
    backend.cleanup().await;
    Some(json!({
        "claims_per_second": claim_rates,
        "queued": queued,
        "seed_seconds": (seed_secs * 10.0).round() / 10.0,
        "queue_position_ms": {"p50": percentile(&store_ms, 0.5), "p99": percentile(&store_ms, 0.99), "max": percentile(&store_ms, 1.0)},
        "http_status_call_ms": {"p50": percentile(&http_ms, 0.5), "p99": percentile(&http_ms, 0.99), "max": percentile(&http_ms, 1.0)},
        "last_queue_position_seen": last["queue_position"],
    }))
}

#[tokio::main]
async fn main() {
    let mut out = serde_json::Map::new();
    for kind in ["sqlite", "postgres"] {
        match bench_backend(kind).await {
            Some(v) => {
                eprintln!("{kind}: {v}");
                out.insert(kind.into(), v);
            }
            None => eprintln!("{kind}: skipped (set VIDGATE_TEST_PG_URL to include it)"),
        }
    }
    println!("{}", serde_json::to_string_pretty(&Value::Object(out)).unwrap());
}
