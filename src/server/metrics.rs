//! `GET /metrics`: TEI's metrics under TEI's names and labels, through TEI's own crates
//! (`metrics` and `metrics-exporter-prometheus`), so its dashboards work unchanged; a recorder
//! per server (never the global one), so a process can run several.
//!
//! - Per request, as TEI counts them: `te_request_count{method}` (`single`, `batch`),
//!   `te_request_success{method}`, `te_request_failure{err}` (`validation`, `batch_size`,
//!   `tokenization`, `overloaded`, `inference`, `model_type`, `unauthorized`, `timeout`), the
//!   histograms `te_request_duration`, `te_request_tokenization_duration`,
//!   `te_request_queue_duration`, `te_request_inference_duration` (seconds) and
//!   `te_request_input_length` (tokens per text), and the same per classification as
//!   `te_predict_count`, `te_predict_success` and `te_predict_*duration`.
//! - From the classifier at each scrape: `te_queue_size` (texts waiting for a pass), and the
//!   histograms of the passes run, `te_batch_next_size` and `te_batch_next_tokens`.
//! - The crate's own, prefixed `emotion_`: the result cache (`emotion_cache_hits`,
//!   `_misses`, `_evictions`, `_entries`), passes and padding (`emotion_passes`,
//!   `emotion_padded_tokens`, `emotion_skipped_jobs`), `emotion_workers_alive` and
//!   `emotion_tokenization_queue`.

use std::fmt::Write;
use std::time::Duration;

use metrics::{Label, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::classifier::Timings;
use crate::worker::{PassHistograms, SIZE_BUCKETS, TOKEN_BUCKETS};
use crate::EmotionClassifier;

/// TEI's per-request histograms: total, tokenization, queue, inference.
const REQUEST_DURATIONS: [&str; 4] = [
    "te_request_duration",
    "te_request_tokenization_duration",
    "te_request_queue_duration",
    "te_request_inference_duration",
];

/// The same, per classification.
const PREDICT_DURATIONS: [&str; 4] = [
    "te_predict_duration",
    "te_predict_tokenization_duration",
    "te_predict_queue_duration",
    "te_predict_inference_duration",
];

/// A server's metrics.
pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// TEI's buckets (its `router/src/prometheus.rs`): durations from 15 µs by a factor of 1.5,
/// input lengths in powers of two up to the model's limit.
fn buckets(max_input_length: usize) -> (Vec<f64>, Vec<f64>) {
    let durations = std::iter::successors(Some(0.000_015), |v| Some(v * 1.5))
        .take(35)
        .collect();
    let lengths = (0..20)
        .map(|x| 2f64.powi(x))
        .filter(|&x| x as usize <= max_input_length)
        .collect();
    (durations, lengths)
}

impl Metrics {
    /// Metrics with TEI's buckets for a model of `max_input_length` tokens.
    pub(crate) fn new(max_input_length: usize) -> Self {
        let (durations, lengths) = buckets(max_input_length);
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(Matcher::Suffix("duration".into()), &durations)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("te_request_input_length".into()), &lengths)
            });
        // Only an empty bucket list fails, and neither is empty.
        let recorder = builder
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        Self { recorder, handle }
    }

    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> metrics::Key {
        let labels: Vec<Label> = labels.iter().map(|&(k, v)| Label::new(k, v)).collect();
        metrics::Key::from_parts(name, labels)
    }

    fn metadata() -> metrics::Metadata<'static> {
        metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
    }

    /// Adds `n` to counter `name` with `labels`.
    pub(crate) fn count(
        &self,
        name: &'static str,
        labels: &[(&'static str, &'static str)],
        n: u64,
    ) {
        self.recorder
            .register_counter(&Self::key(name, labels), &Self::metadata())
            .increment(n);
    }

    fn observe(&self, name: &'static str, value: f64) {
        self.recorder
            .register_histogram(&Self::key(name, &[]), &Self::metadata())
            .record(value);
    }

    fn set(&self, name: &'static str, value: f64) {
        self.recorder
            .register_gauge(&Self::key(name, &[]), &Self::metadata())
            .set(value);
    }

    /// A request was received: `te_request_count{method}`.
    pub(crate) fn request(&self, method: &'static str) {
        self.count("te_request_count", &[("method", method)], 1);
    }

    /// A request failed: `te_request_failure{err}`.
    pub(crate) fn failure(&self, err: &'static str) {
        self.count("te_request_failure", &[("err", err)], 1);
    }

    /// A classification of `texts` texts succeeded, in `total` and as `timings` says.
    pub(crate) fn success(
        &self,
        method: &'static str,
        texts: usize,
        total: Duration,
        timings: &Timings,
    ) {
        self.count("te_request_success", &[("method", method)], 1);
        self.count("te_predict_count", &[], texts as u64);
        self.count("te_predict_success", &[], texts as u64);
        let values = [
            total,
            timings.tokenization,
            timings.queue,
            timings.inference,
        ];
        for names in [REQUEST_DURATIONS, PREDICT_DURATIONS] {
            for (name, value) in names.into_iter().zip(values) {
                self.observe(name, value.as_secs_f64());
            }
        }
        if texts > 0 {
            self.observe(
                "te_request_input_length",
                timings.tokens as f64 / texts as f64,
            );
        }
    }

    /// Every metric now, in Prometheus's text format: what was recorded, and the classifier's
    /// counters read now.
    pub(crate) fn render(
        &self,
        classifier: &EmotionClassifier,
        tokenization_queue: usize,
    ) -> String {
        let queue = classifier.queue_stats();
        let passes = classifier.pass_stats();
        let cache = classifier.cache_stats();
        self.set("te_queue_size", queue.queued as f64);
        self.set("emotion_workers_alive", classifier.workers_alive() as f64);
        self.set("emotion_tokenization_queue", tokenization_queue as f64);
        self.set("emotion_cache_entries", cache.entries as f64);
        for (name, value) in [
            ("emotion_cache_hits", cache.hits),
            ("emotion_cache_misses", cache.misses),
            ("emotion_cache_evictions", cache.evictions),
            ("emotion_passes", passes.passes),
            ("emotion_padded_tokens", passes.padded_tokens),
            ("emotion_skipped_jobs", passes.skipped_jobs),
        ] {
            self.recorder
                .register_counter(&Self::key(name, &[]), &Self::metadata())
                .absolute(value);
        }
        let mut text = self.handle.render();
        let histograms = classifier.pass_histograms();
        write_pass_histograms(&mut text, &histograms, passes.sequences, passes.tokens);
        text
    }
}

/// TEI's `te_batch_next_size` and `te_batch_next_tokens`, from the classifier's own counts of
/// its passes (a histogram the recorder cannot hold: the passes run on the workers).
fn write_pass_histograms(
    out: &mut String,
    histograms: &PassHistograms,
    sequences: u64,
    tokens: u64,
) {
    let mut one = |name: &str, counts: &[u64], bounds: usize, sum: u64| {
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in counts.iter().take(bounds).enumerate() {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", 1u64 << i);
        }
        let total: u64 = counts.iter().sum();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {total}");
        let _ = writeln!(out);
    };
    one(
        "te_batch_next_size",
        &histograms.sequences,
        SIZE_BUCKETS,
        sequences,
    );
    one(
        "te_batch_next_tokens",
        &histograms.tokens,
        TOKEN_BUCKETS,
        tokens,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_teis() {
        let (durations, lengths) = buckets(512);
        assert_eq!(durations.len(), 35);
        assert!((durations[0] - 0.000_015).abs() < 1e-12);
        assert_eq!(lengths.last(), Some(&512.0));
        assert_eq!(lengths.len(), 10);
    }

    #[test]
    fn counters_render_under_teis_names_without_a_total_suffix() {
        let metrics = Metrics::new(512);
        metrics.request("single");
        metrics.request("batch");
        metrics.request("batch");
        metrics.failure("batch_size");
        let text = metrics.handle.render();
        assert!(
            text.contains("te_request_count{method=\"single\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("te_request_count{method=\"batch\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("te_request_failure{err=\"batch_size\"} 1"),
            "{text}"
        );
        assert!(!text.contains("_total"), "{text}");
    }

    #[test]
    fn pass_histograms_are_cumulative() {
        let mut histograms = PassHistograms {
            sequences: [0; SIZE_BUCKETS + 1],
            tokens: [0; TOKEN_BUCKETS + 1],
        };
        histograms.sequences[0] = 2;
        histograms.sequences[3] = 1;
        histograms.sequences[SIZE_BUCKETS] = 1;
        let mut out = String::new();
        write_pass_histograms(&mut out, &histograms, 5010, 0);
        assert!(
            out.contains("te_batch_next_size_bucket{le=\"1\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("te_batch_next_size_bucket{le=\"8\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("te_batch_next_size_bucket{le=\"4096\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("te_batch_next_size_bucket{le=\"+Inf\"} 4\n"),
            "{out}"
        );
        assert!(out.contains("te_batch_next_size_sum 5010\n"), "{out}");
        assert!(out.contains("te_batch_next_tokens_count 0\n"), "{out}");
    }
}
