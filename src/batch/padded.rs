//! Right-padding a batch of token ids, with its attention mask.

/// Token ids of several texts padded to the longest, row-major, with a mask of real tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaddedBatch {
    pub(crate) ids: Vec<i64>,
    pub(crate) mask: Vec<i64>,
    pub(crate) rows: usize,
    pub(crate) columns: usize,
}

impl PaddedBatch {
    /// Pads `sequences` on the right with `pad_id`; the mask is 1 on real tokens, 0 on padding.
    pub(crate) fn new<S: AsRef<[u32]>>(sequences: &[S], pad_id: i64) -> Self {
        let rows = sequences.len();
        let columns = sequences
            .iter()
            .map(|s| s.as_ref().len())
            .max()
            .unwrap_or(0);
        let mut ids = Vec::with_capacity(rows * columns);
        let mut mask = Vec::with_capacity(rows * columns);
        for sequence in sequences {
            let sequence = sequence.as_ref();
            ids.extend(sequence.iter().map(|&id| i64::from(id)));
            mask.extend(std::iter::repeat_n(1, sequence.len()));
            let padding = columns - sequence.len();
            ids.extend(std::iter::repeat_n(pad_id, padding));
            mask.extend(std::iter::repeat_n(0, padding));
        }
        Self {
            ids,
            mask,
            rows,
            columns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_right_and_masks_padding() {
        let batch = PaddedBatch::new(&[vec![101, 7, 102], vec![101, 102]], 0);
        assert_eq!((batch.rows, batch.columns), (2, 3));
        assert_eq!(batch.ids, [101, 7, 102, 101, 102, 0]);
        assert_eq!(batch.mask, [1, 1, 1, 1, 1, 0]);
    }

    #[test]
    fn uses_the_models_pad_id() {
        let batch = PaddedBatch::new(&[vec![0, 5, 2], vec![0, 2]], 1);
        assert_eq!(batch.ids, [0, 5, 2, 0, 2, 1]);
    }
}
