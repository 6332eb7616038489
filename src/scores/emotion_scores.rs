//! One text's scores over the model's labels.

use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::head::Head;
use super::Emotion;
use crate::config::ScoreFunction;
use crate::error::{Error, Result};

/// A label and its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelScore<'a> {
    /// The label, as the model's `id2label` spells it.
    pub label: &'a str,
    /// Its score: a probability in `[0, 1]`, or a raw value (see [`EmotionScores::function`]).
    pub score: f32,
}

/// Every label's score for one text, in the model's label order.
///
/// # What the scores are
/// The classifier applies the function transformers' text-classification pipeline applies
/// ([`function`](Self::function)):
/// - [`ScoreFunction::Sigmoid`] for multi-label models and one-label models: independent
///   probabilities, several can be high;
/// - [`ScoreFunction::Softmax`] for other classifiers: probabilities that sum to 1;
/// - [`ScoreFunction::Raw`] for regression models (valence, arousal, dominance, ...), or when
///   the builder asks for raw scores: the model's outputs as they are, **not probabilities**,
///   any real number.
///
/// [`function`](Self::function) (or [`is_probability`](Self::is_probability)) tells them
/// apart; the JSON does not (below). [`logits`](Self::logits) gives the raw outputs whatever
/// the function.
///
/// # Decisions
/// [`top`](Self::top), [`top_k`](Self::top_k) and [`sorted`](Self::sorted) rank;
/// [`above`](Self::above) applies one threshold to every label; [`decided`](Self::decided) gives the
/// labels the model decides on, with the classifier's per-label
/// [thresholds](crate::EmotionClassifierBuilder::thresholds).
///
/// The label list, function and thresholds are shared (`Arc`) by all the scores a classifier
/// returns, so cloning costs the allocations for the scores and logits.
///
/// # JSON shape
/// Serialized as one object from label to score, in the model's label order:
/// `{"anger":0.01,"disgust":0.002,"fear":0.001,"joy":0.97,...}`. This shape is stable, and the
/// same for every function: the values are whatever [`scores`](Self::scores) holds, so a
/// reader must know from the model (or [`function`](Self::function) before serializing)
/// whether they are probabilities. Deserializing keeps the order of the object's keys, rejects
/// an empty object, and gives scores as [`new`](Self::new) does.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionScores {
    head: Arc<Head>,
    scores: Vec<f32>,
    logits: Option<Vec<f32>>,
    truncated: bool,
    /// The whole text fit in one window: these scores are the same however long texts are
    /// treated (cut, refused, chunked), so any call may take them from the cache.
    fits: bool,
}

impl EmotionScores {
    /// Pairs labels with their scores, taken to be sigmoid probabilities (as a multi-label
    /// model's; [`with_function`](Self::with_function) says otherwise), without logits or
    /// thresholds; `None` when the lengths differ or there is no label.
    pub fn new(labels: Arc<[String]>, scores: Vec<f32>) -> Option<Self> {
        (labels.len() == scores.len() && !labels.is_empty()).then(|| Self {
            head: Arc::new(Head::new(labels, ScoreFunction::Sigmoid)),
            scores,
            logits: None,
            truncated: false,
            fits: true,
        })
    }

    /// The same scores, said to come from `function` (with its default thresholds).
    #[must_use]
    pub fn with_function(self, function: ScoreFunction) -> Self {
        Self {
            head: Arc::new(Head::new(Arc::clone(&self.head.labels), function)),
            ..self
        }
    }

    /// What the classifier builds: the scores and logits of one text under `head`, from
    /// `windows` windows (one unless chunked).
    pub(crate) fn from_head(
        head: Arc<Head>,
        scores: Vec<f32>,
        logits: Vec<f32>,
        truncated: bool,
        windows: usize,
    ) -> Option<Self> {
        (head.labels.len() == scores.len() && scores.len() == logits.len() && !scores.is_empty())
            .then_some(Self {
                head,
                scores,
                logits: Some(logits),
                truncated,
                fits: !truncated && windows == 1,
            })
    }

    /// Whether the whole text fit in one window (neither cut nor chunked).
    pub(crate) fn fits(&self) -> bool {
        self.fits
    }

    /// The label with the highest score (the first of equals).
    pub fn top(&self) -> LabelScore<'_> {
        let mut best = 0;
        for (i, &score) in self.scores.iter().enumerate() {
            if score > self.scores[best] {
                best = i;
            }
        }
        self.at(best)
    }

    /// The `k` labels with the highest scores, highest first (ties keep label order); all of
    /// them when `k` is at least the number of labels. As the pipeline's `top_k`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when `k` is 0.
    pub fn top_k(&self, k: usize) -> Result<Vec<LabelScore<'_>>> {
        if k == 0 {
            return Err(Error::InvalidOption {
                option: "top_k",
                reason: "must be at least 1",
            });
        }
        let mut sorted = self.sorted();
        sorted.truncate(k);
        Ok(sorted)
    }

    /// The score of `label`, or `None` if the model has no such label.
    pub fn get(&self, label: &str) -> Option<f32> {
        let index = self.head.labels.iter().position(|l| l == label)?;
        Some(self.scores[index])
    }

    /// The score of an Ekman [`Emotion`], or `None` if the model has no such label.
    pub fn emotion(&self, emotion: Emotion) -> Option<f32> {
        self.get(emotion.as_str())
    }

    /// Every label and its score, in the model's label order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = LabelScore<'_>> + '_ {
        (0..self.scores.len()).map(|i| self.at(i))
    }

    /// Every label and its score, highest first (ties keep label order).
    pub fn sorted(&self) -> Vec<LabelScore<'_>> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
        all
    }

    /// The labels whose score is at least `threshold`, highest first: for a multi-label
    /// model, the labels it assigns at that one threshold. The threshold is in the scores'
    /// own units: a probability, or a raw value when [`is_probability`](Self::is_probability)
    /// is `false`. [`decided`](Self::decided) uses per-label thresholds instead.
    pub fn above(&self, threshold: f32) -> Vec<LabelScore<'_>> {
        let mut chosen = self.sorted();
        chosen.retain(|s| s.score >= threshold);
        chosen
    }

    /// The labels the text is decided to have, highest first:
    /// - with a softmax, the one label with the highest probability (the argmax), as a
    ///   single-label classifier decides;
    /// - otherwise (sigmoid or raw), every label at or over its own threshold
    ///   ([`thresholds`](Self::thresholds)); possibly none.
    pub fn decided(&self) -> Vec<LabelScore<'_>> {
        if self.head.function == ScoreFunction::Softmax {
            return vec![self.top()];
        }
        let mut chosen = self.sorted();
        chosen.retain(|s| {
            let i = self.index_of(s.label);
            s.score >= self.head.thresholds[i]
        });
        chosen
    }

    /// Each label's decision threshold, in the model's label order: the classifier's
    /// [`thresholds`](crate::EmotionClassifierBuilder::thresholds) or `thresholds.json`, and
    /// for labels without one 0.5 (probabilities) or 0.0 (raw values).
    pub fn thresholds(&self) -> &[f32] {
        &self.head.thresholds
    }

    /// The function that turned the logits into these scores.
    pub fn function(&self) -> ScoreFunction {
        self.head.function
    }

    /// Whether the scores are probabilities: `false` for raw values ([`ScoreFunction::Raw`]).
    pub fn is_probability(&self) -> bool {
        self.head.function.is_probability()
    }

    /// The model's raw outputs (logits), in the model's label order, whatever the function;
    /// `None` for scores built with [`new`](Self::new) or read from JSON. For a text chunked
    /// into windows ([`LongTexts::Chunk`](crate::LongTexts::Chunk)), the windows' logits
    /// combined as their scores are.
    pub fn logits(&self) -> Option<&[f32]> {
        self.logits.as_deref()
    }

    /// Whether the text was longer than the model takes and was cut to fit
    /// ([`LongTexts::Truncate`](crate::LongTexts::Truncate)): these scores then describe only
    /// the part that was kept. Always `false` for chunked texts (every token was read).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The labels, in the model's order.
    pub fn labels(&self) -> &[String] {
        &self.head.labels
    }

    /// The scores, in the model's label order.
    pub fn scores(&self) -> &[f32] {
        &self.scores
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Always `false`: scores have at least one label.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    fn at(&self, i: usize) -> LabelScore<'_> {
        LabelScore {
            label: &self.head.labels[i],
            score: self.scores[i],
        }
    }

    fn index_of(&self, label: &str) -> usize {
        self.head
            .labels
            .iter()
            .position(|l| l == label)
            .unwrap_or(0)
    }
}

impl Serialize for EmotionScores {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for s in self.iter() {
            map.serialize_entry(s.label, &s.score)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for EmotionScores {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct ScoresVisitor;

        impl<'de> Visitor<'de> for ScoresVisitor {
            type Value = EmotionScores;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-empty map from label to score")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut labels = Vec::new();
                let mut scores = Vec::new();
                while let Some((label, score)) = map.next_entry::<String, f32>()? {
                    if labels.contains(&label) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate label {label:?}"
                        )));
                    }
                    labels.push(label);
                    scores.push(score);
                }
                EmotionScores::new(labels.into(), scores)
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))
            }
        }

        deserializer.deserialize_map(ScoresVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(pairs: &[(&str, f32)]) -> EmotionScores {
        let labels: Vec<String> = pairs.iter().map(|(l, _)| l.to_string()).collect();
        EmotionScores::new(labels.into(), pairs.iter().map(|p| p.1).collect()).unwrap()
    }

    #[test]
    fn top_lookup_and_order() {
        let s = scores(&[
            ("anger", 0.1),
            ("joy", 0.7),
            ("sadness", 0.3),
            ("fear", 0.7),
        ]);
        assert_eq!(
            s.top(),
            LabelScore {
                label: "joy",
                score: 0.7
            }
        );
        assert_eq!(s.get("sadness"), Some(0.3));
        assert_eq!(s.get("love"), None);
        assert_eq!(s.emotion(Emotion::Anger), Some(0.1));
        assert_eq!(s.emotion(Emotion::Surprise), None);
        let in_order: Vec<&str> = s.iter().map(|x| x.label).collect();
        assert_eq!(in_order, ["anger", "joy", "sadness", "fear"]);
        let sorted: Vec<&str> = s.sorted().iter().map(|x| x.label).collect();
        assert_eq!(sorted, ["joy", "fear", "sadness", "anger"]);
        let above: Vec<&str> = s.above(0.3).iter().map(|x| x.label).collect();
        assert_eq!(above, ["joy", "fear", "sadness"]);
        assert!(s.above(0.9).is_empty());
    }

    #[test]
    fn top_k_ranks_and_refuses_zero() {
        let s = scores(&[("a", 0.1), ("b", 0.7), ("c", 0.3)]);
        let two: Vec<&str> = s.top_k(2).unwrap().iter().map(|x| x.label).collect();
        assert_eq!(two, ["b", "c"]);
        assert_eq!(s.top_k(10).unwrap().len(), 3);
        assert!(matches!(
            s.top_k(0),
            Err(Error::InvalidOption {
                option: "top_k",
                ..
            })
        ));
    }

    #[test]
    fn decided_is_argmax_for_softmax_and_thresholds_otherwise() {
        let s = scores(&[("a", 0.45), ("b", 0.55), ("c", 0.5)]);
        assert_eq!(s.function(), ScoreFunction::Sigmoid);
        let sigmoid: Vec<&str> = s.decided().iter().map(|x| x.label).collect();
        assert_eq!(sigmoid, ["b", "c"]);
        let softmax = s.clone().with_function(ScoreFunction::Softmax);
        let argmax: Vec<&str> = softmax.decided().iter().map(|x| x.label).collect();
        assert_eq!(argmax, ["b"]);
        let raw = scores(&[("v", -0.5), ("a", 0.0), ("d", 2.0)]).with_function(ScoreFunction::Raw);
        assert!(!raw.is_probability());
        assert_eq!(raw.thresholds(), [0.0, 0.0, 0.0]);
        let positive: Vec<&str> = raw.decided().iter().map(|x| x.label).collect();
        assert_eq!(positive, ["d", "a"]);
        let head = Arc::new(Head {
            labels: s.labels().to_vec().into(),
            function: ScoreFunction::Sigmoid,
            thresholds: vec![0.4, 0.6, 0.9],
        });
        let tuned =
            EmotionScores::from_head(head, s.scores().to_vec(), vec![0.0; 3], true, 1).unwrap();
        let decided: Vec<&str> = tuned.decided().iter().map(|x| x.label).collect();
        assert_eq!(decided, ["a"]);
        assert!(tuned.truncated() && !tuned.fits());
        assert_eq!(tuned.logits(), Some(&[0.0, 0.0, 0.0][..]));
        assert_eq!(s.logits(), None);
    }

    #[test]
    fn new_rejects_mismatched_or_empty() {
        assert!(EmotionScores::new(vec!["a".to_string()].into(), vec![]).is_none());
        assert!(EmotionScores::new(Vec::<String>::new().into(), vec![]).is_none());
    }

    #[test]
    fn json_is_a_map_in_label_order_and_round_trips() {
        let s = scores(&[("surprise", 0.25), ("anger", 0.5)]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"surprise":0.25,"anger":0.5}"#);
        let back: EmotionScores = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn json_rejects_empty_and_duplicates() {
        assert!(serde_json::from_str::<EmotionScores>("{}").is_err());
        let dup = serde_json::from_str::<EmotionScores>(r#"{"a":0.1,"a":0.2}"#);
        assert!(dup.unwrap_err().to_string().contains("duplicate"));
    }
}
