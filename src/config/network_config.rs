//! [`NetworkConfig`]: the architecture's own part of a model's configuration, as the fused
//! encoder (`fused`) or rust-bert (`library`) parsed it.

use std::sync::Arc;

use rust_bert::bert::BertConfig;
use rust_bert::distilbert::DistilBertConfig;

use super::library::LibraryConfig;

/// The architecture-specific part of a model's configuration, ready for rust-bert.
#[derive(Debug, Clone)]
pub(crate) enum NetworkConfig {
    Bert(BertConfig, f64),
    DistilBert(DistilBertConfig),
    Roberta(BertConfig, f64),
    /// An architecture run through rust-bert (rust-bert's configs are not `Clone`).
    Library(Arc<LibraryConfig>),
}
