//! An HTTP server for a classifier that speaks text-embeddings-inference (TEI) 1.9.3's API,
//! so TEI's clients (`huggingface_hub`'s `InferenceClient`, its dashboards) work unchanged
//! (feature `server`; the `emotion-serve` binary runs it).
//!
//! - [`router`]: the routes as an axum [`Router`], to mount in an app of one's
//!   own, with the per-request limits as layers (body size, concurrency, request deadline).
//! - [`serve`]: what `emotion-serve` runs: the router on a listener, with the connection-level
//!   limits (open connections, header read timeout), graceful shutdown on a signal, and an
//!   exit with [`Error::WorkerStopped`](crate::Error::WorkerStopped) when the model's workers die.
//!
//! Routes: TEI's `POST /predict` (and `/`, `/invocations`), `GET /health` (and `/`, `/ping`),
//! `/info`, `/metrics`, `POST /tokenize`, `/decode`; TEI's embedding and re-ranking routes answer
//! 424 as TEI does for a classifier; the crate's `POST /explain` and `/decide`; the OpenAPI
//! document at `/api-doc/openapi.json` and its page at `/docs`. `docs/SERVING.md` lists where
//! and why this differs from TEI.
//!
//! Files: `config` (limits), `state` (shared state, admission), `inputs` (TEI's input forms),
//! `types` (request and answer shapes), `errors` (statuses and the error body), `headers`
//! (`x-compute-*`), `guard` (middleware), `metrics`, one file per group of routes (`predict`,
//! `explain_route`, `tokens`, `info`, `other_models`), `openapi`, `listen` ([`serve`]).

mod config;
mod errors;
mod explain_route;
mod guard;
mod headers;
mod info;
mod inputs;
mod listen;
mod metrics;
mod openapi;
mod other_models;
mod predict;
mod state;
mod tokens;
mod types;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

pub use config::{
    ServerConfig, ServerConfigBuilder, DEFAULT_MAX_CLIENT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_PAYLOAD_LIMIT,
};
pub use errors::{ErrorResponse, ErrorType};
pub use listen::{serve, shutdown_signal};
pub use openapi::document as openapi;

use crate::error::Result;
use crate::EmotionClassifier;
use state::Served;

/// The server's routes for `classifier` under `config`, with its per-request limits as layers:
/// the payload limit (413), the API key (401), admission (429), the body and request
/// timeouts (408), CORS and request tracing. Starts the tokenizer threads.
///
/// ```no_run
/// use emotion_classifier::server::{router, ServerConfig};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let classifier = emotion_classifier::EmotionClassifier::builder().build()?;
/// let app = axum::Router::new().nest("/emotions", router(classifier, ServerConfig::builder().build()?)?);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::WorkerSpawn`](crate::Error::WorkerSpawn) if a tokenizer thread cannot start.
pub fn router(classifier: EmotionClassifier, config: ServerConfig) -> Result<Router> {
    Ok(app(Arc::new(Served::new(classifier, config)?)))
}

/// The routes of `served`.
fn app(served: Arc<Served>) -> Router {
    let config = &served.config;
    let guarded = Router::new()
        .route("/", post(predict::predict))
        .route("/predict", post(predict::predict))
        .route("/invocations", post(predict::predict))
        .route("/decide", post(predict::decide))
        .route("/explain", post(explain_route::explain))
        .route("/tokenize", post(tokens::tokenize))
        .route("/decode", post(tokens::decode))
        .route("/info", get(info::info))
        .route("/embed", post(other_models::embed))
        .route("/embed_all", post(other_models::embed))
        .route("/embed_sparse", post(other_models::embed_sparse))
        .route("/rerank", post(other_models::rerank))
        .route("/similarity", post(other_models::similarity))
        .route("/embeddings", post(other_models::openai_embed))
        .route("/v1/embeddings", post(other_models::openai_embed))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&served),
            guard::authorize,
        ));
    let public = Router::new()
        .route("/health", get(info::health))
        .route("/", get(info::health))
        .route("/ping", get(info::health))
        .route("/metrics", get(info::metrics));
    let origins = match &config.cors_allow_origin {
        Some(list) if !list.iter().any(|o| o == "*") => {
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
        _ => AllowOrigin::any(),
    };
    let cors = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            axum::http::header::CONTENT_TYPE,
            axum::http::header::AUTHORIZATION,
        ])
        .allow_origin(origins);
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs").url("/api-doc/openapi.json", openapi());
    Router::new()
        .merge(docs)
        .merge(guarded)
        .merge(public)
        .layer(DefaultBodyLimit::max(config.payload_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&served),
            guard::payload_limit,
        ))
        .layer(RequestBodyTimeoutLayer::new(config.body_timeout))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&served),
            guard::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&served),
            guard::count_failures,
        ))
        .layer(cors)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(served)
}
