//! [`EmotionClassifier::explain`]: occlusion, as one batched call through the pipeline.

use crate::block_on::block_on;
use crate::error::{Error, Result};
use crate::explain::{without_word, words, Explanation};
use crate::worker::Admission;

use super::pipeline::{all_or_first_error, CacheUse, Call, Timings, Tokenizing};
use super::EmotionClassifier;

impl EmotionClassifier {
    /// Which words drove `text`'s scores: each word's attribution to each label, with its byte
    /// and character span in `text` (see [`Explanation`]).
    ///
    /// The method is occlusion: the text and every variant of it with one word removed are
    /// scored in one batched call ([`classify_each`](Self::classify_each)'s pipeline, length-
    /// bucketed), and a word's attribution to a label is the text's score minus the score
    /// without the word. It explains the model as deployed (any architecture, precision or
    /// [`score_function`](crate::EmotionClassifierBuilder::score_function)), and each number
    /// is a score change that can be checked by classifying the variant. Cost: one text of
    /// about the same length per word, plus the text: a 12-word text costs about what
    /// [`classify_batch`](Self::classify_batch) of 13 such texts does. The variants bypass the
    /// result cache (neither read nor filled). Long texts are cut as the classifier's
    /// [`truncation`](Self::truncation) says.
    ///
    /// ```no_run
    /// # let classifier = emotion_classifier::EmotionClassifier::builder().build()?;
    /// let explanation = classifier.explain("I love this so much")?;
    /// let top = explanation.scores().top().label;
    /// for (word, attribution) in explanation.ranked(top).unwrap_or_default() {
    ///     let word = &explanation.words()[word];
    ///     println!("{:>10} {attribution:+.3}", word.in_text(explanation.text()));
    /// }
    /// # Ok::<(), emotion_classifier::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NothingToExplain`] for a text with no word (empty or whitespace only); any
    /// error of [`classify`](Self::classify) for the text or one of its variants.
    pub fn explain(&self, text: &str) -> Result<Explanation> {
        block_on(self.explain_async(text))
    }

    /// [`explain`](Self::explain) as a future.
    ///
    /// # Errors
    /// As [`explain`](Self::explain).
    pub async fn explain_async(&self, text: &str) -> Result<Explanation> {
        let call = Call {
            admission: Admission::Wait,
            truncation: self.inner().truncation,
            cache: CacheUse::Off,
        };
        self.explain_with(text, call, Tokenizing::Inline).await.0
    }

    /// [`explain_async`](Self::explain_async) run as `call` says (the cache is never used),
    /// tokenized where `tokenizing` says, with where its time went.
    pub(super) async fn explain_with(
        &self,
        text: &str,
        call: Call,
        tokenizing: Tokenizing<'_>,
    ) -> (Result<Explanation>, Timings) {
        let words = words(text);
        if words.is_empty() {
            return (Err(Error::NothingToExplain), Timings::default());
        }
        let mut texts = Vec::with_capacity(words.len() + 1);
        texts.push(text.to_owned());
        texts.extend(words.iter().map(|w| without_word(text, w)));
        let call = Call {
            cache: CacheUse::Off,
            ..call
        };
        let (results, timings) = self
            .inner()
            .each_timed_async(&texts, call, tokenizing)
            .await;
        let explained = all_or_first_error(results)
            .map_err(|e| match e {
                Error::InBatch { source, .. } => *source,
                e => e,
            })
            .and_then(|scored| {
                let mut scored = scored.into_iter();
                let scores = scored.next().ok_or(Error::WorkerStopped)?;
                let without: Vec<_> = scored.collect();
                Ok(Explanation::new(text.to_owned(), scores, words, &without))
            });
        (explained, timings)
    }
}
