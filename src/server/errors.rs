//! TEI's error body, `{"error": "...", "error_type": "..."}`, its `ErrorType` and which error
//! gets which status (TEI 1.9.3's `From<&ErrorType> for StatusCode`).

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;
use crate::error_chain::ErrorChain;

/// TEI's `ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ErrorType {
    /// The model cannot answer (503).
    Unhealthy,
    /// The forward pass failed, or the route is not for a classifier (424).
    Backend,
    /// Too many requests or texts at once (429).
    Overloaded,
    /// A request that cannot be read or breaks a limit (422; 413 for a body over the limit).
    Validation,
    /// The tokenizer refused a text (422).
    Tokenizer,
    /// An empty batch (400).
    Empty,
}

/// TEI's `ErrorResponse`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// What went wrong, with its causes.
    pub error: String,
    /// Its kind.
    pub error_type: ErrorType,
}

/// A refused request: its status, its body, and the `err` label it counts under in
/// `te_request_failure`.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) body: ErrorResponse,
    pub(crate) metric: &'static str,
}

impl Refusal {
    /// A refusal with TEI's status for `error_type`.
    pub(crate) fn new(
        error_type: ErrorType,
        metric: &'static str,
        error: impl Into<String>,
    ) -> Self {
        let status = match error_type {
            ErrorType::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Backend => StatusCode::FAILED_DEPENDENCY,
            ErrorType::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            ErrorType::Tokenizer | ErrorType::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Empty => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            body: ErrorResponse {
                error: error.into(),
                error_type,
            },
            metric,
        }
    }

    /// The same refusal with another status (413 for a body over the limit, 401, 408).
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// TEI's answer to a batch with more than `limit` items.
    pub(crate) fn batch_size(size: usize, limit: usize) -> Self {
        Self::new(
            ErrorType::Validation,
            "batch_size",
            format!("batch size {size} > maximum allowed batch size {limit}"),
        )
    }

    /// TEI's answer to an empty batch.
    pub(crate) fn empty(what: &str) -> Self {
        Self::new(
            ErrorType::Empty,
            "validation",
            format!("`{what}` cannot be empty"),
        )
    }

    /// The refusal for a body that could not be read as the route's JSON: 413 for one over
    /// the payload limit (nothing of it was parsed), 408 for one that did not arrive in time
    /// (or broke off), 422 for JSON that is not the request's shape.
    pub(crate) fn from_rejection(rejection: &JsonRejection) -> Self {
        use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
        match rejection {
            JsonRejection::BytesRejection(BytesRejection::FailedToBufferBody(
                FailedToBufferBody::LengthLimitError(_),
            )) => Self::new(
                ErrorType::Validation,
                "payload_limit",
                "the request body is larger than the payload limit",
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE),
            JsonRejection::BytesRejection(BytesRejection::FailedToBufferBody(_)) => Self::new(
                ErrorType::Validation,
                "timeout",
                "the request body did not arrive in time",
            )
            .with_status(StatusCode::REQUEST_TIMEOUT),
            other => Self::new(ErrorType::Validation, "validation", other.body_text()),
        }
    }

    /// The refusal for a crate error: 429 overloaded, 422 for a text the tokenizer rejects
    /// (`Tokenizer`) or one too long to take (`Validation`), 503 once the workers stopped,
    /// 424 for anything else (a failed forward pass).
    pub(crate) fn from_error(error: &Error) -> Self {
        let cause = match error {
            Error::InBatch { source, .. } => source,
            other => other,
        };
        let (kind, metric) = match cause {
            Error::Overloaded { .. } => (ErrorType::Overloaded, "overloaded"),
            Error::Tokenize { .. } => (ErrorType::Tokenizer, "tokenization"),
            Error::TooLong { .. } | Error::NothingToExplain => {
                (ErrorType::Validation, "validation")
            }
            Error::WorkerStopped => (ErrorType::Unhealthy, "inference"),
            _ => (ErrorType::Backend, "inference"),
        };
        Self::new(kind, metric, ErrorChain(error).to_string())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        // Read by the metrics middleware, which counts the failure under this label.
        response.extensions_mut().insert(FailureLabel(self.metric));
        response
    }
}

/// A JSON request body whose rejection is TEI's: 413, 408 or 422 with the error body (see
/// [`Refusal::from_rejection`]), never axum's plain-text answer.
pub(crate) struct Body<T>(pub(crate) T);

impl<S, T> axum::extract::FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Refusal;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Refusal> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Body(value))
            .map_err(|rejection| Refusal::from_rejection(&rejection))
    }
}

/// The `err` label of a refused request's `te_request_failure`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailureLabel(pub(crate) &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_errors_get_teis_statuses() {
        let status = |e: Error| Refusal::from_error(&e).status.as_u16();
        assert_eq!(
            status(Error::Overloaded {
                queued: 1,
                limit: 1
            }),
            429
        );
        assert_eq!(
            status(Error::TooLong {
                tokens: 600,
                limit: 512
            }),
            422
        );
        assert_eq!(status(Error::WorkerStopped), 503);
        let tokenizer = Refusal::from_error(&Error::Tokenize {
            source: std::sync::Arc::new(std::io::Error::other("bad text")),
        });
        assert_eq!(tokenizer.status.as_u16(), 422);
        assert_eq!(tokenizer.body.error_type, ErrorType::Tokenizer);
        assert_eq!(
            status(Error::InBatch {
                index: 2,
                source: Box::new(Error::Overloaded {
                    queued: 1,
                    limit: 1
                })
            }),
            429
        );
        assert_eq!(
            status(Error::LogitWidth {
                labels: 7,
                found: 3
            }),
            424
        );
        assert_eq!(Refusal::empty("inputs").status.as_u16(), 400);
        assert_eq!(Refusal::batch_size(33, 32).status.as_u16(), 422);
        let body = serde_json::to_value(Refusal::batch_size(33, 32).body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "error": "batch size 33 > maximum allowed batch size 32",
                "error_type": "Validation"
            })
        );
    }
}
