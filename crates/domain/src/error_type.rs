//! Machine-readable failure kinds (`error_type` in status and result bodies) and the HTTP
//! status the result route answers with for each, as fal does for a failed request.

/// Well-known `error_type` values vidgate itself produces. Upstream failures carry the
/// upstream's own code (e.g. `InvalidParameterValue`) instead, classified by `http_status`.
pub struct ErrorType;

impl ErrorType {
    pub const CANCELLED: &'static str = "request_cancelled";
    pub const TIMEOUT: &'static str = "timeout";
    /// Retryable upstream failures went on past the retry limit.
    pub const UPSTREAM_UNAVAILABLE: &'static str = "upstream_unavailable";
    /// The provider failed in a way that is not the caller's fault.
    pub const UPSTREAM_ERROR: &'static str = "upstream_error";
    /// An input (first/last frame image) could not be fetched or decoded.
    pub const INPUT_FETCH_FAILED: &'static str = "input_fetch_failed";
    /// A step of the request stopped its worker (a crash, out of memory) too many times.
    pub const WORKER_CRASHED: &'static str = "worker_crashed";
    /// vidgate found its own state inconsistent (a bug, not the caller's or the upstream's).
    pub const INTERNAL: &'static str = "internal_error";

    /// The HTTP status of the result route for a request that ended with this `error_type`.
    /// Chosen so fal's clients surface it and do not retry: they retry 408/409/429 and
    /// ingress-style 5xx without `x-fal-request-id`, which vidgate always sends.
    pub fn http_status(error_type: &str) -> u16 {
        match error_type {
            Self::CANCELLED => 400,
            Self::TIMEOUT => 504,
            Self::UPSTREAM_UNAVAILABLE => 503,
            Self::INPUT_FETCH_FAILED => 422,
            t if t.starts_with("InvalidParameter")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_statuses_fal_clients_do_not_retry() {
        for t in [
            ErrorType::CANCELLED,
            ErrorType::TIMEOUT,
            ErrorType::UPSTREAM_ERROR,
            ErrorType::INPUT_FETCH_FAILED,
            "InvalidParameterValue.SessionId",
            "AuthFailure.SignatureFailure",
        ] {
            let s = ErrorType::http_status(t);
            assert!(![408, 409, 429].contains(&s), "{t} -> {s}");
            assert!(s >= 400, "{t} -> {s}");
        }
    }

    #[test]
    fn caller_faults_are_4xx_and_upstream_faults_5xx() {
        assert_eq!(ErrorType::http_status("InvalidParameter.VoilationContent"), 422);
        assert_eq!(ErrorType::http_status("ContentModerationFailed"), 422);
        assert_eq!(ErrorType::http_status("FailedOperation"), 502);
        assert_eq!(ErrorType::http_status(ErrorType::TIMEOUT), 504);
    }
}
