//! Tell which emotions a text expresses, with a pretrained transformer model.
//!
//! ```no_run
//! use emotion_classifier::{EmotionClassifier, ModelSource};
//!
//! let classifier = EmotionClassifier::builder()
//!     .model(ModelSource::dir("../shared/models/emotion-minilm-ekman"))
//!     .build()?;
//! let scores = classifier.classify("I can't wait to see you!")?;
//! println!("{} {:.3}", scores.top().label, scores.top().score);
//! let many = classifier.classify_batch(&["so happy", "this is awful"])?;
//! assert_eq!(many.len(), 2);
//! # Ok::<(), emotion_classifier::Error>(())
//! ```
#![warn(missing_docs)]

mod allocator;
pub mod batch;
mod cache;
mod classifier;
mod config;
mod default_classifier;
mod device;
mod error;
mod files;
mod gelu;
mod hub;
mod long_texts;
pub mod metrics;
mod mkl;
mod model;
mod precision;
pub mod scores;
mod source;
mod tokenize;
mod worker;

pub use cache::CacheStats;
pub use classifier::{EmotionClassifier, EmotionClassifierBuilder, DEFAULT_CACHE_CAPACITY};
pub use config::{Architecture, ModelConfig, ScoreFunction};
pub use default_classifier::{classify, default_classifier};
pub use device::Device;
pub use error::{BoxedSource, Error, Result};
pub use hub::{HubModel, DEFAULT_HUB_MODEL};
pub use long_texts::{Aggregate, LongTexts};
pub use mkl::{mkl_packed_gemm_available, mkl_vendor_override_active, MKL_OVERRIDE_ENV};
pub use precision::Precision;
pub use scores::{Emotion, EmotionScores, LabelScore};
pub use source::{ModelSource, MODEL_ENV};
pub use worker::{Batching, PassStats};

/// The README's code blocks, compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
