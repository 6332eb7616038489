//! A forward pass's texts as one run of token ids with offsets: what the worker hands an engine.
//!
//! The worker knows every text's length, so it passes lengths, not a mask: `offsets` are the
//! cumulative lengths (text-embeddings-inference's `cumulative_seq_lengths`), text `i` being
//! `ids[offsets[i]..offsets[i + 1]]`. The fused encoder runs on the real tokens as they are; a
//! network that wants a padded batch with a mask (rust-bert's, DeBERTa-v2) pads it itself with
//! [`TokenBatch::padded`].

use super::padded::PaddedBatch;

/// The token ids of several texts, one after the other, and where each text starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenBatch {
    ids: Vec<u32>,
    /// `rows + 1` offsets into `ids`, from 0 to `ids.len()`, non-decreasing.
    offsets: Vec<usize>,
}

impl TokenBatch {
    /// The texts' ids, concatenated.
    pub(crate) fn new<S: AsRef<[u32]>>(sequences: &[S]) -> Self {
        let tokens = sequences.iter().map(|s| s.as_ref().len()).sum();
        let mut ids = Vec::with_capacity(tokens);
        let mut offsets = Vec::with_capacity(sequences.len() + 1);
        offsets.push(0);
        for sequence in sequences {
            ids.extend_from_slice(sequence.as_ref());
            offsets.push(ids.len());
        }
        Self { ids, offsets }
    }

    /// How many texts.
    pub(crate) fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Every text's ids, one after the other.
    pub(crate) fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Where each text starts in [`ids`](Self::ids), and after the last, where it ends.
    pub(crate) fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Text `row`'s ids.
    pub(crate) fn text(&self, row: usize) -> &[u32] {
        &self.ids[self.offsets[row]..self.offsets[row + 1]]
    }

    /// Each text's length in tokens.
    pub(crate) fn lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.offsets.windows(2).map(|w| w[1] - w[0])
    }

    /// The longest text's length: what a padded batch pads to.
    pub(crate) fn longest(&self) -> usize {
        self.lengths().max().unwrap_or(0)
    }

    /// The texts padded on the right with `pad_id` to the longest, with their attention mask.
    pub(crate) fn padded(&self, pad_id: i64) -> PaddedBatch {
        let texts: Vec<&[u32]> = (0..self.rows()).map(|row| self.text(row)).collect();
        PaddedBatch::new(&texts, pad_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenates_texts_and_records_where_each_starts() {
        let batch = TokenBatch::new(&[vec![101, 7, 102], vec![101, 102], vec![]]);
        assert_eq!(batch.rows(), 3);
        assert_eq!(batch.ids(), [101, 7, 102, 101, 102]);
        assert_eq!(batch.offsets(), [0, 3, 5, 5]);
        assert_eq!(batch.lengths().collect::<Vec<_>>(), [3, 2, 0]);
        assert_eq!(batch.longest(), 3);
        assert_eq!(batch.text(1), [101, 102]);
    }

    #[test]
    fn pads_as_a_padded_batch_does() {
        let sequences = [vec![0, 5, 2], vec![0, 2]];
        assert_eq!(
            TokenBatch::new(&sequences).padded(1),
            PaddedBatch::new(&sequences, 1)
        );
        let empty = TokenBatch::new::<Vec<u32>>(&[]);
        assert_eq!((empty.rows(), empty.longest()), (0, 0));
    }
}
