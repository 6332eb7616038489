//! Configuring and building an [`EmotionClassifier`].

use crate::batch::BatchLimits;
use crate::error::{Error, Result};
use crate::source::ModelSource;

use super::EmotionClassifier;

/// Builds an [`EmotionClassifier`]; options are checked in [`build`](Self::build).
///
/// ```no_run
/// use emotion_classifier::{EmotionClassifier, ModelSource};
/// let classifier = EmotionClassifier::builder()
///     .model(ModelSource::dir("models/emotion-minilm-ekman"))
///     .max_batch_size(32)
///     .build()?;
/// # Ok::<(), emotion_classifier::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct EmotionClassifierBuilder {
    source: Option<ModelSource>,
    max_batch_size: Option<usize>,
    max_batch_tokens: Option<usize>,
    threads: Option<usize>,
}

impl EmotionClassifierBuilder {
    /// Starts with no model and default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model to load. Without one, [`build`](Self::build) uses `EMOTION_MODEL`.
    pub fn model(mut self, source: impl Into<ModelSource>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The most texts in one forward pass (default 64).
    pub fn max_batch_size(mut self, size: usize) -> Self {
        self.max_batch_size = Some(size);
        self
    }

    /// The most padded tokens (texts x longest text) in one forward pass (default 8,192).
    pub fn max_batch_tokens(mut self, tokens: usize) -> Self {
        self.max_batch_tokens = Some(tokens);
        self
    }

    /// libtorch's intra-op thread count. libtorch has one such setting per process, so this
    /// changes it for every classifier; by default it is left as libtorch chose (the number
    /// of physical cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Checks the options and loads the model.
    ///
    /// Loading reads and checks every file once; it costs about as much as reading the weights
    /// (well under a second for MiniLM).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for an option that cannot work, [`Error::NoModelConfigured`]
    /// without a model, and any loading error (missing or invalid files, tensors, labels).
    pub fn build(self) -> Result<EmotionClassifier> {
        let defaults = BatchLimits::default();
        let limits = BatchLimits::new(
            self.max_batch_size.unwrap_or(defaults.max_batch_size()),
            self.max_batch_tokens.unwrap_or(defaults.max_batch_tokens()),
        )?;
        let threads = match self.threads {
            Some(0) => {
                return Err(Error::InvalidOption {
                    option: "threads",
                    reason: "must be at least 1",
                })
            }
            Some(n) => Some(i32::try_from(n).map_err(|_| Error::InvalidOption {
                option: "threads",
                reason: "too large",
            })?),
            None => None,
        };
        let source = match self.source {
            Some(source) => source,
            None => ModelSource::from_env()?,
        };
        if let Some(threads) = threads {
            tch::set_num_threads(threads);
        }
        EmotionClassifier::load(&source, limits)
    }
}
