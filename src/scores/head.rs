//! [`Head`]: what every result of one classifier shares: the labels, the function that made
//! the scores, and each label's decision threshold.

use std::sync::Arc;

use crate::config::ScoreFunction;

/// The labels, function and thresholds behind a set of scores; one per classifier, shared
/// (`Arc`) by every [`EmotionScores`](super::EmotionScores) it returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Head {
    pub(crate) labels: Arc<[String]>,
    pub(crate) function: ScoreFunction,
    /// One per label: the score at or over which a label is decided (multi-label and raw).
    pub(crate) thresholds: Vec<f32>,
}

impl Head {
    /// `labels` scored by `function`, each label with the default threshold of `function`.
    pub(crate) fn new(labels: Arc<[String]>, function: ScoreFunction) -> Self {
        let thresholds = vec![default_threshold(function); labels.len()];
        Self {
            labels,
            function,
            thresholds,
        }
    }
}

/// The threshold a label has unless one is given: 0.5 for probabilities, 0.0 for raw values
/// (the logit at which a sigmoid gives 0.5).
pub(crate) fn default_threshold(function: ScoreFunction) -> f32 {
    if function.is_probability() {
        0.5
    } else {
        0.0
    }
}
