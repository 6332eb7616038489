//! text-embeddings-inference's classification API (its `docs/openapi.json`):
//!
//! - `POST /predict` and `POST /`: `{"inputs": ..., "raw_scores": false, "truncate": null,
//!   "truncation_direction": "Right"}`. `inputs` is a string, or a batch `[["a"], ["b"]]`
//!   (answered with one list per text); TEI's text pairs (`["a", "b"]`, or `[["a", "b"]]` in a
//!   batch) are refused with 422, since an emotion model reads one text. Each text's answer is
//!   every label's `{"score", "label"}`, highest first: the model's scores as transformers gives
//!   them (see `docs/SERVING.md` for where TEI differs), or the raw logits with `raw_scores`.
//!   `truncate` (default: the server's `--auto-truncate`) cuts long texts at
//!   `truncation_direction`; without it a long text is 422.
//! - `GET /health` (and `GET /`): 200 with an empty body once a forward pass answers, else 503.
//! - `GET /info`: the model, its labels and the limits, in TEI's field names.
//!
//! Errors are TEI's: 400 `Empty` for an empty batch, 413 `Validation` for more texts than
//! `--max-inputs`, 422 `Validation` or `Tokenizer`, 424 `Backend`, 429 `Overloaded`, 503
//! `Unhealthy`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use emotion_classifier::{ErrorChain, LabelScore, LongTexts, Truncation, TruncationSide};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::classify_route::Prediction;
use crate::errors::{for_tei, refuse};
use crate::Service;

/// TEI's `PredictRequest`.
#[derive(Deserialize)]
pub struct PredictRequest {
    inputs: Value,
    #[serde(default)]
    raw_scores: bool,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: TruncationSide,
}

/// TEI's `PredictInput`, with pairs refused: the texts, and whether it was a batch.
// The error is the response itself, built once per bad request and returned as is.
#[allow(clippy::result_large_err)]
fn texts_of(inputs: Value) -> Result<(Vec<String>, bool), Response> {
    let invalid = |message: String| refuse(StatusCode::UNPROCESSABLE_ENTITY, "Validation", message);
    let pair = |at: &str| {
        invalid(format!(
            "text pairs are not supported ({at}): an emotion model classifies one text at a time, \
             so `inputs` must be a string or a batch of one-string lists"
        ))
    };
    let strings = |items: &[Value]| -> Option<Vec<String>> {
        items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    match inputs {
        Value::String(text) => Ok((vec![text], false)),
        Value::Array(items) if items.is_empty() => {
            Err(refuse(StatusCode::BAD_REQUEST, "Empty", "Batch is empty"))
        }
        Value::Array(items) if items[0].is_string() => match strings(&items) {
            Some(mut texts) if texts.len() == 1 => Ok((vec![texts.remove(0)], false)),
            Some(texts) if texts.len() == 2 => Err(pair("`inputs` is a pair of strings")),
            _ => Err(invalid(
                "`inputs` must be a string, a pair of strings or a batch of lists".to_owned(),
            )),
        },
        Value::Array(items) => {
            let mut texts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_array().and_then(|a| strings(a)) {
                    Some(mut one) if one.len() == 1 => texts.push(one.remove(0)),
                    Some(two) if two.len() == 2 => {
                        return Err(pair(&format!("batch item {i} is a pair")))
                    }
                    _ => {
                        return Err(invalid(format!(
                            "batch item {i} must be a list of one string"
                        )))
                    }
                }
            }
            Ok((texts, true))
        }
        _ => Err(invalid(
            "`inputs` must be a string or a batch [[string], ...]".to_owned(),
        )),
    }
}

/// Every label's value, highest first: the scores, or the logits with `raw`.
fn ranked<'a>(scores: &'a emotion_classifier::EmotionScores, raw: bool) -> Vec<Prediction<'a>> {
    let mut all: Vec<LabelScore<'a>> = match (raw, scores.logits()) {
        (true, Some(logits)) => scores
            .labels()
            .iter()
            .zip(logits)
            .map(|(label, &score)| LabelScore { label, score })
            .collect(),
        _ => scores.iter().collect(),
    };
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    all.into_iter()
        .map(|s| Prediction {
            score: s.score,
            label: s.label,
        })
        .collect()
}

/// `POST /predict` (and `POST /`).
pub async fn predict(
    State(service): State<Arc<Service>>,
    request: Result<Json<PredictRequest>, JsonRejection>,
) -> Response {
    let request = match request {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Validation",
                rejection.body_text(),
            )
        }
    };
    let (texts, batch) = match texts_of(request.inputs) {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    if texts.len() > service.max_inputs {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Validation",
            format!(
                "batch size {} > maximum allowed batch size {}",
                texts.len(),
                service.max_inputs
            ),
        );
    }
    let truncation = Truncation {
        long_texts: if request.truncate.unwrap_or(service.auto_truncate) {
            LongTexts::Truncate
        } else {
            LongTexts::Reject
        },
        side: request.truncation_direction,
    };
    let results = service
        .classifier
        .try_classify_each_with_async(&texts, truncation)
        .await;
    let mut all = Vec::with_capacity(results.len());
    for result in &results {
        match result {
            Ok(scores) => all.push(ranked(scores, request.raw_scores)),
            Err(e) => return for_tei(e),
        }
    }
    service.metrics.count_inputs(texts.len());
    if batch {
        Json(all).into_response()
    } else {
        Json(all.remove(0)).into_response()
    }
}

/// `GET /health` (and `GET /`): a forward pass, as TEI's.
pub async fn health(State(service): State<Arc<Service>>) -> Response {
    match service.classifier.check_health_async().await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unhealthy",
            format!("unhealthy: {}", ErrorChain(&e)),
        ),
    }
}

/// TEI's `Info`, for a classifier.
#[derive(Serialize)]
struct Info<'a> {
    model_id: &'a str,
    model_sha: Option<&'a str>,
    model_dtype: &'a str,
    served_model_name: &'a str,
    model_type: ModelType,
    max_concurrent_requests: usize,
    max_input_length: usize,
    max_batch_tokens: usize,
    max_batch_requests: Option<usize>,
    max_client_batch_size: usize,
    auto_truncate: bool,
    tokenization_workers: usize,
    version: &'static str,
    sha: Option<&'a str>,
    docker_label: Option<&'a str>,
}

#[derive(Serialize)]
enum ModelType {
    #[serde(rename = "classifier")]
    Classifier {
        id2label: BTreeMap<String, String>,
        label2id: BTreeMap<String, usize>,
    },
}

/// `GET /info`.
pub async fn info(State(service): State<Arc<Service>>) -> Response {
    let classifier = &service.classifier;
    let labels = classifier.labels();
    let limits = classifier.batching().limits;
    Json(Info {
        model_id: &service.model_id,
        model_sha: None,
        model_dtype: service.dtype,
        served_model_name: &service.model_id,
        model_type: ModelType::Classifier {
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
        },
        max_concurrent_requests: classifier.queue_stats().max_queued,
        max_input_length: classifier.config().max_input_tokens(),
        max_batch_tokens: limits.max_batch_tokens(),
        max_batch_requests: Some(limits.max_batch_size()),
        max_client_batch_size: service.max_inputs,
        auto_truncate: service.auto_truncate,
        // Callers tokenize on their own tasks: as many as the runtime's worker threads.
        tokenization_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        version: env!("CARGO_PKG_VERSION"),
        sha: None,
        docker_label: None,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<(Vec<String>, bool), u16> {
        texts_of(serde_json::from_str(json).unwrap()).map_err(|r| r.status().as_u16())
    }

    #[test]
    fn inputs_are_read_as_tei_reads_them_and_pairs_refused() {
        assert_eq!(parse(r#""a""#), Ok((vec!["a".into()], false)));
        assert_eq!(parse(r#"["a"]"#), Ok((vec!["a".into()], false)));
        assert_eq!(
            parse(r#"[["a"], ["b"]]"#),
            Ok((vec!["a".into(), "b".into()], true))
        );
        assert_eq!(parse(r#"["a", "b"]"#), Err(422));
        assert_eq!(parse(r#"[["a"], ["b", "c"]]"#), Err(422));
        assert_eq!(parse(r#"["a", "b", "c"]"#), Err(422));
        assert_eq!(parse("[]"), Err(400));
        assert_eq!(parse("3"), Err(422));
        assert_eq!(parse(r#"[["a"], 3]"#), Err(422));
    }
}
