//! [`Thresholds`]: per-label decision thresholds, given on the builder or read from
//! `thresholds.json` beside the model, checked against the model's labels once, at load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::head::default_threshold;
use crate::config::ScoreFunction;
use crate::error::{Error, Result};

/// The file beside a model's `config.json` that the loader reads thresholds from, when it
/// exists: one JSON object from label to threshold, such as `{"joy": 0.31, "fear": 0.22}`.
/// `emotion-evaluate test.tsv --tune-on dev.tsv --write-thresholds DIR/thresholds.json` writes one.
pub const THRESHOLDS_FILE: &str = "thresholds.json";

/// Per-label decision thresholds: a label is decided
/// ([`EmotionScores::decided`](crate::EmotionScores::decided)) when its score is at or over
/// its threshold. Labels without one keep the default (0.5 for probabilities, 0.0 for raw
/// values).
///
/// Checked against the model when the classifier is built: every label must be the model's,
/// and every threshold a finite number, within `0..=1` where the scores are probabilities.
///
/// ```
/// use emotion_classifier::Thresholds;
/// let thresholds = Thresholds::new().with("joy", 0.31).with("fear", 0.22);
/// assert_eq!(thresholds.get("joy"), Some(0.31));
/// assert_eq!(serde_json::to_string(&thresholds)?, r#"{"fear":0.22,"joy":0.31}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[must_use]
pub struct Thresholds {
    by_label: BTreeMap<String, f32>,
}

impl Thresholds {
    /// No thresholds: every label keeps the default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `label`'s threshold (replacing any earlier one).
    pub fn with(mut self, label: impl Into<String>, threshold: f32) -> Self {
        self.by_label.insert(label.into(), threshold);
        self
    }

    /// Reads a `thresholds.json`-style file: one JSON object from label to threshold.
    ///
    /// # Errors
    /// [`Error::MissingFile`] or [`Error::Io`] when it cannot be read,
    /// [`Error::InvalidThresholdsFile`] when it is not such an object.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = crate::layout::read(path)?;
        serde_json::from_slice(&bytes).map_err(|source| Error::InvalidThresholdsFile {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes them as `thresholds.json` does: one JSON object, labels sorted.
    ///
    /// # Errors
    /// [`Error::Write`] when the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut json =
            serde_json::to_string_pretty(self).map_err(|source| Error::InvalidThresholdsFile {
                path: path.to_path_buf(),
                source,
            })?;
        json.push('\n');
        std::fs::write(path, json).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Per label, the threshold among 0.05, 0.10, ..., 0.95 with the best F1 on a labelled
    /// set (the lowest of equals): what `emotion-evaluate --tune-on dev.tsv` does. Row `i` of
    /// `scores` is text `i`'s probabilities in `labels`' order; `gold[i][l]` whether text `i`
    /// has label `l`. Costs 19 passes over the set per label: milliseconds for GoEmotions' dev
    /// split.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when the rows do not all have one entry per label, or
    /// `scores` and `gold` have different numbers of rows.
    pub fn tune<S: AsRef<[f32]>, G: AsRef<[bool]>>(
        labels: &[String],
        scores: &[S],
        gold: &[G],
    ) -> Result<Self> {
        let width = labels.len();
        let shaped = scores.len() == gold.len()
            && scores.iter().all(|s| s.as_ref().len() == width)
            && gold.iter().all(|g| g.as_ref().len() == width);
        if !shaped {
            return Err(Error::InvalidOption {
                option: "Thresholds::tune",
                reason:
                    "scores and gold need the same number of rows, each with one entry per label",
            });
        }
        let grid: Vec<f32> = (1..20).map(|i| i as f32 * 0.05).collect();
        Ok(labels
            .iter()
            .enumerate()
            .map(|(l, label)| {
                let mut best = (grid[0], -1.0);
                for &t in &grid {
                    let f1 = f1_at(scores, gold, l, t);
                    if f1 > best.1 + 1e-12 {
                        best = (t, f1);
                    }
                }
                (label.clone(), best.0)
            })
            .collect())
    }

    /// `label`'s threshold, if one is set.
    pub fn get(&self, label: &str) -> Option<f32> {
        self.by_label.get(label).copied()
    }

    /// Every label with a threshold, and its threshold, labels sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f32)> + '_ {
        self.by_label.iter().map(|(l, &t)| (l.as_str(), t))
    }

    /// How many labels have a threshold.
    pub fn len(&self) -> usize {
        self.by_label.len()
    }

    /// Whether no label has one.
    pub fn is_empty(&self) -> bool {
        self.by_label.is_empty()
    }

    /// One threshold per label of `labels`, in their order, for scores made by `function`;
    /// `origin` is the file they came from, for the errors.
    pub(crate) fn resolve(
        &self,
        labels: &[String],
        function: ScoreFunction,
        origin: Option<&Path>,
    ) -> Result<Vec<f32>> {
        let path = || origin.map(PathBuf::from);
        for (label, &value) in &self.by_label {
            if !labels.contains(label) {
                return Err(Error::UnknownThresholdLabel {
                    label: label.clone(),
                    path: path(),
                    labels: labels.to_vec(),
                });
            }
            let reason = if !value.is_finite() {
                Some("is not a finite number")
            } else if function.is_probability() && !(0.0..=1.0).contains(&value) {
                Some("is outside 0..=1, and the scores are probabilities")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::InvalidThreshold {
                    label: label.clone(),
                    value,
                    path: path(),
                    reason,
                });
            }
        }
        Ok(labels
            .iter()
            .map(|l| self.get(l).unwrap_or(default_threshold(function)))
            .collect())
    }
}

/// Label `l`'s F1 on the set when scores at or over `threshold` are decided.
fn f1_at<S: AsRef<[f32]>, G: AsRef<[bool]>>(
    scores: &[S],
    gold: &[G],
    l: usize,
    threshold: f32,
) -> f64 {
    let mut counts = crate::evaluation::Counts::default();
    for (s, g) in scores.iter().zip(gold) {
        counts.add(s.as_ref()[l] >= threshold, g.as_ref()[l]);
    }
    counts.f1()
}

impl<S: Into<String>> FromIterator<(S, f32)> for Thresholds {
    fn from_iter<I: IntoIterator<Item = (S, f32)>>(pairs: I) -> Self {
        Self {
            by_label: pairs.into_iter().map(|(l, t)| (l.into(), t)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["anger", "joy", "fear"].map(String::from).to_vec()
    }

    #[test]
    fn resolves_in_label_order_with_defaults() {
        let t = Thresholds::new().with("fear", 0.2).with("joy", 0.35);
        assert_eq!(
            t.resolve(&labels(), ScoreFunction::Sigmoid, None).unwrap(),
            [0.5, 0.35, 0.2]
        );
        let raw = Thresholds::new().with("anger", -1.5);
        assert_eq!(
            raw.resolve(&labels(), ScoreFunction::Raw, None).unwrap(),
            [-1.5, 0.0, 0.0]
        );
    }

    #[test]
    fn unknown_labels_and_bad_values_are_named() {
        let file = Path::new("m/thresholds.json");
        match Thresholds::new().with("love", 0.3).resolve(
            &labels(),
            ScoreFunction::Sigmoid,
            Some(file),
        ) {
            Err(e @ Error::UnknownThresholdLabel { .. }) => {
                let message = e.to_string();
                assert!(message.contains("\"love\""), "{message}");
                assert!(message.contains("m/thresholds.json"), "{message}");
                assert!(message.contains("anger, joy, fear"), "{message}");
            }
            other => panic!("expected UnknownThresholdLabel, got {other:?}"),
        }
        for (value, function) in [
            (1.5, ScoreFunction::Sigmoid),
            (-0.1, ScoreFunction::Softmax),
            (f32::NAN, ScoreFunction::Raw),
            (f32::INFINITY, ScoreFunction::Raw),
        ] {
            let got = Thresholds::new()
                .with("joy", value)
                .resolve(&labels(), function, None);
            assert!(
                matches!(&got, Err(Error::InvalidThreshold { label, .. }) if label == "joy"),
                "{value} {function}: {got:?}"
            );
        }
        // Raw values may be any finite number.
        assert!(Thresholds::new()
            .with("joy", 7.0)
            .resolve(&labels(), ScoreFunction::Raw, None)
            .is_ok());
    }

    #[test]
    fn tuning_picks_the_best_f1_and_checks_shapes() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let scores = vec![[0.9, 0.6], [0.32, 0.7], [0.28, 0.1], [0.1, 0.2]];
        let gold = vec![[true, false], [true, true], [false, false], [false, false]];
        let t = Thresholds::tune(&labels, &scores, &gold).unwrap();
        // a: any threshold in (0.28, 0.32] separates perfectly, 0.30 is the grid's first;
        // b: only 0.65 and 0.70 keep text 0 out and text 1 in.
        assert!((t.get("a").unwrap() - 0.30).abs() < 1e-6, "{t:?}");
        assert!((t.get("b").unwrap() - 0.65).abs() < 1e-6, "{t:?}");
        assert!(Thresholds::tune(&labels, &scores[..3], &gold).is_err());
        assert!(Thresholds::tune(&labels[..1], &scores, &gold).is_err());
    }

    #[test]
    fn file_round_trips_and_bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(THRESHOLDS_FILE);
        let t: Thresholds = [("joy", 0.31_f32), ("anger", 0.4)].into_iter().collect();
        t.write(&path).unwrap();
        assert_eq!(Thresholds::from_file(&path).unwrap(), t);
        std::fs::write(&path, r#"{"joy": "high"}"#).unwrap();
        assert!(matches!(
            Thresholds::from_file(&path),
            Err(Error::InvalidThresholdsFile { .. })
        ));
        assert!(matches!(
            Thresholds::from_file(&dir.path().join("none.json")),
            Err(Error::MissingFile { .. })
        ));
    }
}
