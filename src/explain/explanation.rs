//! [`Explanation`]: a text's scores and each word's attribution per label.

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::Word;
use crate::scores::EmotionScores;

/// Which words drove a text's scores: for each word and label, the text's score minus its score
/// with the word removed (occlusion). Positive: the word raised the label's score; negative: it
/// lowered it. Scores are in the classifier's units (probabilities, or raw values with
/// [`ScoreFunction::Raw`](crate::ScoreFunction::Raw)), and so are attributions.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    text: String,
    scores: EmotionScores,
    words: Vec<Word>,
    /// `attributions[w][l]`: word `w`'s attribution to label `l`.
    attributions: Vec<Vec<f32>>,
}

impl Explanation {
    /// An explanation of `text` from its scores and, for each word in order, its scores without
    /// that word.
    pub(crate) fn new(
        text: String,
        scores: EmotionScores,
        words: Vec<Word>,
        without: &[EmotionScores],
    ) -> Self {
        let attributions = without
            .iter()
            .map(|w| {
                scores
                    .scores()
                    .iter()
                    .zip(w.scores())
                    .map(|(full, less)| full - less)
                    .collect()
            })
            .collect();
        Self {
            text,
            scores,
            words,
            attributions,
        }
    }

    /// The text explained.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text's scores.
    pub fn scores(&self) -> &EmotionScores {
        &self.scores
    }

    /// Its words, in order, with their spans in [`text`](Self::text).
    pub fn words(&self) -> &[Word] {
        &self.words
    }

    /// Word `word`'s attribution to every label, in the model's label order.
    pub fn word_attributions(&self, word: usize) -> Option<&[f32]> {
        self.attributions.get(word).map(Vec::as_slice)
    }

    /// Every word's attribution to `label`, in word order; `None` if the model has no such
    /// label.
    pub fn for_label(&self, label: &str) -> Option<Vec<f32>> {
        let l = self.scores.labels().iter().position(|x| x == label)?;
        Some(self.attributions.iter().map(|a| a[l]).collect())
    }

    /// The words that raised `label` most first: `(word index, attribution)`, highest
    /// attribution first (ties keep word order); `None` if the model has no such label.
    pub fn ranked(&self, label: &str) -> Option<Vec<(usize, f32)>> {
        let mut ranked: Vec<(usize, f32)> =
            self.for_label(label)?.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        Some(ranked)
    }
}

/// `{"text":..., "scores":{label: score}, "words":[{"word":..., "bytes":[s,e], "chars":[s,e],
/// "attributions":{label: value}}]}`.
impl Serialize for Explanation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct WordOut<'a> {
            word: &'a str,
            bytes: [usize; 2],
            chars: [usize; 2],
            attributions: LabelMap<'a>,
        }
        let words: Vec<WordOut> = self
            .words
            .iter()
            .zip(&self.attributions)
            .map(|(w, a)| WordOut {
                word: w.in_text(&self.text),
                bytes: [w.bytes.start, w.bytes.end],
                chars: [w.chars.start, w.chars.end],
                attributions: LabelMap(self.scores.labels(), a),
            })
            .collect();
        let mut s = serializer.serialize_struct("Explanation", 3)?;
        s.serialize_field("text", &self.text)?;
        s.serialize_field("scores", &self.scores)?;
        s.serialize_field("words", &words)?;
        s.end()
    }
}

/// Labels and values as one JSON object, in label order.
struct LabelMap<'a>(&'a [String], &'a [f32]);

impl Serialize for LabelMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (label, value) in self.0.iter().zip(self.1) {
            map.serialize_entry(label, value)?;
        }
        map.end()
    }
}
