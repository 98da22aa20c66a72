//! What the ledger module reads of the ledger: entries (the admin listing), the usage report,
//! the books and the money totals. With the writes beside it (`mod.rs`) and the balance rows
//! (`balances.rs`), every statement on `ledger` and `key_balances` is in this module.

use vidgate_domain::pricing::Credits;
use vidgate_domain::{KeyId, Millis};

use crate::db::{Db, Row, built_sql, sql};
use crate::{LedgerEntry, Result, StoreError, UsageQuery, UsageRow};

/// A `ledger` row as stored, decoded by column name; amounts are micro-credits.
#[derive(sqlx::FromRow)]
struct LedgerRow {
    seq: i64,
    at: i64,
    key_id: String,
    request_id: Option<String>,
    kind: String,
    amount: i64,
    spend: i64,
    model: Option<String>,
    uncharged: Option<i64>,
    note: Option<String>,
    specification: Option<String>,
    seconds: Option<f64>,
    /// JSON text.
    usage: Option<String>,
}

fn ledger_from_row(row: &Row) -> Result<LedgerEntry> {
    let r: LedgerRow = row.decode()?;
    Ok(LedgerEntry {
        seq: r.seq,
        at: r.at,
        key_id: r.key_id.into(),
        request_id: r.request_id,
        kind: r.kind,
        amount: Credits::from_micros(r.amount),
        spend: Credits::from_micros(r.spend),
        model: r.model,
        specification: r.specification,
        seconds: r.seconds,
        usage: r
            .usage
            .map(|u| serde_json::from_str(&u))
            .transpose()
            .map_err(StoreError::corrupt)?,
        uncharged: r.uncharged.map(Credits::from_micros),
        note: r.note,
    })
}

/// Ledger entries after `after_seq`, of one key or all, oldest first.
pub(crate) async fn entries(
    db: &Db,
    key_id: Option<&KeyId>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<LedgerEntry>> {
    let stmt =
        sql("SELECT seq, at, key_id, request_id, kind, amount, spend, model, uncharged, note,
                    specification, seconds, usage
                        FROM ledger WHERE ($1 IS NULL OR key_id = $1) AND seq > $2
                        ORDER BY seq LIMIT $3")
        .bind(key_id.map(KeyId::as_str))
        .bind(after_seq)
        .bind(limit);
    db.read(stmt).await?.iter().map(ledger_from_row).collect()
}

/// The usage report: priced requests and their money by day, model or key.
pub(crate) async fn usage(db: &Db, q: &UsageQuery) -> Result<Vec<UsageRow>> {
    // The group column comes from a closed enum, never from the caller's text.
    let text = format!(
            "SELECT coalesce({col}, '') AS grp,
                    CAST(sum(CASE WHEN kind = 'hold' THEN 1 ELSE 0 END) AS BIGINT) AS requests,
                    CAST(sum(CASE WHEN kind = 'settle' THEN 1 ELSE 0 END) AS BIGINT) AS succeeded,
                    CAST(sum(CASE WHEN kind = 'release' THEN 1 ELSE 0 END) AS BIGINT) AS released,
                    sum(CASE WHEN kind IN ('settle', 'late_charge') THEN coalesce(seconds, 0.0) ELSE 0.0 END) AS seconds,
                    CAST(sum(spend) AS BIGINT) AS spent
             FROM ledger
             WHERE request_id IS NOT NULL AND ($1 IS NULL OR key_id = $1)
               AND day >= $2 AND day <= $3
             GROUP BY coalesce({col}, '') ORDER BY grp",
            col = q.group_by.column()
        );
    let stmt = built_sql(text).bind(q.key_id.as_deref()).bind(&q.from).bind(&q.to);
    let mut out = Vec::new();
    for row in db.read(stmt).await? {
        let requests = row.int("requests")?;
        let (succeeded, released) = (row.int("succeeded")?, row.int("released")?);
        out.push(UsageRow {
            group: row.text("grp")?,
            requests,
            succeeded,
            released,
            pending: requests - succeeded - released,
            seconds: row.opt_float("seconds")?.unwrap_or(0.0),
            spent: Credits::from_micros(row.int("spent")?),
        });
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct BookRowSql {
    id: String,
    key_id: String,
    finished_at: i64,
    /// JSON text of the task's quote and charge.
    quote: Option<String>,
    charge: Option<String>,
    settle_seq: Option<i64>,
    settle_seconds: Option<f64>,
}

/// The requests that ended in `[from, to)` having reached the upstream: succeeded, or with a
/// settlement (a request that timed out for its owner while its job ran on).
pub(crate) async fn books(db: &Db, from: Millis, to: Millis) -> Result<Vec<crate::BookRow>> {
    let stmt = sql("SELECT t.id, t.key_id, t.finished_at, t.quote, t.charge,
                           l.seq AS settle_seq, l.seconds AS settle_seconds
                    FROM tasks t LEFT JOIN ledger l ON l.request_id = t.id AND l.kind = 'settle'
                    WHERE t.finished_at >= $1 AND t.finished_at < $2
                      AND (t.state = 'succeeded' OR l.seq IS NOT NULL)
                    ORDER BY t.id")
    .bind(from)
    .bind(to);
    let mut out = Vec::new();
    for row in db.read(stmt).await? {
        let r: BookRowSql = row.decode()?;
        let json = |t: Option<String>| -> Result<Option<serde_json::Value>> {
            t.map(|t| serde_json::from_str(&t)).transpose().map_err(StoreError::corrupt)
        };
        let quote = json(r.quote)?;
        let charge = json(r.charge)?;
        let reported = charge
            .and_then(|c| c.get("usage").cloned())
            .filter(|u| !u.is_null())
            .map(serde_json::from_value)
            .transpose()
            .map_err(StoreError::corrupt)?;
        out.push(crate::BookRow {
            request_id: r.id,
            key_id: r.key_id.into(),
            finished_at: r.finished_at,
            specification: quote
                .and_then(|q| q.get("specification").and_then(|s| s.as_str()).map(str::to_owned)),
            reported,
            settled: r.settle_seq.map(|_| r.settle_seconds),
        });
    }
    Ok(out)
}

/// Money by model and key: each request's hold beside the row that closed it (if any). A
/// close with a note is a settlement written after its request had ended for its owner.
///
/// One pass over the ledger's open and close rows, grouped by request (a row without one
/// alone, as the join took it), then by model and key:
/// never a join of the ledger with itself, whose plan, if made while the ledger was small
/// (PostgreSQL keeps the generic plan of a statement without parameters on its connection
/// until the table is analysed again), can be a nested loop costing the square of the
/// ledger's rows (seen: a scrape of `/metrics` busy for minutes over 200,000 holds). Still a
/// full read of the ledger per call (README, "Health and metrics").
pub(crate) async fn money_totals(db: &Db) -> Result<Vec<crate::MoneyTotals>> {
    let stmt = sql(
        "SELECT coalesce(r.model, '') AS model, r.key_id,
                CAST(sum(CASE WHEN r.closed IS NULL THEN r.hold ELSE 0 END) AS BIGINT) AS held,
                CAST(sum(CASE WHEN r.closed = 'settle' AND r.note IS NULL
                              THEN r.hold + r.charge ELSE 0 END) AS BIGINT) AS settled,
                CAST(sum(CASE WHEN r.closed = 'settle' AND r.note IS NOT NULL
                              THEN r.hold + r.charge ELSE 0 END) AS BIGINT) AS late,
                CAST(sum(CASE WHEN r.closed = 'release' THEN r.hold ELSE 0 END) AS BIGINT) AS released
         FROM (SELECT max(model) FILTER (WHERE phase = 'open') AS model,
                      max(key_id) FILTER (WHERE phase = 'open') AS key_id,
                      sum(spend) FILTER (WHERE phase = 'open') AS hold,
                      max(kind) FILTER (WHERE phase = 'close') AS closed,
                      max(note) FILTER (WHERE phase = 'close') AS note,
                      sum(spend) FILTER (WHERE phase = 'close') AS charge,
                      count(*) FILTER (WHERE phase = 'open') AS opened
               FROM ledger WHERE phase IN ('open', 'close')
               GROUP BY request_id, CASE WHEN request_id IS NULL THEN seq END) r
         WHERE r.opened > 0
         GROUP BY coalesce(r.model, ''), r.key_id
         ORDER BY 1, 2",
    );
    let mut out = Vec::new();
    for row in db.read(stmt).await? {
        out.push(crate::MoneyTotals {
            model: row.text("model")?,
            key_id: row.text("key_id")?.into(),
            held: Credits::from_micros(row.int("held")?),
            settled: Credits::from_micros(row.int("settled")?),
            late_charged: Credits::from_micros(row.int("late")?),
            released: Credits::from_micros(row.int("released")?),
        });
    }
    Ok(out)
}
