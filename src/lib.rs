//! Tell which emotions a text expresses, with a pretrained transformer model.
//!
//! [`EmotionClassifier`] runs a Hugging Face emotion model (BERT, DistilBERT, RoBERTa or XLM-RoBERTa) behind
//! one call, [`classify`](EmotionClassifier::classify), returning [`EmotionScores`]: every
//! label's probability, matching Python `transformers` to 1e-5.
//!
//! # Quick start
//!
//! ```no_run
//! use emotion_classifier::EmotionClassifier;
//!
//! // The default model: EMOTION_MODEL if set, else j-hartmann/emotion-english-distilroberta-base
//! // from the Hugging Face Hub (downloaded once into the usual Hugging Face cache).
//! let classifier = EmotionClassifier::builder().build()?;
//!
//! let scores = classifier.classify("I can't wait to see you!")?;
//! println!("{} {:.3}", scores.top().label, scores.top().score);
//! for label in scores.above(0.3) {
//!     println!("  {} {:.3}", label.label, label.score);
//! }
//!
//! // Many texts: batched by length, results in input order.
//! let many = classifier.classify_batch(&["so happy", "this is awful"])?;
//! assert_eq!(many.len(), 2);
//! # Ok::<(), emotion_classifier::Error>(())
//! ```
//!
//! A model in a local folder (Hugging Face layout), with options:
//!
//! ```no_run
//! use emotion_classifier::{EmotionClassifier, ModelSource};
//!
//! let classifier = EmotionClassifier::builder()
//!     .model(ModelSource::dir("models/emotion-minilm-ekman"))
//!     .cache_capacity(50_000)
//!     .tune_malloc(true)
//!     .build()?;
//! let scores = classifier.classify("what a day")?;
//! println!("{}", serde_json::to_string(&scores)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where to look
//!
//! - [`EmotionClassifierBuilder`]: every option, with its default and cost.
//! - [`EmotionClassifier`]: `classify`, `classify_batch`, `classify_each`, and the counters
//!   `cache_stats` and `pass_stats`.
//! - [`ModelSource`] and [`HubModel`]: where a model comes from.
//! - [`Error`] (and [`HubError`]): everything that can go wrong, typed.
//!
//! Installing libtorch, the models the crate reads and the benchmarks are in the README.
#![warn(missing_docs)]

pub mod batch;
mod block_on;
mod cache;
mod checkpoint;
mod classifier;
mod config;
mod cpu;
mod default_classifier;
mod device;
mod error;
mod error_chain;
pub mod evaluation;
pub mod explain;
mod failpoint;
pub mod finetune;
#[doc(hidden)]
pub mod fuzzing;
mod hub;
mod layout;
mod long_texts;
mod model;
mod model_folder;
mod precision;
#[cfg(test)]
mod random_inputs;
pub mod records;
mod scores;
#[cfg(feature = "server")]
pub mod server;
mod source;
mod tokenize;
mod torch_rng;
mod worker;

pub use batch::BatchLimits;
pub use cache::CacheStats;
pub use classifier::{
    EmotionClassifier, EmotionClassifierBuilder, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY,
};
pub use config::{Architecture, ModelConfig, ScoreFunction};
pub use cpu::mkl::{mkl_packed_gemm_available, mkl_vendor_override_active, MKL_OVERRIDE_ENV};
pub use default_classifier::{classify, default_classifier};
pub use device::Device;
pub use error::{BoxedSource, Error, Result, SharedSource};
pub use error_chain::ErrorChain;
pub use explain::{Explanation, Word};
pub use finetune::FineTuneError;
pub use hub::{HubError, HubModel, DEFAULT_HUB_MODEL};
pub use long_texts::{Aggregate, LongTexts, Truncation, TruncationSide};
pub use precision::Precision;
pub use scores::{Emotion, EmotionScores, LabelScore, Thresholds, UnknownEmotion, THRESHOLDS_FILE};
pub use source::{ModelSource, MODEL_ENV};
pub use worker::{Batching, PassStats, QueueStats, DEFAULT_MAX_QUEUED};

/// The README's code blocks, compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
