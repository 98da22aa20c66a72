//! `AccountStore` over the SQL seam: top-ups, balances, the ledger and usage reports.

use async_trait::async_trait;
use vidgate_domain::KeyId;
use vidgate_domain::Millis;
use vidgate_domain::pricing::Credits;

use super::SqlStore;
use super::budget::Spend;
use super::ledger::{self, key_spend, lock_spend};
use crate::db::Tx;
use crate::{AccountStore, Balance, LedgerEntry, Result, TopUp, UsageQuery, UsageRow};

/// A key's balance read inside `tx`; `None` when the key does not exist.
async fn balance_in(tx: &mut Tx, key_id: &str, now: Millis) -> Result<Option<Balance>> {
    Ok(key_spend(tx, key_id, now).await?.map(balance_of))
}

fn balance_of(s: Spend) -> Balance {
    Balance {
        balance: s.balance(),
        topped_up: s.topped_up,
        spent_total: s.total,
        spent_today: s.day,
        spent_this_month: s.month,
        budget: s.budget,
    }
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
        // The key's balance row, locked as creates lock it: what is read here cannot be spent
        // meanwhile.
        let Some(before) =
            lock_spend(&mut tx, &[key_id], now).await?.remove(key_id).map(balance_of)
        else {
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
        ledger::entries(&self.db, key_id, after_seq, limit).await
    }

    async fn usage(&self, q: &UsageQuery) -> Result<Vec<UsageRow>> {
        ledger::usage(&self.db, q).await
    }

    async fn books(&self, from: Millis, to: Millis) -> Result<Vec<crate::BookRow>> {
        ledger::books(&self.db, from, to).await
    }

    async fn money_totals(&self) -> Result<Vec<crate::MoneyTotals>> {
        ledger::money_totals(&self.db).await
    }
}
