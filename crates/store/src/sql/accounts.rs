//! `AccountStore` over the SQL seam: top-ups, balances, the ledger and usage reports.

use async_trait::async_trait;
use vidgate_domain::KeyId;
use vidgate_domain::Millis;
use vidgate_domain::pricing::Credits;

use super::SqlStore;
use super::budget::{budget_lock, key_spend};
use crate::db::{Row, Tx, built_sql, sql};
use crate::{AccountStore, Balance, LedgerEntry, Result, TopUp, UsageQuery, UsageRow};

/// A key's balance read inside `tx`; `None` when the key does not exist.
async fn balance_in(tx: &mut Tx, key_id: &str, now: Millis) -> Result<Option<Balance>> {
    let Some(s) = key_spend(tx, key_id, now).await? else { return Ok(None) };
    Ok(Some(Balance {
        balance: s.balance(),
        topped_up: s.topped_up,
        spent_total: s.total,
        spent_today: s.day,
        spent_this_month: s.month,
        budget: s.budget,
    }))
}

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
        uncharged: r.uncharged.map(Credits::from_micros),
        note: r.note,
    })
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn top_up(
        &self,
        key_id: &KeyId,
        amount: Credits,
        note: &str,
        now: Millis,
    ) -> Result<TopUp> {
        let mut tx = self.db.begin().await?;
        // The creates' budget lock: a balance read here cannot be spent meanwhile.
        tx.lock(&budget_lock(key_id)).await?;
        let Some(before) = balance_in(&mut tx, key_id, now).await? else {
            tx.rollback().await?;
            return Ok(TopUp::NoSuchKey);
        };
        if before.budget.prepaid && before.balance + amount < Credits::ZERO {
            tx.rollback().await?;
            return Ok(TopUp::WouldOverdraw { balance: before.balance });
        }
        super::ledger::top_up(&mut tx, key_id, amount, note, now).await?;
        let after = balance_in(&mut tx, key_id, now).await?;
        tx.commit().await?;
        Ok(after.map_or(TopUp::NoSuchKey, TopUp::Done))
    }

    async fn balance(&self, key_id: &KeyId, now: Millis) -> Result<Option<Balance>> {
        let mut tx = self.db.begin().await?;
        let balance = balance_in(&mut tx, key_id, now).await?;
        tx.rollback().await?;
        Ok(balance)
    }

    async fn ledger(
        &self,
        key_id: Option<&KeyId>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<LedgerEntry>> {
        let stmt =
            sql("SELECT seq, at, key_id, request_id, kind, amount, spend, model, uncharged, note
                        FROM ledger WHERE ($1 IS NULL OR key_id = $1) AND seq > $2
                        ORDER BY seq LIMIT $3")
            .bind(key_id.map(KeyId::as_str))
            .bind(after_seq)
            .bind(limit);
        self.db.read(stmt).await?.iter().map(ledger_from_row).collect()
    }

    async fn usage(&self, q: &UsageQuery) -> Result<Vec<UsageRow>> {
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
        for row in self.db.read(stmt).await? {
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
}
