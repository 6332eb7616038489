//! [`EmotionClassifier`]: text in, [`EmotionScores`] out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::batch::plan_batches;
use crate::cache::{CacheStats, ScoreCache};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::long_texts::{Aggregate, LongTexts};
use crate::model::{LoadedModel, NetworkOptions};
use crate::scores::{probabilities, EmotionScores};
use crate::tokenize::TextEncoder;
use crate::worker::{Batching, PassStats, Pending, RowResult, WorkerHandle};

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

struct Inner {
    config: ModelConfig,
    encoder: TextEncoder,
    worker: WorkerHandle,
    cache: Option<ScoreCache>,
    labels: Arc<[String]>,
    batching: Batching,
    aggregate: Aggregate,
    computed: AtomicU64,
    workers: usize,
    threads: usize,
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
const ROUND: usize = 2048;

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

    /// Stops the worker thread: requests it has not started and every later request fail with
    /// [`Error::WorkerStopped`]. Affects every clone. Dropping the last clone stops it too.
    pub fn shutdown(&self) {
        self.inner.worker.stop();
    }

    /// Every label's probability for `text`.
    ///
    /// Any `&str` is valid input: an empty or whitespace-only text gets the model's scores for
    /// it; a text longer than the model's limit is truncated to it. A cache hit costs a hash
    /// lookup and a copy of the scores.
    ///
    /// # Errors
    /// [`Error::Tokenize`] if the tokenizer fails, [`Error::BatchFailed`] if the forward pass
    /// does, [`Error::WorkerStopped`] after [`shutdown`](Self::shutdown).
    pub fn classify(&self, text: &str) -> Result<EmotionScores> {
        let mut results = self.classify_each(&[text]);
        results.pop().unwrap_or(Err(Error::WorkerStopped))
    }

    /// Classifies many texts; the scores come back in input order.
    ///
    /// Texts are sorted by length and run in batches under the builder's limits, each padded
    /// only to its own longest text, with attention masks, so a text's scores do not depend on
    /// what it was batched with. Repeated texts are computed once. An empty slice returns an
    /// empty vec.
    ///
    /// # Errors
    /// If any text fails, [`Error::InBatch`] names the first that did. Use
    /// [`classify_each`](Self::classify_each) to keep the others' scores.
    pub fn classify_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<EmotionScores>> {
        self.classify_each(texts)
            .into_iter()
            .enumerate()
            .map(|(index, result)| {
                result.map_err(|e| Error::InBatch {
                    index,
                    source: Box::new(e),
                })
            })
            .collect()
    }

    /// Classifies many texts, with exactly one result per text, in input order: a text that
    /// fails gets its own error and costs the others nothing.
    pub fn classify_each<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Result<EmotionScores>> {
        let inner = &*self.inner;
        let mut requests = Requests::new(texts, |text| {
            inner.cache.as_ref().and_then(|cache| cache.get(text))
        });
        // Every round is tokenized and sent before the first answer is awaited, so the worker
        // computes one round while this thread tokenizes the next.
        let distinct = requests.texts().to_vec();
        let mut sent = Vec::new();
        for (round, texts) in distinct.chunks(ROUND).enumerate() {
            sent.extend(inner.submit_round(round * ROUND, texts, &mut requests));
        }
        for (slots, answer) in sent {
            inner.collect(&slots, answer, &mut requests);
        }
        requests.results(|text, windows| inner.finish(text, &windows))
    }
}

/// The slots of one job sent to the worker, and its answer (or why it could not be sent).
type Submitted = Vec<(Vec<usize>, Result<Pending>)>;

impl Inner {
    /// Tokenizes `texts` (slots `first..`), plans their batches and sends them to the worker.
    /// A text the tokenizer rejects is failed in `requests` at once.
    fn submit_round(&self, first: usize, texts: &[&str], requests: &mut Requests) -> Submitted {
        let mut slots = Vec::with_capacity(texts.len());
        let mut sequences = Vec::with_capacity(texts.len());
        for (offset, text) in texts.iter().enumerate() {
            match self.encoder.encode(text) {
                Ok(text_windows) => {
                    for ids in text_windows {
                        slots.push(first + offset);
                        sequences.push(ids);
                    }
                }
                Err(e) => requests.fail(first + offset, Arc::new(e)),
            }
        }
        let lengths: Vec<usize> = sequences.iter().map(Vec::len).collect();
        let mut sequences: Vec<Option<Vec<u32>>> = sequences.into_iter().map(Some).collect();
        plan_batches(&lengths, self.batching.limits)
            .into_iter()
            .map(|batch| {
                let job: Vec<Vec<u32>> = batch
                    .iter()
                    .map(|&i| sequences[i].take().unwrap_or_default())
                    .collect();
                let job_slots = batch.iter().map(|&i| slots[i]).collect();
                self.computed.fetch_add(job.len() as u64, Ordering::Relaxed);
                (job_slots, self.worker.submit(job))
            })
            .collect()
    }

    /// Waits for one job's answer and records each row's probabilities under its text's slot.
    fn collect(&self, slots: &[usize], answer: Result<Pending>, requests: &mut Requests) {
        let rows: Vec<RowResult> = match answer.and_then(Pending::wait) {
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
    fn finish(&self, text: &str, windows: &[Vec<f32>]) -> Result<Arc<EmotionScores>, Arc<Error>> {
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
