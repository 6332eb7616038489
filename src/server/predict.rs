//! `POST /predict` (and `POST /`, `/invocations`), TEI's, and the crate's `POST /decide`:
//! parse, check the batch size, admit, classify on the workers (tokenized on the pool), answer
//! with TEI's headers.
//!
//! Each text's answer is every label's `{"score", "label"}`, highest first: the model's scores
//! as transformers gives them (sigmoid for a multi-label model, softmax otherwise; see
//! `docs/SERVING.md` for where TEI differs), or the logits with `raw_scores`. `/decide` answers
//! only the labels [`EmotionScores::decided`] gives under the model's thresholds.

use std::sync::Arc;
use std::time::Instant;

use super::errors::{Body, ErrorResponse, ErrorType, Refusal};
use super::headers::{characters, compute_headers};
use super::inputs::texts_of;
use super::state::Served;
use super::types::{DecideRequest, PredictRequest, PredictResponse, Prediction};
use crate::long_texts::{LongTexts, Truncation};
use crate::scores::{EmotionScores, LabelScore};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Every label's value, highest first: the scores, or the logits with `raw`.
fn ranked(scores: &EmotionScores, raw: bool) -> Vec<Prediction> {
    let mut all: Vec<LabelScore<'_>> = match (raw, scores.logits()) {
        (true, Some(logits)) => scores
            .labels()
            .iter()
            .zip(logits)
            .map(|(label, &score)| LabelScore { label, score })
            .collect(),
        _ => scores.iter().collect(),
    };
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    predictions(all)
}

fn predictions(all: Vec<LabelScore<'_>>) -> Vec<Prediction> {
    all.into_iter()
        .map(|s| Prediction {
            score: s.score,
            label: s.label.to_owned(),
        })
        .collect()
}

/// Parses, checks and classifies `asked`, answering each text with `answer`.
async fn classify(
    served: &Served,
    asked: DecideRequest,
    answer: impl Fn(&EmotionScores) -> Vec<Prediction>,
) -> Result<Response, Refusal> {
    let started = Instant::now();
    let (texts, batch) = texts_of(asked.inputs)?;
    let method = if batch { "batch" } else { "single" };
    served.metrics.request(method);
    let limit = served.config.max_client_batch_size;
    if texts.len() > limit {
        return Err(Refusal::batch_size(texts.len(), limit));
    }
    let _permit = served.admit(texts.len())?;
    let truncation = Truncation {
        long_texts: if asked.truncate.unwrap_or(served.config.auto_truncate) {
            LongTexts::Truncate
        } else {
            LongTexts::Reject
        },
        side: asked.truncation_direction,
    };
    let (results, timings) = served
        .classifier
        .serve_each(&texts, truncation, &served.pool)
        .await;
    let mut all = Vec::with_capacity(results.len());
    for result in &results {
        let scores = result.as_ref().map_err(Refusal::from_error)?;
        if scores.scores().iter().any(|s| s.is_nan()) {
            return Err(Refusal::new(
                ErrorType::Backend,
                "inference",
                "score is NaN",
            ));
        }
        all.push(answer(scores));
    }
    served
        .metrics
        .success(method, texts.len(), started.elapsed(), &timings);
    let headers = compute_headers(characters(&texts), started, &timings);
    let body = if batch {
        PredictResponse::Batch(all)
    } else {
        PredictResponse::Single(all.remove(0))
    };
    Ok((headers, Json(body)).into_response())
}

/// Every label's score for a text or a batch, highest first.
#[utoipa::path(
    post,
    path = "/predict",
    tag = "Text Embeddings Inference",
    request_body = PredictRequest,
    responses(
        (status = 200, description = "Predictions", body = PredictResponse),
        (status = 424, description = "Prediction Error", body = ErrorResponse,
            example = json!({"error": "Inference failed", "error_type": "Backend"})),
        (status = 429, description = "Model is overloaded", body = ErrorResponse,
            example = json!({"error": "Model is overloaded", "error_type": "Overloaded"})),
        (status = 422, description = "Tokenization or validation error", body = ErrorResponse,
            example = json!({"error": "batch size 33 > maximum allowed batch size 32", "error_type": "Validation"})),
        (status = 400, description = "Batch is empty", body = ErrorResponse,
            example = json!({"error": "`inputs` cannot be empty", "error_type": "Empty"})),
        (status = 413, description = "Body over the payload limit", body = ErrorResponse,
            example = json!({"error": "the request body is larger than the payload limit", "error_type": "Validation"})),
    )
)]
pub(crate) async fn predict(
    State(served): State<Arc<Served>>,
    Body(request): Body<PredictRequest>,
) -> Result<Response, Refusal> {
    let raw = request.raw_scores;
    classify(&served, request.texts, |scores| ranked(scores, raw)).await
}

/// The labels each text is decided to express, under the model's thresholds.
///
/// Every label at or over its threshold for a multi-label model; the top label for a softmax
/// one; highest first.
#[utoipa::path(
    post,
    path = "/decide",
    tag = "Emotion classifier",
    request_body = DecideRequest,
    responses(
        (status = 200, description = "The decided labels", body = PredictResponse),
        (status = 424, description = "Prediction Error", body = ErrorResponse),
        (status = 429, description = "Model is overloaded", body = ErrorResponse),
        (status = 422, description = "Tokenization or validation error", body = ErrorResponse),
        (status = 400, description = "Batch is empty", body = ErrorResponse),
        (status = 413, description = "Body over the payload limit", body = ErrorResponse),
    )
)]
pub(crate) async fn decide(
    State(served): State<Arc<Served>>,
    Body(request): Body<DecideRequest>,
) -> Result<Response, Refusal> {
    classify(&served, request, |scores| predictions(scores.decided())).await
}
