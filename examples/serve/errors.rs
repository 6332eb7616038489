//! The error body both APIs answer with, `{"error": "...", "error_type": "..."}`, and which
//! crate error gets which status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use emotion_classifier::{Error, ErrorChain};
use serde::Serialize;

/// TEI's `ErrorResponse`.
#[derive(Serialize)]
struct ErrorBody {
    error: String,
    error_type: &'static str,
}

/// A response with `status` and the error body.
pub fn refuse(status: StatusCode, error_type: &'static str, error: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: error.into(),
        error_type,
    };
    (status, Json(body)).into_response()
}

/// The error itself when it is one text's of a batch.
fn cause(error: &Error) -> &Error {
    match error {
        Error::InBatch { source, .. } => source,
        other => other,
    }
}

/// `/classify`'s mapping, unchanged: 429 overloaded, 422 for a text the tokenizer rejects,
/// 503 once the workers stopped, 500 otherwise.
pub fn for_classify(error: &Error) -> Response {
    let (status, kind) = match cause(error) {
        Error::Overloaded { .. } => (StatusCode::TOO_MANY_REQUESTS, "Overloaded"),
        Error::Tokenize { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Validation"),
        Error::WorkerStopped => (StatusCode::SERVICE_UNAVAILABLE, "Unhealthy"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Backend"),
    };
    refuse(status, kind, ErrorChain(error).to_string())
}

/// TEI's mapping (its `ErrorType` to status): 429 `Overloaded`, 422 `Tokenizer` for a text the
/// tokenizer rejects and `Validation` for one too long to take, 503 `Unhealthy` once the
/// workers stopped, 424 `Backend` for a failed forward pass.
pub fn for_tei(error: &Error) -> Response {
    let (status, kind) = match cause(error) {
        Error::Overloaded { .. } => (StatusCode::TOO_MANY_REQUESTS, "Overloaded"),
        Error::Tokenize { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Tokenizer"),
        Error::TooLong { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Validation"),
        Error::WorkerStopped => (StatusCode::SERVICE_UNAVAILABLE, "Unhealthy"),
        _ => (StatusCode::FAILED_DEPENDENCY, "Backend"),
    };
    refuse(status, kind, ErrorChain(error).to_string())
}
