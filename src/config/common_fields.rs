//! [`CommonFields`]: the part of `config.json` that every architecture's parser reads first.

use std::collections::HashMap;

use serde::Deserialize;

/// The fields every supported architecture shares.
#[derive(Debug, Deserialize)]
pub(super) struct CommonFields {
    pub(super) model_type: String,
    #[serde(default)]
    pub(super) id2label: HashMap<usize, String>,
    #[serde(default)]
    pub(super) problem_type: Option<String>,
    pub(super) max_position_embeddings: i64,
    #[serde(default)]
    pub(super) pad_token_id: Option<i64>,
    pub(super) vocab_size: i64,
}
