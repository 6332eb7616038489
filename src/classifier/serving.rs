//! What the server (`crate::server`) needs of a classifier beyond the public calls: a call that
//! tokenizes on a pool and reports where its time went, the tokenizer itself (for `/tokenize`
//! and `/decode`), and a tokenizer pool of its own.

use crate::error::Result;
use crate::explain::Explanation;
use crate::long_texts::Truncation;
use crate::scores::EmotionScores;
use crate::tokenize::TokenizerPool;
use crate::worker::Admission;

use super::pipeline::{CacheUse, Call, Timings, Tokenizing};
use super::EmotionClassifier;

impl EmotionClassifier {
    /// One result per text, cut as `truncation` says, refused at once (every text
    /// [`Error::Overloaded`](crate::Error::Overloaded)) when the queue has no room, tokenized
    /// on `pool`; with the call's timings.
    pub(crate) async fn serve_each(
        &self,
        texts: &[String],
        truncation: Truncation,
        pool: &TokenizerPool,
    ) -> (Vec<Result<EmotionScores>>, Timings) {
        let inner = self.inner();
        let call = inner.call_with(Admission::Try, truncation);
        inner
            .each_timed_async(texts, call, Tokenizing::Pool(pool))
            .await
    }

    /// [`explain`](Self::explain) of `text`, refused at once when the queue has no room,
    /// tokenized on `pool`; with the call's timings.
    pub(crate) async fn serve_explain(
        &self,
        text: &str,
        pool: &TokenizerPool,
    ) -> (Result<Explanation>, Timings) {
        let call = Call {
            admission: Admission::Try,
            truncation: self.inner().truncation,
            cache: CacheUse::Off,
        };
        self.explain_with(text, call, Tokenizing::Pool(pool)).await
    }

    /// A pool of `threads` tokenizer threads for this classifier's tokenizer, at most `queue`
    /// jobs waiting.
    ///
    /// # Errors
    /// [`Error::WorkerSpawn`](crate::Error::WorkerSpawn) if a thread cannot start.
    pub(crate) fn tokenizer_pool(&self, threads: usize, queue: usize) -> Result<TokenizerPool> {
        TokenizerPool::new(&self.inner().encoder, threads, queue)
    }

    /// Its passes by size and by tokens.
    pub(crate) fn pass_histograms(&self) -> crate::worker::PassHistograms {
        self.inner().worker.pass_histograms()
    }
}
