//! What every handler shares ([`Served`]), and admission: the concurrency limit and the
//! workers' queue bound are checked before anything of a request is tokenized, so refused work
//! costs nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::ServerConfig;
use super::errors::{ErrorType, Refusal};
use super::metrics::Metrics;
use crate::error::Result;
use crate::tokenize::TokenizerPool;
use crate::EmotionClassifier;

/// The classifier, the limits and the counters behind one server's routes.
#[derive(Debug)]
pub(crate) struct Served {
    pub(crate) classifier: EmotionClassifier,
    pub(crate) config: ServerConfig,
    pub(crate) pool: TokenizerPool,
    pub(crate) metrics: Metrics,
    permits: Arc<Semaphore>,
    /// Set when a shutdown began: `/health` then answers 503, so a balancer stops sending.
    stopping: AtomicBool,
}

impl Served {
    /// The shared state of a server of `classifier` under `config`: starts its
    /// `tokenization_workers` tokenizer threads, with room for a job from every request the
    /// concurrency limit admits (an admitted request sends one at a time), so the pool never
    /// refuses admitted work.
    ///
    /// # Errors
    /// [`Error::WorkerSpawn`](crate::Error::WorkerSpawn) if a tokenizer thread cannot start.
    pub(crate) fn new(classifier: EmotionClassifier, config: ServerConfig) -> Result<Self> {
        let pool = classifier
            .tokenizer_pool(config.tokenization_workers, config.max_concurrent_requests)?;
        let metrics = Metrics::new(classifier.config().max_input_tokens());
        Ok(Self {
            permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            classifier,
            config,
            pool,
            metrics,
            stopping: AtomicBool::new(false),
        })
    }

    /// Admits a request of `texts` texts, or refuses it with 429 at once: when
    /// `max_concurrent_requests` are in flight, or when the workers' queue has no room for its
    /// texts. The permit is held until the answer is sent.
    pub(crate) fn admit(&self, texts: usize) -> Result<OwnedSemaphorePermit, Refusal> {
        let overloaded = |why: String| Refusal::new(ErrorType::Overloaded, "overloaded", why);
        let permit = Arc::clone(&self.permits).try_acquire_owned().map_err(|_| {
            overloaded(format!(
                "Model is overloaded: {} requests in flight",
                self.config.max_concurrent_requests
            ))
        })?;
        let queue = self.classifier.queue_stats();
        if queue.queued + texts > queue.max_queued {
            return Err(overloaded(format!(
                "Model is overloaded: {} texts queued, at most {} may be",
                queue.queued, queue.max_queued
            )));
        }
        Ok(permit)
    }

    /// Whether the model can answer: every one of its workers runs and no shutdown began. A
    /// worker that died (a panic the model's own guard did not catch) is a bug: the process
    /// has lost capacity and should be replaced. Atomic loads only.
    pub(crate) fn healthy(&self) -> bool {
        !self.stopping.load(Ordering::Acquire) && workers_all_alive(&self.classifier)
    }

    /// Marks the server as shutting down.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }
}

/// Whether all of `classifier`'s workers still run.
pub(crate) fn workers_all_alive(classifier: &EmotionClassifier) -> bool {
    classifier.workers_alive() >= classifier.workers()
}
