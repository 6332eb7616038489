//! `config.json` in Hugging Face layout, read straight into serde structs and validated once.
//!
//! rust-bert's own `Config::from_file` panics on a bad file and requires fields that current
//! `transformers` no longer writes, so the crate parses the file itself:
//! - [`Architecture`] (`architecture`): the `model_type`s the crate runs, and on which path;
//! - [`ModelConfig`] (`model_config`): the validated file, with the labels in order;
//! - `common_fields`: the fields every architecture shares, read first;
//! - `network_config`: the architecture's own part, from `fused` or `library`;
//! - `fused`: BERT, RoBERTa, XLM-RoBERTa and DistilBERT, for the crate's own encoder;
//! - `library`: ALBERT, DeBERTa-v2, MobileBERT and Longformer, as rust-bert's config structs,
//!   with `transformers`' defaults filled in and the options rust-bert does not honour refused.

mod architecture;
mod common_fields;
mod fused;
mod library;
mod model_config;
mod network_config;

pub use architecture::Architecture;
pub(crate) use library::{fill, LibraryConfig};
pub(crate) use model_config::check_integers;
pub use model_config::{ModelConfig, ScoreFunction};
pub(crate) use network_config::NetworkConfig;
