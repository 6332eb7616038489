//! The seven Ekman emotions as an enum, for models with that label set.

use std::fmt;
use std::str::FromStr;

/// Ekman's six basic emotions plus neutral: the label set of GoEmotions' Ekman taxonomy and of
/// most English emotion models.
///
/// A convenience only: [`EmotionScores`](crate::EmotionScores) works with any label set, and
/// [`EmotionScores::emotion`](crate::EmotionScores::emotion) returns `None` for a model without
/// the label.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    /// anger
    Anger,
    /// disgust
    Disgust,
    /// fear
    Fear,
    /// joy
    Joy,
    /// neutral
    Neutral,
    /// sadness
    Sadness,
    /// surprise
    Surprise,
}

impl Emotion {
    /// All seven, in alphabetical order (the order of the Ekman models' labels).
    pub const ALL: [Emotion; 7] = [
        Emotion::Anger,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Joy,
        Emotion::Neutral,
        Emotion::Sadness,
        Emotion::Surprise,
    ];

    /// The label as models spell it: lowercase English.
    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Anger => "anger",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Joy => "joy",
            Emotion::Neutral => "neutral",
            Emotion::Sadness => "sadness",
            Emotion::Surprise => "surprise",
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A label that is not one of the seven [`Emotion`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an Ekman emotion (anger, disgust, fear, joy, neutral, sadness, surprise)")]
pub struct UnknownEmotion(pub String);

impl FromStr for Emotion {
    type Err = UnknownEmotion;

    /// Parses a label case-insensitively.
    fn from_str(label: &str) -> Result<Self, Self::Err> {
        Emotion::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(label))
            .ok_or_else(|| UnknownEmotion(label.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_label() {
        for emotion in Emotion::ALL {
            assert_eq!(emotion.as_str().parse::<Emotion>(), Ok(emotion));
        }
        assert_eq!("JOY".parse::<Emotion>(), Ok(Emotion::Joy));
        assert_eq!(
            "admiration".parse::<Emotion>(),
            Err(UnknownEmotion("admiration".into()))
        );
    }

    #[test]
    fn serializes_as_its_label() {
        assert_eq!(
            serde_json::to_string(&Emotion::Sadness).unwrap(),
            "\"sadness\""
        );
    }
}
