//! `config.json` in Hugging Face layout, read straight into serde structs and validated once.
//!
//! rust-bert's own `Config::from_file` panics on a bad file and requires fields that current
//! `transformers` no longer writes, so the crate parses the file itself:
//! - [`Architecture`] (`architecture`): the `model_type`s the crate runs, and on which path;
//! - [`ModelConfig`] (`model_config`): the fields every architecture shares, and the labels;
//! - `fused`: BERT, RoBERTa, XLM-RoBERTa and DistilBERT, for the crate's own encoder;
//! - `library`: ALBERT, DeBERTa-v2, MobileBERT and Longformer, as rust-bert's config structs,
//!   with `transformers`' defaults filled in and the options rust-bert does not honour refused.

mod architecture;
mod fused;
mod library;
mod model_config;

pub use architecture::Architecture;
pub(crate) use library::LibraryConfig;
pub(crate) use model_config::NetworkConfig;
pub use model_config::{ModelConfig, ScoreFunction};
