//! The API's own error codes: `error_type` in error bodies and fal's `x-fal-error-type`
//! header. One enum, so each code is spelled once and a route family that speaks another
//! protocol (OpenAI's `/v1`) maps codes by matching on it, not on strings. A request's own
//! failure (`error_type` of a failed request) is the domain's `ErrorType`, not this.

use std::fmt;

/// Declares the enum, its wire strings and the list of every code, each code written once.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident => $text:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
        }

        impl ErrorCode {
            /// Every code, for tests and documentation.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $text,)*
                }
            }
        }
    };
}

error_codes! {
    Unauthorized => "unauthorized",
    Forbidden => "forbidden",
    NotFound => "not_found",
    PayloadTooLarge => "payload_too_large",
    ValidationError => "validation_error",
    BudgetExceeded => "budget_exceeded",
    MediaDeleted => "media_deleted",
    RangeNotSatisfiable => "range_not_satisfiable",
    Unavailable => "unavailable",
    InternalError => "internal_error",
    MethodNotAllowed => "method_not_allowed",
    /// The body is not JSON, or not the JSON a route takes.
    MalformedJson => "malformed_json",
    /// A multipart or form body that cannot be read.
    MalformedBody => "malformed_body",
    /// A `Host`/forwarded host that cannot make a URL.
    BadHost => "bad_host",
    /// An upstream callback vidgate cannot read.
    BadEvent => "bad_event",
    KeyNameTaken => "key_name_taken",
    CannotRevokeSelf => "cannot_revoke_self",
    WouldOverdraw => "would_overdraw",
    SessionConflict => "session_conflict",
    RateLimited => "rate_limited",
    KeyQueueFull => "key_queue_full",
    QueueFull => "queue_full",
    TooManyStreams => "too_many_streams",
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
    use super::ErrorCode;

    /// Clients branch on these strings: each is distinct, snake_case, and serializes as itself.
    #[test]
    fn each_code_is_spelled_once_and_serializes_as_its_string() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} is used by two codes");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(s));
        }
    }
}
