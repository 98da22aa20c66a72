//! The per-key balance rows (`key_balances`, migration 0013): what budget checks read and
//! lock, and the one statement that adds to them. Derived from the ledger: every change here
//! is made by the ledger function writing the ledger row it follows, in its transaction.
//!
//! Budgets hold exactly across replicas because what a batch of creates charges reaches a
//! key's row only through a statement that locks it: on PostgreSQL the batch reads the rows
//! without a lock and its last statement, `apply_if_fits`, adds its holds only where the
//! budget still covers them as the row then stands (else the batch runs again with the rows
//! locked from its start by `lock_spend`, in key order); SQLite's one writer
//! serializes anyway. The row lock lasts from that statement to the commit: two replicas
//! creating for one key take turns per batch, and only for its last statement and commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use vidgate_domain::pricing::Credits;
use vidgate_domain::{KeyId, Millis};

use super::super::batch::{MultiRow, chunk_sizes};
use super::super::budget::{Spend, budget_from_row, periods};
use crate::db::{Row, Stmt, Tx, shared_sql, sql};
use crate::{Result, StoreError};

/// A change to one key's row: `topups` and `spent` are added; `day_spent` and `month_spent`
/// count in `day` and `month` (a hold's, or the hold's a close changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Change {
    pub day: String,
    pub month: String,
}

/// Changes to apply: per key and period pair, the top-ups and the spend to add.
pub(crate) type Changes = BTreeMap<(KeyId, Change), (Credits, Credits)>;

/// Adds a spend of `amount` by `key_id` at `at` (a hold) to `changes`.
pub(crate) fn add_spend(changes: &mut Changes, key_id: &KeyId, at: Millis, amount: Credits) {
    let (day, month) = periods(at);
    let entry = changes.entry((key_id.clone(), Change { day, month })).or_default();
    entry.1 = entry.1 + amount;
}

/// The columns a budget check reads, of a key joined to its row.
macro_rules! spend_columns {
    () => {
        "k.id AS key_id, k.prepaid, k.day_limit, k.month_limit, b.topups, b.spent, b.day, b.day_spent,
         b.month, b.month_spent"
    };
}

/// The columns of a read without a lock: a key's missing row reads as nothing spent (the
/// first hold's upsert makes it).
macro_rules! read_columns {
    () => {
        "k.id AS key_id, k.prepaid, k.day_limit, k.month_limit,
         coalesce(b.topups, 0) AS topups, coalesce(b.spent, 0) AS spent,
         coalesce(b.day, '') AS day, coalesce(b.day_spent, 0) AS day_spent,
         coalesce(b.month, '') AS month, coalesce(b.month_spent, 0) AS month_spent"
    };
}
pub(crate) use read_columns;

/// A key's spend as of `at`. The row's day and month spend count when the row is in the
/// period of `at` or a later one (another replica's clock may be ahead): a hold is added to
/// the row's current period whatever its own (`HOLD_TAIL`), so that is what a create spends
/// into.
pub(crate) fn spend_from_row(row: &Row, at: Millis) -> Result<Spend> {
    let (day, month) = periods(at);
    let credits = |c: &str| row.int(c).map(Credits::from_micros);
    let in_period = |p: &str, col: &str, current: &str| -> Result<Credits> {
        Ok(if row.text(p)?.as_str() >= current { credits(col)? } else { Credits::ZERO })
    };
    Ok(Spend {
        budget: budget_from_row(row)?,
        topped_up: credits("topups")?,
        total: credits("spent")?,
        day: in_period("day", "day_spent", &day)?,
        month: in_period("month", "month_spent", &month)?,
    })
}

/// What the key spent (in total, on the day and in the month of `at`), its top-ups and its
/// budget, without locking (a balance shown to its owner). `None` when the key does not exist.
pub(crate) async fn key_spend(tx: &mut Tx, key_id: &str, at: Millis) -> Result<Option<Spend>> {
    let key = KeyId::from(key_id);
    Ok(read_spend(tx, &[&key], at, false).await?.into_values().next())
}

/// Locks the rows of `keys` (in key order, so two transactions locking several keys cannot
/// deadlock on each other) and reads them as of `at`, making the row of a key that has none
/// yet (PostgreSQL; on SQLite nothing is locked or made, and a missing row reads as nothing
/// spent). Keys that do not exist are left out. Held until the transaction ends.
pub(crate) async fn lock_spend(
    tx: &mut Tx,
    keys: &[&KeyId],
    at: Millis,
) -> Result<HashMap<KeyId, Spend>> {
    read_spend(tx, keys, at, true).await
}

/// `lock_spend`, or with `lock` false the same read without locking (a batch of creates
/// that checks again under the lock before it commits: `group_commit.rs`).
pub(crate) async fn read_spend(
    tx: &mut Tx,
    keys: &[&KeyId],
    at: Millis,
    lock: bool,
) -> Result<HashMap<KeyId, Spend>> {
    let mut sorted: Vec<&KeyId> = keys.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut out = HashMap::with_capacity(sorted.len());
    let mut each = |row: &Row| {
        out.insert(KeyId::from(row.text("key_id")?), spend_from_row(row, at)?);
        Ok(())
    };
    if sorted.is_empty() {
        return Ok(out);
    }
    if tx.is_postgres() {
        // One statement whatever the number of keys (a round trip each, on PostgreSQL).
        let text = if lock { LOCK_ANY } else { READ_ANY };
        for row in tx.fetch(sql(text).bind(sql_keys(&sorted))).await? {
            each(&row)?;
        }
        return Ok(out);
    }
    each_chunk(tx, &sorted, read_texts(), each).await?;
    Ok(out)
}

/// `keys` as a PostgreSQL text array.
fn sql_keys(keys: &[&KeyId]) -> Vec<Option<String>> {
    keys.iter().map(|k| Some(k.to_string())).collect()
}

/// PostgreSQL's read of keys' spend without a lock (`read_texts`, over an array).
const READ_ANY: &str = concat!(
    "SELECT ",
    read_columns!(),
    " FROM api_keys k LEFT JOIN key_balances b ON b.key_id = k.id WHERE k.id = ANY($1::text[])"
);

/// PostgreSQL's locked read, in one pass in key order as Rust sorts keys (bytes: collation
/// "C", the order every statement that locks several balance rows takes them in): each key's
/// row is made if missing or, if it exists, locked by the no-op update of the upsert. (Made
/// first and then locked in a second pass, a key whose row this batch made could be waited on
/// by another batch holding a key locked later, which would wait on this one: a deadlock.)
const LOCK_ANY: &str = concat!(
    "WITH b AS (
       INSERT INTO key_balances AS r (key_id)
       SELECT k.id FROM api_keys k WHERE k.id = ANY($1::text[]) ORDER BY k.id COLLATE \"C\"
       ON CONFLICT (key_id) DO UPDATE SET key_id = r.key_id
       RETURNING *)
     SELECT ",
    spend_columns!(),
    " FROM b JOIN api_keys k ON k.id = b.key_id"
);

/// SQLite's read of keys' spend, in multi-row chunks (its one writer makes a lock needless).
fn read_texts() -> &'static MultiRow {
    static TEXTS: OnceLock<MultiRow> = OnceLock::new();
    TEXTS.get_or_init(|| {
        MultiRow::new(
            concat!(
                "SELECT ",
                read_columns!(),
                " FROM api_keys k LEFT JOIN key_balances b ON b.key_id = k.id
                  WHERE k.id IN (SELECT column1 FROM ("
            ),
            "(?)",
            ") AS v)",
        )
    })
}

/// Runs `texts` over `sorted` keys, a chunk per statement, handing each row to `each`.
async fn each_chunk(
    tx: &mut Tx,
    sorted: &[&KeyId],
    texts: &MultiRow,
    mut each: impl FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let mut rest = sorted;
    for size in chunk_sizes(sorted.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut stmt = shared_sql(texts.text(size));
        for key in chunk {
            stmt = stmt.bind(*key);
        }
        for row in tx.fetch(stmt).await? {
            each(&row)?;
        }
    }
    Ok(())
}

/// The upsert that adds a change to a key's row (making a row that is missing). Each set
/// expression reads the row as it was (both backends).
const UPSERT_HEAD: &str =
    "INSERT INTO key_balances AS b (key_id, topups, spent, day, day_spent, month, month_spent)";
const UPSERT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?)";
/// PostgreSQL's rows of the upsert: any number of changes in one statement, one array per
/// column, in the order given (key order: the order rows are locked in).
const UPSERT_UNNEST: &str = "SELECT u.key_id, u.topups, u.spent, u.day, u.spent, u.month, u.spent
     FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])
          WITH ORDINALITY AS u(key_id, topups, spent, day, month, ord)
     ORDER BY u.ord";

/// An upsert's texts: SQLite's multi-row chunks, and PostgreSQL's one statement.
struct Upsert {
    rows: MultiRow,
    unnest: Arc<str>,
}

impl Upsert {
    fn new(tail: &str) -> Upsert {
        Upsert {
            rows: MultiRow::new(UPSERT_HEAD, UPSERT_ROW, tail),
            unnest: Arc::from(format!("{UPSERT_HEAD} {UPSERT_UNNEST} {tail}")),
        }
    }
}
macro_rules! upsert_tail {
    () => {
        "ON CONFLICT (key_id) DO UPDATE SET
            topups = b.topups + excluded.topups,
            spent = b.spent + excluded.spent,
            day_spent = CASE WHEN excluded.day = b.day THEN b.day_spent + excluded.day_spent
                             WHEN excluded.day > b.day THEN excluded.day_spent
                             ELSE b.day_spent END,
            day = CASE WHEN excluded.day > b.day THEN excluded.day ELSE b.day END,
            month_spent = CASE WHEN excluded.month = b.month THEN b.month_spent + excluded.month_spent
                               WHEN excluded.month > b.month THEN excluded.month_spent
                               ELSE b.month_spent END,
            month = CASE WHEN excluded.month > b.month THEN excluded.month ELSE b.month END"
    };
}

/// The upsert of holds: a hold counts in the row's current day and month, or starts a newer
/// one; one dated before the row's period (a replica whose clock is behind, a batch read just
/// before midnight) counts in the row's current period, never in none.
macro_rules! hold_tail {
    () => {
        "ON CONFLICT (key_id) DO UPDATE SET
            topups = b.topups + excluded.topups,
            spent = b.spent + excluded.spent,
            day_spent = CASE WHEN excluded.day > b.day THEN excluded.day_spent
                             ELSE b.day_spent + excluded.day_spent END,
            day = CASE WHEN excluded.day > b.day THEN excluded.day ELSE b.day END,
            month_spent = CASE WHEN excluded.month > b.month THEN excluded.month_spent
                               ELSE b.month_spent + excluded.month_spent END,
            month = CASE WHEN excluded.month > b.month THEN excluded.month ELSE b.month END"
    };
}

/// The condition of a hold upsert (`hold_tail!`) that changes a key's row only where its
/// budget, as the row stands when the statement reaches it, still covers the holds: the same
/// rule as `KeyBudget::refusal`, in SQL (`apply_if_fits`, and the one-statement batch of
/// `sql/autocommit_batch.rs`).
macro_rules! fits_where {
    () => {
        "WHERE (SELECT (NOT k.prepaid OR b.topups - b.spent - excluded.spent >= 0)
                AND (k.day_limit IS NULL OR k.day_limit >= excluded.day_spent
                     + CASE WHEN excluded.day > b.day THEN 0 ELSE b.day_spent END)
                AND (k.month_limit IS NULL OR k.month_limit >= excluded.month_spent
                     + CASE WHEN excluded.month > b.month THEN 0 ELSE b.month_spent END)
              FROM api_keys k WHERE k.id = b.key_id)"
    };
}
pub(crate) use {fits_where, hold_tail};

/// Applies holds (`hold_tail!`) to the keys' rows, as they come (the batch checked them
/// against rows it locked).
pub(crate) async fn apply_holds(tx: &mut Tx, changes: Changes) -> Result<()> {
    static TEXTS: OnceLock<Upsert> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| Upsert::new(hold_tail!()));
    let (sent, written) = upsert(tx, texts, changes).await?;
    if written != sent {
        return Err(StoreError::corrupt(format!("a hold wrote {written} of {sent} balance rows")));
    }
    Ok(())
}

/// Applies `changes` (closes and top-ups) to the keys' rows (making a row that is missing): a
/// close's change counts in its hold's period, or in none once the row has moved past it.
pub(crate) async fn apply(tx: &mut Tx, changes: Changes) -> Result<()> {
    static TEXTS: OnceLock<Upsert> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| Upsert::new(upsert_tail!()));
    let (sent, written) = upsert(tx, texts, changes).await?;
    if written != sent {
        return Err(StoreError::corrupt(format!(
            "a balance change wrote {written} of {sent} rows"
        )));
    }
    Ok(())
}

/// Applies `changes` (holds) only where the key's budget, as its row stands when the
/// statement reaches it, still covers them: the same rule as `KeyBudget::refusal`, in SQL, so
/// a batch that checked its creates against rows read without a lock learns in one statement,
/// the rows locked in key order, whether they moved under it. `false`: some key's did, and
/// its row is left unchanged (the caller rolls back). A key without a row gets one from the
/// upsert's insert, unchecked: such a key has spent nothing, which is what the batch checked
/// it against (and if another batch makes the row first, this one's becomes a checked update).
pub(crate) async fn apply_if_fits(tx: &mut Tx, changes: Changes) -> Result<bool> {
    static TEXTS: OnceLock<Upsert> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        let tail = concat!(hold_tail!(), " ", fits_where!(), " RETURNING b.key_id");
        Upsert::new(tail)
    });
    let (sent, written) = upsert(tx, texts, changes).await?;
    Ok(written == sent)
}

/// Runs `changes` through the upsert `texts`: how many rows were sent and how many written
/// (a text with `RETURNING` counts the rows it returns). A key changed in two period pairs at
/// once (a batch across midnight) takes two statements: one statement may change a row once.
async fn upsert(tx: &mut Tx, texts: &Upsert, changes: Changes) -> Result<(u64, u64)> {
    let mut rounds: Vec<Vec<(KeyId, Change, Credits, Credits)>> = Vec::new();
    let mut last: Option<(KeyId, usize)> = None;
    for ((key, change), (topups, spent)) in changes {
        // Sorted by key: a key's second period pair goes in the next round.
        let round = match &last {
            Some((k, r)) if *k == key => r + 1,
            _ => 0,
        };
        if rounds.len() <= round {
            rounds.push(Vec::new());
        }
        rounds[round].push((key.clone(), change, topups, spent));
        last = Some((key, round));
    }
    let returning = texts.unnest.contains("RETURNING");
    let (mut sent, mut written) = (0, 0);
    for rows in rounds {
        let stmts: Vec<(Stmt<'_>, usize)> = if tx.is_postgres() {
            vec![(unnest_stmt(&texts.unnest, &rows), rows.len())]
        } else {
            chunk_stmts(&texts.rows, &rows)
        };
        for (stmt, size) in stmts {
            sent += size as u64;
            written += if returning {
                tx.fetch(stmt).await?.len() as u64
            } else {
                tx.execute(stmt).await?
            };
        }
    }
    Ok((sent, written))
}

/// One round's changes as PostgreSQL's one statement (`UPSERT_UNNEST`).
fn unnest_stmt<'a>(text: &Arc<str>, rows: &[(KeyId, Change, Credits, Credits)]) -> Stmt<'a> {
    let mut texts: [Vec<Option<String>>; 3] = Default::default();
    let mut ints: [Vec<Option<i64>>; 2] = Default::default();
    for (key, change, topups, spent) in rows {
        let row = [Some(key.to_string()), Some(change.day.clone()), Some(change.month.clone())];
        for (col, v) in texts.iter_mut().zip(row) {
            col.push(v);
        }
        for (col, v) in ints.iter_mut().zip([topups.micros(), spent.micros()]) {
            col.push(Some(v));
        }
    }
    let [key, day, month] = texts;
    let [topups, spent] = ints;
    shared_sql(text).bind(key).bind(topups).bind(spent).bind(day).bind(month)
}

/// One round's changes as SQLite's multi-row statements, each with its row count.
fn chunk_stmts<'a>(
    texts: &MultiRow,
    rows: &'a [(KeyId, Change, Credits, Credits)],
) -> Vec<(Stmt<'a>, usize)> {
    let mut out = Vec::new();
    let mut rest = rows;
    for size in chunk_sizes(rows.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut stmt = shared_sql(texts.text(size));
        for (key, change, topups, spent) in chunk {
            stmt = stmt
                .bind(key.as_str())
                .bind(*topups)
                .bind(*spent)
                .bind(change.day.as_str())
                .bind(*spent)
                .bind(change.month.as_str())
                .bind(*spent);
        }
        out.push((stmt, size));
    }
    out
}
