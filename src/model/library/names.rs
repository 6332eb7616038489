//! Where rust-bert's modules and `transformers`' checkpoints keep each parameter.
//!
//! rust-bert builds its modules under the same paths as `transformers`' state dicts (its own
//! weight files are converted from them), so for ALBERT, MobileBERT and Longformer every
//! variable's name is the checkpoint tensor's name: no mapping is needed. The loader's test
//! `every_checkpoint_tensor_fills_exactly_one_variable` proves it for each architecture's
//! fixture (every variable found, no tensor left over). Only the tensors the loader checks
//! before building the network are named here.

use crate::config::Architecture;

/// The word embedding matrix's name.
pub(crate) fn word_embeddings(architecture: Architecture) -> String {
    format!(
        "{}.embeddings.word_embeddings.weight",
        architecture.checkpoint_prefix()
    )
}

/// The classifier output layer's weight matrix: one row per label.
pub(crate) fn classifier_output_weight(architecture: Architecture) -> String {
    match architecture {
        Architecture::Longformer | Architecture::Roberta | Architecture::XlmRoberta => {
            "classifier.out_proj.weight".to_owned()
        }
        _ => "classifier.weight".to_owned(),
    }
}
