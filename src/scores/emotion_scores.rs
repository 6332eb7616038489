//! One text's scores over the model's labels.

use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Emotion;

/// A label and its probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelScore<'a> {
    /// The label, as the model's `id2label` spells it.
    pub label: &'a str,
    /// Its probability, in `[0, 1]`.
    pub score: f32,
}

/// Every label's probability for one text, in the model's label order.
///
/// Probabilities are sigmoids for multi-label models (each label on its own; several can be high)
/// and a softmax otherwise (they sum to 1). The label list is shared (`Arc`) by all the scores a
/// classifier returns, so cloning costs one allocation for the scores.
///
/// # JSON shape
/// Serialized as one object from label to probability, in the model's label order:
/// `{"anger":0.01,"disgust":0.002,"fear":0.001,"joy":0.97,...}`. This shape is stable.
/// Deserializing keeps the order of the object's keys and rejects an empty object.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionScores {
    labels: Arc<[String]>,
    scores: Vec<f32>,
}

impl EmotionScores {
    /// Pairs labels with their scores; `None` when the lengths differ or there is no label.
    pub fn new(labels: Arc<[String]>, scores: Vec<f32>) -> Option<Self> {
        (labels.len() == scores.len() && !labels.is_empty()).then_some(Self { labels, scores })
    }

    /// The label with the highest probability (the first of equals).
    pub fn top(&self) -> LabelScore<'_> {
        let mut best = 0;
        for (i, &score) in self.scores.iter().enumerate() {
            if score > self.scores[best] {
                best = i;
            }
        }
        self.at(best)
    }

    /// The probability of `label`, or `None` if the model has no such label.
    pub fn get(&self, label: &str) -> Option<f32> {
        let index = self.labels.iter().position(|l| l == label)?;
        Some(self.scores[index])
    }

    /// The probability of an Ekman [`Emotion`], or `None` if the model has no such label.
    pub fn emotion(&self, emotion: Emotion) -> Option<f32> {
        self.get(emotion.as_str())
    }

    /// Every label and its probability, in the model's label order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = LabelScore<'_>> + '_ {
        (0..self.scores.len()).map(|i| self.at(i))
    }

    /// Every label and its probability, highest first (ties keep label order).
    pub fn sorted(&self) -> Vec<LabelScore<'_>> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
        all
    }

    /// The labels whose probability is at least `threshold`, highest first: the labels a
    /// multi-label model assigns at that threshold.
    pub fn above(&self, threshold: f32) -> Vec<LabelScore<'_>> {
        let mut chosen = self.sorted();
        chosen.retain(|s| s.score >= threshold);
        chosen
    }

    /// The labels, in the model's order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The probabilities, in the model's label order.
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
            label: &self.labels[i],
            score: self.scores[i],
        }
    }
}

impl Serialize for EmotionScores {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for s in self.iter() {
            map.serialize_entry(s.label, &s.score)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for EmotionScores {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScoresVisitor;

        impl<'de> Visitor<'de> for ScoresVisitor {
            type Value = EmotionScores;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-empty map from label to probability")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
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
