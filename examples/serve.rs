//! An HTTP emotion service on axum, with the async API: `POST /classify`.
//!
//! ```text
//! cargo run --release --example serve -- --model ../shared/models/emotion-minilm-ekman --port 8080
//! curl -s localhost:8080/classify -H 'content-type: application/json' -d '{"inputs": "I love it"}'
//! curl -s localhost:8080/classify -H 'content-type: application/json' -d '{"inputs": ["a", "b"]}'
//! ```
//!
//! The request is text-embeddings-inference's `/predict`: `{"inputs": "text"}` answers a list
//! of `{"label", "score"}` (highest first), `{"inputs": ["a", "b"]}` one such list per text.
//! Errors are `{"error": "...", "error_type": "..."}`: bad JSON or a text the tokenizer rejects
//! is 422, a full queue is 429 (the `try_` calls: the server answers "too busy" at once instead
//! of queueing without end; `--max-queued` sets how much it queues), a stopped classifier 503.
//! Scores are computed on the classifier's workers; the handlers only await them.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use clap::Parser;
use emotion_classifier::{EmotionClassifier, EmotionScores, Error, ErrorChain, ModelSource};
use serde::{Deserialize, Serialize};

/// Serve emotion scores over HTTP.
#[derive(Parser)]
struct Args {
    /// Model folder or hub id [default: $EMOTION_MODEL, else the crate's default hub model].
    #[arg(long)]
    model: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Texts that may wait for the model before requests are refused with 429.
    #[arg(long, default_value_t = emotion_classifier::DEFAULT_MAX_QUEUED)]
    max_queued: usize,
    /// Result cache capacity in texts; 0 turns it off.
    #[arg(long, default_value_t = emotion_classifier::DEFAULT_CACHE_CAPACITY)]
    cache: usize,
    /// The most texts one request may hold.
    #[arg(long, default_value_t = 256)]
    max_inputs: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let source = args
        .model
        .as_deref()
        .map_or_else(ModelSource::from_env, ModelSource::parse);
    eprintln!("model: {source:?}");
    let classifier = EmotionClassifier::builder()
        .model(source)
        .max_queued(args.max_queued)
        .cache_capacity(args.cache)
        .tune_malloc(true)
        .build()?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    eprintln!("listening on http://{}/classify", listener.local_addr()?);
    axum::serve(listener, app(classifier, args.max_inputs))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The service: `POST /classify` on `classifier`, at most `max_inputs` texts a request.
fn app(classifier: EmotionClassifier, max_inputs: usize) -> Router {
    Router::new()
        .route("/classify", post(classify))
        .with_state(Service {
            classifier,
            max_inputs,
        })
}

#[derive(Clone)]
struct Service {
    classifier: EmotionClassifier,
    max_inputs: usize,
}

#[derive(Deserialize)]
struct Request {
    inputs: Inputs,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Inputs {
    One(String),
    Many(Vec<String>),
}

#[derive(Serialize)]
struct Prediction<'a> {
    score: f32,
    label: &'a str,
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
    error_type: &'static str,
}

async fn classify(
    State(service): State<Service>,
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
            Ok(scores) => Json(predictions(&scores)).into_response(),
            Err(e) => from_error(&e),
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
            Ok(all) => Json(all.iter().map(predictions).collect::<Vec<_>>()).into_response(),
            Err(e) => from_error(&e),
        },
    }
}

/// Every label's score, highest first.
fn predictions(scores: &EmotionScores) -> Vec<Prediction<'_>> {
    scores
        .sorted()
        .into_iter()
        .map(|s| Prediction {
            score: s.score,
            label: s.label,
        })
        .collect()
}

fn from_error(error: &Error) -> Response {
    let cause = match error {
        Error::InBatch { source, .. } => source.as_ref(),
        other => other,
    };
    let (status, kind) = match cause {
        Error::Overloaded { .. } => (StatusCode::TOO_MANY_REQUESTS, "Overloaded"),
        Error::Tokenize { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Validation"),
        Error::WorkerStopped => (StatusCode::SERVICE_UNAVAILABLE, "Unhealthy"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Backend"),
    };
    refuse(status, kind, ErrorChain(error).to_string())
}

fn refuse(status: StatusCode, error_type: &'static str, error: String) -> Response {
    (status, Json(ErrorBody { error, error_type })).into_response()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn model() -> PathBuf {
        std::env::var_os("EMOTION_TEST_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models"))
            .join("tiny-distilbert-emotion")
    }

    fn classifier(max_queued: usize) -> EmotionClassifier {
        EmotionClassifier::builder()
            .model(model())
            .max_queued(max_queued)
            .build()
            .unwrap()
    }

    /// Serves `classifier` on a free port of 127.0.0.1; returns the URL.
    async fn serve(classifier: EmotionClassifier) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/classify", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app(classifier, 4)).await });
        url
    }

    /// POSTs `body` with a real HTTP client (ureq, on a blocking thread): status and JSON.
    async fn post(url: &str, body: &'static str) -> (u16, serde_json::Value) {
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || {
            let response = match ureq::post(&url)
                .set("content-type", "application/json")
                .send_string(body)
            {
                Ok(response) => response,
                Err(ureq::Error::Status(_, response)) => response,
                Err(other) => panic!("{other}"),
            };
            let status = response.status();
            (status, response.into_json().unwrap())
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn one_text_and_a_list_answer_in_the_predict_shape() {
        let classifier = classifier(64);
        let url = serve(classifier.clone()).await;
        let expected = classifier.classify("I love this").unwrap();

        let (status, one) = post(&url, r#"{"inputs": "I love this"}"#).await;
        assert_eq!(status, 200);
        let one = one.as_array().unwrap();
        assert_eq!(one.len(), expected.len());
        assert_eq!(one[0]["label"], expected.top().label);
        for prediction in one {
            let label = prediction["label"].as_str().unwrap();
            let score = prediction["score"].as_f64().unwrap() as f32;
            assert!((score - expected.get(label).unwrap()).abs() < 1e-5);
        }
        let scores: Vec<f64> = one.iter().map(|p| p["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "highest first");

        let (status, many) = post(&url, r#"{"inputs": ["I love this", "", "so sad"]}"#).await;
        assert_eq!(status, 200);
        let many = many.as_array().unwrap();
        assert_eq!(many.len(), 3);
        assert_eq!(many[0], serde_json::Value::Array(one.clone()));
    }

    #[tokio::test]
    async fn bad_json_and_bad_requests_are_422_with_a_message() {
        let url = serve(classifier(64)).await;
        for body in [
            "not json",
            r#"{"text": "no inputs field"}"#,
            r#"{"inputs": 3}"#,
            r#"{"inputs": ["a", "b", "c", "d", "e"]}"#,
        ] {
            let (status, error) = post(&url, body).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(error["error_type"], "Validation", "{body}");
            assert!(!error["error"].as_str().unwrap().is_empty(), "{body}");
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_429() {
        // A queue of 2 texts cannot take a request of 3 without waiting: the server refuses.
        let url = serve(classifier(2)).await;
        let (status, error) = post(&url, r#"{"inputs": ["one", "two", "three"]}"#).await;
        assert_eq!(status, 429);
        assert_eq!(error["error_type"], "Overloaded");
        let (status, _) = post(&url, r#"{"inputs": ["one", "two"]}"#).await;
        assert_eq!(status, 200);
    }
}
