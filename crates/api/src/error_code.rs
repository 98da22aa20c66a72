//! The API's own error codes: `error_type` in error bodies and fal's `x-fal-error-type`
//! header. One enum, so each code is spelled once and a route family that speaks another
//! protocol (OpenAI's `/v1`) maps codes by matching on it, not on strings. A request's own
//! failure (`error_type` of a failed request) is the domain's `ErrorType`, not this.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationError,
    BudgetExceeded,
    MediaDeleted,
    RangeNotSatisfiable,
    Unavailable,
    InternalError,
    MethodNotAllowed,
    /// The body is not JSON, or not the JSON a route takes.
    MalformedJson,
    /// A multipart or form body that cannot be read.
    MalformedBody,
    /// A `Host`/forwarded host that cannot make a URL.
    BadHost,
    /// An upstream callback vidgate cannot read.
    BadEvent,
    KeyNameTaken,
    CannotRevokeSelf,
    WouldOverdraw,
    SessionConflict,
    RateLimited,
    KeyQueueFull,
    QueueFull,
    TooManyStreams,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::ValidationError => "validation_error",
            ErrorCode::BudgetExceeded => "budget_exceeded",
            ErrorCode::MediaDeleted => "media_deleted",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::MalformedBody => "malformed_body",
            ErrorCode::BadHost => "bad_host",
            ErrorCode::BadEvent => "bad_event",
            ErrorCode::KeyNameTaken => "key_name_taken",
            ErrorCode::CannotRevokeSelf => "cannot_revoke_self",
            ErrorCode::WouldOverdraw => "would_overdraw",
            ErrorCode::SessionConflict => "session_conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::KeyQueueFull => "key_queue_full",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::TooManyStreams => "too_many_streams",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode::{self, *};

    const ALL: [ErrorCode; 23] = [
        Unauthorized,
        Forbidden,
        NotFound,
        PayloadTooLarge,
        ValidationError,
        BudgetExceeded,
        MediaDeleted,
        RangeNotSatisfiable,
        Unavailable,
        InternalError,
        MethodNotAllowed,
        MalformedJson,
        MalformedBody,
        BadHost,
        BadEvent,
        KeyNameTaken,
        CannotRevokeSelf,
        WouldOverdraw,
        SessionConflict,
        RateLimited,
        KeyQueueFull,
        QueueFull,
        TooManyStreams,
    ];

    /// Clients branch on these strings: each is distinct, snake_case, and serializes as itself.
    #[test]
    fn each_code_is_spelled_once_and_serializes_as_its_string() {
        let mut seen = std::collections::HashSet::new();
        for code in ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} is used by two codes");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(s));
        }
    }
}
