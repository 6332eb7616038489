//! Explanations: which words drove a text's scores, by occlusion.
//!
//! - `words`: a text cut into words (runs of non-whitespace), with byte and character spans,
//!   and the text with one word taken out. Pure Rust, no model.
//! - `explanation`: [`Explanation`], the scores of a text and each word's attribution per
//!   label.
//!
//! The classifier's [`explain`](crate::EmotionClassifier::explain) scores the text and every
//! variant with one word removed in one batched call; a word's attribution to a label is the
//! text's score minus the score without the word. Why occlusion, and what it costs, is in
//! `docs/EXPLAIN.md`.

mod explanation;
mod words;

pub use explanation::Explanation;
pub use words::{without_word, words, Word};
