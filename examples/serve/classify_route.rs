//! `POST /classify`: `{"inputs": "text"}` answers a list of `{"label", "score"}` (highest
//! first); `{"inputs": ["a", "b"]}` one such list per text. Bad JSON or a text the tokenizer
//! rejects is 422, a full queue 429, a stopped classifier 503.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use emotion_classifier::EmotionScores;
use serde::{Deserialize, Serialize};

use crate::errors::{for_classify, refuse};
use crate::Service;

#[derive(Deserialize)]
pub struct Request {
    inputs: Inputs,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Inputs {
    One(String),
    Many(Vec<String>),
}

/// One label's score, as TEI's `Prediction`.
#[derive(Serialize)]
pub struct Prediction<'a> {
    pub score: f32,
    pub label: &'a str,
}

/// Every label's score, highest first.
pub fn predictions(scores: &EmotionScores) -> Vec<Prediction<'_>> {
    scores
        .sorted()
        .into_iter()
        .map(|s| Prediction {
            score: s.score,
            label: s.label,
        })
        .collect()
}

pub async fn classify(
    State(service): State<Arc<Service>>,
    request: Result<Json<Request>, JsonRejection>,
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
    let classifier = &service.classifier;
    match request.inputs {
        Inputs::One(text) => match classifier.try_classify_async(&text).await {
            Ok(scores) => {
                service.metrics.count_inputs(1);
                Json(predictions(&scores)).into_response()
            }
            Err(e) => for_classify(&e),
        },
        Inputs::Many(texts) if texts.len() > service.max_inputs => refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation",
            format!(
                "{} inputs; at most {} per request",
                texts.len(),
                service.max_inputs
            ),
        ),
        Inputs::Many(texts) => match classifier.try_classify_batch_async(&texts).await {
            Ok(all) => {
                service.metrics.count_inputs(texts.len());
                Json(all.iter().map(predictions).collect::<Vec<_>>()).into_response()
            }
            Err(e) => for_classify(&e),
        },
    }
}
