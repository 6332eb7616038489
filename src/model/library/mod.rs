//! The architectures the fused encoder does not run: ALBERT, MobileBERT and Longformer through
//! rust-bert's own `...ForSequenceClassification` modules, and DeBERTa-v2 (and v3 checkpoints)
//! through the crate's own `deberta_v2` module, because rust-bert's computes other scores
//! than `transformers`.
//!
//! - [`LibraryNetwork`] (`network`) builds rust-bert's module on a `VarStore`, fills every
//!   variable from the checkpoint through the crate's own readers (so `pytorch_model.bin` and
//!   `model.safetensors` both work, and one set of weights serves every worker), and calls it
//!   the way `transformers` does: attention mask always, token type ids where the model has
//!   them, Longformer's global attention on the first token.
//! - `names` maps rust-bert's variable names to the checkpoint's, one function per
//!   architecture.
//!
//! These run in f32 with rust-bert's padded attention: none of the fused encoder's levers
//! (packed weights, bf16, unpadded batches) apply.

mod deberta_v2;
mod names;
mod network;

pub(crate) use deberta_v2::PositionTerms;
pub(crate) use names::{classifier_output_weight, word_embeddings};
pub(crate) use network::LibraryNetwork;
