//! The upstream's error codes, classified. Tencent does not label retryability; this table
//! follows the reference (§5.4) and the Go SDK's own retry rules: rate limits, internal and
//! transient errors retry; parameter, auth, permission and operation failures do not. A code
//! not in the table is treated as fatal: retrying the unknown could bill twice.

use crate::ErrorClass;

/// Prefixes (or exact codes) that a retry may cure.
const RETRYABLE: &[&str] = &[
    "RequestLimitExceeded",
    "InternalError",
    "ResourceUnavailable",
    "ServiceUnavailable",
    "LimitExceeded.Quota",
    // Clock skew: the retry signs again with a fresh timestamp.
    "AuthFailure.SignatureExpire",
];

/// Prefixes that no retry will cure.
const FATAL: &[&str] = &[
    "InvalidParameter",
    "MissingParameter",
    "UnknownParameter",
    "AuthFailure",
    "UnauthorizedOperation",
    "FailedOperation",
    "ResourceNotFound",
    "InvalidAction",
    "NoSuchVersion",
    "NoSuchProduct",
    "ActionOffline",
    "UnsupportedOperation",
    "UnsupportedRegion",
    "InvalidRequest",
    "RequestSizeLimitExceeded",
    "ResponseSizeLimitExceeded",
    "IpInBlacklist",
    "IpNotInWhitelist",
    "ContentModerationFailed",
    "OperationCanceled",
];

fn matches(code: &str, pattern: &str) -> bool {
    code == pattern || code.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('.'))
}

pub fn classify(code: &str) -> ErrorClass {
    if RETRYABLE.iter().any(|p| matches(code, p)) {
        ErrorClass::Retryable
    } else {
        ErrorClass::Fatal
    }
}

/// Whether a code is in the table at all (an unknown one is fatal by default, and worth a
/// look when it shows up in logs).
pub fn known(code: &str) -> bool {
    RETRYABLE.iter().chain(FATAL).any(|p| matches(code, p))
}

/// The upstream's answer to a second `CreateAigcVideoTask` with a `SessionId` it has seen in
/// the last 3 days.
pub fn is_duplicate_session(code: &str, message: &str) -> bool {
    code == "InvalidParameterValue.SessionId"
        || (code.starts_with("InvalidParameter")
            && message.to_ascii_lowercase().contains("sessionid")
            && !code.ends_with("TooLong"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_sorts_codes_as_the_reference_advises() {
        for code in [
            "RequestLimitExceeded",
            "RequestLimitExceeded.IPLimitExceeded",
            "InternalError",
            "LimitExceeded.Quota",
            "AuthFailure.SignatureExpire",
            "ResourceUnavailable.Busy",
        ] {
            assert_eq!(classify(code), ErrorClass::Retryable, "{code}");
        }
        for code in [
            "InvalidParameter",
            "InvalidParameterValue.SubAppId",
            "AuthFailure.SignatureFailure",
            "AuthFailure.SecretIdNotFound",
            "UnauthorizedOperation",
            "FailedOperation.InvalidVodUser",
            "ResourceNotFound",
            "InvalidParameter.VoilationContent",
            "SomethingNew",
        ] {
            assert_eq!(classify(code), ErrorClass::Fatal, "{code}");
        }
    }

    #[test]
    fn unknown_codes_are_fatal_but_recognisably_unknown() {
        assert!(!known("SomethingNew"));
        assert!(known("FailedOperation.InvalidVodUser"));
    }

    #[test]
    fn prefixes_match_whole_segments_only() {
        assert_eq!(classify("InternalErrorish"), ErrorClass::Fatal);
        assert_eq!(classify("InternalError.DbFailed"), ErrorClass::Retryable);
    }

    #[test]
    fn a_repeated_session_id_is_recognised() {
        assert!(is_duplicate_session("InvalidParameterValue.SessionId", "duplicate"));
        assert!(is_duplicate_session(
            "InvalidParameterValue",
            "SessionId already used within 3 days"
        ));
        assert!(!is_duplicate_session(
            "InvalidParameterValue.SessionIdTooLong",
            "SessionId too long"
        ));
        assert!(!is_duplicate_session("InvalidParameterValue.SubAppId", "bad app"));
    }
}
