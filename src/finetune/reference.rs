//! The recipe's deterministic reference run (the peer's `reference` mode): dropout off, the
//! first `steps * batch` training texts in file order, and each step's loss, gradient norm
//! and learning rate, then the scores of the first 20 dev texts, each scored alone.

use std::path::Path;

use super::adamw::AdamWConfig;
use super::data::{read_goemotions_split, read_labels, GoEmotionsDir};
use super::network::TrainableNetwork;
use super::schedule::Schedule;
use super::tokens::TrainingTokenizer;
use super::trainer::{Example, StepRecord, Trainer};
use crate::error::Result;

/// The reference run's settings (the peer's defaults: 6 steps of 8 texts at 5e-5, 64 tokens).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReferenceOptions {
    pub(crate) steps: usize,
    pub(crate) batch: usize,
    pub(crate) lr: f64,
    pub(crate) max_len: usize,
}

impl Default for ReferenceOptions {
    fn default() -> Self {
        Self {
            steps: 6,
            batch: 8,
            lr: 5e-5,
            max_len: 64,
        }
    }
}

/// What a reference run measured.
#[derive(Debug)]
pub(crate) struct ReferenceRun {
    pub(crate) labels: Vec<String>,
    pub(crate) per_step: Vec<StepRecord>,
    /// The first 20 dev texts and their scores after the last step, in label order.
    pub(crate) scores_after: Vec<(String, Vec<f32>)>,
}

/// Runs the reference recipe on the model folder `model` and the GoEmotions-layout `data`.
pub(crate) fn reference_run(
    model: &Path,
    data: &Path,
    options: ReferenceOptions,
) -> Result<ReferenceRun> {
    let files = GoEmotionsDir::new(data);
    let labels = read_labels(&files.labels)?;
    let base = super::network::open_base(model)?;
    let loaded = TrainableNetwork::load(&base, &labels, false)?;
    let tokenizer = TrainingTokenizer::from_folder(&base, options.max_len)?;
    let train = read_goemotions_split(
        &files.train,
        labels.len(),
        Some(options.steps * options.batch),
    )?;
    let dev = read_goemotions_split(&files.dev, labels.len(), Some(20))?;
    let train_ids = tokenizer.encode(&train.iter().map(|t| t.text.as_str()).collect::<Vec<_>>())?;
    let dev_ids = tokenizer.encode(&dev.iter().map(|t| t.text.as_str()).collect::<Vec<_>>())?;
    let mut trainer = Trainer::new(
        loaded.network,
        loaded.multi_label,
        labels.len(),
        Schedule::new(options.lr, options.steps, 0.06),
        AdamWConfig::default(),
        1.0,
    )?;
    let mut per_step = Vec::with_capacity(options.steps);
    for batch in super::batches::file_order_batches(train.len(), options.batch, options.steps) {
        let examples: Vec<Example<'_>> = batch
            .iter()
            .map(|&i| (train_ids[i].as_slice(), train[i].labels.as_slice()))
            .collect();
        per_step.push(trainer.step(&examples, false)?);
    }
    let dev_refs: Vec<&[i64]> = dev_ids.iter().map(Vec::as_slice).collect();
    let scores = trainer.scores(&dev_refs, 1)?;
    Ok(ReferenceRun {
        labels,
        per_step,
        scores_after: dev.into_iter().map(|t| t.text).zip(scores).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_model_dir;

    fn check(model: &str) {
        let dir = test_model_dir(model);
        let shared = dir.parent().and_then(Path::parent).expect("../shared");
        let path = shared
            .join("reference/finetune")
            .join(format!("{model}.json"));
        let reference: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("reference file")).expect("json");
        let options = ReferenceOptions {
            steps: reference["steps"].as_u64().expect("steps") as usize,
            batch: reference["batch"].as_u64().expect("batch") as usize,
            lr: reference["lr"].as_f64().expect("lr"),
            max_len: reference["max_len"].as_u64().expect("max_len") as usize,
        };
        let run = reference_run(&dir, &shared.join("data/goemotions/ekman"), options).expect("run");
        let steps = reference["per_step"].as_array().expect("per_step");
        assert_eq!(run.per_step.len(), steps.len());
        let relative = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-12);
        let (mut worst_loss, mut worst_norm) = (0f64, 0f64);
        for (i, (got, want)) in run.per_step.iter().zip(steps).enumerate() {
            let close = |a: f64, b: f64| relative(a, b) <= 1e-4;
            let (loss, norm) = (
                want["loss"].as_f64().expect("loss"),
                want["grad_norm"].as_f64().expect("norm"),
            );
            assert!(
                close(got.loss, loss),
                "{model} step {i}: loss {} vs {loss}",
                got.loss
            );
            assert!(
                close(got.grad_norm, norm),
                "{model} step {i}: grad norm {} vs {norm}",
                got.grad_norm
            );
            assert_eq!(
                got.lr,
                want["lr"].as_f64().expect("lr"),
                "{model} step {i}: lr"
            );
            worst_loss = worst_loss.max(relative(got.loss, loss));
            worst_norm = worst_norm.max(relative(got.grad_norm, norm));
        }
        let after = reference["scores_after"].as_array().expect("scores_after");
        assert_eq!(run.scores_after.len(), after.len());
        let mut worst = 0f64;
        for ((text, scores), want) in run.scores_after.iter().zip(after) {
            assert_eq!(text, want["text"].as_str().expect("text"));
            for (label, score) in run.labels.iter().zip(scores) {
                let expected = want["scores"][label].as_f64().expect("score");
                worst = worst.max((f64::from(*score) - expected).abs());
            }
        }
        eprintln!(
            "{model}: loss within {worst_loss:.1e} relative, gradient norm {worst_norm:.1e}, scores after {worst:.1e}"
        );
        assert!(
            worst <= 1e-4,
            "{model}: scores after the last step differ by up to {worst}"
        );
    }

    #[test]
    fn tiny_roberta_steps_match_the_reference() {
        check("tiny-roberta-emotion");
    }

    #[test]
    fn tiny_distilbert_steps_match_the_reference() {
        check("tiny-distilbert-emotion");
    }

    #[test]
    fn tiny_xlm_roberta_steps_match_the_reference() {
        check("tiny-xlm-roberta-emotion");
    }

    #[test]
    fn minilm_ekman_steps_match_the_reference() {
        check("emotion-minilm-ekman");
    }
}
