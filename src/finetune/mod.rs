//! Fine-tuning: adapt a model to your own labels and texts, in Rust, with the recipe of
//! `peers/hf_finetune.py` (see `docs/FINETUNING.md`).
//!
//! - `data`: labelled texts and the GoEmotions layout they are read from;
//! - `batches`: which texts make each batch, in what order (pure);
//! - `schedule`: the learning rate at each step (pure); `priors`: a new head's biases (pure);
//! - `tokens`: the model's tokenizer, truncating at the recipe's length;
//! - `network`: rust-bert's classifier for the architecture on a `VarStore`, under
//!   transformers' tensor names;
//! - `adamw`: PyTorch's AdamW and gradient clipping; `trainer`: one step, and scores;
//! - `reference`: the recipe's deterministic reference run, checked against the peer's;
//! - `error`: [`FineTuneError`].

// The library call (`FineTune`), its CLI and saving the trained model are not written yet
// (issue 26): until then the engine below is reached from its tests only, and parts of it
// (the head's priors, the epoch order, the written config) from nowhere yet.
#![allow(dead_code)]

mod adamw;
mod batches;
mod data;
mod error;
mod network;
mod priors;
mod reference;
mod schedule;
mod tokens;
mod trainer;

pub use error::FineTuneError;
