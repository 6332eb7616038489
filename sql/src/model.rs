//! The classifier behind the functions: one already built, or one built on first use.
//!
//! A Ballista executor registers the functions when it starts but loads the model only when
//! its first task calls one, once per process; a scheduler plans with the labels from
//! `config.json` alone and never loads the weights.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use datafusion::common::{DataFusionError, Result};

use emotion_classifier::{EmotionClassifier, EmotionClassifierBuilder, ModelConfig, ModelSource};

/// Why the functions have no model: kept, and given to every call after a failed load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelLoadError {
    /// Building the classifier failed.
    #[error("emotion functions: loading the model in {dir} failed")]
    Load {
        /// The model folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: emotion_classifier::Error,
    },
    /// The weights' labels are not the labels `config.json` had when the functions were
    /// registered (the functions' output types were planned with those).
    #[error(
        "emotion functions: the model in {dir} has labels {loaded:?}, but its config.json had \
         {planned:?} when the functions were registered"
    )]
    LabelsChanged {
        /// The model folder.
        dir: PathBuf,
        /// The labels the query was planned with.
        planned: Vec<String>,
        /// The labels the loaded model has.
        loaded: Vec<String>,
    },
}

/// A classifier, ready or to be built on first use.
pub(super) enum SqlModel {
    Ready(Arc<EmotionClassifier>),
    Lazy(Box<LazyModel>),
}

/// The labels and config path now, the classifier on first use.
pub(super) struct LazyModel {
    config: ModelConfig,
    dir: PathBuf,
    /// Set to build from `dir`.
    builder: EmotionClassifierBuilder,
    classifier: OnceLock<std::result::Result<Arc<EmotionClassifier>, Arc<ModelLoadError>>>,
}

impl SqlModel {
    /// Reads the model's `config.json` (downloading a hub model's files first) and keeps
    /// `builder` to build the classifier on first use, from that same folder.
    pub(super) fn lazy(builder: EmotionClassifierBuilder) -> emotion_classifier::Result<Self> {
        let source = builder
            .source()
            .cloned()
            .unwrap_or_else(ModelSource::from_env);
        let dir = source.local_dir()?;
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        Ok(Self::Lazy(Box::new(LazyModel {
            config,
            builder: builder.model(dir.clone()),
            dir,
            classifier: OnceLock::new(),
        })))
    }

    pub(super) fn labels(&self) -> &[String] {
        match self {
            Self::Ready(classifier) => classifier.labels(),
            Self::Lazy(lazy) => lazy.config.labels(),
        }
    }

    pub(super) fn config_path(&self) -> &Path {
        match self {
            Self::Ready(classifier) => classifier.config().path(),
            Self::Lazy(lazy) => lazy.config.path(),
        }
    }

    /// Whether the classifier is built (always, unless lazy and not yet used or failed).
    pub(super) fn is_loaded(&self) -> bool {
        match self {
            Self::Ready(_) => true,
            Self::Lazy(lazy) => matches!(lazy.classifier.get(), Some(Ok(_))),
        }
    }

    /// The classifier, building it on the first call (other callers wait for that build). A
    /// failed build is remembered: every later call gets the same error.
    pub(super) fn classifier(&self) -> Result<&EmotionClassifier> {
        let lazy = match self {
            Self::Ready(classifier) => return Ok(classifier),
            Self::Lazy(lazy) => lazy,
        };
        let built = lazy.classifier.get_or_init(|| lazy.build());
        match built {
            Ok(classifier) => Ok(classifier),
            Err(error) => Err(DataFusionError::External(Box::new(error.clone()))),
        }
    }
}

impl LazyModel {
    fn build(&self) -> std::result::Result<Arc<EmotionClassifier>, Arc<ModelLoadError>> {
        let started = Instant::now();
        // Runs once (under the OnceLock); the builder is a few options, cheap to clone.
        let classifier = self.builder.clone().build().map_err(|source| {
            Arc::new(ModelLoadError::Load {
                dir: self.dir.clone(),
                source,
            })
        })?;
        if classifier.labels() != self.config.labels() {
            return Err(Arc::new(ModelLoadError::LabelsChanged {
                dir: self.dir.clone(),
                planned: self.config.labels().to_vec(),
                loaded: classifier.labels().to_vec(),
            }));
        }
        log::info!(
            "emotion functions: loaded the model in {} in {:.2} s",
            self.dir.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(Arc::new(classifier))
    }
}
