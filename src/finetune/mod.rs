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

mod adamw;
mod batches;
mod builder;
mod checkpoint;
mod data;
mod dataset;
mod error;
mod export;
mod hyperparameters;
mod metrics;
mod network;
#[cfg(feature = "plots")]
mod plots;
mod priors;
mod publish;
#[cfg(test)]
mod reference;
mod report;
mod run;
mod schedule;
mod table;
#[cfg(test)]
mod tests;
mod tokens;
mod trainer;

pub use builder::{FineTune, FineTuneBuilder, DEFAULT_CHECKPOINT_EVERY};
pub use data::{read_labels, LabelledText};
pub use dataset::{read_labelled, Columns, LabelledSet, TrainingData};
pub use error::FineTuneError;
pub use hyperparameters::Hyperparameters;
#[cfg(feature = "plots")]
pub use plots::TrainingPlots;
pub use report::{
    EpochReport, FineTuneEvent, FineTuneReport, StepProgress, StepRecord, TimeBreakdown,
};
