//! Accounting in the store: balances, top-ups, the ledger and usage reports. Holds and their
//! settlement are written by the task transitions that cause them (`sql/ledger/` is the one
//! place money is written), so no code path can forget one.

use async_trait::async_trait;
use serde::Serialize;
use vidgate_domain::pricing::Credits;
use vidgate_domain::{KeyId, Millis};

use crate::{KeyBudget, Result};

/// A key's money as of now: balance (top-ups minus spend), spend in the current UTC day and
/// month, and its budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Balance {
    pub balance: Credits,
    pub topped_up: Credits,
    pub spent_total: Credits,
    pub spent_today: Credits,
    pub spent_this_month: Credits,
    pub budget: KeyBudget,
}

impl Balance {
    /// Why the budget would refuse `needed` more now (the insert checks it again, exactly).
    pub fn refusal(&self, needed: Option<Credits>) -> Option<crate::BudgetRefusal> {
        self.budget.refusal(self.balance, self.spent_today, self.spent_this_month, needed)
    }
}

/// One row of the append-only ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub seq: i64,
    pub at: Millis,
    pub key_id: KeyId,
    pub request_id: Option<String>,
    /// `hold`, `settle`, `release`, `overage` (reported beyond the hold, not charged),
    /// `topup`, `adjust` (and `late_charge` from builds before holds stayed open while a
    /// detached job was followed).
    pub kind: String,
    /// The change to the key's balance.
    pub amount: Credits,
    /// The change to what the key spent.
    pub spend: Credits,
    pub model: Option<String>,
    /// The upstream's usage product the request was priced as (on its hold and its close).
    pub specification: Option<String>,
    /// On a `settle` row: the seconds charged for, and the upstream's usage figures as it
    /// reported them (`Output.Usage`).
    pub seconds: Option<f64>,
    pub usage: Option<serde_json::Value>,
    /// On an `overage` row: what the upstream reported beyond the hold, not charged.
    pub uncharged: Option<Credits>,
    pub note: Option<String>,
}

/// How a usage report groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Day,
    Model,
    Key,
    /// By day and model: the group is `YYYY-MM-DD/Model` (the dashboard's usage chart).
    DayModel,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Model => "model",
            GroupBy::Key => "key",
            GroupBy::DayModel => "day_model",
        }
    }

    pub(crate) fn column(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Model => "model",
            GroupBy::Key => "key_id",
            GroupBy::DayModel => "day || '/' || coalesce(model, '')",
        }
    }
}

/// What a usage report covers: UTC days `from..=to` (`YYYY-MM-DD`), one key or all.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    pub key_id: Option<KeyId>,
    pub from: String,
    pub to: String,
    pub group_by: GroupBy,
}

/// One group of a usage report. Requests count in the day they were created.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRow {
    /// The day, model or key id.
    pub group: String,
    /// Priced requests created.
    pub requests: i64,
    /// Of which succeeded (and were charged) ...
    pub succeeded: i64,
    /// ... or ended without a charge (failed, cancelled, timed out).
    pub released: i64,
    /// Of which are still running (their hold counts in `spent`).
    pub pending: i64,
    /// Seconds of video charged.
    pub seconds: f64,
    /// Charged, plus what is still held.
    pub spent: Credits,
}

/// What a top-up did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TopUp {
    /// Written; the key's balance after it.
    Done(Balance),
    NoSuchKey,
    /// A negative adjustment larger than a prepaid key's balance: refused, since no path may
    /// take a prepaid balance below zero.
    WouldOverdraw {
        balance: Credits,
    },
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Adds `amount` (negative: takes it away, an `adjust` row) to a key's balance, with a
    /// note saying who and why.
    async fn top_up(
        &self,
        key_id: &KeyId,
        amount: Credits,
        note: &str,
        now: Millis,
    ) -> Result<TopUp>;

    /// The key's balance and spend as of `now`; `None` when no key has that id.
    async fn balance(&self, key_id: &KeyId, now: Millis) -> Result<Option<Balance>>;

    /// Ledger rows of one key (or every key), oldest first, after `after_seq`.
    async fn ledger(
        &self,
        key_id: Option<&KeyId>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<LedgerEntry>>;

    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>>;

    /// What vidgate's books say of the requests that ended in `[from, to)` having reached the
    /// upstream (succeeded, or settled): the reconciliation's two sides of vidgate's own.
    async fn books(&self, from: Millis, to: Millis) -> Result<Vec<BookRow>>;

    /// Money by model and key, from the ledger: held now, and in all settled, settled late
    /// and released (the metrics' credit series, true across replicas).
    async fn money_totals(&self) -> Result<Vec<MoneyTotals>>;
}

/// One model's and key's money (micro-credits in `Credits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyTotals {
    pub model: String,
    pub key_id: KeyId,
    /// Held by requests whose end is not known yet.
    pub held: Credits,
    /// Charged by settlements written as their request ended.
    pub settled: Credits,
    /// Charged by settlements written after their request had ended for its owner (a job
    /// followed past its deadline, a lost answer found, one settled at its hold).
    pub late_charged: Credits,
    /// Holds given back (never reached the upstream, or the upstream failed it).
    pub released: Credits,
}

/// One request of the reconciliation: what its quote named, what the upstream reported on
/// the task, and what its settlement charged for.
#[derive(Debug, Clone, PartialEq)]
pub struct BookRow {
    pub request_id: String,
    pub key_id: KeyId,
    /// When vidgate saw it end.
    pub finished_at: Millis,
    /// The usage product it was priced as (`None`: unpriced, or priced before products were
    /// recorded).
    pub specification: Option<String>,
    /// `Output.Usage` as the upstream reported it on the task (`None`: it reported none).
    pub reported: Option<vidgate_domain::Usage>,
    /// Its `settle` row: the seconds charged for (`None` inside: settled at its hold, no
    /// figures). `None`: no settlement row.
    pub settled: Option<Option<f64>>,
}
