//! The architectures the fused encoder does not run, run through rust-bert's own
//! `...ForSequenceClassification` modules: ALBERT, DeBERTa-v2 (and v3 checkpoints), MobileBERT
//! and Longformer.
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

mod names;
mod network;

pub(crate) use names::{classifier_output_weight, word_embeddings};
pub(crate) use network::LibraryNetwork;
