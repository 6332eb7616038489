//! A run's checkpoint, in the run's temporary folder: the parameters and AdamW's moments
//! (`checkpoint-<step>.safetensors`), the best epoch's parameters (`best.safetensors`), and
//! the run's state (`checkpoint.json`, written last, naming the tensors file it goes with, so
//! a crash while writing leaves the previous checkpoint whole).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::error::FineTuneError;
use super::export::{write_atomically, write_error, write_safetensors};
use super::hyperparameters::Hyperparameters;
use super::report::EpochReport;
use super::trainer::Trainer;
use crate::checkpoint::Weights;
use crate::error::Result;

/// The state file's name.
pub(crate) const STATE_FILE: &str = "checkpoint.json";
/// The best epoch's parameters.
pub(crate) const BEST_FILE: &str = "best.safetensors";

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunState {
    /// What the run trains with (a resumed run must match).
    pub(crate) hyperparameters: Hyperparameters,
    /// The labels, in id order.
    pub(crate) labels: Vec<String>,
    /// Training texts.
    pub(crate) train_texts: usize,
    /// Steps made.
    pub(crate) step: usize,
    /// AdamW's update count.
    pub(crate) updates: u64,
    /// The epoch being trained (from 0) and the batches of it already made.
    pub(crate) epoch: usize,
    pub(crate) batch_in_epoch: usize,
    /// The current epoch's loss sum, texts and training seconds so far.
    pub(crate) epoch_loss_sum: f64,
    pub(crate) epoch_steps: usize,
    pub(crate) epoch_texts: usize,
    pub(crate) epoch_seconds: f64,
    /// The finished epochs.
    pub(crate) epochs: Vec<EpochReport>,
    /// The best epoch so far (from 1) and its dev macro-F1, when `best.safetensors` holds it.
    pub(crate) best: Option<(usize, f64)>,
    /// The tensors file this state goes with.
    pub(crate) tensors_file: String,
}

impl RunState {
    /// Whether `other` (a saved run) is the same run as this new one.
    pub(crate) fn mismatch(&self, saved: &Self) -> Option<String> {
        if saved.hyperparameters != self.hyperparameters {
            Some(format!(
                "its settings were {:?}, these are {:?}",
                saved.hyperparameters, self.hyperparameters
            ))
        } else if saved.labels != self.labels {
            Some(format!(
                "its labels were {}, these are {}",
                saved.labels.join(", "),
                self.labels.join(", ")
            ))
        } else if saved.train_texts != self.train_texts {
            Some(format!(
                "it trained on {} texts, this data has {}",
                saved.train_texts, self.train_texts
            ))
        } else {
            None
        }
    }
}

fn moment_names(name: &str) -> (String, String) {
    (format!("exp_avg.{name}"), format!("exp_avg_sq.{name}"))
}

/// Writes the checkpoint of `trainer` with `state` into `dir`, then removes the previous
/// tensors file.
pub(crate) fn save(dir: &Path, trainer: &Trainer, state: &mut RunState) -> Result<()> {
    let previous = std::mem::take(&mut state.tensors_file);
    state.tensors_file = format!("checkpoint-{}.safetensors", state.step);
    state.updates = trainer.optimizer().updates();
    let parameters = trainer.network().parameters();
    let mut tensors: Vec<(String, Tensor)> = Vec::with_capacity(parameters.len() * 3);
    for ((name, parameter), (m, v)) in parameters.iter().zip(trainer.optimizer().moments()) {
        let (m_name, v_name) = moment_names(name);
        tensors.push((name.clone(), parameter.shallow_clone()));
        tensors.push((m_name, m.shallow_clone()));
        tensors.push((v_name, v.shallow_clone()));
    }
    write_safetensors(&dir.join(&state.tensors_file), &tensors)?;
    let path = dir.join(STATE_FILE);
    let json = serde_json::to_vec_pretty(state)
        .map_err(|e| write_error(&path)(std::io::Error::other(e)))?;
    write_atomically(&path, &json)?;
    if !previous.is_empty() && previous != state.tensors_file {
        let _ = std::fs::remove_file(dir.join(previous));
    }
    Ok(())
}

/// Reads the state saved in `dir`.
///
/// # Errors
/// [`FineTuneError::NoCheckpoint`] when there is none; [`FineTuneError::CheckpointMismatch`]
/// for one that cannot be read.
pub(crate) fn read_state(dir: &Path) -> Result<RunState> {
    let path = dir.join(STATE_FILE);
    if !path.is_file() {
        return Err(FineTuneError::NoCheckpoint {
            path: dir.to_path_buf(),
        }
        .into());
    }
    let bytes = crate::layout::read(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        FineTuneError::CheckpointMismatch {
            path: path.clone(),
            reason: format!("unreadable state: {e}"),
        }
        .into()
    })
}

/// Loads the parameters and moments of `state`'s tensors file into `trainer`.
pub(crate) fn restore(dir: &Path, trainer: &mut Trainer, state: &RunState) -> Result<()> {
    let weights = Weights::from_safetensors(&dir.join(&state.tensors_file))?;
    load_parameters(&weights, trainer.network().parameters())?;
    let moments = trainer
        .network()
        .parameters()
        .iter()
        .map(|(name, p)| {
            let (m, v) = moment_names(name);
            Ok((
                weights.tensor_f32(&m, &p.size())?,
                weights.tensor_f32(&v, &p.size())?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    trainer.restore(state.step, &moments, state.updates)
}

/// Copies the tensors of `weights` into `parameters`, by name.
pub(crate) fn load_parameters(weights: &Weights, parameters: &[(String, Tensor)]) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (name, parameter) in parameters {
            let value = weights.tensor_f32(name, &parameter.size())?;
            let mut parameter = parameter.shallow_clone();
            parameter.f_copy_(&value)?;
        }
        Ok(())
    })
}

/// The best epoch's parameters file in `dir`.
pub(crate) fn best_path(dir: &Path) -> PathBuf {
    dir.join(BEST_FILE)
}
