//! A bounded pool of tokenizer threads, so an async server never tokenizes on its executor
//! (text-embeddings-inference has its tokenization workers for the same reason): a long text
//! takes milliseconds of CPU, and an executor thread busy with it cannot answer `/health`.
//!
//! Bounded twice: `threads` threads, and at most `queue` jobs waiting for them; a job past that
//! is refused at once with [`Error::Overloaded`], before any of it is tokenized.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Sender, TrySendError};

use super::encoder::{Encoded, TextEncoder};
use crate::error::{Error, Result};
use crate::long_texts::Truncation;

/// One job: work on the tokenizer, which sends its own result.
type Job = Box<dyn FnOnce(&TextEncoder) + Send>;

/// Threads that tokenize for async callers. Dropping the pool lets its threads end once the
/// jobs already queued are done.
pub(crate) struct TokenizerPool {
    sender: Sender<Job>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
}

impl std::fmt::Debug for TokenizerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenizerPool")
            .field("waiting", &self.waiting())
            .field("queue", &self.queue)
            .finish()
    }
}

impl TokenizerPool {
    /// `threads` threads (at least one) tokenizing with `encoder`, at most `queue` jobs (at
    /// least one) waiting.
    ///
    /// # Errors
    /// [`Error::WorkerSpawn`] if a thread cannot be started.
    pub(crate) fn new(encoder: &TextEncoder, threads: usize, queue: usize) -> Result<Self> {
        let queue = queue.max(1);
        let (sender, receiver) = bounded::<Job>(queue);
        let waiting = Arc::new(AtomicUsize::new(0));
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            let encoder = encoder.clone();
            let waiting = Arc::clone(&waiting);
            std::thread::Builder::new()
                .name(format!("emotion-classifier-tokenizer-{index}"))
                .spawn(move || {
                    for job in receiver {
                        waiting.fetch_sub(1, Ordering::Relaxed);
                        job(&encoder);
                    }
                })
                .map_err(|source| Error::WorkerSpawn { index, source })?;
        }
        Ok(Self {
            sender,
            waiting,
            queue,
        })
    }

    /// Jobs waiting for a thread now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Each text's token ids, computed on the pool's threads while the calling task waits.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub(crate) async fn encode(
        &self,
        texts: Vec<String>,
        how: Truncation,
    ) -> Result<Vec<Result<Encoded>>> {
        self.run(move |encoder| texts.iter().map(|t| encoder.encode(t, how)).collect())
            .await
    }

    /// `work` on the tokenizer, run on one of the pool's threads while the calling task waits.
    /// Skipped if the caller stops waiting before a thread takes it.
    ///
    /// # Errors
    /// [`Error::Overloaded`] at once when `queue` jobs are already waiting;
    /// [`Error::WorkerStopped`] if the pool's threads are gone.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&TextEncoder) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |encoder| {
            if !reply.is_closed() {
                let _ = reply.send(work(encoder));
            }
        });
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if let Err(refused) = self.sender.try_send(job) {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(match refused {
                TrySendError::Full(_) => Error::Overloaded {
                    queued: self.queue,
                    limit: self.queue,
                },
                TrySendError::Disconnected(_) => Error::WorkerStopped,
            });
        }
        answer.await.map_err(|_| Error::WorkerStopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_on::block_on;

    fn encoder() -> TextEncoder {
        let folder = crate::model_folder::ModelFolder::open(&crate::model::test_model_dir(
            "tiny-distilbert-emotion",
        ))
        .unwrap();
        let (tokenizer, path) = folder.tokenizer().unwrap();
        TextEncoder::new(tokenizer, &path, 512, crate::LongTexts::Truncate).unwrap()
    }

    #[test]
    fn encodes_as_the_encoder_does_and_refuses_past_its_queue() {
        let encoder = encoder();
        let pool = TokenizerPool::new(&encoder, 1, 1).unwrap();
        let how = Truncation::default();
        let got = block_on(pool.encode(vec!["so happy".into(), "".into()], how)).unwrap();
        assert_eq!(
            got[0].as_ref().unwrap(),
            &encoder.encode("so happy", how).unwrap()
        );
        assert_eq!(got[1].as_ref().unwrap(), &encoder.encode("", how).unwrap());
        // One thread held, one job waiting: the next is refused at once.
        let (hold, release) = crossbeam_channel::bounded::<()>(0);
        let (started, is_started) = crossbeam_channel::bounded::<()>(1);
        std::thread::scope(|scope| {
            let first = scope.spawn(|| {
                block_on(pool.run(move |_| {
                    let _ = started.send(());
                    let _ = release.recv();
                }))
            });
            is_started.recv().unwrap();
            let queued = scope.spawn(|| block_on(pool.run(|_| ())));
            while pool.sender.is_empty() {
                std::thread::yield_now();
            }
            let refused = block_on(pool.run(|_| ()));
            assert!(
                matches!(refused, Err(Error::Overloaded { .. })),
                "{refused:?}"
            );
            hold.send(()).unwrap();
            first.join().unwrap().unwrap();
            queued.join().unwrap().unwrap();
        });
    }
}
