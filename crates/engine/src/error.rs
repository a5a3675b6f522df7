//! Errors at the engine's edge: one stable code per failure a client can branch on, with its HTTP
//! status, so the API, the CLI and the desktop app all speak the same codes.

use serde::Serialize;
use utoipa::ToSchema;

crate::vocabulary! {
    /// Stable error codes of the `/v1` envelope. Clients branch on these, never on messages.
    #[derive(ToSchema)]
    #[cfg_attr(feature = "specta", derive(specta::Type))]
    pub enum ErrorCode { fn http_status -> u16;
        BadRequest = "BAD_REQUEST" => 400,
        Unauthorized = "UNAUTHORIZED" => 401,
        InsufficientBalance = "INSUFFICIENT_BALANCE" => 402,
        Forbidden = "FORBIDDEN" => 403,
        JobNotFound = "JOB_NOT_FOUND" => 404,
        ResourceNotFound = "RESOURCE_NOT_FOUND" => 404,
        JobNotCancellable = "JOB_NOT_CANCELLABLE" => 409,
        /// Extension: a finished job cannot be paused, resumed or given a priority.
        JobFinished = "JOB_FINISHED" => 409,
        PayloadTooLarge = "PAYLOAD_TOO_LARGE" => 413,
        UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE" => 415,
        ValidationError = "VALIDATION_ERROR" => 422,
        RateLimited = "RATE_LIMITED" => 429,
        Internal = "INTERNAL" => 500,
        Unavailable = "UNAVAILABLE" => 503,
        OperationDisabled = "OPERATION_DISABLED" => 503,
        MethodNotAllowed = "METHOD_NOT_ALLOWED" => 405,
        UriTooLong = "URI_TOO_LONG" => 414,
        HeadersTooLarge = "HEADERS_TOO_LARGE" => 431,
    }
}

impl ErrorCode {
    /// What a designer reads when the desktop gets this answer (`None`: the message says it best).
    pub fn words(self) -> Option<&'static str> {
        match self {
            ErrorCode::ValidationError => Some("Something in the request needs fixing."),
            ErrorCode::InsufficientBalance => Some("There are not enough credits left."),
            ErrorCode::OperationDisabled => Some("This workflow is switched off in this studio."),
            ErrorCode::Unavailable => Some("The studio is busy. Try again in a moment."),
            ErrorCode::Internal => Some("Something went wrong inside the studio."),
            _ => None,
        }
    }
}

/// One step of a [`FieldError`]'s location: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LocItem {
    Key(String),
    Index(u64),
}

/// One validation failure: where (`["body","items",0,"trial_image"]`), what, and its kind.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// Keys and indices from the root (`body`, `query`, `header`) to the field at fault.
    #[schema(value_type = Vec<LocItem>)]
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// `path` is dot/index notation below `root` (`"items.0.trial_image"`); numbers become indices.
    pub fn new(root: &str, path: &str, msg: impl Into<String>, kind: &str) -> Self {
        let mut loc = vec![serde_json::Value::from(root)];
        loc.extend(path.split('.').filter(|p| !p.is_empty()).map(|p| match p.parse::<u64>() {
            Ok(i) => serde_json::Value::from(i),
            Err(_) => serde_json::Value::from(p),
        }));
        FieldError { loc, msg: msg.into(), kind: kind.to_string() }
    }
}

/// The kinds of field error (`details[].type`) about what no schema can foresee: what exists in
/// this studio's ledger and store, what its rules and words make of a value, what an image's bytes
/// hold. Every other kind breaks a rule `openapi.json` states; the generated-request tests
/// (`tests/api/schemathesis.rs`) hold schema-valid requests to be refused only for these.
pub const BEYOND_THE_SCHEMA: &[&str] = &[
    "reference_error",
    "unknown_upload",
    "unsuitable_model_photo",
    "incompatible",
    "unsupported",
    "vocabulary",
    "policy",
    "unsupported_image",
    "unreadable_image",
    "too_large",
    "idempotency_conflict",
];

/// An error a caller sees: a code, a human message and, for validation, the fields at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Vec<FieldError>,
    /// Seconds a client should wait before retrying (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: Vec::new(), retry_after: None }
    }

    pub fn validation(details: Vec<FieldError>) -> Self {
        let message = match details.first() {
            Some(first) => format!("{} (at {})", first.msg, loc_to_string(&first.loc)),
            None => "the request is invalid".to_string(),
        };
        ApiError { code: ErrorCode::ValidationError, message, details, retry_after: None }
    }

    /// A single-field validation error.
    pub fn field(root: &str, path: &str, msg: impl Into<String>, kind: &str) -> Self {
        Self::validation(vec![FieldError::new(root, path, msg, kind)])
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn job_not_found(id: &str) -> Self {
        Self::new(ErrorCode::JobNotFound, format!("no job with id {id}"))
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ErrorCode::ResourceNotFound, format!("no {what} with id {id}"))
    }
}

fn loc_to_string(loc: &[serde_json::Value]) -> String {
    loc.iter()
        .map(|p| match p {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_error_locations_keep_indices_as_numbers() {
        let e = FieldError::new("body", "items.0.trial_image", "missing", "missing");
        assert_eq!(serde_json::to_value(&e.loc).unwrap(), serde_json::json!(["body", "items", 0, "trial_image"]));
        let api = ApiError::validation(vec![e]);
        assert_eq!(api.code.http_status(), 422);
        assert!(api.message.contains("body.items.0.trial_image"));
    }
}
