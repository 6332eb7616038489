//! The classifier: [`EmotionClassifier`] and its builder.
//!
//! - `builder`: [`EmotionClassifierBuilder`], options checked in `build()`.
//! - `emotion_classifier`: the classifier's calls: cache, tokenizer, batch plan, worker.
//! - `requests`: one call's bookkeeping (repeats, cache hits, windows, errors), model-free.
//!
//! The tokenizer and the result cache run on the caller's thread; the network lives on a worker
//! thread (see `crate::worker`), since libtorch tensors are `Send` but not `Sync`.

mod builder;
mod emotion_classifier;
mod requests;

pub use builder::{EmotionClassifierBuilder, DEFAULT_CACHE_CAPACITY};
pub use emotion_classifier::EmotionClassifier;
