//! The async API: the same calls as the blocking ones, as futures that resolve from the
//! worker's reply. Runtime-agnostic: the replies are `oneshot` channels and waiting for room
//! in the queue uses `event-listener`, both of which work under tokio, async-std, smol or a
//! plain `block_on`.
//!
//! Nothing here blocks a thread: the calls run the classifier's one pipeline (`pipeline`) in
//! the calling task.

use crate::error::Result;
use crate::scores::EmotionScores;
use crate::worker::Admission;

use super::pipeline::{all_or_first_error, single, CacheUse, Call};
use super::EmotionClassifier;

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
        single(
            self.inner()
                .each_async(&[text], self.inner().call(Admission::Wait))
                .await,
        )
    }

    /// [`try_classify`](Self::try_classify) as a future: [`Error::Overloaded`](crate::Error::Overloaded)
    /// at once when the queue is full, instead of waiting for room.
    ///
    /// # Errors
    /// As [`try_classify`](Self::try_classify).
    pub async fn try_classify_async(&self, text: &str) -> Result<EmotionScores> {
        single(
            self.inner()
                .each_async(&[text], self.inner().call(Admission::Try))
                .await,
        )
    }

    /// [`classify_batch`](Self::classify_batch) as a future.
    ///
    /// # Errors
    /// As [`classify_batch`](Self::classify_batch).
    pub async fn classify_batch_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Result<Vec<EmotionScores>> {
        all_or_first_error(
            self.inner()
                .each_async(texts, self.inner().call(Admission::Wait))
                .await,
        )
    }

    /// [`try_classify_batch`](Self::try_classify_batch) as a future.
    ///
    /// # Errors
    /// As [`try_classify_batch`](Self::try_classify_batch).
    pub async fn try_classify_batch_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Result<Vec<EmotionScores>> {
        all_or_first_error(
            self.inner()
                .each_async(texts, self.inner().call(Admission::Try))
                .await,
        )
    }

    /// [`classify_each`](Self::classify_each) as a future.
    pub async fn classify_each_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Vec<Result<EmotionScores>> {
        self.inner()
            .each_async(texts, self.inner().call(Admission::Wait))
            .await
    }

    /// [`classify_each_with`](Self::classify_each_with) as a future.
    pub async fn classify_each_with_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        truncation: crate::Truncation,
    ) -> Vec<Result<EmotionScores>> {
        let call = self.inner().call_with(Admission::Wait, truncation);
        self.inner().each_async(texts, call).await
    }

    /// [`classify_each_with_async`](Self::classify_each_with_async), failing at once with
    /// [`Error::Overloaded`](crate::Error::Overloaded) (for every text) when the queue has no
    /// room: what a server answers with 429.
    pub async fn try_classify_each_with_async<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        truncation: crate::Truncation,
    ) -> Vec<Result<EmotionScores>> {
        let call = self.inner().call_with(Admission::Try, truncation);
        self.inner().each_async(texts, call).await
    }

    /// Whether the model answers: one forward pass of the empty text through the workers'
    /// queue (never the cache), as text-embeddings-inference's `/health` runs one. A full queue
    /// counts as healthy (busy, not down). Costs one single-text pass (about a millisecond for
    /// MiniLM) unless the queue is full.
    ///
    /// # Errors
    /// [`Error::WorkerStopped`](crate::Error::WorkerStopped) after
    /// [`shutdown`](Self::shutdown) or if the workers died; the error of a failed pass.
    pub async fn check_health_async(&self) -> Result<()> {
        let inner = self.inner();
        let call = Call {
            admission: Admission::Try,
            truncation: inner.truncation,
            cache: CacheUse::Off,
        };
        match single(inner.each_async(&[""], call).await) {
            Ok(_) | Err(crate::Error::Overloaded { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// [`check_health_async`](Self::check_health_async), blocking this thread.
    ///
    /// # Errors
    /// As [`check_health_async`](Self::check_health_async).
    pub fn check_health(&self) -> Result<()> {
        crate::block_on::block_on(self.check_health_async())
    }
}
