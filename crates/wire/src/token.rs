//! Signed, expiring tokens for URLs a browser or player opens without a key: a request's
//! status stream (`stream:<id>`) and its files (`content:<id>:<variant>`). A token is
//! `<expiry>.<signature>`: an HMAC-SHA256 of what it opens and its expiry (Unix seconds), keyed
//! with the owning API key's stored hash. So it opens that one thing until it expires, every
//! replica can check it (they share the keys), and it dies with its key. One mechanism for
//! every key-less URL vidgate hands out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use vidgate_domain::{Millis, RequestId, Variant};

/// What a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Stream(RequestId),
    Content(RequestId, Variant),
}

impl Grant {
    fn message(self, expiry: i64) -> String {
        match self {
            Grant::Stream(id) => format!("vidgate-stream:{id}:{expiry}"),
            Grant::Content(id, v) => format!("vidgate-content:{id}:{v}:{expiry}"),
        }
    }
}

fn mac(key_hash: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    #[allow(clippy::expect_used)]
    Hmac::<Sha256>::new_from_slice(key_hash.as_bytes()).expect("HMAC takes keys of any length")
}

/// A token for `grant` valid for `ttl_secs` from `now`.
pub fn issue(key_hash: &str, grant: Grant, now: Millis, ttl_secs: i64) -> String {
    issue_until(key_hash, grant, now.div_euclid(1000).saturating_add(ttl_secs))
}

/// A token for `grant` valid until `expiry` (Unix seconds).
pub fn issue_until(key_hash: &str, grant: Grant, expiry: i64) -> String {
    let mut m = mac(key_hash);
    m.update(grant.message(expiry).as_bytes());
    format!("{expiry}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
}

/// Whether `token` opens `grant` at `now`.
pub fn verify(key_hash: &str, grant: Grant, token: &str, now: Millis) -> bool {
    let Some((expiry, sig)) = token.split_once('.') else { return false };
    let Ok(expiry) = expiry.parse::<i64>() else { return false };
    // Checked: `expiry` is whatever the caller sent.
    if expiry.checked_mul(1000).is_none_or(|at| at < now) {
        return false;
    }
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else { return false };
    let mut m = mac(key_hash);
    m.update(grant.message(expiry).as_bytes());
    m.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn verifying_never_panics_on_any_expiry_or_clock(expiry in proptest::prelude::any::<i64>(), now in proptest::prelude::any::<i64>(), ttl in proptest::prelude::any::<i64>(), sig in "[A-Za-z0-9_-]{0,50}") {
            let g = Grant::Stream(RequestId::new());
            let _ = verify("hash", g, &format!("{expiry}.{sig}"), now);
            let real = issue("hash", g, now, ttl);
            let _ = verify("hash", g, &real, now);
        }

        #[test]
        fn verifying_takes_any_text(token in ".{0,80}", now in proptest::prelude::any::<i64>()) {
            let _ = verify("hash", Grant::Content(RequestId::new(), Variant::VIDEO), &token, now);
        }
    }

    #[test]
    fn a_token_opens_its_one_grant_until_it_expires() {
        let (id, other) = (RequestId::new(), RequestId::new());
        let video = Grant::Content(id, Variant::VIDEO);
        let t = issue("hash-1", video, 1_000_000, 3600);
        assert!(verify("hash-1", video, &t, 1_000_000 + 3_599_000));
        assert!(!verify("hash-1", video, &t, 1_000_000 + 3_601_000), "expired");
        assert!(!verify("hash-1", Grant::Content(other, Variant::VIDEO), &t, 1_000_000));
        assert!(!verify("hash-1", Grant::Content(id, Variant::COVER), &t, 1_000_000));
        assert!(!verify("hash-1", Grant::Stream(id), &t, 1_000_000), "another purpose");
        assert!(!verify("hash-2", video, &t, 1_000_000), "another key");
        let (expiry, sig) = t.split_once('.').unwrap();
        let later = format!("{}.{sig}", expiry.parse::<i64>().unwrap() + 3600);
        assert!(!verify("hash-1", video, &later, 1_000_000), "an altered expiry");
        for bad in ["", ".", "abc", "99999999999.", "99999999999.!!!"] {
            assert!(!verify("hash-1", video, bad, 0), "{bad:?}");
        }
    }
}
