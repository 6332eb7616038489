//! The middleware every request passes: the payload limit read from `Content-Length` (413
//! before a byte of the body is read), the API key (401), the request deadline (408), and the
//! failure counter (`te_request_failure{err}`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{ErrorType, FailureLabel, Refusal};
use super::state::Served;

/// Refuses a body whose `Content-Length` is over the payload limit, unread. (A body without
/// one is cut off at the limit while it is read: `DefaultBodyLimit`.)
pub(crate) async fn payload_limit(
    State(served): State<Arc<Served>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = served.config.payload_limit;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Refusal::new(
            ErrorType::Validation,
            "payload_limit",
            format!("the request body is larger than the payload limit of {limit} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        .into_response();
    }
    next.run(request).await
}

/// Whether `given` equals `expected`, in time that does not depend on where they differ.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// With an API key: 401 unless the request carries `Authorization: Bearer <key>`.
pub(crate) async fn authorize(
    State(served): State<Arc<Served>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(key) = &served.config.api_key {
        let expected = format!("Bearer {key}");
        let given = request
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !same(given, expected.as_bytes()) {
            return Refusal::new(
                ErrorType::Validation,
                "unauthorized",
                "missing or wrong API key: send `Authorization: Bearer <key>`",
            )
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
        }
    }
    next.run(request).await
}

/// Answers 408 when a request takes longer than the request timeout; dropping its work tells
/// the workers to skip the passes it queued.
pub(crate) async fn deadline(
    State(served): State<Arc<Served>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = served.config.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Refusal::new(
            ErrorType::Backend,
            "timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .with_status(StatusCode::REQUEST_TIMEOUT)
        .into_response(),
    }
}

/// Counts every refused request in `te_request_failure{err}`.
pub(crate) async fn count_failures(
    State(served): State<Arc<Served>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(FailureLabel(err)) = response.extensions().get::<FailureLabel>() {
        served.metrics.failure(err);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole() {
        assert!(same(b"Bearer abc", b"Bearer abc"));
        assert!(!same(b"Bearer abd", b"Bearer abc"));
        assert!(!same(b"Bearer ab", b"Bearer abc"));
        assert!(!same(b"", b"Bearer abc"));
    }
}
