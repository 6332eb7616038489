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

use super::pipeline::{all_or_first_error, single};
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
