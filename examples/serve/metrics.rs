//! `GET /metrics`: Prometheus metrics through prometheus-client (the Prometheus project's own
//! Rust client; an explicit registry per server, so tests can run several servers).
//!
//! Counted by the middleware ([`track`]) for every route: `te_request_count_total{route}`,
//! `te_request_failure_total{route,status}` (every answer of 400 or more) and the latency
//! histogram `te_request_duration_seconds{route}`. By the handlers: `te_request_inputs_total`
//! (texts classified). Read from the classifier at each scrape: `te_queue_size` (texts waiting
//! now), `te_queue_max_size`, and the forward passes (`te_batch_passes_total`,
//! `te_batch_sequences_total`, `te_batch_tokens_total`, `te_batch_padded_tokens_total`: a
//! pass's mean size is the rate of sequences over the rate of passes), and the result cache's
//! `te_cache_hits_total` and `te_cache_misses_total`. Names follow TEI's `te_` prefix.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use emotion_classifier::EmotionClassifier;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::Service;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Failure {
    route: String,
    status: u16,
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<Route, Counter>,
    failures: Family<Failure, Counter>,
    duration: Family<Route, Histogram>,
    inputs: Counter,
}

impl Metrics {
    /// Metrics for a server of `classifier`.
    pub fn new(classifier: EmotionClassifier) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Route, Counter>::default();
        let failures = Family::<Failure, Counter>::default();
        // 1 ms to about 16 s.
        let duration = Family::<Route, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        let inputs = Counter::default();
        registry.register("te_request_count", "Requests, by route", requests.clone());
        registry.register(
            "te_request_failure",
            "Requests answered with an error status, by route and status",
            failures.clone(),
        );
        registry.register(
            "te_request_duration_seconds",
            "Request latency, by route",
            duration.clone(),
        );
        registry.register(
            "te_request_inputs",
            "Texts classified by /predict, / and /classify",
            inputs.clone(),
        );
        registry.register_collector(Box::new(ClassifierStats(classifier)));
        Self {
            registry,
            requests,
            failures,
            duration,
            inputs,
        }
    }

    /// Counts `texts` classified texts.
    pub fn count_inputs(&self, texts: usize) {
        self.inputs.inc_by(texts as u64);
    }

    /// The Prometheus (OpenMetrics) text of every metric now.
    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Middleware: counts each request by its route, its failure by status, and its latency.
pub async fn track(State(service): State<Arc<Service>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &service.metrics;
    let label = Route {
        route: route.clone(),
    };
    metrics.requests.get_or_create(&label).inc();
    metrics
        .duration
        .get_or_create(&label)
        .observe(started.elapsed().as_secs_f64());
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        metrics
            .failures
            .get_or_create(&Failure {
                route,
                status: status.as_u16(),
            })
            .inc();
    }
    response
}

/// `GET /metrics`.
pub async fn scrape(State(service): State<Arc<Service>>) -> Response {
    match service.metrics.render() {
        Ok(text) => (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The classifier's own counters, read at each scrape.
#[derive(Debug)]
struct ClassifierStats(EmotionClassifier);

impl ClassifierStats {
    fn counter(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: u64,
    ) -> std::fmt::Result {
        let counter = ConstCounter::new(value);
        let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
        counter.encode(metric)
    }

    fn gauge(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: i64,
    ) -> std::fmt::Result {
        let gauge = ConstGauge::new(value);
        let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
        gauge.encode(metric)
    }
}

impl Collector for ClassifierStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let queue = self.0.queue_stats();
        let passes = self.0.pass_stats();
        let cache = self.0.cache_stats();
        let e = &mut encoder;
        let size = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        Self::gauge(
            e,
            "te_queue_size",
            "Texts waiting for a forward pass now",
            size(queue.queued),
        )?;
        Self::gauge(
            e,
            "te_queue_max_size",
            "The most texts that may wait",
            size(queue.max_queued),
        )?;
        Self::counter(e, "te_batch_passes", "Forward passes run", passes.passes)?;
        Self::counter(
            e,
            "te_batch_sequences",
            "Sequences the forward passes held (texts, or windows of chunked texts)",
            passes.sequences,
        )?;
        Self::counter(
            e,
            "te_batch_tokens",
            "Real tokens the passes held",
            passes.tokens,
        )?;
        Self::counter(
            e,
            "te_batch_padded_tokens",
            "Token slots after padding each pass to its longest sequence",
            passes.padded_tokens,
        )?;
        Self::counter(
            e,
            "te_cache_hits",
            "Texts answered by the result cache",
            cache.hits,
        )?;
        Self::counter(
            e,
            "te_cache_misses",
            "Cache lookups that missed",
            cache.misses,
        )?;
        Ok(())
    }
}
