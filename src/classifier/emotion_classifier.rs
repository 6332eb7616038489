//! [`EmotionClassifier`]: text in, [`EmotionScores`] out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::cache::{CacheStats, ScoreCache};
use crate::config::ModelConfig;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::long_texts::{Aggregate, LongTexts, Truncation};
use crate::model::{LoadedModel, NetworkOptions};
use crate::scores::{EmotionScores, Head, Thresholds, THRESHOLDS_FILE};
use crate::worker::{Admission, Batching, PassStats, QueueStats, WorkerHandle};

use super::builder::Settings;
use super::pipeline::{all_or_first_error, single, Inner};
use super::EmotionClassifierBuilder;

/// The labels, function and thresholds every result of this classifier shares.
fn head(config: &ModelConfig, dir: &std::path::Path, settings: &Settings) -> Result<Head> {
    let function = settings
        .score_function
        .unwrap_or_else(|| config.score_function());
    let mut head = Head::new(config.labels().into(), function);
    let file = dir.join(THRESHOLDS_FILE);
    let (thresholds, origin) = match &settings.thresholds {
        Some(given) => (given.clone(), None),
        None if file.is_file() => (Thresholds::from_file(&file)?, Some(file.as_path())),
        None => return Ok(head),
    };
    head.thresholds = thresholds.resolve(config.labels(), function, origin)?;
    Ok(head)
}

/// Classifies the emotions of texts with one loaded model.
///
/// Cheap to clone (an `Arc`) and `Send + Sync`: share it between threads freely. Tokenization
/// and cache lookups run on the calling thread; forward passes run on a worker thread that owns
/// the model (or several, with [`workers`](EmotionClassifierBuilder::workers)), which (with
/// dynamic batching, the default) serves concurrent callers together.
/// Clones share the model, the worker and the cache.
#[derive(Clone)]
pub struct EmotionClassifier {
    inner: Arc<Inner>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<EmotionClassifier>();
};

impl std::fmt::Debug for EmotionClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmotionClassifier")
            .field("config", &self.inner.config.path())
            .field("architecture", &self.inner.config.architecture())
            .field("labels", &self.inner.head.labels)
            .field("score_function", &self.inner.head.function)
            .field("batching", &self.inner.batching)
            .field("workers", &self.inner.workers)
            .field("threads", &self.inner.threads)
            .finish()
    }
}

impl EmotionClassifier {
    /// Starts configuring a classifier.
    pub fn builder() -> EmotionClassifierBuilder {
        EmotionClassifierBuilder::new()
    }

    pub(super) fn load(settings: Settings) -> Result<Self> {
        let dir = settings.source.local_dir()?;
        let LoadedModel {
            config,
            encoder,
            networks,
        } = LoadedModel::from_dir(
            &dir,
            settings.long_texts,
            NetworkOptions {
                precision: settings.precision,
                device: settings.device.resolve(),
                pack_weights: settings.pack_weights,
                gemm_parts: crate::worker::pass_width(settings.threads),
                small_passes: settings.small_passes,
            },
            settings.workers,
        )?;
        let head = Arc::new(head(&config, &dir, &settings)?);
        let workers = networks.len();
        let worker = WorkerHandle::spawn_pool(
            networks,
            Some(settings.threads),
            settings.batching,
            settings.max_queued,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                encoder,
                worker,
                cache: ScoreCache::new(settings.cache_capacity, settings.cache_bytes),
                head,
                truncation: Truncation {
                    long_texts: settings.long_texts,
                    side: settings.truncation_side,
                },
                batching: settings.batching,
                aggregate: match settings.long_texts {
                    LongTexts::Chunk { aggregate, .. } => aggregate,
                    LongTexts::Truncate | LongTexts::Reject => Aggregate::Mean,
                },
                computed: AtomicU64::new(0),
                workers,
                threads: usize::try_from(settings.threads).unwrap_or(1),
            }),
        })
    }

    /// The model's labels, in the order of [`EmotionScores::scores`].
    pub fn labels(&self) -> &[String] {
        &self.inner.head.labels
    }

    /// The function its scores come from: the model's own
    /// ([`ModelConfig::score_function`]) unless the builder's
    /// [`score_function`](EmotionClassifierBuilder::score_function) overrides it.
    pub fn score_function(&self) -> crate::ScoreFunction {
        self.inner.head.function
    }

    /// Each label's decision threshold, in label order (see
    /// [`thresholds`](EmotionClassifierBuilder::thresholds)).
    pub fn thresholds(&self) -> &[f32] {
        &self.inner.head.thresholds
    }

    /// How it treats long texts by default: the builder's
    /// [`long_texts`](EmotionClassifierBuilder::long_texts) and
    /// [`truncation_side`](EmotionClassifierBuilder::truncation_side).
    pub fn truncation(&self) -> Truncation {
        self.inner.truncation
    }

    /// The loaded model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.inner.config
    }

    /// How forward passes are batched.
    pub fn batching(&self) -> Batching {
        self.inner.batching
    }

    /// How many worker threads run this classifier's forward passes
    /// ([`workers`](EmotionClassifierBuilder::workers)).
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// How many of the [`workers`](Self::workers) are still running: all of them until
    /// [`shutdown`](Self::shutdown), 0 after it or if they died (every call then fails with
    /// [`Error::WorkerStopped`](crate::Error::WorkerStopped)). One atomic load, so a health
    /// check that never waits behind queued work.
    pub fn workers_alive(&self) -> usize {
        self.inner.worker.alive()
    }

    /// The intra-op threads its forward passes use, all workers together
    /// ([`threads`](EmotionClassifierBuilder::threads)).
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// The result cache's counters (all zero with the cache off). Cheap: a few atomic loads.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner
            .cache
            .as_ref()
            .map(ScoreCache::stats)
            .unwrap_or_default()
    }

    /// How many texts this classifier (with its clones) has sent through the model: texts
    /// answered from the cache, or repeated within one call, are not counted again.
    pub fn computed_texts(&self) -> u64 {
        self.inner.computed.load(Ordering::Relaxed)
    }

    /// What its forward passes have carried so far, all workers and clones together: passes,
    /// sequences, real and padded tokens, time. With dynamic batching,
    /// [`PassStats::sequences_per_pass`] shows how many callers' texts each pass served. Cheap:
    /// a few atomic loads.
    pub fn pass_stats(&self) -> PassStats {
        self.inner.worker.pass_stats()
    }

    /// The workers' queue: texts waiting now, the bound
    /// ([`max_queued`](EmotionClassifierBuilder::max_queued)) and the most that ever waited.
    /// Cheap: a few atomic loads.
    pub fn queue_stats(&self) -> QueueStats {
        self.inner.worker.queue_stats()
    }

    /// Stops the worker thread: requests it has not started and every later request fail with
    /// [`Error::WorkerStopped`]. Affects every clone. Dropping the last clone stops it too.
    pub fn shutdown(&self) {
        self.inner.worker.stop();
    }

    /// Every label's probability for `text`.
    ///
    /// Any `&str` is valid input: an empty or whitespace-only text gets the model's scores for
    /// it; a text longer than the model's limit is truncated to it. A cache hit costs a hash
    /// lookup and a copy of the scores. Waits for room when the queue is full
    /// ([`max_queued`](EmotionClassifierBuilder::max_queued)); [`try_classify`](Self::try_classify)
    /// does not.
    ///
    /// # Errors
    /// [`Error::Tokenize`] if the tokenizer fails, [`Error::BatchFailed`] if the forward pass
    /// does, [`Error::WorkerStopped`] after [`shutdown`](Self::shutdown).
    pub fn classify(&self, text: &str) -> Result<EmotionScores> {
        single(
            self.inner
                .each_blocking(&[text], self.inner().call(Admission::Wait)),
        )
    }

    /// As [`classify`](Self::classify), but fails at once with [`Error::Overloaded`] when the
    /// queue has no room for the text, instead of waiting: for a service that would rather
    /// answer "too busy" (HTTP 429) than queue without end. A cache hit always answers.
    ///
    /// # Errors
    /// [`Error::Overloaded`], and as [`classify`](Self::classify).
    pub fn try_classify(&self, text: &str) -> Result<EmotionScores> {
        single(
            self.inner
                .each_blocking(&[text], self.inner().call(Admission::Try)),
        )
    }

    /// Classifies many texts; the scores come back in input order.
    ///
    /// Texts are sorted by length and run in batches under the builder's limits, each padded
    /// only to its own longest text, with attention masks, so a text's scores do not depend on
    /// what it was batched with. Repeated texts are computed once. An empty slice returns an
    /// empty vec. A call with more texts than the queue holds feeds them in as room frees up.
    ///
    /// # Errors
    /// If any text fails, [`Error::InBatch`] names the first that did. Use
    /// [`classify_each`](Self::classify_each) to keep the others' scores.
    pub fn classify_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<EmotionScores>> {
        all_or_first_error(
            self.inner
                .each_blocking(texts, self.inner().call(Admission::Wait)),
        )
    }

    /// As [`classify_batch`](Self::classify_batch), but fails at once with
    /// [`Error::Overloaded`] when the queue has no room for all its texts (texts already
    /// queued for it are then skipped by the worker).
    ///
    /// # Errors
    /// [`Error::Overloaded`], and as [`classify_batch`](Self::classify_batch).
    pub fn try_classify_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<EmotionScores>> {
        all_or_first_error(
            self.inner
                .each_blocking(texts, self.inner().call(Admission::Try)),
        )
    }

    /// Classifies many texts, with exactly one result per text, in input order: a text that
    /// fails gets its own error and costs the others nothing.
    pub fn classify_each<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Result<EmotionScores>> {
        self.inner
            .each_blocking(texts, self.inner().call(Admission::Wait))
    }

    /// As [`classify_each`](Self::classify_each), with long texts treated as `truncation` says
    /// for this call only (a server's per-request `truncate` and `truncation_direction`). A
    /// call whose `truncation` is not the classifier's own ([`truncation`](Self::truncation))
    /// uses the result cache only for texts that fit the model whole (their scores do not
    /// depend on it); a long text's cached scores, cut the classifier's way, are not its
    /// answer.
    ///
    /// ```no_run
    /// use emotion_classifier::{EmotionClassifier, LongTexts, Truncation, TruncationSide};
    /// # let classifier = EmotionClassifier::builder().build()?;
    /// let keep_the_end = Truncation { long_texts: LongTexts::Truncate, side: TruncationSide::Left };
    /// let results = classifier.classify_each_with(&["a very long chat ..."], keep_the_end);
    /// println!("cut: {}", results[0].as_ref().map_or(false, |s| s.truncated()));
    /// # Ok::<(), emotion_classifier::Error>(())
    /// ```
    pub fn classify_each_with<S: AsRef<str>>(
        &self,
        texts: &[S],
        truncation: Truncation,
    ) -> Vec<Result<EmotionScores>> {
        self.inner
            .each_blocking(texts, self.inner.call_with(Admission::Wait, truncation))
    }

    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }
}
