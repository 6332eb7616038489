//! Counters of the forward passes the workers ran: how well batching fills them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a classifier's forward passes have carried since it was built, all workers together.
/// Read through [`EmotionClassifier::pass_stats`](crate::EmotionClassifier::pass_stats) at any
/// time: a few atomic loads.
///
/// With many callers and dynamic batching, [`sequences_per_pass`](Self::sequences_per_pass)
/// says how many requests each pass served together, and
/// [`padding_fraction`](Self::padding_fraction) how much of the attention work was padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PassStats {
    /// Forward passes run (failed ones included).
    pub passes: u64,
    /// Token sequences they held: one per text, or one per chunk of a chunked long text.
    pub sequences: u64,
    /// The sequences' real tokens, special tokens included.
    pub tokens: u64,
    /// Token slots after padding each pass to its longest sequence (sequences x longest). The
    /// linear layers run on real tokens only; attention runs on these.
    pub padded_tokens: u64,
    /// Time spent in forward passes, summed over workers (so up to the wall time x workers).
    pub forward_time: Duration,
    /// Jobs not run because every caller waiting for them had gone (a dropped future, a
    /// timed-out request): work saved under overload.
    pub skipped_jobs: u64,
    /// The sequences those skipped jobs held.
    pub skipped_sequences: u64,
}

impl PassStats {
    /// The passes counted here and not in `earlier`, a snapshot of the same classifier taken
    /// before: the figures of one interval.
    #[must_use]
    pub fn since(&self, earlier: &PassStats) -> PassStats {
        PassStats {
            passes: self.passes.saturating_sub(earlier.passes),
            sequences: self.sequences.saturating_sub(earlier.sequences),
            tokens: self.tokens.saturating_sub(earlier.tokens),
            padded_tokens: self.padded_tokens.saturating_sub(earlier.padded_tokens),
            forward_time: self.forward_time.saturating_sub(earlier.forward_time),
            skipped_jobs: self.skipped_jobs.saturating_sub(earlier.skipped_jobs),
            skipped_sequences: self
                .skipped_sequences
                .saturating_sub(earlier.skipped_sequences),
        }
    }

    /// Mean sequences per forward pass; 0 before the first pass.
    pub fn sequences_per_pass(&self) -> f64 {
        ratio(self.sequences, self.passes)
    }

    /// The share of padded token slots that were padding, from 0 to 1; 0 before the first pass.
    pub fn padding_fraction(&self) -> f64 {
        ratio(
            self.padded_tokens.saturating_sub(self.tokens),
            self.padded_tokens,
        )
    }

    /// Mean time of one forward pass; zero before the first pass.
    pub fn mean_forward_time(&self) -> Duration {
        u32::try_from(self.passes)
            .ok()
            .and_then(|passes| self.forward_time.checked_div(passes))
            .unwrap_or_default()
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Upper bounds of the pass-size histogram's buckets: 1, 2, 4, ... 4,096 sequences (TEI's
/// `te_batch_next_size` buckets), then one for larger passes.
pub(crate) const SIZE_BUCKETS: usize = 13;
/// Upper bounds of the pass-tokens histogram's buckets: 1, 2, 4, ... 2^20 tokens (TEI's
/// `te_batch_next_tokens`), then one for larger passes.
pub(crate) const TOKEN_BUCKETS: usize = 21;

/// How many passes fell in each power-of-two bucket of size and of tokens: bucket `i` holds
/// the passes of more than 2^(i-1) and at most 2^i (the last, everything larger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) struct PassHistograms {
    pub(crate) sequences: [u64; SIZE_BUCKETS + 1],
    pub(crate) tokens: [u64; TOKEN_BUCKETS + 1],
}

/// The bucket of `n` among `len` power-of-two bounds and an overflow bucket.
fn bucket(n: usize, len: usize) -> usize {
    let ceil_log2 = (usize::BITS - n.max(1).saturating_sub(1).leading_zeros()) as usize;
    ceil_log2.min(len)
}

/// The live counters behind [`PassStats`], shared by a pool's workers.
#[derive(Debug, Default)]
pub(crate) struct PassCounters {
    size_buckets: [AtomicU64; SIZE_BUCKETS + 1],
    token_buckets: [AtomicU64; TOKEN_BUCKETS + 1],
    passes: AtomicU64,
    sequences: AtomicU64,
    tokens: AtomicU64,
    padded_tokens: AtomicU64,
    forward_nanos: AtomicU64,
    skipped_jobs: AtomicU64,
    skipped_sequences: AtomicU64,
}

/// One forward pass, as [`PassCounters::record`] counts it.
pub(crate) struct PassRecord {
    pub(crate) sequences: usize,
    pub(crate) tokens: usize,
    pub(crate) padded_tokens: usize,
    pub(crate) time: Duration,
}

impl PassCounters {
    pub(crate) fn record(&self, pass: &PassRecord) {
        let add = |counter: &AtomicU64, n: usize| {
            counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        };
        self.passes.fetch_add(1, Ordering::Relaxed);
        self.size_buckets[bucket(pass.sequences, SIZE_BUCKETS)].fetch_add(1, Ordering::Relaxed);
        self.token_buckets[bucket(pass.tokens, TOKEN_BUCKETS)].fetch_add(1, Ordering::Relaxed);
        add(&self.sequences, pass.sequences);
        add(&self.tokens, pass.tokens);
        add(&self.padded_tokens, pass.padded_tokens);
        self.forward_nanos.fetch_add(
            u64::try_from(pass.time.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts a job of `sequences` that was not run: its callers had all gone.
    pub(crate) fn record_skipped(&self, sequences: usize) {
        self.skipped_jobs.fetch_add(1, Ordering::Relaxed);
        self.skipped_sequences.fetch_add(
            u64::try_from(sequences).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The passes by size and by tokens so far.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn histograms(&self) -> PassHistograms {
        PassHistograms {
            sequences: std::array::from_fn(|i| self.size_buckets[i].load(Ordering::Relaxed)),
            tokens: std::array::from_fn(|i| self.token_buckets[i].load(Ordering::Relaxed)),
        }
    }

    /// The counts so far. Each counter is read on its own, so a snapshot taken during a pass
    /// may count part of it.
    pub(crate) fn snapshot(&self) -> PassStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        PassStats {
            passes: load(&self.passes),
            sequences: load(&self.sequences),
            tokens: load(&self.tokens),
            padded_tokens: load(&self.padded_tokens),
            forward_time: Duration::from_nanos(load(&self.forward_nanos)),
            skipped_jobs: load(&self.skipped_jobs),
            skipped_sequences: load(&self.skipped_sequences),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_fall_in_power_of_two_buckets() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 8, 9, 4096, 4097].map(|n| bucket(n, SIZE_BUCKETS)),
            [0, 0, 1, 2, 2, 3, 3, 4, 12, 13]
        );
        let counters = PassCounters::default();
        for (sequences, tokens) in [(1, 7), (3, 40), (4, 64), (5000, 1 << 21)] {
            counters.record(&PassRecord {
                sequences,
                tokens,
                padded_tokens: tokens,
                time: Duration::ZERO,
            });
        }
        let histograms = counters.histograms();
        let mut sizes = [0; SIZE_BUCKETS + 1];
        sizes[0] = 1;
        sizes[2] = 2;
        sizes[SIZE_BUCKETS] = 1;
        assert_eq!(histograms.sequences, sizes);
        let mut tokens = [0; TOKEN_BUCKETS + 1];
        tokens[3] = 1;
        tokens[6] = 2;
        tokens[TOKEN_BUCKETS] = 1;
        assert_eq!(histograms.tokens, tokens);
    }

    #[test]
    fn derived_figures_are_zero_before_any_pass() {
        let stats = PassCounters::default().snapshot();
        assert_eq!(stats, PassStats::default());
        assert_eq!(stats.sequences_per_pass(), 0.0);
        assert_eq!(stats.padding_fraction(), 0.0);
        assert_eq!(stats.mean_forward_time(), Duration::ZERO);
    }

    #[test]
    fn sums_passes_and_derives_means() {
        let counters = PassCounters::default();
        counters.record(&PassRecord {
            sequences: 3,
            tokens: 12,
            padded_tokens: 15,
            time: Duration::from_millis(6),
        });
        counters.record(&PassRecord {
            sequences: 1,
            tokens: 5,
            padded_tokens: 5,
            time: Duration::from_millis(2),
        });
        counters.record_skipped(3);
        let stats = counters.snapshot();
        assert_eq!(
            stats,
            PassStats {
                passes: 2,
                sequences: 4,
                tokens: 17,
                padded_tokens: 20,
                forward_time: Duration::from_millis(8),
                skipped_jobs: 1,
                skipped_sequences: 3,
            }
        );
        assert_eq!(stats.sequences_per_pass(), 2.0);
        assert_eq!(stats.padding_fraction(), 0.15);
        assert_eq!(stats.mean_forward_time(), Duration::from_millis(4));
        let first = PassStats {
            passes: 1,
            sequences: 3,
            tokens: 12,
            padded_tokens: 15,
            forward_time: Duration::from_millis(6),
            skipped_jobs: 1,
            skipped_sequences: 3,
        };
        assert_eq!(
            stats.since(&first),
            PassStats {
                passes: 1,
                sequences: 1,
                tokens: 5,
                padded_tokens: 5,
                forward_time: Duration::from_millis(2),
                skipped_jobs: 0,
                skipped_sequences: 0,
            }
        );
    }
}
