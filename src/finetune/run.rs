//! The training loop: read and check everything, then epochs of seeded batches with dropout,
//! the dev set scored after each epoch (the best kept), checkpoints along the way, and the
//! model folder written at the end (staged in `<output>.partial`, moved into place).
//!
//! Crash-safe: every step is repeatable from the last checkpoint, so `--resume` after a
//! SIGKILL at any moment ends with the folder an uninterrupted run writes (`checkpoint`,
//! `publish`; the crash tests kill the CLI at each step of the finish).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tch::Tensor;

use super::adamw::AdamWConfig;
use super::batches::epoch_batches;
use super::builder::FineTune;
use super::checkpoint::{self, RunState};
use super::error::FineTuneError;
use super::export::{
    copy_tokenizer, file_sha256, sha256_hex, sync_dir, write_atomically, write_config, write_error,
    write_safetensors,
};
use super::metrics::macro_f1;
use super::network::{open_base, TrainableNetwork};
use super::priors::initial_biases;
use super::publish::{publish, remove_checkpoint};
use super::report::{
    EpochReport, FineTuneEvent, FineTuneReport, StepProgress, StepRecord, TimeBreakdown,
};
use super::schedule::Schedule;
use super::tokens::TrainingTokenizer;
use super::trainer::{Example, Trainer};
use crate::error::Result;

/// Dev texts scored a batch.
const EVAL_BATCH: usize = 128;

/// The folder the model is staged in, inside the checkpoint folder.
const STAGED: &str = "model";

/// Checks the output and checkpoint folders before any work; says whether the run resumes
/// from a checkpoint. (A resumed run checks the output once it has read its state: it may
/// have published the output itself before a crash.)
///
/// `--resume` of a run that died before its first checkpoint (its folder is there, with no
/// state in it) starts over: nothing was saved that could be lost.
fn check_folders(run: &FineTune) -> Result<bool> {
    let resuming = run.resume && checkpoint::exists(&run.partial);
    if run.output.exists() && !run.overwrite && !resuming {
        return Err(FineTuneError::OutputExists {
            path: run.output.clone(),
        }
        .into());
    }
    if resuming {
        return Ok(true);
    }
    if run.resume && !run.partial.is_dir() {
        return Err(FineTuneError::NoCheckpoint {
            path: run.partial.clone(),
        }
        .into());
    }
    if run.partial.exists() {
        if !run.overwrite && !run.resume {
            return Err(FineTuneError::CheckpointExists {
                path: run.partial.clone(),
            }
            .into());
        }
        std::fs::remove_dir_all(&run.partial).map_err(write_error(&run.partial))?;
    }
    Ok(false)
}

/// The weights file of the staged and published folder.
const STAGED_WEIGHTS: &str = crate::layout::SAFETENSORS;

/// Whether `state` is of a finished run whose model folder is already in place: its staged
/// weights' checksum is the output's.
fn published(run: &FineTune, state: &RunState) -> bool {
    state.staged_model_sha256.as_ref().is_some_and(|staged| {
        file_sha256(&run.output.join(STAGED_WEIGHTS)).as_ref() == Some(staged)
    })
}

/// Dev scores, computed in length order (less padding) and returned in the texts' order.
fn dev_scores(trainer: &Trainer, dev: &[Vec<i64>]) -> Result<Vec<Vec<f32>>> {
    let mut order: Vec<usize> = (0..dev.len()).collect();
    order.sort_by_key(|&i| dev[i].len());
    let sorted: Vec<&[i64]> = order.iter().map(|&i| dev[i].as_slice()).collect();
    let scores = trainer.scores(&sorted, EVAL_BATCH)?;
    let mut out = vec![Vec::new(); dev.len()];
    for (i, row) in order.into_iter().zip(scores) {
        out[i] = row;
    }
    Ok(out)
}

/// Runs `run`; returns the report and the trainer as it ended (for tests to compare with).
pub(crate) fn train(
    run: &FineTune,
    progress: &mut dyn FnMut(&FineTuneEvent),
) -> Result<(FineTuneReport, Trainer)> {
    // One run at a time in a process: dropout draws from libtorch's process-wide generator,
    // which each step seeds, so two runs at once (or anything else drawing from it) would
    // take each other's masks and neither would be reproducible, nor resumable to the same
    // result.
    let _generator = crate::torch_rng::hold();
    let resuming = check_folders(run)?;
    let base = open_base(&run.base.local_dir()?)?;
    let h = run.hyperparameters;
    let dataset = run.data.load()?;
    let one_label_each = dataset.one_label_each();
    let labels = dataset.labels;
    // A new head's initial weights come from the seed too.
    tch::manual_seed(h.seed as i64);
    let single_label = run.single_label.unwrap_or(one_label_each);
    let loaded = TrainableNetwork::load(&base, &labels, single_label)?;
    progress(&FineTuneEvent::Task {
        multi_label: loaded.multi_label,
        inferred: run.single_label.is_none() && !loaded.had_head,
    });
    let tokenizer = TrainingTokenizer::from_folder(&base, h.max_length)?;
    let texts = |set: &[super::data::LabelledText]| -> Result<Vec<Vec<i64>>> {
        tokenizer.encode(&set.iter().map(|t| t.text.as_str()).collect::<Vec<_>>())
    };
    let train_ids = texts(&dataset.train)?;
    let dev_ids = texts(&dataset.dev)?;
    if let Some(threads) = run.threads {
        tch::set_num_threads(threads as i32);
    }
    let new_head = !loaded.had_head;
    if new_head {
        if let Some(bias) = loaded.network.output_bias() {
            let ids: Vec<Vec<usize>> = dataset.train.iter().map(|t| t.labels.clone()).collect();
            let priors = initial_biases(&ids, labels.len(), loaded.multi_label);
            let mut bias = bias.shallow_clone();
            tch::no_grad(|| bias.f_copy_(&Tensor::from_slice(&priors)))?;
        }
    }
    let multi_label = loaded.multi_label;
    let steps_per_epoch = train_ids.len().div_ceil(h.batch_size);
    let total = steps_per_epoch * h.epochs;
    let mut trainer = Trainer::new(
        loaded.network,
        multi_label,
        labels.len(),
        Schedule::new(h.learning_rate, total, h.warmup_ratio),
        AdamWConfig {
            weight_decay: h.weight_decay,
            ..AdamWConfig::default()
        },
        h.max_grad_norm,
    )?;
    let mut state = RunState {
        hyperparameters: h,
        labels: labels.clone(),
        train_texts: train_ids.len(),
        step: 0,
        updates: 0,
        epoch: 0,
        batch_in_epoch: 0,
        epoch_loss_sum: 0.0,
        epoch_steps: 0,
        epoch_texts: 0,
        epoch_seconds: 0.0,
        epochs: Vec::new(),
        history: Vec::new(),
        best: None,
        tensors_file: String::new(),
        tensors_sha256: String::new(),
        staged_model_sha256: None,
    };
    let mut resumed_from_step = None;
    let mut already_published = false;
    if resuming {
        let saved = checkpoint::read_state(&run.partial, |s| published(run, s))?;
        if let Some(reason) = state.mismatch(&saved) {
            return Err(FineTuneError::CheckpointMismatch {
                path: run.partial.clone(),
                reason,
            }
            .into());
        }
        already_published = published(run, &saved);
        if run.output.exists() && !run.overwrite && !already_published {
            return Err(FineTuneError::OutputExists {
                path: run.output.clone(),
            }
            .into());
        }
        if already_published {
            // Only the checkpoint's removal was left; its tensors may be gone already. The
            // trainer (for tests) takes the published parameters.
            let weights =
                crate::checkpoint::Weights::from_safetensors(&run.output.join(STAGED_WEIGHTS))?;
            checkpoint::load_parameters(&weights, trainer.network().parameters())?;
        } else {
            checkpoint::restore(&run.partial, &mut trainer, &saved)?;
        }
        resumed_from_step = Some(saved.step);
        state = saved;
    } else {
        std::fs::create_dir_all(&run.partial).map_err(write_error(&run.partial))?;
    }

    let lengths: Vec<usize> = train_ids.iter().map(Vec::len).collect();
    let mut time = TimeBreakdown::default();
    let (mut seen, mut train_time) = (0usize, Duration::ZERO);
    let save = |trainer: &Trainer, state: &mut RunState, time: &mut TimeBreakdown| {
        let begun = Instant::now();
        let saved = checkpoint::save(&run.partial, trainer, state);
        time.saving_seconds += begun.elapsed().as_secs_f64();
        saved
    };
    while state.epoch < h.epochs {
        let batches = epoch_batches(&lengths, h.batch_size, h.seed, state.epoch);
        for batch in batches.iter().skip(state.batch_in_epoch) {
            if run.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                save(&trainer, &mut state, &mut time)?;
                progress(&FineTuneEvent::Checkpoint { step: state.step });
                return Err(FineTuneError::Stopped {
                    step: state.step,
                    checkpoint: run.partial.clone(),
                }
                .into());
            }
            let examples: Vec<Example<'_>> = batch
                .iter()
                .map(|&i| (train_ids[i].as_slice(), dataset.train[i].labels.as_slice()))
                .collect();
            // Dropout's masks come from the seed and the step alone, so a resumed run draws
            // the masks an uninterrupted one does.
            tch::manual_seed(h.seed.wrapping_add(state.step as u64) as i64);
            let begun = Instant::now();
            let record = trainer.step(&examples, true)?;
            let took = begun.elapsed();
            train_time += took;
            seen += batch.len();
            state.step += 1;
            state.batch_in_epoch += 1;
            state.history.push(StepRecord {
                step: state.step,
                loss: record.loss,
                learning_rate: record.lr,
            });
            state.epoch_loss_sum += record.loss;
            state.epoch_steps += 1;
            state.epoch_texts += batch.len();
            state.epoch_seconds += took.as_secs_f64();
            let rate = seen as f64 / train_time.as_secs_f64().max(1e-9);
            let left = total.saturating_sub(state.step) * h.batch_size;
            progress(&FineTuneEvent::Step(StepProgress {
                step: state.step,
                total_steps: total,
                epoch: state.epoch + 1,
                loss: record.loss,
                grad_norm: record.grad_norm,
                learning_rate: record.lr,
                texts_per_second: rate,
                eta: Duration::from_secs_f64(left as f64 / rate.max(1e-9)),
            }));
            let epoch_ends = state.batch_in_epoch == batches.len();
            crate::failpoint::hit(&format!("step-{}", state.step));
            if state.step.is_multiple_of(run.checkpoint_every) && !epoch_ends {
                save(&trainer, &mut state, &mut time)?;
                progress(&FineTuneEvent::Checkpoint { step: state.step });
                crate::failpoint::hit(&format!("checkpoint-{}", state.step));
            }
        }
        let begun = Instant::now();
        let dev_macro_f1 = if dev_ids.is_empty() {
            None
        } else {
            let scores = dev_scores(&trainer, &dev_ids)?;
            let truth: Vec<Vec<usize>> = dataset.dev.iter().map(|t| t.labels.clone()).collect();
            Some(macro_f1(
                &scores,
                &truth,
                labels.len(),
                multi_label,
                h.eval_threshold,
            ))
        };
        time.evaluation_seconds += begun.elapsed().as_secs_f64();
        let report = EpochReport {
            epoch: state.epoch + 1,
            steps: state.epoch_steps,
            mean_loss: state.epoch_loss_sum / state.epoch_steps.max(1) as f64,
            dev_macro_f1,
            train_seconds: state.epoch_seconds,
            texts_per_second: state.epoch_texts as f64 / state.epoch_seconds.max(1e-9),
        };
        if let Some(f1) = dev_macro_f1 {
            if state.best.is_none_or(|(_, best)| f1 > best) {
                let begun = Instant::now();
                write_safetensors(
                    &checkpoint::best_path(&run.partial, report.epoch),
                    trainer.network().parameters(),
                )?;
                time.saving_seconds += begun.elapsed().as_secs_f64();
                state.best = Some((report.epoch, f1));
            }
        }
        progress(&FineTuneEvent::Epoch(report.clone()));
        state.epochs.push(report);
        state.epoch += 1;
        state.batch_in_epoch = 0;
        state.epoch_loss_sum = 0.0;
        state.epoch_steps = 0;
        state.epoch_texts = 0;
        state.epoch_seconds = 0.0;
        save(&trainer, &mut state, &mut time)?;
        progress(&FineTuneEvent::Checkpoint { step: state.step });
        crate::failpoint::hit(&format!("epoch-{}", state.epoch));
    }

    // The model folder: the best epoch's weights (the last's without dev texts), the config
    // and the tokenizer, staged whole and recorded in the state, then moved into place, then
    // the checkpoint removed. Each step is repeatable: a resumed run redoes what a crash cut.
    let begun = Instant::now();
    if !already_published {
        let staged = run.partial.join(STAGED);
        if staged.exists() {
            std::fs::remove_dir_all(&staged).map_err(write_error(&staged))?;
        }
        std::fs::create_dir_all(&staged).map_err(write_error(&staged))?;
        let model = staged.join(STAGED_WEIGHTS);
        let digest = match state.best {
            Some((epoch, _)) => {
                let bytes = crate::layout::read(&checkpoint::best_path(&run.partial, epoch))?;
                write_atomically(&model, &bytes)?;
                sha256_hex(&bytes)
            }
            None => write_safetensors(&model, trainer.network().parameters())?,
        };
        write_config(&staged, trainer.network().config())?;
        copy_tokenizer(&base, &staged)?;
        sync_dir(&staged)?;
        crate::failpoint::hit("finish-staged");
        state.staged_model_sha256 = Some(digest);
        checkpoint::save_state(&run.partial, &state)?;
        crate::failpoint::hit("finish-recorded");
        publish(&staged, &run.output, run.overwrite)?;
        crate::failpoint::hit("finish-published");
    }
    remove_checkpoint(&run.partial)?;
    time.saving_seconds += begun.elapsed().as_secs_f64();
    let phases = trainer.times();
    time.forward_seconds = phases.forward.as_secs_f64();
    time.backward_seconds = phases.backward.as_secs_f64();
    time.optimizer_seconds = phases.optimizer.as_secs_f64();
    let (best_epoch, best_dev_macro_f1) = match state.best {
        Some((epoch, f1)) => (epoch, Some(f1)),
        None => (state.epochs.len(), None),
    };
    let report = FineTuneReport {
        epochs: state.epochs,
        history: state.history,
        best_epoch,
        best_dev_macro_f1,
        steps: state.step,
        train_texts: train_ids.len(),
        dev_texts: dev_ids.len(),
        labels,
        multi_label,
        new_head,
        texts_per_second: seen as f64 / train_time.as_secs_f64().max(1e-9),
        time,
        resumed_from_step,
        output: run.output.clone(),
    };
    Ok((report, trainer))
}
