//! What to do with texts longer than the model's window.

use crate::error::{Error, Result};

/// How texts longer than the model's maximum input are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongTexts {
    /// Keep the first window (with the special tokens); the rest is not read. As Python's
    /// `transformers` pipeline does. The default.
    #[default]
    Truncate,
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
            Self::Truncate => Ok(None),
            Self::Chunk { stride, .. } if stride + special < window => Ok(Some(stride)),
            Self::Chunk { .. } => Err(Error::InvalidOption {
                option: "long_texts stride",
                reason: "must leave room for new tokens in each window (stride + special tokens < the model's maximum input)",
            }),
        }
    }
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
        assert_eq!(
            LongTexts::chunk(128, Aggregate::Max).stride(512, 2).ok(),
            Some(Some(128))
        );
        assert!(LongTexts::chunk(510, Aggregate::Max)
            .stride(512, 2)
            .is_err());
    }
}
