//! A key's spend as a budget check sees it (`Spend`), read from its balance row by the ledger
//! module (`ledger::lock_spend`, which locks the row until the create's hold is written, so
//! no two creates can both spend the last credit).

use vidgate_domain::Millis;
use vidgate_domain::pricing::{Credits, day_of};

use crate::db::Row;
use crate::{BudgetRefusal, KeyBudget, Result};

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

pub(crate) fn budget_from_row(row: &Row) -> Result<KeyBudget> {
    Ok(KeyBudget {
        prepaid: row.flag("prepaid")?,
        day_limit: row.opt_int("day_limit")?.map(Credits::from_micros),
        month_limit: row.opt_int("month_limit")?.map(Credits::from_micros),
    })
}
