//! One training step (forward, loss, backward, clipping, AdamW at the schedule's rate), and
//! the scores of the model as it stands.

use std::time::{Duration, Instant};

use tch::{Kind, Reduction, Tensor};

use super::adamw::{clip_grad_norm, AdamW, AdamWConfig};
use super::batches::pad;
use super::error::FineTuneError;
use super::network::TrainableNetwork;
use super::schedule::Schedule;
use crate::error::Result;

/// What one step measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// The batch's mean loss, before the update.
    pub loss: f64,
    /// The gradients' global L2 norm, before clipping.
    pub grad_norm: f64,
    /// The learning rate the update used.
    pub lr: f64,
}

/// A network with its optimizer and schedule.
pub(crate) struct Trainer {
    network: TrainableNetwork,
    optimizer: AdamW,
    schedule: Schedule,
    multi_label: bool,
    labels: usize,
    max_grad_norm: f64,
    step: usize,
    times: PhaseTimes,
}

/// Where training time went, summed over the steps of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct PhaseTimes {
    /// Building the batch's tensors and the forward pass with its loss.
    pub(crate) forward: Duration,
    /// The backward pass.
    pub(crate) backward: Duration,
    /// Clipping and the AdamW update.
    pub(crate) optimizer: Duration,
}

/// One text of a batch: its token ids and its label ids.
pub(crate) type Example<'a> = (&'a [i64], &'a [usize]);

impl Trainer {
    pub(crate) fn new(
        network: TrainableNetwork,
        multi_label: bool,
        labels: usize,
        schedule: Schedule,
        adamw: AdamWConfig,
        max_grad_norm: f64,
    ) -> Result<Self> {
        let optimizer = AdamW::new(adamw, network.parameters())?;
        Ok(Self {
            network,
            optimizer,
            schedule,
            multi_label,
            labels,
            max_grad_norm,
            step: 0,
            times: PhaseTimes::default(),
        })
    }

    /// The network.
    pub(crate) fn network(&self) -> &TrainableNetwork {
        &self.network
    }

    /// Where this process's steps spent their time.
    pub(crate) fn times(&self) -> PhaseTimes {
        self.times
    }

    /// The optimizer (its moments are part of a checkpoint).
    pub(crate) fn optimizer(&self) -> &AdamW {
        &self.optimizer
    }

    /// Continues from a checkpoint: `step` steps made, the optimizer's moments and count.
    pub(crate) fn restore(
        &mut self,
        step: usize,
        moments: &[(Tensor, Tensor)],
        updates: u64,
    ) -> Result<()> {
        self.optimizer.restore(moments, updates)?;
        self.step = step;
        Ok(())
    }

    fn inputs(&self, texts: &[&[i64]]) -> Result<(Tensor, Tensor)> {
        let (ids, mask, longest) = pad(texts, self.network.pad_token_id());
        let shape = [texts.len() as i64, longest as i64];
        Ok((
            Tensor::from_slice(&ids).f_reshape(shape)?,
            Tensor::from_slice(&mask).f_reshape(shape)?,
        ))
    }

    fn targets(&self, batch: &[Example<'_>]) -> Result<Tensor> {
        if self.multi_label {
            let mut y = vec![0f32; batch.len() * self.labels];
            for (row, (_, ids)) in batch.iter().enumerate() {
                for &id in *ids {
                    y[row * self.labels + id] = 1.0;
                }
            }
            Ok(Tensor::from_slice(&y).f_reshape([batch.len() as i64, self.labels as i64])?)
        } else {
            let y: Vec<i64> = batch
                .iter()
                .map(|(_, ids)| ids.first().map_or(0, |&id| id as i64))
                .collect();
            Ok(Tensor::from_slice(&y))
        }
    }

    /// One update on `batch`, with dropout when `train` (the reference run has none).
    ///
    /// # Errors
    /// [`FineTuneError::NonFiniteLoss`] (nothing is updated), or a libtorch or model error.
    pub(crate) fn step(&mut self, batch: &[Example<'_>], train: bool) -> Result<StepRecord> {
        let started = Instant::now();
        let lr = self.schedule.at(self.step);
        let texts: Vec<&[i64]> = batch.iter().map(|(ids, _)| *ids).collect();
        let (ids, mask) = self.inputs(&texts)?;
        let targets = self.targets(batch)?;
        for (_, parameter) in self.network.parameters() {
            let mut grad = parameter.grad();
            if grad.defined() {
                let _ = grad.f_zero_()?;
            }
        }
        let logits = self.network.logits(&ids, &mask, train)?;
        let loss = if self.multi_label {
            logits.f_binary_cross_entropy_with_logits::<Tensor>(
                &targets,
                None,
                None,
                Reduction::Mean,
            )?
        } else {
            logits
                .f_log_softmax(-1, Kind::Float)?
                .f_nll_loss::<Tensor>(&targets, None, Reduction::Mean, -100)?
        };
        let value = loss.f_double_value(&[])?;
        if !value.is_finite() {
            return Err(FineTuneError::NonFiniteLoss {
                step: self.step,
                loss: value,
            }
            .into());
        }
        let forward_done = Instant::now();
        loss.f_backward()?;
        let backward_done = Instant::now();
        let grad_norm = clip_grad_norm(self.network.parameters(), self.max_grad_norm)?;
        self.optimizer.update(self.network.parameters(), lr)?;
        self.step += 1;
        self.times.forward += forward_done - started;
        self.times.backward += backward_done - forward_done;
        self.times.optimizer += backward_done.elapsed();
        Ok(StepRecord {
            loss: value,
            grad_norm,
            lr,
        })
    }

    /// Scores (sigmoid or softmax, as the model learns) of `texts`, without dropout, in
    /// batches of `batch` padded texts.
    pub(crate) fn scores(&self, texts: &[&[i64]], batch: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        tch::no_grad(|| -> Result<()> {
            for chunk in texts.chunks(batch.max(1)) {
                let (ids, mask) = self.inputs(chunk)?;
                let logits = self
                    .network
                    .logits(&ids, &mask, false)?
                    .f_to_kind(Kind::Float)?;
                let scores = if self.multi_label {
                    logits.f_sigmoid()?
                } else {
                    logits.f_softmax(-1, Kind::Float)?
                };
                let rows: Vec<Vec<f32>> = scores.try_into()?;
                out.extend(rows);
            }
            Ok(())
        })?;
        Ok(out)
    }
}
