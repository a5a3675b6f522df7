//! The /v1 error envelope. Handlers return [`HttpError`]; the guard middleware, which knows the
//! request id, writes every non-2xx body as
//! `{"error": {"code", "message", "request_id", "details"?}}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use figur_engine::{ApiError, ErrorCode, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        if let Some(seconds) = self.0.retry_after {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
        }
        // The guard turns this into the envelope once it knows the request id.
        response.extensions_mut().insert(self.0);
        response
    }
}

pub type HttpResult<T> = Result<T, HttpError>;

/// The body of every non-2xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    pub request_id: String,
    /// Present on 422 `VALIDATION_ERROR`: one entry per field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
}

impl ErrorEnvelope {
    pub fn new(e: &ApiError, request_id: &str) -> Self {
        ErrorEnvelope {
            error: ErrorBody {
                code: e.code,
                message: e.message.clone(),
                request_id: request_id.to_string(),
                // Validation errors always list their fields; others where they name one (a 415
                // for an upload's bytes names `file`).
                details: (e.code == ErrorCode::ValidationError || !e.details.is_empty()).then(|| e.details.clone()),
            },
        }
    }
}

/// An error for a bare status produced outside our handlers (unknown route, wrong method…).
pub fn for_status(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::new(ErrorCode::ResourceNotFound, "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method (see the Allow header)")
        }
        StatusCode::URI_TOO_LONG => ApiError::new(ErrorCode::UriTooLong, "the request's URI is too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ApiError::new(ErrorCode::HeadersTooLarge, "the request's headers are too many or too large")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(ErrorCode::UnsupportedMediaType, "unsupported content type")
        }
        s if s.is_server_error() => ApiError::internal("an internal error occurred"),
        _ => ApiError::new(ErrorCode::BadRequest, format!("the request was refused ({status})")),
    }
}
