//! Scores: what the classifier returns, how logits become scores, and decisions.
//!
//! Pure Rust, no tensors: everything here is unit-tested without libtorch.

mod emotion;
mod emotion_scores;
mod head;
mod probabilities;
mod thresholds;

pub use emotion::{Emotion, UnknownEmotion};
pub use emotion_scores::{EmotionScores, LabelScore};
pub(crate) use head::Head;
pub(crate) use probabilities::probabilities;
pub use thresholds::{Thresholds, THRESHOLDS_FILE};
