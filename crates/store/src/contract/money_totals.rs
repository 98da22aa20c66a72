//! The metrics' money totals (`AccountStore::money_totals`) against the ledger they are read
//! from, recomputed here request by request.

use std::collections::{BTreeMap, HashMap};

use vidgate_domain::pricing::Credits;

use crate::{LedgerEntry, Store};

/// `money_totals` for the keys of `rows` is what `rows` say: per model and key, the holds of
/// requests not closed yet, what settlements charged (on time, and with a note: late), and
/// the holds released.
pub async fn assert_money_totals_are_the_ledgers(store: &dyn Store, rows: &[LedgerEntry]) {
    // A row without a request stands alone.
    let mut by_request: HashMap<String, Vec<&LedgerEntry>> = HashMap::new();
    for r in rows {
        let request = r.request_id.clone().unwrap_or_else(|| format!("row {}", r.seq));
        by_request.entry(request).or_default().push(r);
    }
    // (model, key) -> [held, settled, late, released] in micro-credits.
    let mut expected: BTreeMap<(String, String), [i64; 4]> = BTreeMap::new();
    for rs in by_request.values() {
        let Some(hold) = rs.iter().find(|r| r.kind == "hold") else { continue };
        let close = rs.iter().find(|r| r.kind != "hold" && r.kind != "overage");
        let model = hold.model.clone().unwrap_or_default();
        let t = expected.entry((model, hold.key_id.to_string())).or_default();
        let held = hold.spend.micros();
        match close {
            None => t[0] += held,
            Some(c) if c.kind == "settle" && c.note.is_none() => t[1] += held + c.spend.micros(),
            Some(c) if c.kind == "settle" => t[2] += held + c.spend.micros(),
            Some(c) if c.kind == "release" => t[3] += held,
            Some(_) => {}
        }
    }
    let keys: Vec<String> = rows.iter().map(|r| r.key_id.to_string()).collect();
    let read: BTreeMap<(String, String), [i64; 4]> = store
        .money_totals()
        .await
        .expect("the store reads its money totals")
        .into_iter()
        .filter(|t| keys.contains(&t.key_id.to_string()))
        .map(|t| {
            let m = |c: Credits| c.micros();
            let sums = [m(t.held), m(t.settled), m(t.late_charged), m(t.released)];
            ((t.model, t.key_id.to_string()), sums)
        })
        .collect();
    assert_eq!(read, expected, "money totals by (model, key): [held, settled, late, released]");
    let closed: i64 = expected.values().map(|t| t[1] + t[3]).sum();
    assert!(closed > 0, "the ledger closed some requests: {expected:?}");
}
