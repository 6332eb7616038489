//! Which texts go into each training batch, and in what order (no tensors here).
//!
//! The recipe's order (the peer's `train_batches`): the texts shuffled, cut into chunks of 50
//! batches, each chunk sorted by token count and cut into batches (so a batch pads little),
//! and the batches shuffled. Each epoch's order comes from the seed and the epoch alone, so a
//! resumed run sees the batches an uninterrupted run would.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Batches per length-sorted chunk.
const CHUNK_BATCHES: usize = 50;

/// The texts (indices into the training set) of each batch of epoch `epoch`, for texts of
/// `lengths` tokens, `batch` texts a batch.
pub(crate) fn epoch_batches(
    lengths: &[usize],
    batch: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let batch = batch.max(1);
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut rng);
    let mut batches = Vec::with_capacity(lengths.len().div_ceil(batch));
    for chunk in order.chunks_mut(batch * CHUNK_BATCHES) {
        chunk.sort_by_key(|&i| lengths[i]);
        batches.extend(chunk.chunks(batch).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
/// The reference run's batches: the first `steps * batch` texts in file order.
pub(crate) fn file_order_batches(texts: usize, batch: usize, steps: usize) -> Vec<Vec<usize>> {
    let batch = batch.max(1);
    (0..steps)
        .map(|s| (s * batch..((s + 1) * batch).min(texts)).collect::<Vec<_>>())
        .filter(|b| !b.is_empty())
        .collect()
}

/// Token ids padded to the longest text with `pad`, and the attention mask, row-major.
pub(crate) fn pad(texts: &[&[i64]], pad: i64) -> (Vec<i64>, Vec<i64>, usize) {
    let longest = texts.iter().map(|t| t.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(texts.len() * longest);
    let mut mask = Vec::with_capacity(texts.len() * longest);
    for text in texts {
        ids.extend_from_slice(text);
        ids.extend(std::iter::repeat_n(pad, longest - text.len()));
        mask.extend(std::iter::repeat_n(1, text.len()));
        mask.extend(std::iter::repeat_n(0, longest - text.len()));
    }
    (ids, mask, longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_once_per_epoch_in_length_sorted_batches() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 37) % 61 + 3).collect();
        let batches = epoch_batches(&lengths, 8, 13, 0);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        // Sorted within chunks: a batch spans few lengths compared with a random one.
        let spread: usize = batches
            .iter()
            .map(|b| {
                let l: Vec<usize> = b.iter().map(|&i| lengths[i]).collect();
                l.iter().max().unwrap() - l.iter().min().unwrap()
            })
            .sum();
        assert!(spread < batches.len() * 10, "spread {spread}");
    }

    #[test]
    fn the_order_depends_on_seed_and_epoch_only() {
        let lengths = vec![5; 100];
        assert_eq!(
            epoch_batches(&lengths, 4, 1, 2),
            epoch_batches(&lengths, 4, 1, 2)
        );
        assert_ne!(
            epoch_batches(&lengths, 4, 1, 2),
            epoch_batches(&lengths, 4, 1, 3)
        );
        assert_ne!(
            epoch_batches(&lengths, 4, 1, 2),
            epoch_batches(&lengths, 4, 2, 2)
        );
    }

    #[test]
    fn file_order_takes_the_first_texts() {
        assert_eq!(
            file_order_batches(10, 4, 2),
            vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]
        );
        assert_eq!(
            file_order_batches(6, 4, 3),
            vec![vec![0, 1, 2, 3], vec![4, 5]]
        );
    }

    #[test]
    fn pads_to_the_longest_with_a_mask() {
        let (ids, mask, len) = pad(&[&[1, 2, 3], &[4]], 0);
        assert_eq!(len, 3);
        assert_eq!(ids, [1, 2, 3, 4, 0, 0]);
        assert_eq!(mask, [1, 1, 1, 1, 0, 0]);
    }
}
