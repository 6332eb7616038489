//! [`EmotionClassifier`]: text in, [`EmotionScores`] out.

use std::collections::HashMap;
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
        let mut results: Vec<Option<Result<EmotionScores>>> =
            std::iter::repeat_with(|| None).take(texts.len()).collect();
        // Distinct texts the cache did not have, and the inputs that hold each.
        let mut unique: Vec<&str> = Vec::new();
        let mut holders: Vec<Vec<usize>> = Vec::new();
        let mut slot_of: HashMap<&str, usize> = HashMap::new();
        for (index, text) in texts.iter().enumerate() {
            let text = text.as_ref();
            if let Some(&slot) = slot_of.get(text) {
                holders[slot].push(index);
            } else if let Some(hit) = inner.cache.as_ref().and_then(|c| c.get(text)) {
                results[index] = Some(Ok((*hit).clone()));
            } else {
                slot_of.insert(text, unique.len());
                unique.push(text);
                holders.push(vec![index]);
            }
        }
        // Each distinct text's windows' probabilities, or the error that stopped one of them.
        let mut windows: Vec<Result<Vec<Vec<f32>>, Arc<Error>>> =
            std::iter::repeat_with(|| Ok(Vec::new()))
                .take(unique.len())
                .collect();
        let mut rounds = Vec::new();
        for (round, texts) in unique.chunks(ROUND).enumerate() {
            rounds.push(inner.submit_round(round * ROUND, texts, &holders, &mut results));
        }
        for submitted in rounds {
            for (slots, answer) in submitted {
                inner.collect(&slots, answer, &mut windows);
            }
        }
        for (slot, outcome) in windows.into_iter().enumerate() {
            if holders[slot].iter().all(|&i| results[i].is_some()) {
                continue; // the tokenizer already failed on it
            }
            inner.finish(unique[slot], &holders[slot], outcome, &mut results);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(Error::WorkerStopped)))
            .collect()
    }
}

/// The slots of one job sent to the worker, and its answer (or why it could not be sent).
type Submitted = Vec<(Vec<usize>, Result<Pending>)>;

impl Inner {
    /// Tokenizes `texts` (slots `first..`), plans their batches and sends them to the worker.
    /// Texts the tokenizer rejects get their error in `results` at once.
    fn submit_round(
        &self,
        first: usize,
        texts: &[&str],
        holders: &[Vec<usize>],
        results: &mut [Option<Result<EmotionScores>>],
    ) -> Submitted {
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
                Err(e) => {
                    let slot = first + offset;
                    results[holders[slot][0]] = Some(Err(e));
                    // Errors are not `Clone`; tokenizing again gives each repeat its own.
                    for &index in &holders[slot][1..] {
                        results[index] = Some(Err(self.tokenize_error(text)));
                    }
                }
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

    /// Waits for one job's answer and files each row's probabilities under its text's slot.
    fn collect(
        &self,
        slots: &[usize],
        answer: Result<Pending>,
        windows: &mut [Result<Vec<Vec<f32>>, Arc<Error>>],
    ) {
        let rows: Vec<RowResult> = match answer.and_then(Pending::wait) {
            Ok(rows) => rows,
            Err(e) => vec![Err(Arc::new(e)); slots.len()],
        };
        for (&slot, row) in slots.iter().zip(rows) {
            let probabilities =
                row.map(|logits| probabilities(self.config.score_function(), &logits));
            match (&mut windows[slot], probabilities) {
                (Ok(done), Ok(p)) => done.push(p),
                (entry @ Ok(_), Err(e)) => *entry = Err(e),
                (Err(_), _) => {}
            }
        }
    }

    /// Combines a text's windows into its scores, caches them and gives them to every input
    /// holding the text.
    fn finish(
        &self,
        text: &str,
        holders: &[usize],
        outcome: Result<Vec<Vec<f32>>, Arc<Error>>,
        results: &mut [Option<Result<EmotionScores>>],
    ) {
        let scores = outcome.and_then(|w| {
            EmotionScores::new(Arc::clone(&self.labels), self.aggregate.combine(&w)).ok_or_else(
                || {
                    Arc::new(Error::Forward {
                        message: format!(
                            "the model's output does not fit {} labels",
                            self.labels.len()
                        ),
                    })
                },
            )
        });
        match scores {
            Ok(scores) => {
                let scores = Arc::new(scores);
                if let Some(cache) = &self.cache {
                    cache.insert(text, Arc::clone(&scores));
                }
                for &index in holders {
                    results[index] = Some(Ok((*scores).clone()));
                }
            }
            Err(shared) => {
                for &index in holders {
                    results[index] = Some(Err(match &*shared {
                        Error::WorkerStopped => Error::WorkerStopped,
                        _ => Error::BatchFailed {
                            source: Arc::clone(&shared),
                        },
                    }));
                }
            }
        }
    }

    /// The error tokenizing `text` gives, for a text known to fail.
    fn tokenize_error(&self, text: &str) -> Error {
        match self.encoder.encode(text) {
            Err(e) => e,
            Ok(_) => Error::Forward {
                message: "the tokenizer accepted a text it had rejected".to_string(),
            },
        }
    }
}
