//! [`EmotionClassifier`]: text in, [`EmotionScores`] out.

use std::sync::{Arc, Mutex, PoisonError};

use crate::batch::{plan_batches, BatchLimits, PaddedBatch};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model::LoadedModel;
use crate::model::Network;
use crate::scores::{probabilities, EmotionScores};
use crate::source::ModelSource;
use crate::tokenize::TextEncoder;

use super::EmotionClassifierBuilder;

/// Classifies the emotions of texts with one loaded model.
///
/// Cheap to clone (an `Arc`), `Send + Sync`: share it between threads freely. Tokenization runs
/// on the calling thread; forward passes take turns on the one model.
#[derive(Clone)]
pub struct EmotionClassifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: ModelConfig,
    encoder: TextEncoder,
    network: Mutex<Network>,
    labels: Arc<[String]>,
    limits: BatchLimits,
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
            .field("limits", &self.inner.limits)
            .finish()
    }
}

impl EmotionClassifier {
    /// Starts configuring a classifier.
    pub fn builder() -> EmotionClassifierBuilder {
        EmotionClassifierBuilder::new()
    }

    pub(super) fn load(source: &ModelSource, limits: BatchLimits) -> Result<Self> {
        let ModelSource::Dir(dir) = source;
        let LoadedModel {
            config,
            encoder,
            network,
        } = LoadedModel::from_dir(dir)?;
        let labels: Arc<[String]> = config.labels().into();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                encoder,
                network: Mutex::new(network),
                labels,
                limits,
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

    /// Every label's probability for `text`.
    ///
    /// Any `&str` is valid input: an empty or whitespace-only text gets the model's scores for
    /// it; a text longer than the model's limit is truncated to it.
    ///
    /// # Errors
    /// [`Error::Tokenize`] if the tokenizer fails, or an error from the forward pass.
    pub fn classify(&self, text: &str) -> Result<EmotionScores> {
        let mut results = self.classify_each(&[text]);
        match results.pop() {
            Some(result) => result,
            None => unreachable_empty(),
        }
    }

    /// Classifies many texts; the scores come back in input order.
    ///
    /// Texts are sorted by length and run in batches under the builder's limits, each padded
    /// only to its own longest text, with attention masks, so a text's scores do not depend on
    /// what it was batched with. An empty slice returns an empty vec.
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

    /// Classifies many texts, with one result per text in input order: a text that fails gets
    /// its own error and costs the others nothing.
    pub fn classify_each<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Result<EmotionScores>> {
        let inner = &*self.inner;
        let mut results: Vec<Option<Result<EmotionScores>>> = Vec::with_capacity(texts.len());
        let mut encoded: Vec<Vec<u32>> = Vec::with_capacity(texts.len());
        let mut owners: Vec<usize> = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            match inner.encoder.encode(text.as_ref()) {
                Ok(ids) => {
                    encoded.push(ids);
                    owners.push(index);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let lengths: Vec<usize> = encoded.iter().map(Vec::len).collect();
        for batch in plan_batches(&lengths, inner.limits) {
            let sequences: Vec<&[u32]> = batch.iter().map(|&i| encoded[i].as_slice()).collect();
            match inner.run(&sequences) {
                Ok(scores) => {
                    for (&i, scores) in batch.iter().zip(scores) {
                        results[owners[i]] = Some(Ok(scores));
                    }
                }
                Err(e) => {
                    let shared = Arc::new(e);
                    for &i in &batch {
                        results[owners[i]] = Some(Err(Error::BatchFailed {
                            source: Arc::clone(&shared),
                        }));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(unplanned())))
            .collect()
    }
}

impl Inner {
    /// One forward pass over already-tokenized texts.
    fn run(&self, sequences: &[&[u32]]) -> Result<Vec<EmotionScores>> {
        let padded = PaddedBatch::new(sequences, self.config.pad_token_id());
        let logits = {
            // The network is never left half-updated by a panic (forward passes only read it),
            // so a poisoned lock is still safe to use.
            let network = self.network.lock().unwrap_or_else(PoisonError::into_inner);
            network.batch_logits(&padded, self.labels.len())?
        };
        let function = self.config.score_function();
        logits
            .iter()
            .map(|row| {
                EmotionScores::new(Arc::clone(&self.labels), probabilities(function, row))
                    .ok_or_else(|| Error::Forward {
                        message: format!(
                            "the model returned {} logits for {} labels",
                            row.len(),
                            self.labels.len()
                        ),
                    })
            })
            .collect()
    }
}

/// The planner covers every index; a text it missed would be a bug, reported as an error.
fn unplanned() -> Error {
    Error::Forward {
        message: "internal error: a text was not scheduled".to_string(),
    }
}

fn unreachable_empty() -> Result<EmotionScores> {
    Err(unplanned())
}
