//! The batch planner.

use crate::error::{Error, Result};

/// Limits on one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    max_batch_size: usize,
    max_batch_tokens: usize,
}

impl BatchLimits {
    /// At most `max_batch_size` texts and `max_batch_tokens` padded tokens (rows x longest row)
    /// per batch. A single text longer than `max_batch_tokens` still runs, alone.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when either limit is zero.
    pub fn new(max_batch_size: usize, max_batch_tokens: usize) -> Result<Self> {
        if max_batch_size == 0 {
            return Err(Error::InvalidOption {
                option: "max_batch_size",
                reason: "must be at least 1",
            });
        }
        if max_batch_tokens == 0 {
            return Err(Error::InvalidOption {
                option: "max_batch_tokens",
                reason: "must be at least 1",
            });
        }
        Ok(Self {
            max_batch_size,
            max_batch_tokens,
        })
    }

    /// The most texts in one batch.
    pub fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    /// The most padded tokens in one batch.
    pub fn max_batch_tokens(&self) -> usize {
        self.max_batch_tokens
    }
}

impl Default for BatchLimits {
    /// 64 texts and 8,192 padded tokens: large enough to keep the matrix units busy, small
    /// enough that attention's `rows x heads x length²` scores stay a few tens of MB.
    fn default() -> Self {
        Self {
            max_batch_size: 64,
            max_batch_tokens: 8192,
        }
    }
}

/// Plans batches for texts of the given token `lengths`.
///
/// Returns batches of indices into `lengths`; each index appears exactly once. Batches hold texts
/// of ascending length, so each is padded only to its own longest text, and each keeps within
/// `limits` (a text over the token budget forms a batch of its own).
pub fn plan_batches(lengths: &[usize], limits: BatchLimits) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so this text is the longest of the batch it joins.
        let padded = (current.len() + 1).saturating_mul(lengths[i]);
        let full = current.len() == limits.max_batch_size || padded > limits.max_batch_tokens;
        if full && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(size: usize, tokens: usize) -> BatchLimits {
        BatchLimits::new(size, tokens).unwrap()
    }

    /// Every index once; every batch within limits unless it is a lone over-budget text.
    fn check(lengths: &[usize], limits: BatchLimits) -> Vec<Vec<usize>> {
        let batches = plan_batches(lengths, limits);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for batch in &batches {
            assert!(!batch.is_empty());
            assert!(batch.len() <= limits.max_batch_size());
            let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(
                batch.len() * longest <= limits.max_batch_tokens() || batch.len() == 1,
                "batch {batch:?} of {lengths:?} over budget"
            );
        }
        batches
    }

    #[test]
    fn empty_input_plans_nothing() {
        assert!(plan_batches(&[], BatchLimits::default()).is_empty());
    }

    #[test]
    fn sorts_by_length_and_cuts_at_batch_size() {
        let batches = check(&[5, 1, 4, 2, 3], limits(2, 1000));
        assert_eq!(batches, vec![vec![1, 3], vec![4, 2], vec![0]]);
    }

    #[test]
    fn cuts_at_token_budget() {
        // 3 x 4 = 12 > 10, so the third text starts a new batch.
        let batches = check(&[4, 4, 4, 4], limits(10, 10));
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn over_budget_text_runs_alone() {
        let batches = check(&[3, 50, 3], limits(8, 10));
        assert_eq!(batches, vec![vec![0, 2], vec![1]]);
    }

    #[test]
    fn rejects_zero_limits() {
        assert!(matches!(
            BatchLimits::new(0, 1),
            Err(Error::InvalidOption {
                option: "max_batch_size",
                ..
            })
        ));
        assert!(BatchLimits::new(1, 0).is_err());
    }

    #[test]
    fn property_every_index_once_within_budget() {
        // A small xorshift keeps the property test seeded and dependency-free.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..500 {
            let n = next(200);
            let lengths: Vec<usize> = (0..n).map(|_| 1 + next(600)).collect();
            let limits = limits(1 + next(64), 1 + next(4096));
            check(&lengths, limits);
        }
    }
}
