//! `GET /health` (and `GET /`, `/ping`), `GET /info` and `GET /metrics`. None of them waits
//! behind tokenization or inference: each reads atomics and answers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{ErrorResponse, ErrorType, Refusal};
use super::state::Served;
use super::types::{ClassifierModel, Info, ModelType};

/// 200 while the model's workers run; 503 once they stopped or died, or a shutdown began.
///
/// Unlike TEI's it runs no forward pass: under load that would wait behind the queue (a
/// liveness probe would then restart a busy server), and a dead worker is seen directly.
#[utoipa::path(
    get,
    path = "/health",
    tag = "Text Embeddings Inference",
    responses(
        (status = 200, description = "Everything is working fine"),
        (status = 503, description = "The model cannot answer", body = ErrorResponse,
            example = json!({"error": "unhealthy", "error_type": "Unhealthy"})),
    )
)]
pub(crate) async fn health(State(served): State<Arc<Served>>) -> Response {
    if served.healthy() {
        StatusCode::OK.into_response()
    } else {
        Refusal::new(ErrorType::Unhealthy, "unhealthy", "unhealthy").into_response()
    }
}

/// The model, its labels and the server's limits, in TEI's fields.
#[utoipa::path(
    get,
    path = "/info",
    tag = "Text Embeddings Inference",
    responses((status = 200, description = "Served model info", body = Info))
)]
pub(crate) async fn info(State(served): State<Arc<Served>>) -> Response {
    let classifier = &served.classifier;
    let config = &served.config;
    let labels = classifier.labels();
    let limits = classifier.batching().limits;
    Json(Info {
        model_id: config.model_id.clone(),
        model_sha: None,
        model_dtype: config.model_dtype.clone(),
        served_model_name: config.model_id.clone(),
        model_type: ModelType::Classifier(ClassifierModel {
            id2label: labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), l.clone()))
                .collect(),
            label2id: labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), i))
                .collect(),
        }),
        max_concurrent_requests: config.max_concurrent_requests,
        max_input_length: classifier.config().max_input_tokens(),
        max_batch_tokens: limits.max_batch_tokens(),
        max_batch_requests: Some(limits.max_batch_size()),
        max_client_batch_size: config.max_client_batch_size,
        auto_truncate: config.auto_truncate,
        tokenization_workers: config.tokenization_workers,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        sha: None,
        docker_label: None,
    })
    .into_response()
}

/// Prometheus metrics, under TEI's names (and the crate's own, prefixed `emotion_`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Text Embeddings Inference",
    responses((status = 200, description = "Prometheus Metrics", body = String, content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(served): State<Arc<Served>>) -> Response {
    let text = served
        .metrics
        .render(&served.classifier, served.pool.waiting());
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
