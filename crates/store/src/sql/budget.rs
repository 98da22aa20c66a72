//! Checking a create against its key's budget inside the insert's transaction. A key with a
//! budget serializes its creates on a lock (PostgreSQL's advisory lock; SQLite's one writer
//! already does), so the check and the hold the insert writes (`ledger::hold`) are one step:
//! no two creates can both spend the last credit.

use vidgate_domain::Millis;
use vidgate_domain::pricing::{Credits, day_of};

use super::ledger::key_spend;
use crate::db::{Row, Tx, sql};
use crate::{BudgetRefusal, KeyBudget, NewTask, Result};

/// The UTC day (`2026-12-03`) and month (`2026-12`) a timestamp's spend counts in.
pub(crate) fn periods(at: Millis) -> (String, String) {
    let day = day_of(at);
    (day.format("%Y-%m-%d").to_string(), day.format("%Y-%m").to_string())
}

/// What a key has spent, in the periods that matter to one create, and its budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spend {
    pub budget: KeyBudget,
    pub topped_up: Credits,
    pub total: Credits,
    pub day: Credits,
    pub month: Credits,
}

impl Spend {
    pub(crate) fn balance(&self) -> Credits {
        self.topped_up - self.total
    }

    /// Why `needed` more would break the budget, if it would.
    pub(crate) fn refusal(&self, needed: Option<Credits>) -> Option<BudgetRefusal> {
        self.budget.refusal(self.balance(), self.day, self.month, needed)
    }

    /// Counts an admitted create (the group commit's running tally).
    pub(crate) fn add(&mut self, amount: Credits) {
        self.total = self.total + amount;
        self.day = self.day + amount;
        self.month = self.month + amount;
    }
}

/// The key's budget; `None` when the key has none (or does not exist).
async fn key_budget(tx: &mut Tx, key_id: &str) -> Result<Option<KeyBudget>> {
    let stmt =
        sql("SELECT prepaid, day_limit, month_limit FROM api_keys WHERE id = $1").bind(key_id);
    let Some(row) = tx.fetch_one(stmt).await? else { return Ok(None) };
    let budget = budget_from_row(&row)?;
    Ok(budget.is_limited().then_some(budget))
}

pub(crate) fn budget_from_row(row: &Row) -> Result<KeyBudget> {
    Ok(KeyBudget {
        prepaid: row.flag("prepaid")?,
        day_limit: row.opt_int("day_limit")?.map(Credits::from_micros),
        month_limit: row.opt_int("month_limit")?.map(Credits::from_micros),
    })
}

/// The lock a key's budget checks and balance changes take (PostgreSQL; SQLite's one writer
/// already serializes them).
pub(crate) fn budget_lock(key_id: &str) -> String {
    format!("vidgate:budget:{key_id}")
}

/// Why the key's budget refuses `task`, checked exactly: a key with a budget takes its lock
/// first (held until the transaction ends) and reads its spend after it.
pub(crate) async fn over_budget(tx: &mut Tx, task: &NewTask) -> Result<Option<BudgetRefusal>> {
    if key_budget(tx, &task.key_id).await?.is_none() {
        return Ok(None);
    }
    tx.lock(&budget_lock(&task.key_id)).await?;
    let Some(spend) = key_spend(tx, &task.key_id, task.created_at).await? else { return Ok(None) };
    Ok(spend.refusal(task.quote.as_ref().map(|q| q.amount)))
}
