//! The classifier: [`EmotionClassifier`] and its builder.
//!
//! - `builder`: [`EmotionClassifierBuilder`], options checked in `build()`.
//! - `emotion_classifier`: the classifier, its loading, counters and blocking calls;
//!   `async_api`: the same calls as runtime-agnostic futures; `explain`: occlusion.
//! - `pipeline`: the one pipeline both run (cache, tokenizer, batch plan, workers, scores).
//! - `round`: one round of a call, tokenized and planned into jobs.
//! - `serving`: what the server needs beyond the public calls (feature `server`).
//! - `requests`: one call's bookkeeping (repeats, cache hits, windows, errors), model-free.
//!
//! The tokenizer and the result cache run on the caller's thread; the network lives on a worker
//! thread (see `crate::worker`), since libtorch tensors are `Send` but not `Sync`.

mod async_api;
mod builder;
mod emotion_classifier;
mod explain;
mod pipeline;
mod requests;
mod round;
#[cfg(feature = "server")]
mod serving;

pub use builder::{EmotionClassifierBuilder, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY};
pub use emotion_classifier::EmotionClassifier;
#[cfg(feature = "server")]
pub(crate) use pipeline::Timings;
