//! The learning rate at each step: a linear warm-up, then a linear decay to zero.

/// The recipe's schedule (transformers' `get_linear_schedule_with_warmup`, as the peer's
/// `LambdaLR` computes it): at step `s` (0-based, the rate step `s`'s update uses),
/// `peak * s / warmup` while `s < warmup`, then `peak * (total - s) / (total - warmup)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Schedule {
    peak: f64,
    warmup: usize,
    total: usize,
}

impl Schedule {
    /// `warmup_ratio` of `total` steps warm up (`int(ratio * total)`, as the peer rounds).
    pub(crate) fn new(peak: f64, total: usize, warmup_ratio: f64) -> Self {
        Self {
            peak,
            warmup: (warmup_ratio * total as f64) as usize,
            total,
        }
    }

    /// The number of updates the schedule runs.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// The learning rate step `step` uses: the peak times the schedule's factor, in the
    /// peer's order of operations, so the rates are the peer's to the last bit.
    pub(crate) fn at(&self, step: usize) -> f64 {
        let factor = if step < self.warmup {
            step as f64 / self.warmup.max(1) as f64
        } else {
            (self.total.saturating_sub(step) as f64
                / self.total.saturating_sub(self.warmup).max(1) as f64)
                .max(0.0)
        };
        self.peak * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let s = Schedule::new(1e-3, 100, 0.06);
        assert_eq!(s.at(0), 0.0);
        assert_eq!(s.at(3), 1e-3 * (3.0 / 6.0));
        assert_eq!(s.at(6), 1e-3);
        assert_eq!(s.at(53), 1e-3 * (47.0 / 94.0));
        assert_eq!(s.at(100), 0.0);
        assert_eq!(s.at(120), 0.0);
    }

    #[test]
    fn a_run_too_short_to_warm_up_starts_at_the_peak() {
        // int(0.06 * 6) == 0: the peer's reference runs start at the peak.
        let s = Schedule::new(5e-5, 6, 0.06);
        assert_eq!(s.at(0), 5e-5);
        assert_eq!(s.at(1), 4.166666666666667e-05);
        assert_eq!(s.total(), 6);
    }
}
