//! Machine-readable failure kinds (`error_type` in status and result bodies) and the HTTP
//! status the result route answers with for each, as fal does for a failed request.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a request failed. vidgate's own kinds are variants; an upstream failure carries the
/// upstream's code (e.g. `InvalidParameterValue`) as [`ErrorType::Upstream`], an open set the
/// upstream grows, classified by [`ErrorType::http_status`]. On the wire and in the store it
/// is always the plain string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// The caller cancelled the request.
    Cancelled,
    /// The request's deadline passed before it finished.
    Timeout,
    /// Retryable upstream failures went on past the retry limit.
    UpstreamUnavailable,
    /// The provider failed in a way that is not the caller's fault.
    UpstreamError,
    /// An input (first/last frame image) could not be fetched or decoded.
    InputFetchFailed,
    /// A step of the request stopped its worker (a crash, out of memory) too many times.
    WorkerCrashed,
    /// vidgate found its own state inconsistent (a bug, not the caller's or the upstream's).
    Internal,
    /// A code the provider reported (Tencent's `ErrCodeExt`, the sandbox's `RenderFailed`).
    Upstream(String),
}

impl ErrorType {
    /// vidgate's own kinds with their wire names; anything else is an upstream code.
    const OWN: [(ErrorType, &'static str); 7] = [
        (ErrorType::Cancelled, "request_cancelled"),
        (ErrorType::Timeout, "timeout"),
        (ErrorType::UpstreamUnavailable, "upstream_unavailable"),
        (ErrorType::UpstreamError, "upstream_error"),
        (ErrorType::InputFetchFailed, "input_fetch_failed"),
        (ErrorType::WorkerCrashed, "worker_crashed"),
        (ErrorType::Internal, "internal_error"),
    ];

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorType::Upstream(code) => code,
            own => Self::OWN.iter().find(|(t, _)| t == own).map_or("internal_error", |(_, s)| s),
        }
    }

    /// Reads a wire name back: one of vidgate's own kinds, or an upstream code.
    pub fn parse(s: &str) -> ErrorType {
        Self::OWN
            .iter()
            .find(|(_, name)| *name == s)
            .map_or_else(|| ErrorType::Upstream(s.to_owned()), |(t, _)| t.clone())
    }

    /// An upstream's code as an `error_type` (a code that spells one of vidgate's own kinds
    /// reads as that kind, so the two never disagree on the wire).
    pub fn upstream(code: impl Into<String>) -> ErrorType {
        Self::parse(&code.into())
    }

    /// The HTTP status of the result route for a request that ended with this `error_type`.
    /// Chosen so fal's clients surface it and do not retry: they retry 408/409/429 and
    /// ingress-style 5xx without `x-fal-request-id`, which vidgate always sends.
    pub fn http_status(&self) -> u16 {
        match self {
            ErrorType::Cancelled => 400,
            ErrorType::Timeout => 504,
            ErrorType::UpstreamUnavailable => 503,
            ErrorType::InputFetchFailed => 422,
            ErrorType::Upstream(t)
                if t.starts_with("InvalidParameter")
                    || t.starts_with("MissingParameter")
                    || t.starts_with("UnknownParameter")
                    || t == "ContentModerationFailed" =>
            {
                422
            }
            _ => 502,
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ErrorType::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_statuses_fal_clients_do_not_retry() {
        for t in [
            ErrorType::Cancelled,
            ErrorType::Timeout,
            ErrorType::UpstreamError,
            ErrorType::InputFetchFailed,
            ErrorType::WorkerCrashed,
            ErrorType::Internal,
            ErrorType::upstream("InvalidParameterValue.SessionId"),
            ErrorType::upstream("AuthFailure.SignatureFailure"),
        ] {
            let s = t.http_status();
            assert!(![408, 409, 429].contains(&s), "{t} -> {s}");
            assert!(s >= 400, "{t} -> {s}");
        }
    }

    #[test]
    fn caller_faults_are_4xx_and_upstream_faults_5xx() {
        assert_eq!(ErrorType::upstream("InvalidParameter.VoilationContent").http_status(), 422);
        assert_eq!(ErrorType::upstream("ContentModerationFailed").http_status(), 422);
        assert_eq!(ErrorType::upstream("FailedOperation").http_status(), 502);
        assert_eq!(ErrorType::Timeout.http_status(), 504);
    }

    #[test]
    fn every_kind_reads_back_from_its_wire_name() {
        for (t, name) in ErrorType::OWN {
            assert_eq!(t.as_str(), name);
            assert_eq!(ErrorType::parse(name), t);
            assert_eq!(serde_json::to_value(&t).unwrap(), serde_json::json!(name));
        }
        let up = ErrorType::parse("FailedOperation.NoOutput");
        assert_eq!(up, ErrorType::Upstream("FailedOperation.NoOutput".into()));
        assert_eq!(serde_json::from_str::<ErrorType>("\"timeout\"").unwrap(), ErrorType::Timeout);
    }
}
