//! The classifier: [`EmotionClassifier`] and its builder.
//!
//! The tokenizer and the result cache run on the caller's thread; the network lives on a worker
//! thread (see `crate::worker`), since libtorch tensors are `Send` but not `Sync`.

mod builder;
mod emotion_classifier;

pub use builder::{EmotionClassifierBuilder, DEFAULT_CACHE_CAPACITY};
pub use emotion_classifier::EmotionClassifier;
