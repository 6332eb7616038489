//! [`EmotionClassifier`]: text in, [`EmotionScores`] out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::block_on::block_on;
use crate::cache::{CacheStats, ScoreCache};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::long_texts::{Aggregate, LongTexts};
use crate::model::{LoadedModel, NetworkOptions};
use crate::scores::{probabilities, EmotionScores};
use crate::tokenize::TextEncoder;
use crate::worker::{Admission, Batching, PassStats, Pending, QueueStats, RowResult, WorkerHandle};

use super::builder::Settings;
use super::requests::Requests;
use super::EmotionClassifierBuilder;

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

pub(super) struct Inner {
    pub(super) config: ModelConfig,
    pub(super) encoder: TextEncoder,
    pub(super) worker: WorkerHandle,
    pub(super) cache: Option<ScoreCache>,
    pub(super) labels: Arc<[String]>,
    pub(super) batching: Batching,
    pub(super) aggregate: Aggregate,
    pub(super) computed: AtomicU64,
    pub(super) workers: usize,
    pub(super) threads: usize,
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
            .field("labels", &self.inner.labels)
            .field("batching", &self.inner.batching)
            .field("workers", &self.inner.workers)
            .field("threads", &self.inner.threads)
            .finish()
    }
}

/// Texts tokenized and sent to the worker per round: the worker computes one round while the
/// caller tokenizes the next.
pub(super) const ROUND: usize = 2048;

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
        let labels: Arc<[String]> = config.labels().into();
        let workers = networks.len();
        let worker = WorkerHandle::spawn_pool(
            networks,
            Some(settings.threads),
            settings.batching,
            config.pad_token_id(),
            settings.max_queued,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                encoder,
                worker,
                cache: ScoreCache::new(settings.cache_capacity),
                labels,
                batching: settings.batching,
                aggregate: match settings.long_texts {
                    LongTexts::Chunk { aggregate, .. } => aggregate,
                    LongTexts::Truncate => Aggregate::Mean,
                },
                computed: AtomicU64::new(0),
                workers,
                threads: usize::try_from(settings.threads).unwrap_or(1),
            }),
        })
    }

    /// The model's labels, in the order of [`EmotionScores::scores`].
    pub fn labels(&self) -> &[String] {
        &self.inner.labels
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
        single(self.inner.each_blocking(&[text], Admission::Wait))
    }

    /// As [`classify`](Self::classify), but fails at once with [`Error::Overloaded`] when the
    /// queue has no room for the text, instead of waiting: for a service that would rather
    /// answer "too busy" (HTTP 429) than queue without end. A cache hit always answers.
    ///
    /// # Errors
    /// [`Error::Overloaded`], and as [`classify`](Self::classify).
    pub fn try_classify(&self, text: &str) -> Result<EmotionScores> {
        single(self.inner.each_blocking(&[text], Admission::Try))
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
        all_or_first_error(self.inner.each_blocking(texts, Admission::Wait))
    }

    /// As [`classify_batch`](Self::classify_batch), but fails at once with
    /// [`Error::Overloaded`] when the queue has no room for all its texts (texts already
    /// queued for it are then skipped by the worker).
    ///
    /// # Errors
    /// [`Error::Overloaded`], and as [`classify_batch`](Self::classify_batch).
    pub fn try_classify_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<EmotionScores>> {
        all_or_first_error(self.inner.each_blocking(texts, Admission::Try))
    }

    /// Classifies many texts, with exactly one result per text, in input order: a text that
    /// fails gets its own error and costs the others nothing.
    pub fn classify_each<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Result<EmotionScores>> {
        self.inner.each_blocking(texts, Admission::Wait)
    }

    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// The one result of a one-text call.
pub(super) fn single(mut results: Vec<Result<EmotionScores>>) -> Result<EmotionScores> {
    results.pop().unwrap_or(Err(Error::WorkerStopped))
}

/// Every text's scores, or the first error: [`Error::Overloaded`] as it is (the call as a whole
/// was refused), anything else as [`Error::InBatch`] naming the text.
pub(super) fn all_or_first_error(
    results: Vec<Result<EmotionScores>>,
) -> Result<Vec<EmotionScores>> {
    results
        .into_iter()
        .enumerate()
        .map(|(index, result)| {
            result.map_err(|e| match e {
                overloaded @ Error::Overloaded { .. } => overloaded,
                e => Error::InBatch {
                    index,
                    source: Box::new(e),
                },
            })
        })
        .collect()
}

impl Inner {
    /// One result per text, with the workers' queue entered as `admission` says, blocking this
    /// thread: the async pipeline ([`Inner::each_async`]) run to completion here.
    fn each_blocking<S: AsRef<str>>(
        &self,
        texts: &[S],
        admission: Admission,
    ) -> Vec<Result<EmotionScores>> {
        block_on(self.each_async(texts, admission))
    }

    /// The bookkeeping of a call on `texts`, with the cache answering what it has.
    pub(super) fn requests<'t, S: AsRef<str>>(&self, texts: &'t [S]) -> Requests<'t> {
        Requests::new(texts, |text| {
            self.cache.as_ref().and_then(|cache| cache.get(text))
        })
    }

    /// Files one job's submission (`count` texts for `slots`): a queued job joins `sent`; a
    /// refused one fails its texts. Returns whether the whole call is refused
    /// ([`Error::Overloaded`]): then every text not yet answered fails too, and what was sent
    /// is dropped, which tells the workers to skip it.
    pub(super) fn file(
        &self,
        submitted: Result<Pending>,
        slots: Vec<usize>,
        count: usize,
        sent: &mut Vec<(Vec<usize>, Pending)>,
        requests: &mut Requests,
    ) -> bool {
        let error = match submitted {
            Ok(pending) => {
                self.computed.fetch_add(count as u64, Ordering::Relaxed);
                sent.push((slots, pending));
                return false;
            }
            Err(error) => error,
        };
        let overloaded = matches!(error, Error::Overloaded { .. });
        let error = Arc::new(error);
        if overloaded {
            requests.fail_unfinished(&error);
            sent.clear();
        } else {
            for &slot in &slots {
                requests.fail(slot, Arc::clone(&error));
            }
        }
        overloaded
    }

    /// Records one job's answer: each row's probabilities under its text's slot.
    pub(super) fn record(
        &self,
        slots: &[usize],
        answer: Result<Vec<RowResult>>,
        requests: &mut Requests,
    ) {
        let rows: Vec<RowResult> = match answer {
            Ok(rows) => rows,
            Err(e) => vec![Err(Arc::new(e)); slots.len()],
        };
        for (&slot, row) in slots.iter().zip(rows) {
            match row {
                Ok(logits) => {
                    requests.add_window(slot, probabilities(self.config.score_function(), &logits))
                }
                Err(e) => requests.fail(slot, e),
            }
        }
    }

    /// Combines a text's windows into its scores and caches them.
    pub(super) fn finish(
        &self,
        text: &str,
        windows: &[Vec<f32>],
    ) -> Result<Arc<EmotionScores>, Arc<Error>> {
        let combined = self.aggregate.combine(windows);
        let found = combined.len();
        let scores = EmotionScores::new(Arc::clone(&self.labels), combined).ok_or_else(|| {
            Arc::new(Error::LogitWidth {
                labels: self.labels.len(),
                found,
            })
        })?;
        let scores = Arc::new(scores);
        if let Some(cache) = &self.cache {
            cache.insert(text, Arc::clone(&scores));
        }
        Ok(scores)
    }
}
