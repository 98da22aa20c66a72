//! TC3 verification, as the upstream does it: find the account by `SecretId`, refuse stale
//! timestamps, recompute the signature over the headers the caller says it signed and the
//! exact body bytes received, and compare in constant time.

use axum::http::HeaderMap;
use vidgate_providers::tencent::sign::{
    SignInput, parse_authorization, same_signature, sign, utc_date,
};

use crate::config::EmulatorAccount;

/// An upstream error: `(Code, Message)`.
pub type ApiError = (&'static str, String);

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn verify<'a>(
    headers: &HeaderMap,
    body: &[u8],
    accounts: &'a [EmulatorAccount],
    now_ms: i64,
    max_skew_secs: i64,
) -> Result<&'a EmulatorAccount, ApiError> {
    let Some(value) = header(headers, "authorization") else {
        return Err((
            "AuthFailure.SignatureFailure",
            "the request carries no Authorization header".into(),
        ));
    };
    let Some(auth) = parse_authorization(value) else {
        return Err((
            "AuthFailure.InvalidAuthorization",
            "the Authorization header is not TC3-HMAC-SHA256".into(),
        ));
    };
    let Some(account) = accounts.iter().find(|a| a.secret_id == auth.secret_id) else {
        return Err(("AuthFailure.SecretIdNotFound", "the SecretId does not exist".into()));
    };
    let Some(ts) = header(headers, "x-tc-timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err((
            "AuthFailure.SignatureFailure",
            "X-TC-Timestamp is missing or not a number".into(),
        ));
    };
    if (now_ms.div_euclid(1000) - ts).abs() > max_skew_secs {
        return Err((
            "AuthFailure.SignatureExpire",
            format!("the signature's timestamp {ts} is more than {max_skew_secs} s from now"),
        ));
    }
    if auth.service != "vod" || auth.date != utc_date(ts) {
        return Err((
            "AuthFailure.SignatureFailure",
            "the credential scope does not match the service or the timestamp's date".into(),
        ));
    }
    if !auth.signed_headers.iter().any(|h| h == "content-type")
        || !auth.signed_headers.iter().any(|h| h == "host")
    {
        return Err((
            "AuthFailure.SignatureFailure",
            "content-type and host must be signed".into(),
        ));
    }
    let mut extra = Vec::new();
    for name in auth.signed_headers.iter().filter(|h| *h != "content-type" && *h != "host") {
        extra.push((name.as_str(), header(headers, name).unwrap_or_default()));
    }
    let expected = sign(&SignInput {
        secret_id: &account.secret_id,
        secret_key: &account.secret_key,
        service: "vod",
        host: header(headers, "host").unwrap_or_default(),
        content_type: header(headers, "content-type").unwrap_or_default(),
        timestamp: ts,
        payload: body,
        extra_headers: &extra,
    });
    if same_signature(&expected.signature, &auth.signature) {
        Ok(account)
    } else {
        Err(("AuthFailure.SignatureFailure", "the signature does not match the request".into()))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn account() -> EmulatorAccount {
        EmulatorAccount {
            secret_id: "AKIDemu".into(),
            secret_key: "emuKey".into(),
            sub_app_id: 1,
            concurrency: 1,
        }
    }

    fn signed(body: &[u8], ts: i64, key: &str) -> HeaderMap {
        let s = sign(&SignInput {
            secret_id: "AKIDemu",
            secret_key: key,
            service: "vod",
            host: "127.0.0.1:9000",
            content_type: "application/json",
            timestamp: ts,
            payload: body,
            extra_headers: &[("x-tc-action", "DescribeTaskDetail")],
        });
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(&s.authorization).unwrap());
        h.insert("host", HeaderValue::from_static("127.0.0.1:9000"));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-tc-action", HeaderValue::from_static("DescribeTaskDetail"));
        h.insert("x-tc-timestamp", HeaderValue::from_str(&ts.to_string()).unwrap());
        h
    }

    #[test]
    fn a_correct_signature_passes_and_tampering_fails() {
        let accounts = [account()];
        let now = 1_795_500_000_000;
        let h = signed(b"{}", 1_795_500_000, "emuKey");
        assert!(verify(&h, b"{}", &accounts, now, 300).is_ok());
        assert_eq!(
            verify(&h, b"{ }", &accounts, now, 300).unwrap_err().0,
            "AuthFailure.SignatureFailure"
        );
        let wrong_key = signed(b"{}", 1_795_500_000, "otherKey");
        assert_eq!(
            verify(&wrong_key, b"{}", &accounts, now, 300).unwrap_err().0,
            "AuthFailure.SignatureFailure"
        );
        let stale = signed(b"{}", 1_795_500_000 - 301, "emuKey");
        assert_eq!(
            verify(&stale, b"{}", &accounts, now, 300).unwrap_err().0,
            "AuthFailure.SignatureExpire"
        );
        let mut tampered = h.clone();
        tampered.insert("x-tc-action", HeaderValue::from_static("CreateAigcVideoTask"));
        assert_eq!(
            verify(&tampered, b"{}", &accounts, now, 300).unwrap_err().0,
            "AuthFailure.SignatureFailure"
        );
        assert_eq!(
            verify(&HeaderMap::new(), b"{}", &accounts, now, 300).unwrap_err().0,
            "AuthFailure.SignatureFailure"
        );
    }
}
