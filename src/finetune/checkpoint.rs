//! A run's checkpoint, in the run's temporary folder: the parameters and AdamW's moments
//! (`checkpoint-<step>.safetensors`), the best epoch's parameters
//! (`best-epoch-<n>.safetensors`), and the run's state (`checkpoint.json`), which names both
//! files and holds the tensors file's SHA-256.
//!
//! Crash-safe at any instruction: every file is written under a temporary name, flushed and
//! renamed ([`write_atomically`]); the state is written last; the state before it is kept as
//! `checkpoint.previous.json`, with its files, until the next one is complete. Reading takes
//! the newest state whose tensors file is whole (its checksum matches), else the previous one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::error::FineTuneError;
use super::export::{write_atomically, write_error, write_safetensors};
use super::hyperparameters::Hyperparameters;
use super::report::{EpochReport, StepRecord};
use super::trainer::Trainer;
use crate::checkpoint::Weights;
use crate::error::Result;

/// The state file's name.
pub(crate) const STATE_FILE: &str = "checkpoint.json";
/// The state before the current one, kept until the next is complete.
pub(crate) const PREVIOUS_STATE_FILE: &str = "checkpoint.previous.json";

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
    /// Every step's loss and learning rate so far.
    #[serde(default)]
    pub(crate) history: Vec<StepRecord>,
    /// The best epoch so far (from 1) and its dev macro-F1, whose parameters
    /// [`best_path`] holds.
    pub(crate) best: Option<(usize, f64)>,
    /// The tensors file this state goes with.
    pub(crate) tensors_file: String,
    /// Its SHA-256 (hex), to tell a whole file from a torn one.
    #[serde(default)]
    pub(crate) tensors_sha256: String,
    /// Once training is done and the model folder staged: its `model.safetensors`'s SHA-256,
    /// by which a resumed run knows whether that folder was already published.
    #[serde(default)]
    pub(crate) staged_model_sha256: Option<String>,
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

/// Writes the checkpoint of `trainer` with `state` into `dir`: the tensors, then the state;
/// the state it replaces becomes the previous one, and the files neither names are removed.
pub(crate) fn save(dir: &Path, trainer: &Trainer, state: &mut RunState) -> Result<()> {
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
    state.tensors_sha256 = write_safetensors(&dir.join(&state.tensors_file), &tensors)?;
    crate::failpoint::hit("checkpoint-tensors-written");
    save_state(dir, state)
}

/// Writes `state` as the current state of `dir`, keeping the one it replaces as the previous
/// state, then removes the checkpoint files neither of them names.
pub(crate) fn save_state(dir: &Path, state: &RunState) -> Result<()> {
    let path = dir.join(STATE_FILE);
    let previous = match std::fs::read(&path) {
        Ok(bytes) => {
            write_atomically(&dir.join(PREVIOUS_STATE_FILE), &bytes)?;
            serde_json::from_slice::<RunState>(&bytes).ok()
        }
        Err(_) => None,
    };
    let json = serde_json::to_vec_pretty(state)
        .map_err(|e| write_error(&path)(std::io::Error::other(e)))?;
    write_atomically(&path, &json)?;
    let kept: Vec<String> = std::iter::once(state)
        .chain(previous.as_ref())
        .flat_map(|s| {
            [
                Some(s.tensors_file.clone()),
                s.best.map(|(e, _)| best_file(e)),
            ]
        })
        .flatten()
        .collect();
    remove_unnamed(dir, &kept);
    Ok(())
}

/// Removes the checkpoint's tensors files in `dir` that `kept` does not name (best effort: a
/// file left behind costs disk, never correctness).
fn remove_unnamed(dir: &Path, kept: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = (name.starts_with("checkpoint-") || name.starts_with("best-epoch-"))
            && name.ends_with(".safetensors");
        if ours && !kept.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `dir` holds a checkpoint state (current or previous).
pub(crate) fn exists(dir: &Path) -> bool {
    dir.join(STATE_FILE).is_file() || dir.join(PREVIOUS_STATE_FILE).is_file()
}

/// Reads the newest whole state saved in `dir`: the current one when it parses and its
/// tensors file matches its checksum (or `enough` says the state needs no tensors), else the
/// previous one on the same terms.
///
/// # Errors
/// [`FineTuneError::NoCheckpoint`] when there is none; [`FineTuneError::CheckpointMismatch`]
/// when neither state is whole, saying why the current one is not.
pub(crate) fn read_state(dir: &Path, enough: impl Fn(&RunState) -> bool) -> Result<RunState> {
    if !exists(dir) {
        return Err(FineTuneError::NoCheckpoint {
            path: dir.to_path_buf(),
        }
        .into());
    }
    let mut first_problem = None;
    for file in [STATE_FILE, PREVIOUS_STATE_FILE] {
        match whole_state(dir, file, &enough) {
            Ok(state) => return Ok(state),
            Err(reason) => {
                first_problem.get_or_insert((dir.join(file), reason));
            }
        }
    }
    let (path, reason) = first_problem.unwrap_or_default();
    Err(FineTuneError::CheckpointMismatch { path, reason }.into())
}

/// The state in `dir/file`, if it parses and its tensors are whole, else why not.
fn whole_state(
    dir: &Path,
    file: &str,
    enough: impl Fn(&RunState) -> bool,
) -> std::result::Result<RunState, String> {
    let bytes = std::fs::read(dir.join(file)).map_err(|e| format!("unreadable state: {e}"))?;
    let state: RunState =
        serde_json::from_slice(&bytes).map_err(|e| format!("unreadable state: {e}"))?;
    if enough(&state) {
        return Ok(state);
    }
    let tensors = dir.join(&state.tensors_file);
    match super::export::file_sha256(&tensors) {
        Some(sum) if sum == state.tensors_sha256 => Ok(state),
        Some(_) => Err(format!(
            "{} is torn: its checksum is not the one its state recorded",
            state.tensors_file
        )),
        None => Err(format!("{} is missing", state.tensors_file)),
    }
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

/// The name of epoch `epoch`'s parameters file, kept while it is the best.
fn best_file(epoch: usize) -> String {
    format!("best-epoch-{epoch}.safetensors")
}

/// The parameters file of the best epoch `epoch` in `dir`.
pub(crate) fn best_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(best_file(epoch))
}
