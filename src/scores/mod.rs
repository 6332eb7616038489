//! Scores: what the classifier returns, and how logits become probabilities.
//!
//! Pure Rust, no tensors: everything here is unit-tested without libtorch.

mod emotion;
mod emotion_scores;
mod probabilities;

pub use emotion::{Emotion, UnknownEmotion};
pub use emotion_scores::{EmotionScores, LabelScore};
pub(crate) use probabilities::probabilities;
