//! The tokened `stream_url` of status answers, reused across polls. A token names its expiry,
//! and expiries are rounded up to a five-minute step, so every poll of a request within one
//! step gets the same token, and a poll does not pay for signing one (an HMAC, a large part
//! of a poll's work).

use std::collections::HashMap;
use std::sync::Mutex;

use vidgate_domain::{Millis, RequestId};
use vidgate_wire::token::{self, Grant};

/// A stream token opens the stream for at least this long after it is handed out.
pub const STREAM_TOKEN_TTL_SECS: i64 = 3600;
/// Expiries are rounded up to a multiple of this (so a token lives up to this much longer).
const STEP_SECS: i64 = 300;
/// Requests remembered before the cache starts over (each costs one signature to refill).
const MAX_ENTRIES: usize = 100_000;

/// No `Debug`: entries hold key hashes (what tokens are signed with) and tokens.
#[derive(Default)]
pub struct StreamTokens {
    issued: Mutex<HashMap<RequestId, Issued>>,
}

struct Issued {
    key_hash: String,
    expiry: i64,
    token: String,
}

impl StreamTokens {
    /// A token for the status stream of request `id`, signed with its key's hash `key_hash`,
    /// valid for at least `STREAM_TOKEN_TTL_SECS` from `now`.
    pub fn token(&self, id: RequestId, key_hash: &str, now: Millis) -> String {
        let expiry = expiry_for(now);
        {
            let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = issued.get(&id)
                && i.expiry == expiry
                && i.key_hash == key_hash
            {
                return i.token.clone();
            }
        }
        let token = token::issue_until(key_hash, Grant::Stream(id), expiry);
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if issued.len() >= MAX_ENTRIES {
            // Tokens of earlier steps are never handed out again. If that frees little, all
            // go: a sweep that frees a few would come round again a few tokens later.
            issued.retain(|_, i| i.expiry >= expiry);
            if issued.len() > MAX_ENTRIES * 3 / 4 {
                issued.clear();
            }
        }
        let entry = Issued { key_hash: key_hash.to_owned(), expiry, token: token.clone() };
        issued.insert(id, entry);
        token
    }
}

/// `now` plus the TTL, in Unix seconds, rounded up to the step: the expiry of the token
/// `token` hands out at `now`.
pub fn expiry_for(now: Millis) -> i64 {
    let at = now.div_euclid(1000).saturating_add(STREAM_TOKEN_TTL_SECS);
    at.saturating_add(STEP_SECS - 1).div_euclid(STEP_SECS) * STEP_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_within_a_step_share_a_token_that_lasts_at_least_the_ttl() {
        let tokens = StreamTokens::default();
        let id = RequestId::new();
        let now: Millis = 1_800_000_001_000; // 1 s into a step
        let first = tokens.token(id, "hash-1", now);
        assert_eq!(tokens.token(id, "hash-1", now + 1_000), first, "same step: reused");
        for later in [now, now + 299_000] {
            let t = tokens.token(id, "hash-1", later);
            let ttl_ms = STREAM_TOKEN_TTL_SECS * 1000;
            assert!(token::verify("hash-1", Grant::Stream(id), &t, later + ttl_ms));
            assert!(!token::verify("hash-1", Grant::Stream(id), &t, later + ttl_ms + 301_000));
        }
        assert_ne!(tokens.token(id, "hash-1", now + 600_000), first, "a later step: a new one");
        let other = tokens.token(id, "hash-2", now);
        assert!(!token::verify("hash-1", Grant::Stream(id), &other, now), "signed per key");
        assert!(token::verify("hash-2", Grant::Stream(id), &other, now));
    }

    #[test]
    fn expiries_never_overflow() {
        for now in [i64::MIN, -1, 0, i64::MAX] {
            let _ = expiry_for(now);
        }
    }
}
