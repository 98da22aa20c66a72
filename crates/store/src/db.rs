//! The backend seam: everything the stores need from a database, for SQLite and PostgreSQL
//! alike. Statements are one SQL text with `$n` parameters (sqlx's SQLite driver takes them
//! too) and arguments bound by value; rows decode through one type. What truly differs stays
//! here: which pool reads and which writes (SQLite has one writer and separate readers),
//! how a write transaction begins (`BEGIN IMMEDIATE` on SQLite, so a read that precedes a
//! write cannot be invalidated by another process), the few dialect words (`SKIP LOCKED`),
//! and how change events leave a committed transaction (in-process on SQLite, `NOTIFY` on
//! PostgreSQL).

use std::sync::Arc;

use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Postgres, Row as _, SqlStr, Sqlite, Transaction};
use tokio::sync::broadcast;
use vidgate_domain::ErrorType;
use vidgate_domain::pricing::Credits;

use crate::fault_plan::FaultPlan;
use crate::{Result, StoreEvent};

/// The database behind a store, and the faults tests plan for it.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) conn: Conn,
    /// Statements made to fail on purpose (tests; empty otherwise), shared by every clone.
    pub(crate) faults: Arc<FaultPlan>,
}

/// The connections of one backend.
#[derive(Debug, Clone)]
pub(crate) enum Conn {
    Sqlite {
        /// One connection: SQLite has one writer, and queueing in-process beats SQLITE_BUSY.
        writer: SqlitePool,
        /// Read-only connections, so status polls never wait behind a write.
        reader: SqlitePool,
        /// Change events of this process (a SQLite file belongs to one server).
        feed: broadcast::Sender<StoreEvent>,
    },
    Postgres {
        pool: PgPool,
    },
}

/// The PostgreSQL channel replicas notify each other on.
pub(crate) const CHANNEL: &str = "vidgate_events";

/// One value bound to a statement.
#[derive(Debug, Clone)]
pub(crate) enum Arg<'a> {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<&'a str>),
    Owned(Option<String>),
    Bool(bool),
    /// Arrays, bound to PostgreSQL's `unnest` (its bulk statements: `task_rows.rs`,
    /// `ledger/balances.rs`); SQLite has no array type, and a statement binding one fails there.
    Texts(Vec<Option<String>>),
    Ints(Vec<Option<i64>>),
}

impl From<Vec<Option<String>>> for Arg<'_> {
    fn from(v: Vec<Option<String>>) -> Self {
        Arg::Texts(v)
    }
}
impl From<Vec<Option<i64>>> for Arg<'_> {
    fn from(v: Vec<Option<i64>>) -> Self {
        Arg::Ints(v)
    }
}

impl<'a> From<&'a vidgate_domain::KeyId> for Arg<'a> {
    fn from(v: &'a vidgate_domain::KeyId) -> Self {
        Arg::Text(Some(v.as_str()))
    }
}
impl<'a> From<&'a vidgate_domain::DeliveryId> for Arg<'a> {
    fn from(v: &'a vidgate_domain::DeliveryId) -> Self {
        Arg::Text(Some(v.as_str()))
    }
}

impl From<vidgate_domain::KeyId> for Arg<'_> {
    fn from(v: vidgate_domain::KeyId) -> Self {
        Arg::Owned(Some(v.to_string()))
    }
}
impl From<vidgate_domain::DeliveryId> for Arg<'_> {
    fn from(v: vidgate_domain::DeliveryId) -> Self {
        Arg::Owned(Some(v.to_string()))
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
/// Amounts are stored as integer micro-credits.
impl From<Credits> for Arg<'_> {
    fn from(v: Credits) -> Self {
        Arg::Int(Some(v.micros()))
    }
}
impl From<Option<Credits>> for Arg<'_> {
    fn from(v: Option<Credits>) -> Self {
        Arg::Int(v.map(Credits::micros))
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<Option<f64>> for Arg<'_> {
    fn from(v: Option<f64>) -> Self {
        Arg::Float(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}
impl From<ErrorType> for Arg<'_> {
    fn from(v: ErrorType) -> Self {
        Arg::Owned(Some(v.as_str().to_owned()))
    }
}
impl<'a> From<&'a ErrorType> for Arg<'a> {
    fn from(v: &'a ErrorType) -> Self {
        Arg::Text(Some(v.as_str()))
    }
}
impl From<Option<ErrorType>> for Arg<'_> {
    fn from(v: Option<ErrorType>) -> Self {
        Arg::Owned(v.map(|t| t.as_str().to_owned()))
    }
}
impl<'a> From<Option<&'a ErrorType>> for Arg<'a> {
    fn from(v: Option<&'a ErrorType>) -> Self {
        Arg::Text(v.map(ErrorType::as_str))
    }
}
impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Owned(Some(v))
    }
}
impl From<Option<String>> for Arg<'_> {
    fn from(v: Option<String>) -> Self {
        Arg::Owned(v)
    }
}

/// A statement and its arguments.
pub(crate) struct Stmt<'a> {
    sql: SqlStr,
    args: Vec<Arg<'a>>,
}

/// A statement with a fixed text.
pub(crate) fn sql<'a>(text: &'static str) -> Stmt<'a> {
    Stmt { sql: sqlx::SqlSafeStr::into_sql_str(text), args: Vec::new() }
}

/// A statement whose text was assembled at run time from fixed pieces (never from input).
pub(crate) fn built_sql<'a>(text: String) -> Stmt<'a> {
    Stmt { sql: sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(text)), args: Vec::new() }
}

/// A statement assembled once (per backend) from fixed pieces and kept (never from input).
pub(crate) fn shared_sql<'a>(text: &Arc<str>) -> Stmt<'a> {
    Stmt { sql: sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(text.clone())), args: Vec::new() }
}

impl<'a> Stmt<'a> {
    /// The statement's SQL (what planned faults match).
    pub(crate) fn text(&self) -> &str {
        self.sql.as_str()
    }

    pub(crate) fn bind(mut self, value: impl Into<Arg<'a>>) -> Self {
        self.args.push(value.into());
        self
    }
}

/// Binds every argument of `$stmt` to a sqlx query of the backend named (`sqlite` or
/// `postgres`); an array argument on SQLite returns an error from the enclosing function.
macro_rules! query {
    ($stmt:expr, $backend:ident) => {{
        let stmt = $stmt;
        let mut q = sqlx::query(stmt.sql);
        for arg in stmt.args {
            q = match arg {
                Arg::Int(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Owned(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Texts(v) => bind_array!($backend, q, v),
                Arg::Ints(v) => bind_array!($backend, q, v),
            };
        }
        q
    }};
}

/// An array argument: PostgreSQL binds it; SQLite has no arrays.
macro_rules! bind_array {
    (sqlite, $q:ident, $v:ident) => {{
        drop($v);
        return Err(crate::StoreError::corrupt("an array bound to a SQLite statement"));
    }};
    (postgres, $q:ident, $v:ident) => {
        $q.bind($v)
    };
}

/// A row of either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

/// Reads a column of either backend's row as `$ty`.
macro_rules! get {
    ($row:expr, $col:expr) => {
        match $row {
            Row::Sqlite(r) => r.try_get($col)?,
            Row::Postgres(r) => r.try_get($col)?,
        }
    };
}

impl Row {
    pub(crate) fn text(&self, c: &str) -> Result<String> {
        Ok(get!(self, c))
    }
    pub(crate) fn opt_text(&self, c: &str) -> Result<Option<String>> {
        Ok(get!(self, c))
    }
    pub(crate) fn int(&self, c: &str) -> Result<i64> {
        Ok(get!(self, c))
    }
    pub(crate) fn opt_int(&self, c: &str) -> Result<Option<i64>> {
        Ok(get!(self, c))
    }
    pub(crate) fn opt_float(&self, c: &str) -> Result<Option<f64>> {
        Ok(get!(self, c))
    }
    /// A boolean column (an integer on SQLite).
    pub(crate) fn flag(&self, c: &str) -> Result<bool> {
        Ok(get!(self, c))
    }

    /// The whole row as `T`, its fields read by column name (`#[derive(sqlx::FromRow)]`).
    pub(crate) fn decode<T>(&self) -> Result<T>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow>,
    {
        Ok(match self {
            Row::Sqlite(r) => T::from_row(r)?,
            Row::Postgres(r) => T::from_row(r)?,
        })
    }
}

fn rows<R>(rows: Vec<R>, wrap: fn(R) -> Row) -> Vec<Row> {
    rows.into_iter().map(wrap).collect()
}

impl Db {
    pub(crate) fn new(conn: Conn) -> Db {
        Db { conn, faults: Arc::default() }
    }

    /// Rows of a read (SQLite's read-only pool).
    pub(crate) async fn read(&self, stmt: Stmt<'_>) -> Result<Vec<Row>> {
        if let Some(fault) = self.faults.take(stmt.text()) {
            return fault.rows();
        }
        Ok(match &self.conn {
            Conn::Sqlite { reader, .. } => {
                rows(query!(stmt, sqlite).fetch_all(reader).await?, Row::Sqlite)
            }
            Conn::Postgres { pool } => {
                rows(query!(stmt, postgres).fetch_all(pool).await?, Row::Postgres)
            }
        })
    }

    /// The first row of a read, if any.
    pub(crate) async fn read_one(&self, stmt: Stmt<'_>) -> Result<Option<Row>> {
        Ok(self.read(stmt).await?.into_iter().next())
    }

    /// Runs one statement on its own (autocommit) and returns its rows (`RETURNING`).
    pub(crate) async fn write(&self, stmt: Stmt<'_>) -> Result<Vec<Row>> {
        if let Some(fault) = self.faults.take(stmt.text()) {
            return fault.rows();
        }
        Ok(match &self.conn {
            Conn::Sqlite { writer, .. } => {
                rows(query!(stmt, sqlite).fetch_all(writer).await?, Row::Sqlite)
            }
            Conn::Postgres { pool } => {
                rows(query!(stmt, postgres).fetch_all(pool).await?, Row::Postgres)
            }
        })
    }

    /// Runs one statement on its own (autocommit); the rows it changed.
    pub(crate) async fn execute(&self, stmt: Stmt<'_>) -> Result<u64> {
        if let Some(fault) = self.faults.take(stmt.text()) {
            return fault.changed();
        }
        Ok(match &self.conn {
            Conn::Sqlite { writer, .. } => {
                query!(stmt, sqlite).execute(writer).await?.rows_affected()
            }
            Conn::Postgres { pool } => query!(stmt, postgres).execute(pool).await?.rows_affected(),
        })
    }

    /// Runs one statement (with `RETURNING`) that writers of every process sharing the store
    /// must take in turn, by `lock`: under a PostgreSQL advisory lock in its own transaction;
    /// on SQLite, whose single writer already serializes it, as one autocommit statement.
    pub(crate) async fn write_exclusive(&self, lock: &str, stmt: Stmt<'_>) -> Result<Vec<Row>> {
        if !self.is_postgres() {
            return self.write(stmt).await;
        }
        let mut tx = self.begin().await?;
        tx.lock(lock).await?;
        let rows = tx.fetch(stmt).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Begins a write transaction.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        let inner = match &self.conn {
            Conn::Sqlite { writer, .. } => {
                TxInner::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            Conn::Postgres { pool } => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx { inner, events: Vec::new(), db: self.clone() })
    }

    /// Tells every worker of every process sharing the store what a committed write changed.
    pub(crate) async fn announce(&self, events: &[StoreEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        match &self.conn {
            Conn::Sqlite { feed, .. } => {
                for e in events {
                    // No receiver (no workers in this process) is fine.
                    let _ = feed.send(*e);
                }
            }
            Conn::Postgres { pool } => {
                notify_statement(events).execute(pool).await?;
            }
        }
        Ok(())
    }

    /// `FOR UPDATE SKIP LOCKED` where several writers compete for the head of a queue; SQLite
    /// has one writer, and its single-statement claims are atomic without it.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match &self.conn {
            Conn::Sqlite { .. } => "",
            Conn::Postgres { .. } => "FOR UPDATE SKIP LOCKED",
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.conn, Conn::Postgres { .. })
    }
}

/// One PostgreSQL connection of the pool with no transaction open, for a caller that runs a
/// few statements in turn, each committing on its own: no `BEGIN` or `COMMIT` round trip,
/// and the pool's check of the connection once for all of them. (A batch of creates that is
/// one statement: `sql/autocommit_batch.rs`.)
pub(crate) struct Session {
    conn: sqlx::pool::PoolConnection<Postgres>,
    db: Db,
}

impl Db {
    /// A connection for autocommit statements; `None` on SQLite, whose writes go through its
    /// one writer's transactions.
    pub(crate) async fn session(&self) -> Result<Option<Session>> {
        match &self.conn {
            Conn::Sqlite { .. } => Ok(None),
            Conn::Postgres { pool } => {
                Ok(Some(Session { conn: pool.acquire().await?, db: self.clone() }))
            }
        }
    }
}

impl Session {
    /// Runs one statement, committed when it ends (all of it, or nothing if it fails).
    pub(crate) async fn fetch(&mut self, stmt: Stmt<'_>) -> Result<Vec<Row>> {
        if let Some(fault) = self.db.faults.take(stmt.text()) {
            return fault.rows();
        }
        Ok(rows(query!(stmt, postgres).fetch_all(&mut *self.conn).await?, Row::Postgres))
    }
}

/// Whether a connection may go back to the pool: not while it still counts a transaction. A
/// `COMMIT` that fails on a full disk makes SQLite roll the transaction back by itself, and
/// the driver's own rollback then fails, leaving it believing a transaction is open: every
/// later `BEGIN` on that connection would fail. Such a connection is closed instead, and the
/// pool opens a fresh one.
pub(crate) fn fresh_after_failure(conn: &mut impl sqlx::Connection) -> bool {
    !conn.is_in_transaction()
}

/// One `pg_notify` per event, in one statement.
fn notify_statement(
    events: &[StoreEvent],
) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
    let payloads: Vec<String> = events.iter().map(StoreEvent::payload).collect();
    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p").bind(CHANNEL).bind(payloads)
}

enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A write transaction; the events it collects leave when it commits (never before, and not
/// at all when it rolls back).
pub(crate) struct Tx {
    inner: TxInner,
    events: Vec<StoreEvent>,
    db: Db,
}

impl Tx {
    pub(crate) async fn fetch(&mut self, stmt: Stmt<'_>) -> Result<Vec<Row>> {
        if let Some(fault) = self.db.faults.take(stmt.text()) {
            return fault.rows();
        }
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => {
                rows(query!(stmt, sqlite).fetch_all(&mut **tx).await?, Row::Sqlite)
            }
            TxInner::Postgres(tx) => {
                rows(query!(stmt, postgres).fetch_all(&mut **tx).await?, Row::Postgres)
            }
        })
    }

    pub(crate) async fn fetch_one(&mut self, stmt: Stmt<'_>) -> Result<Option<Row>> {
        Ok(self.fetch(stmt).await?.into_iter().next())
    }

    pub(crate) async fn execute(&mut self, stmt: Stmt<'_>) -> Result<u64> {
        if let Some(fault) = self.db.faults.take(stmt.text()) {
            return fault.changed();
        }
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => query!(stmt, sqlite).execute(&mut **tx).await?.rows_affected(),
            TxInner::Postgres(tx) => {
                query!(stmt, postgres).execute(&mut **tx).await?.rows_affected()
            }
        })
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.inner, TxInner::Postgres(_))
    }

    /// Sent to every process sharing the store once the transaction commits.
    pub(crate) fn emit(&mut self, events: impl IntoIterator<Item = StoreEvent>) {
        self.events.extend(events);
    }

    pub(crate) async fn commit(self) -> Result<()> {
        if let Some(fault) = self.db.faults.take("COMMIT") {
            // Failed before it committed: nothing of the transaction is kept.
            self.rollback().await?;
            return fault.changed().map(|_| ());
        }
        let Tx { inner, events, db } = self;
        match inner {
            TxInner::Sqlite(tx) => {
                tx.commit().await?;
                db.announce(&events).await?;
            }
            TxInner::Postgres(mut tx) => {
                // Queued in the transaction: PostgreSQL delivers them at its commit.
                if !events.is_empty() {
                    notify_statement(&events).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await?,
            TxInner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Takes a lock named `name` until the transaction ends: PostgreSQL's advisory locks, for
    /// what several replicas must do in turn. SQLite's `BEGIN IMMEDIATE` already serializes
    /// every write transaction.
    pub(crate) async fn lock(&mut self, name: &str) -> Result<()> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(name)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Runs a bare statement (`SAVEPOINT …`) with no arguments.
    pub(crate) async fn run(&mut self, text: &'static str) -> Result<()> {
        self.execute(sql(text)).await.map(|_| ())
    }
}
