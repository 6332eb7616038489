//! Text to token ids.
//!
//! A model's tokenizer is its `tokenizer.json` when it has one; older checkpoints (many on the
//! Hugging Face Hub) ship only the files of Python's "slow" tokenizers, `vocab.json` and
//! `merges.txt` (RoBERTa) or `vocab.txt` (BERT, DistilBERT), which [`legacy`] turns into the same
//! tokenizer `transformers` would build from them.

mod encoder;
mod legacy;
#[cfg(feature = "server")]
mod pool;

pub(crate) use encoder::{Encoded, TextEncoder};
pub(crate) use legacy::load_tokenizer;
#[cfg(feature = "server")]
pub(crate) use pool::TokenizerPool;
