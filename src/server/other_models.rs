//! The routes TEI serves for embedding and re-ranking models, answered as TEI 1.9.3 answers
//! them when it serves a classifier: 424 `Backend`, counted as `te_request_failure{err="model_type"}`.
//! The OpenAI-compatible routes use OpenAI's error shape, as TEI's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{ErrorType, FailureLabel, Refusal};
use super::types::OpenAICompatErrorResponse;

/// `POST /embed`, `/embed_all`: TEI's answer for a classifier.
pub(crate) async fn embed() -> Refusal {
    Refusal::new(
        ErrorType::Backend,
        "model_type",
        "Backend error: Model is not an embedding model",
    )
}

/// `POST /embed_sparse`.
pub(crate) async fn embed_sparse() -> Refusal {
    Refusal::new(
        ErrorType::Backend,
        "model_type",
        "Backend error: Model is not an embedding model with SPLADE pooling",
    )
}

/// `POST /rerank`.
pub(crate) async fn rerank() -> Refusal {
    Refusal::new(
        ErrorType::Backend,
        "model_type",
        "Backend error: model is not a re-ranker model",
    )
}

/// `POST /similarity`.
pub(crate) async fn similarity() -> Refusal {
    embed().await
}

/// `POST /embeddings` and `/v1/embeddings`: OpenAI's error shape.
pub(crate) async fn openai_embed() -> Response {
    let status = StatusCode::FAILED_DEPENDENCY;
    let mut response = (
        status,
        Json(OpenAICompatErrorResponse {
            message: "Backend error: Model is not an embedding model".to_owned(),
            code: status.as_u16(),
            error_type: ErrorType::Backend,
        }),
    )
        .into_response();
    response.extensions_mut().insert(FailureLabel("model_type"));
    response
}
