//! What to do with texts longer than the model's window: cut them (at the end or the start),
//! refuse them, or classify them window by window.

use crate::error::{Error, Result};

/// How texts longer than the model's maximum input are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongTexts {
    /// Keep the first window (with the special tokens); the rest is not read. As Python's
    /// `transformers` pipeline does. The default.
    /// The side that is cut is [`TruncationSide`] (the end, by default).
    #[default]
    Truncate,
    /// Refuse the text: it gets [`Error::TooLong`], naming its token count and the limit,
    /// instead of scores for part of it (other texts of the call are not affected). For a
    /// caller that must not score what it did not read.
    Reject,
    /// Classify every window of the model's maximum length, consecutive windows sharing
    /// `stride` tokens, and aggregate their probabilities per label. Costs one forward row per
    /// window.
    Chunk {
        /// Tokens shared by consecutive windows.
        stride: usize,
        /// How the windows' probabilities combine.
        aggregate: Aggregate,
    },
}

/// How the probabilities of a long text's windows combine, label by label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregate {
    /// The mean over windows: the text's overall tone.
    #[default]
    Mean,
    /// The maximum over windows: whether the emotion appears anywhere.
    Max,
}

impl LongTexts {
    /// Chunked windows sharing `stride` tokens, aggregated by `aggregate`.
    pub fn chunk(stride: usize, aggregate: Aggregate) -> Self {
        Self::Chunk { stride, aggregate }
    }

    /// The overlap to ask the tokenizer for, checked against a window of `window` tokens of which
    /// `special` are special tokens.
    pub(crate) fn stride(self, window: usize, special: usize) -> Result<Option<usize>> {
        match self {
            Self::Truncate | Self::Reject => Ok(None),
            Self::Chunk { stride, .. } if stride + special < window => Ok(Some(stride)),
            Self::Chunk { .. } => Err(Error::InvalidOption {
                option: "long_texts stride",
                reason: "must leave room for new tokens in each window (stride + special tokens < the model's maximum input)",
            }),
        }
    }
}

/// Which end of a long text [`LongTexts::Truncate`] cuts (transformers' `truncation_side`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum TruncationSide {
    /// Keep the start, cut the end: the default, as transformers does.
    #[default]
    #[serde(alias = "right")]
    Right,
    /// Keep the end, cut the start: for texts whose last words matter most (a chat's latest
    /// turn, a review's conclusion).
    #[serde(alias = "left")]
    Left,
}

impl From<TruncationSide> for tokenizers::TruncationDirection {
    fn from(side: TruncationSide) -> Self {
        match side {
            TruncationSide::Right => Self::Right,
            TruncationSide::Left => Self::Left,
        }
    }
}

/// How one call treats texts longer than the model takes: what [`LongTexts`] to apply, and
/// which side a truncation cuts. The classifier's own comes from its builder
/// ([`long_texts`](crate::EmotionClassifierBuilder::long_texts),
/// [`truncation_side`](crate::EmotionClassifierBuilder::truncation_side));
/// [`classify_each_with`](crate::EmotionClassifier::classify_each_with) takes another for one
/// call (as a server does for a request's `truncate` and `truncation_direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Truncation {
    /// Cut, refuse or chunk.
    pub long_texts: LongTexts,
    /// Which end a cut removes (also where chunking starts counting windows).
    pub side: TruncationSide,
}

impl Aggregate {
    /// Combines rows of probabilities (one per window, all of the same length).
    pub(crate) fn combine(self, windows: &[Vec<f32>]) -> Vec<f32> {
        let Some(first) = windows.first() else {
            return Vec::new();
        };
        let mut out = first.clone();
        for row in &windows[1..] {
            for (o, &x) in out.iter_mut().zip(row) {
                match self {
                    Self::Mean => *o += x,
                    Self::Max => *o = o.max(x),
                }
            }
        }
        if self == Self::Mean {
            let n = windows.len() as f32;
            out.iter_mut().for_each(|o| *o /= n);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_max_combine_label_by_label() {
        let rows = vec![vec![0.2, 0.9], vec![0.6, 0.1]];
        let mean = Aggregate::Mean.combine(&rows);
        assert!((mean[0] - 0.4).abs() < 1e-6 && (mean[1] - 0.5).abs() < 1e-6);
        assert_eq!(Aggregate::Max.combine(&rows), vec![0.6, 0.9]);
        assert_eq!(Aggregate::Max.combine(&rows[..1]), rows[0]);
    }

    #[test]
    fn stride_must_leave_room() {
        assert_eq!(LongTexts::Truncate.stride(512, 2).ok(), Some(None));
        assert_eq!(LongTexts::Reject.stride(512, 2).ok(), Some(None));
        assert_eq!(
            LongTexts::chunk(128, Aggregate::Max).stride(512, 2).ok(),
            Some(Some(128))
        );
        assert!(LongTexts::chunk(510, Aggregate::Max)
            .stride(512, 2)
            .is_err());
    }
}
