//! `POST /explain`: which words drove a text's scores, as
//! [`EmotionClassifier::explain`](crate::EmotionClassifier::explain) gives them (occlusion:
//! one pass of the text and one per word), with their byte and character spans.
//!
//! A text of `n` words costs `n + 1` texts' passes, so it is admitted as that many texts and
//! refused with 422 past `max_explain_words` words.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{Body, ErrorResponse, ErrorType, Refusal};
use super::headers::{characters, compute_headers};
use super::state::Served;
use super::types::{ExplainRequest, ExplainResponse, Prediction, WordAttribution};
use crate::explain::{words, Explanation};

/// The answer for `label` (its index among the labels).
fn response(explanation: &Explanation, label: usize) -> ExplainResponse {
    let scores = explanation.scores();
    let labels = scores.labels();
    let text = explanation.text();
    let words = explanation
        .words()
        .iter()
        .enumerate()
        .map(|(w, word)| {
            let attributions = explanation.word_attributions(w).unwrap_or_default();
            WordAttribution {
                word: word.in_text(text).to_owned(),
                bytes: [word.bytes.start, word.bytes.end],
                chars: [word.chars.start, word.chars.end],
                attribution: attributions.get(label).copied().unwrap_or(0.0),
                attributions: labels
                    .iter()
                    .cloned()
                    .zip(attributions.iter().copied())
                    .collect::<BTreeMap<_, _>>(),
            }
        })
        .collect();
    ExplainResponse {
        label: labels.get(label).cloned().unwrap_or_default(),
        score: scores.scores().get(label).copied().unwrap_or(0.0),
        scores: scores
            .sorted()
            .into_iter()
            .map(|s| Prediction {
                score: s.score,
                label: s.label.to_owned(),
            })
            .collect(),
        words,
    }
}

/// Which words drove a text's scores.
///
/// Each word's attribution to a label (default the top one) and to every label, with its
/// byte and character spans: the score minus the score without the word.
#[utoipa::path(
    post,
    path = "/explain",
    tag = "Emotion classifier",
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "The words' attributions", body = ExplainResponse),
        (status = 422, description = "No words, too many words, an unknown label, or a tokenizer error", body = ErrorResponse,
            example = json!({"error": "unknown label \"joyful\"", "error_type": "Validation"})),
        (status = 424, description = "Prediction Error", body = ErrorResponse),
        (status = 429, description = "Model is overloaded", body = ErrorResponse),
        (status = 413, description = "Body over the payload limit", body = ErrorResponse),
    )
)]
pub(crate) async fn explain(
    State(served): State<Arc<Served>>,
    Body(request): Body<ExplainRequest>,
) -> Result<Response, Refusal> {
    let started = Instant::now();
    served.metrics.request("single");
    let invalid = |message: String| Refusal::new(ErrorType::Validation, "validation", message);
    let labels = served.classifier.labels();
    let wanted = match &request.label {
        Some(label) => Some(labels.iter().position(|l| l == label).ok_or_else(|| {
            invalid(format!(
                "unknown label {label:?}; the model's labels are {}",
                labels.join(", ")
            ))
        })?),
        None => None,
    };
    let count = words(&request.inputs).len();
    let limit = served.config.max_explain_words;
    if count > limit {
        return Err(invalid(format!(
            "the text has {count} words; /explain takes at most {limit} (each costs a pass)"
        )));
    }
    let _permit = served.admit(count + 1)?;
    let (explained, timings) = served
        .classifier
        .serve_explain(&request.inputs, &served.pool)
        .await;
    let explanation = explained.map_err(|e| Refusal::from_error(&e))?;
    // The top label as `EmotionScores::top` picks it (the first of equal scores).
    let top = || {
        let top = explanation.scores().top().label;
        labels.iter().position(|l| l == top).unwrap_or(0)
    };
    let body = response(&explanation, wanted.unwrap_or_else(top));
    served
        .metrics
        .success("single", count + 1, started.elapsed(), &timings);
    let headers = compute_headers(characters(&[request.inputs]), started, &timings);
    Ok((headers, Json(body)).into_response())
}
