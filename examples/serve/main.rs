//! An HTTP emotion service on axum, with the async API: text-embeddings-inference's
//! classification API (`POST /` and `/predict`, `GET /health`, `/info`, `/metrics`), so a TEI
//! client works against it unchanged, plus the crate's own `POST /classify`.
//!
//! ```text
//! cargo run --release --example serve -- --model ../shared/models/emotion-minilm-ekman --port 8080
//! curl -s localhost:8080/predict -H 'content-type: application/json' -d '{"inputs": "I love it"}'
//! curl -s localhost:8080/predict -H 'content-type: application/json' \
//!     -d '{"inputs": [["I love it"], ["so sad"]], "raw_scores": true}'
//! curl -s localhost:8080/info
//! curl -s localhost:8080/metrics
//! curl -s localhost:8080/classify -H 'content-type: application/json' -d '{"inputs": ["a", "b"]}'
//! ```
//!
//! - `tei`: the TEI routes, their request fields (`inputs`, `raw_scores`, `truncate`,
//!   `truncation_direction`), response shapes, status codes and error body. `docs/SERVING.md`
//!   says where this server differs from TEI, and why.
//! - `classify_route`: `POST /classify`, as it was before the TEI routes: `{"inputs": "text"}`
//!   or `{"inputs": ["a", "b"]}` (a list of texts, not TEI's pair).
//! - `errors`: the `{"error", "error_type"}` body, and which error gets which status.
//! - `metrics`: Prometheus metrics (prometheus-client) and the middleware that counts requests.
//!
//! Every request is traced (tower-http's `TraceLayer`; `RUST_LOG=tower_http=debug` for more).
//! Scores are computed on the classifier's workers; the handlers only await them. A full queue
//! answers 429 at once (`--max-queued` sets how much it queues).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use clap::Parser;
use emotion_classifier::{EmotionClassifier, ModelSource, Precision};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

mod classify_route;
mod errors;
mod metrics;
mod tei;
#[cfg(test)]
mod tests;

use metrics::Metrics;

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
    /// The most texts one request may hold (TEI's `--max-client-batch-size`).
    #[arg(long, default_value_t = 256)]
    max_inputs: usize,
    /// Cut texts longer than the model takes when a TEI request does not say `truncate`
    /// (TEI's `--auto-truncate`); without it they are refused with 422.
    #[arg(long)]
    auto_truncate: bool,
    /// Numeric precision: f32 (default), bf16 or int8.
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16", "int8"])]
    precision: String,
}

/// What every handler shares.
pub struct Service {
    classifier: EmotionClassifier,
    /// The most texts one request may hold.
    max_inputs: usize,
    /// Whether TEI requests without `truncate` are cut (else refused when too long).
    auto_truncate: bool,
    /// The model as `/info` names it.
    model_id: String,
    /// `/info`'s `model_dtype`.
    dtype: &'static str,
    metrics: Metrics,
}

impl Service {
    /// A service of `classifier` with default limits, named `model_id`.
    pub fn new(classifier: EmotionClassifier, model_id: impl Into<String>) -> Self {
        Self {
            metrics: Metrics::new(classifier.clone()),
            classifier,
            max_inputs: 256,
            auto_truncate: false,
            model_id: model_id.into(),
            dtype: "float32",
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let model_id = args
        .model
        .clone()
        .or_else(|| std::env::var(emotion_classifier::MODEL_ENV).ok())
        .unwrap_or_else(|| emotion_classifier::DEFAULT_HUB_MODEL.to_owned());
    let source = args
        .model
        .as_deref()
        .map_or_else(ModelSource::from_env, ModelSource::parse);
    let (precision, dtype) = match args.precision.as_str() {
        "bf16" => (Precision::Bf16, "bfloat16"),
        "int8" => (Precision::Int8, "int8"),
        _ => (Precision::F32, "float32"),
    };
    tracing::info!(?source, "loading the model");
    let classifier = EmotionClassifier::builder()
        .model(source)
        .max_queued(args.max_queued)
        .cache_capacity(args.cache)
        .precision(precision)
        .tune_malloc(true)
        .build()?;
    let service = Service {
        max_inputs: args.max_inputs,
        auto_truncate: args.auto_truncate,
        dtype,
        ..Service::new(classifier, model_id)
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(service))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The routes, with request metrics and tracing.
fn app(service: Service) -> Router {
    let service = Arc::new(service);
    Router::new()
        .route("/", post(tei::predict).get(tei::health))
        .route("/predict", post(tei::predict))
        .route("/health", get(tei::health))
        .route("/info", get(tei::info))
        .route("/metrics", get(metrics::scrape))
        .route("/classify", post(classify_route::classify))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&service),
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(service)
}
