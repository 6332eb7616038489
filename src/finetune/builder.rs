//! [`FineTune`] and its builder: what to train, on what, into where, and how.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::dataset::TrainingData;
use super::hyperparameters::Hyperparameters;
use super::report::{FineTuneEvent, FineTuneReport};
use crate::error::{Error, Result};
use crate::source::ModelSource;

/// Sets up a fine-tuning run; [`build`](Self::build) checks the settings.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct FineTuneBuilder {
    base: Option<ModelSource>,
    data: Option<TrainingData>,
    output: Option<PathBuf>,
    hyperparameters: Hyperparameters,
    threads: Option<usize>,
    overwrite: bool,
    resume: bool,
    single_label: Option<bool>,
    checkpoint_every: usize,
    stop: Option<Arc<AtomicBool>>,
}

/// A checked fine-tuning run, ready to [`run`](Self::run).
///
/// ```no_run
/// use std::path::Path;
/// use emotion_classifier::finetune::{FineTune, TrainingData};
///
/// # fn main() -> emotion_classifier::Result<()> {
/// let report = FineTune::builder()
///     .base(Path::new("models/minilm-l6-base"))
///     .data(TrainingData::goemotions("data/goemotions/ekman"))
///     .output("models/my-emotions")
///     .epochs(3)
///     .build()?
///     .run()?;
/// println!("best epoch {} (dev macro-F1 {:?})", report.best_epoch, report.best_dev_macro_f1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FineTune {
    pub(crate) base: ModelSource,
    pub(crate) data: TrainingData,
    pub(crate) output: PathBuf,
    pub(crate) partial: PathBuf,
    pub(crate) hyperparameters: Hyperparameters,
    pub(crate) threads: Option<usize>,
    pub(crate) overwrite: bool,
    pub(crate) resume: bool,
    /// `None`: inferred from the data (single-label when every training record has one).
    pub(crate) single_label: Option<bool>,
    pub(crate) checkpoint_every: usize,
    pub(crate) stop: Option<Arc<AtomicBool>>,
}

/// Steps between checkpoints, by default (and one at every epoch's end).
pub const DEFAULT_CHECKPOINT_EVERY: usize = 200;

impl FineTuneBuilder {
    /// A builder with the recipe's defaults ([`Hyperparameters::default`]).
    pub fn new() -> Self {
        Self {
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            ..Self::default()
        }
    }

    /// The model to start from: a base encoder without a head (a new head is made for the
    /// data's labels), or a classifier with the data's labels to keep training. Required.
    pub fn base(mut self, source: impl Into<ModelSource>) -> Self {
        self.base = Some(source.into());
        self
    }

    /// The labelled texts. Required.
    pub fn data(mut self, data: TrainingData) -> Self {
        self.data = Some(data);
        self
    }

    /// The model folder to write (it must not exist, unless [`overwrite`](Self::overwrite)).
    /// Required. The run works in `<output>.partial` beside it, renamed at the end.
    pub fn output(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output = Some(dir.into());
        self
    }

    /// Every setting at once.
    pub fn hyperparameters(mut self, hyperparameters: Hyperparameters) -> Self {
        self.hyperparameters = hyperparameters;
        self
    }

    /// The peak learning rate (default 8e-5).
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.hyperparameters.learning_rate = lr;
        self
    }

    /// Texts a batch (default 32).
    pub fn batch_size(mut self, texts: usize) -> Self {
        self.hyperparameters.batch_size = texts;
        self
    }

    /// Tokens a text is cut to (default 64).
    pub fn max_length(mut self, tokens: usize) -> Self {
        self.hyperparameters.max_length = tokens;
        self
    }

    /// Passes over the training texts (default 3).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.hyperparameters.epochs = epochs;
        self
    }

    /// The warm-up share of the steps (default 0.06).
    pub fn warmup_ratio(mut self, ratio: f64) -> Self {
        self.hyperparameters.warmup_ratio = ratio;
        self
    }

    /// AdamW's weight decay on matrices (default 0.01).
    pub fn weight_decay(mut self, decay: f64) -> Self {
        self.hyperparameters.weight_decay = decay;
        self
    }

    /// The gradient clipping norm (default 1.0).
    pub fn max_grad_norm(mut self, norm: f64) -> Self {
        self.hyperparameters.max_grad_norm = norm;
        self
    }

    /// The seed of the batch order and dropout (default 13).
    pub fn seed(mut self, seed: u64) -> Self {
        self.hyperparameters.seed = seed;
        self
    }

    /// The dev score threshold for a multi-label model's macro-F1 (default 0.3).
    pub fn eval_threshold(mut self, threshold: f32) -> Self {
        self.hyperparameters.eval_threshold = threshold;
        self
    }

    /// libtorch's intra-op threads (default: libtorch's own choice, the cores). Note that
    /// libtorch's thread count is process-wide.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Replaces an existing output folder, and throws away an interrupted run's checkpoint
    /// when not resuming (default false).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Continues the interrupted run in `<output>.partial` (default false). The settings,
    /// labels and data must be the run's; the result equals an uninterrupted run's.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// A new head learns one label per text with a softmax (cross-entropy) instead of
    /// independent sigmoids. By default the data decides, as transformers'
    /// `run_classification.py` does: single-label when every training record has exactly one
    /// label, else multi-label ([`FineTuneReport::multi_label`](super::FineTuneReport) and
    /// [`FineTuneEvent::Task`](super::FineTuneEvent::Task) say which). A kept head keeps its
    /// kind.
    pub fn single_label(mut self, single: bool) -> Self {
        self.single_label = Some(single);
        self
    }

    /// The opposite of [`single_label`](Self::single_label): `multi_label(true)` is
    /// `single_label(false)`.
    pub fn multi_label(mut self, multi: bool) -> Self {
        self.single_label = Some(!multi);
        self
    }

    /// Steps between checkpoints (default [`DEFAULT_CHECKPOINT_EVERY`]; one is also written
    /// at every epoch's end and when stopped).
    pub fn checkpoint_every(mut self, steps: usize) -> Self {
        self.checkpoint_every = steps;
        self
    }

    /// A flag that, once set (from a Ctrl-C handler, another thread, or the progress
    /// callback), stops the run before its next step, after writing a checkpoint. The run
    /// then returns [`FineTuneError::Stopped`](crate::FineTuneError::Stopped).
    pub fn stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming a missing or impossible setting.
    pub fn build(self) -> Result<FineTune> {
        let required = |option| Error::InvalidOption {
            option,
            reason: "is required",
        };
        let base = self.base.ok_or_else(|| required("base"))?;
        let data = self.data.ok_or_else(|| required("data"))?;
        let output = self.output.ok_or_else(|| required("output"))?;
        self.hyperparameters.validate()?;
        if self.threads == Some(0) {
            return Err(Error::InvalidOption {
                option: "threads",
                reason: "must be at least 1",
            });
        }
        if self.checkpoint_every == 0 {
            return Err(Error::InvalidOption {
                option: "checkpoint_every",
                reason: "must be at least 1",
            });
        }
        let partial = partial_dir(&output).ok_or(Error::InvalidOption {
            option: "output",
            reason: "must name a folder (a path ending in a name)",
        })?;
        Ok(FineTune {
            base,
            data,
            output,
            partial,
            hyperparameters: self.hyperparameters,
            threads: self.threads,
            overwrite: self.overwrite,
            resume: self.resume,
            single_label: self.single_label,
            checkpoint_every: self.checkpoint_every,
            stop: self.stop,
        })
    }
}

/// `<output>.partial`, beside the output folder (so the final rename stays on one
/// file system).
fn partial_dir(output: &Path) -> Option<PathBuf> {
    let name = output.file_name()?;
    let mut partial = name.to_owned();
    partial.push(".partial");
    Some(output.with_file_name(partial))
}

impl FineTune {
    /// A builder with the recipe's defaults.
    pub fn builder() -> FineTuneBuilder {
        FineTuneBuilder::new()
    }

    /// The folder the run works and checkpoints in, renamed to the output at the end.
    pub fn checkpoint_dir(&self) -> &Path {
        &self.partial
    }

    /// Trains, and writes the best epoch's model to the output folder.
    ///
    /// Costs about three times a forward pass per training text per epoch, plus a forward
    /// pass per dev text per epoch (see `docs/FINETUNING.md` for measured times).
    ///
    /// # Errors
    /// Settings and data errors before any training ([`crate::FineTuneError`] names the file,
    /// line, label or step); [`crate::FineTuneError::Stopped`] when the stop flag is set;
    /// [`crate::FineTuneError::NonFiniteLoss`]; libtorch and file errors.
    pub fn run(&self) -> Result<FineTuneReport> {
        self.run_with_progress(|_| {})
    }

    /// [`run`](Self::run), calling `progress` after every step, epoch and checkpoint.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn run_with_progress(
        &self,
        mut progress: impl FnMut(&FineTuneEvent),
    ) -> Result<FineTuneReport> {
        super::run::train(self, &mut progress).map(|(report, _)| report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(builder: FineTuneBuilder) -> &'static str {
        match builder.build() {
            Err(Error::InvalidOption { option, .. }) => option,
            other => panic!("expected InvalidOption, got {other:?}"),
        }
    }

    #[test]
    fn build_names_what_is_missing_or_impossible() {
        let data = TrainingData::goemotions("data");
        assert_eq!(option(FineTune::builder()), "base");
        assert_eq!(option(FineTune::builder().base(Path::new("m"))), "data");
        let ready = FineTune::builder()
            .base(Path::new("m"))
            .data(data)
            .output("out");
        assert_eq!(option(ready.clone().learning_rate(-1.0)), "learning_rate");
        assert_eq!(option(ready.clone().threads(0)), "threads");
        assert_eq!(
            option(ready.clone().checkpoint_every(0)),
            "checkpoint_every"
        );
        assert_eq!(option(ready.clone().output("/")), "output");
        let run = ready.output("models/out").build().expect("valid");
        assert_eq!(run.checkpoint_dir(), Path::new("models/out.partial"));
    }
}
