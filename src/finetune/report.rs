//! What a run tells as it goes ([`FineTuneEvent`]) and at the end ([`FineTuneReport`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One training step, as the progress callback sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepProgress {
    /// Steps made, this one included.
    pub step: usize,
    /// Steps the run makes in all.
    pub total_steps: usize,
    /// The epoch, from 1.
    pub epoch: usize,
    /// The batch's loss.
    pub loss: f64,
    /// The gradients' norm before clipping.
    pub grad_norm: f64,
    /// The learning rate the step used.
    pub learning_rate: f64,
    /// Training texts a second over this process's steps.
    pub texts_per_second: f64,
    /// The time left at that rate (evaluation not counted).
    pub eta: Duration,
}

/// What happens during a run, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FineTuneEvent {
    /// A step was made.
    Step(StepProgress),
    /// An epoch ended and was scored on the dev texts.
    Epoch(EpochReport),
    /// A checkpoint was written after `step` steps.
    Checkpoint {
        /// Steps made.
        step: usize,
    },
    /// Before the first step: whether the run learns several labels a text (sigmoids) or one
    /// (softmax), and whether the data decided it (rather than an option or a kept head).
    Task {
        /// Sigmoids and binary cross-entropy (`true`) or a softmax and cross-entropy.
        multi_label: bool,
        /// Inferred from the training records (one label each: single-label).
        inferred: bool,
    },
}

/// One epoch of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Steps made in it.
    pub steps: usize,
    /// The mean of its steps' losses.
    pub mean_loss: f64,
    /// Macro-F1 on the dev texts after it (`None` without dev texts).
    pub dev_macro_f1: Option<f64>,
    /// Seconds its steps took (evaluation not counted), in the process that made them.
    pub train_seconds: f64,
    /// Training texts a second.
    pub texts_per_second: f64,
}

/// One training step's loss and learning rate, for the history a report draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step (from 1).
    pub step: usize,
    /// Its batch's mean loss.
    pub loss: f64,
    /// The learning rate it used.
    pub learning_rate: f64,
}

/// Where the training steps' time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeBreakdown {
    /// Forward passes and losses.
    pub forward_seconds: f64,
    /// Backward passes.
    pub backward_seconds: f64,
    /// Clipping and AdamW updates.
    pub optimizer_seconds: f64,
    /// Scoring the dev texts.
    pub evaluation_seconds: f64,
    /// Writing checkpoints and the model.
    pub saving_seconds: f64,
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneReport {
    /// Every epoch, in order.
    pub epochs: Vec<EpochReport>,
    /// Every step's loss and learning rate, in order (kept across a resume).
    #[serde(default)]
    pub history: Vec<StepRecord>,
    /// The epoch whose model was written (the best dev macro-F1; the last without dev texts).
    pub best_epoch: usize,
    /// Its dev macro-F1.
    pub best_dev_macro_f1: Option<f64>,
    /// Steps made in all.
    pub steps: usize,
    /// Training texts, dev texts, and labels.
    pub train_texts: usize,
    /// Dev texts.
    pub dev_texts: usize,
    /// The labels, in id order.
    pub labels: Vec<String>,
    /// Whether the model learned with sigmoids (multi-label) or a softmax.
    pub multi_label: bool,
    /// Whether a new head was made (the model had none).
    pub new_head: bool,
    /// Training texts a second over the steps this process made.
    pub texts_per_second: f64,
    /// Where this process's time went.
    pub time: TimeBreakdown,
    /// The step a resumed run continued from.
    pub resumed_from_step: Option<usize>,
    /// The model folder written.
    pub output: PathBuf,
}
