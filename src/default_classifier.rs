//! The lazily built classifier behind [`classify`].

use once_cell::sync::OnceCell;

use crate::error::Result;
use crate::{EmotionClassifier, EmotionScores};

static DEFAULT: OnceCell<EmotionClassifier> = OnceCell::new();

/// The process-wide default classifier, built on first use from `EMOTION_MODEL` (a model folder
/// or a hub id), or from the hub model [`DEFAULT_HUB_MODEL`](crate::DEFAULT_HUB_MODEL) when it is
/// unset.
///
/// The first call loads the model; later calls return the same classifier. If loading fails,
/// the error is returned and the next call tries again.
///
/// # Errors
/// Any error fetching or loading the model.
pub fn default_classifier() -> Result<&'static EmotionClassifier> {
    DEFAULT.get_or_try_init(|| EmotionClassifier::builder().build())
}

/// Classifies `text` with the [`default_classifier`].
///
/// # Errors
/// As [`default_classifier`] and [`EmotionClassifier::classify`].
pub fn classify(text: &str) -> Result<EmotionScores> {
    default_classifier()?.classify(text)
}
