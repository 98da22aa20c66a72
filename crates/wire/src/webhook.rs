//! The body of a completion webhook (fal's: `{request_id, gateway_request_id, status,
//! payload, error}`): the result body when the request succeeded, `{detail, error_type}` when
//! it failed or was cancelled.

use serde::{Deserialize, Serialize};
use vidgate_domain::{ErrorType, RequestId};

use crate::ResultBody;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookPayload {
    pub request_id: String,
    /// fal sends both; vidgate's are the same id.
    pub gateway_request_id: String,
    pub status: WebhookStatus,
    pub payload: WebhookBody,
    /// The failure's message (`null` on success).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WebhookStatus {
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum WebhookBody {
    Result(Box<ResultBody>),
    Error(ErrorDetail),
}

/// Why a request did not succeed, as the result route answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetail {
    pub detail: String,
    pub error_type: ErrorType,
}

impl WebhookPayload {
    pub fn ok(request: RequestId, body: ResultBody) -> WebhookPayload {
        let id = request.to_string();
        WebhookPayload {
            request_id: id.clone(),
            gateway_request_id: id,
            status: WebhookStatus::Ok,
            payload: WebhookBody::Result(Box::new(body)),
            error: None,
        }
    }

    pub fn error(request: RequestId, detail: String, error_type: ErrorType) -> WebhookPayload {
        let id = request.to_string();
        WebhookPayload {
            request_id: id.clone(),
            gateway_request_id: id,
            status: WebhookStatus::Error,
            payload: WebhookBody::Error(ErrorDetail { detail: detail.clone(), error_type }),
            error: Some(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_failure_reads_as_fal_sends_it() {
        let id = RequestId::new();
        let p = WebhookPayload::error(id, "no".into(), ErrorType::UpstreamError);
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            json!({"request_id": id.to_string(), "gateway_request_id": id.to_string(),
                   "status": "ERROR", "payload": {"detail": "no", "error_type": "upstream_error"},
                   "error": "no"})
        );
    }
}
