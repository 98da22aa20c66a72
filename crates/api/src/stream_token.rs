//! Short-lived tokens for the SSE status stream, so a browser `EventSource` (which cannot set
//! headers) can follow one request: `?token=<expiry>.<signature>`, an HMAC-SHA256 of the request
//! id and expiry keyed with the API key's stored hash. A token opens that one request's stream
//! until it expires, and dies with its key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use vidgate_domain::Millis;

/// How long a token the status route hands out stays valid.
pub const TTL_SECS: i64 = 3600;

fn mac(key_hash: &str, request_id: &str, expiry: i64) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key_hash.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("vidgate-stream:{request_id}:{expiry}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

pub fn issue(key_hash: &str, request_id: &str, now: Millis) -> String {
    let expiry = now.div_euclid(1000).saturating_add(TTL_SECS);
    format!("{expiry}.{}", URL_SAFE_NO_PAD.encode(mac(key_hash, request_id, expiry)))
}

pub fn verify(key_hash: &str, request_id: &str, token: &str, now: Millis) -> bool {
    let Some((expiry, sig)) = token.split_once('.') else { return false };
    let Ok(expiry) = expiry.parse::<i64>() else { return false };
    // Checked: `expiry` is whatever the caller sent.
    if expiry.checked_mul(1000).is_none_or(|at| at < now) {
        return false;
    }
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else { return false };
    let mut check =
        Hmac::<Sha256>::new_from_slice(key_hash.as_bytes()).expect("HMAC takes keys of any length");
    check.update(format!("vidgate-stream:{request_id}:{expiry}").as_bytes());
    check.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn verifying_never_panics_on_any_expiry_or_clock(expiry in proptest::prelude::any::<i64>(), now in proptest::prelude::any::<i64>(), sig in "[A-Za-z0-9_-]{0,50}") {
            let _ = verify("hash", "req", &format!("{expiry}.{sig}"), now);
            let real = issue("hash", "req", now.clamp(i64::MIN / 2, i64::MAX / 2));
            let _ = verify("hash", "req", &real, now);
        }

        #[test]
        fn verifying_takes_any_text(token in ".{0,80}", now in proptest::prelude::any::<i64>()) {
            let _ = verify("hash", "req", &token, now);
        }
    }

    #[test]
    fn a_token_opens_its_request_until_it_expires() {
        let t = issue("hash-1", "req-1", 1_000_000);
        assert!(verify("hash-1", "req-1", &t, 1_000_000 + 3_599_000));
        assert!(!verify("hash-1", "req-1", &t, 1_000_000 + 3_601_000), "expired");
        assert!(!verify("hash-1", "req-2", &t, 1_000_000), "another request");
        assert!(!verify("hash-2", "req-1", &t, 1_000_000), "another key");
        for bad in ["", ".", "abc", "99999999999.", "99999999999.!!!"] {
            assert!(!verify("hash-1", "req-1", bad, 0), "{bad:?}");
        }
    }
}
