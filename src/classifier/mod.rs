//! The classifier: [`EmotionClassifier`] and its builder.
//!
//! The tokenizer runs on the caller's thread; the network sits behind a lock, since libtorch
//! tensors are `Send` but not `Sync`.

mod builder;
mod emotion_classifier;

pub use builder::EmotionClassifierBuilder;
pub use emotion_classifier::EmotionClassifier;
