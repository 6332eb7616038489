//! The server's routes mounted in an axum app of one's own, beside a route of its own: what
//! `emotion-serve` answers (TEI's `/predict`, `/health`, `/metrics`, ..., and `/explain`,
//! `/decide`), under `/emotions`.
//!
//! ```text
//! cargo run --release --features server --example mount-server -- ../shared/models/emotion-minilm-ekman
//! curl -s localhost:8080/emotions/predict -H 'content-type: application/json' -d '{"inputs": "I love it"}'
//! curl -s localhost:8080/hello
//! ```
//!
//! `router` gives the routes with their limits (body size, concurrency, timeouts) as layers;
//! `emotion_classifier::server::serve` (what `emotion-serve` runs) adds the connection limits,
//! the header timeout and graceful shutdown on SIGTERM.

use axum::routing::get;
use emotion_classifier::server::{router, ServerConfig};
use emotion_classifier::{EmotionClassifier, ModelSource};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = std::env::args()
        .nth(1)
        .map_or_else(ModelSource::from_env, |m| ModelSource::parse(&m));
    let classifier = EmotionClassifier::builder().model(model).build()?;
    let config = ServerConfig::builder()
        .model_id("my-emotions")
        .max_client_batch_size(64)
        .build()?;
    let app = axum::Router::new()
        .route("/hello", get(|| async { "hello" }))
        .nest("/emotions", router(classifier, config)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
