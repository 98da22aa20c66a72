//! The one error type of the HTTP edge. Every variant has a status and a stable JSON body;
//! 500s are logged with their cause and answered with a generic message, never the cause.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vidgate_domain::FieldError;

use crate::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { detail: String, code: ErrorCode },
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the key's role does not allow the route.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    Conflict { detail: String, code: ErrorCode },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    TooManyRequests { detail: String, code: ErrorCode, retry_after: u64 },
    /// The key's budget cannot cover the request (`error_type: budget_exceeded`).
    #[error("{0}")]
    PaymentRequired(String),
    /// The thing existed and was deleted (media past its retention or deleted by its owner).
    #[error("{0}")]
    Gone(String),
    /// A `Range` outside the file (`size`: the file's length, for `Content-Range`).
    #[error("the requested range is outside the file ({size} bytes)")]
    RangeNotSatisfiable { size: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// How long a caller is told to wait when the store is unreachable.
const STORE_RETRY_AFTER_SECS: u64 = 5;

impl From<vidgate_store::StoreError> for ApiError {
    fn from(e: vidgate_store::StoreError) -> Self {
        if e.is_unavailable() {
            // Logged with its cause; the answer says only what the caller can act on.
            tracing::warn!(error = %e, "the store is unavailable");
            return ApiError::Unavailable(
                "the database is unavailable right now; retry shortly (with the same Idempotency-Key, a retried create cannot be stored twice)".into(),
            );
        }
        ApiError::Internal(e.to_string())
    }
}

impl ApiError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// One validation problem at `loc`.
    pub fn invalid(loc: &[&str], kind: &str, msg: impl Into<String>) -> Self {
        let loc = loc.iter().map(|s| vidgate_domain::Loc::from(*s)).collect();
        ApiError::Validation(vec![FieldError::new(loc, kind, msg)])
    }

    pub fn request_not_found() -> Self {
        ApiError::NotFound("request not found".into())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::TooManyRequests { code, .. } => *code,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::Validation(_) => ErrorCode::ValidationError,
            ApiError::PaymentRequired(_) => ErrorCode::BudgetExceeded,
            ApiError::Gone(_) => ErrorCode::MediaDeleted,
            ApiError::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }
}

/// What an error said, kept on its response so that a route family speaking another
/// protocol (OpenAI's `/v1`) can render the same error in its own shape.
#[derive(Debug, Clone)]
pub struct ErrorView {
    pub code: ErrorCode,
    /// One sentence per problem.
    pub message: String,
    /// Where the first problem is (`["body", "output_config", "duration"]`), for validation.
    pub loc: Option<Vec<String>>,
}

impl ApiError {
    fn view(&self) -> ErrorView {
        let (message, loc) = match self {
            ApiError::Validation(errors) => {
                let message = errors.iter().map(|e| e.msg.as_str()).collect::<Vec<_>>().join("; ");
                let loc = errors.first().map(|e| {
                    e.loc
                        .iter()
                        .map(|l| match l {
                            vidgate_domain::Loc::Key(k) => k.clone(),
                            vidgate_domain::Loc::Index(i) => i.to_string(),
                        })
                        .collect()
                });
                (message, loc)
            }
            ApiError::Internal(_) => ("internal error; see the server log".to_owned(), None),
            other => (other.to_string(), None),
        };
        ErrorView { code: self.code(), message, loc }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let code = self.code();
        let view = self.view();
        let body = match &self {
            ApiError::Validation(errors) => json!({ "detail": errors }),
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                json!({ "detail": "internal error; see the server log", "error_type": code })
            }
            other => json!({ "detail": other.to_string(), "error_type": code }),
        };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(view);
        let headers = response.headers_mut();
        headers.insert("x-fal-error-type", HeaderValue::from_static(code.as_str()));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(STORE_RETRY_AFTER_SECS));
        }
        if let ApiError::RangeNotSatisfiable { size } = &self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            headers.insert(header::CONTENT_RANGE, v);
        }
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            metrics::counter!("vidgate_limit_refusals_total", "error_type" => code.as_str())
                .increment(1);
        }
        response
    }
}
