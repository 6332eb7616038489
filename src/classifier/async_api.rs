//! The async API: the same calls as the blocking ones, as futures that resolve from the
//! worker's reply. Runtime-agnostic: the replies are `oneshot` channels and waiting for room
//! in the queue uses `event-listener`, both of which work under tokio, async-std, smol or a
//! plain `block_on`.
//!
//! Nothing here blocks a thread. The work a caller's task does itself is the cache lookup and
//! tokenization, on the calling task; a long batch is tokenized in slices of
//! [`TOKENIZE_SLICE`] texts with a yield to the executor between slices, so one large call
//! does not hold an executor thread for long (tokenizing 32 typical texts takes well under a
//! millisecond; a single very long text is still tokenized in one go).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Result;
use crate::scores::EmotionScores;
use crate::worker::Admission;

use super::emotion_classifier::{all_or_first_error, single, Inner, ROUND};
use super::round::Round;
use super::EmotionClassifier;

/// Texts tokenized between two yields to the executor.
const TOKENIZE_SLICE: usize = 32;

impl EmotionClassifier {
    /// [`classify`](Self::classify) as a future: waits in the calling task (for room in the
    /// queue, then for the worker's answer), never blocking the executor's thread. Works in
    /// any async runtime.
    ///
    /// ```no_run
    /// # async fn example(classifier: emotion_classifier::EmotionClassifier) -> emotion_classifier::Result<()> {
    /// let scores = classifier.classify_async("so happy to see you").await?;
    /// println!("{}", scores.top().label);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`classify`](Self::classify).
    pub async fn classify_async(&self, text: &str) -> Result<EmotionScores> {
        single(self.inner().each_async(&[text], Admission::Wait).await)
    }

    /// [`try_classify`](Self::try_classify) as a future: [`Error::Overloaded`](crate::Error::Overloaded)
    /// at once when the queue is full, instead of waiting for room.
    ///
    /// # Errors
    /// As [`try_classify`](Self::try_classify).
    pub async fn try_classify_async(&self, text: &str) -> Result<EmotionScores> {
        single(self.inner().each_async(&[text], Admission::Try).await)
    }

    /// [`classify_batch`](Self::classify_batch) as a future.
    ///
    /// # Errors
    /// As [`classify_batch`](Self::classify_batch).
    pub async fn classify_batch_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Result<Vec<EmotionScores>> {
        all_or_first_error(self.inner().each_async(texts, Admission::Wait).await)
    }

    /// [`try_classify_batch`](Self::try_classify_batch) as a future.
    ///
    /// # Errors
    /// As [`try_classify_batch`](Self::try_classify_batch).
    pub async fn try_classify_batch_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Result<Vec<EmotionScores>> {
        all_or_first_error(self.inner().each_async(texts, Admission::Try).await)
    }

    /// [`classify_each`](Self::classify_each) as a future.
    pub async fn classify_each_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Vec<Result<EmotionScores>> {
        self.inner().each_async(texts, Admission::Wait).await
    }
}

impl Inner {
    /// One result per text, with the workers' queue entered as `admission` says, waiting in the
    /// calling task: the one pipeline behind every call (the blocking ones run it with
    /// `block_on`). Every round is tokenized and sent before the first answer is awaited, so
    /// the workers compute one round while the next is tokenized. Dropping the future drops the
    /// replies of whatever it had queued, so the workers skip those jobs.
    pub(super) async fn each_async<S: AsRef<str>>(
        &self,
        texts: &[S],
        admission: Admission,
    ) -> Vec<Result<EmotionScores>> {
        let mut requests = self.requests(texts);
        let distinct = requests.texts().to_vec();
        let mut sent = Vec::new();
        'rounds: for (round, texts) in distinct.chunks(ROUND).enumerate() {
            let mut planned = Round::new(round * ROUND);
            for (index, slice) in texts.chunks(TOKENIZE_SLICE).enumerate() {
                if round > 0 || index > 0 {
                    YieldNow::default().await;
                }
                for text in slice {
                    planned.tokenize(&self.encoder, text, &mut requests);
                }
            }
            for (slots, job) in planned.jobs(self.batching.limits) {
                let count = job.len();
                let submitted = self.worker.submit_async(job, admission).await;
                if self.file(submitted, slots, count, &mut sent, &mut requests) {
                    break 'rounds;
                }
            }
        }
        for (slots, pending) in sent {
            let answer = pending.answer().await;
            self.record(&slots, answer, &mut requests);
        }
        requests.results(|text, windows| self.finish(text, &windows))
    }
}

/// Gives the executor a turn: pending once (waking itself at once), then ready.
#[derive(Default)]
struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
