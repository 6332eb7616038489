//! [`Counts`]: a label's decisions against the truth, and F1 counted in one place.

/// True positives, false positives and false negatives of one label (or pooled over labels).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Given the label and have it.
    pub tp: u64,
    /// Given the label without having it.
    pub fp: u64,
    /// Have the label without being given it.
    pub fn_: u64,
}

impl Counts {
    /// Counts one decision: `predicted` whether the label was given, `actual` whether it holds.
    pub fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    /// Both counts together (pooling labels for micro-F1).
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            tp: self.tp + other.tp,
            fp: self.fp + other.fp,
            fn_: self.fn_ + other.fn_,
        }
    }

    /// Of the texts given the label, the share that have it (0 when none was given).
    pub fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Of the texts that have the label, the share given it (0 when none has it).
    pub fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// The harmonic mean of precision and recall, `2tp / (2tp + fp + fn)` (0 when nothing was
    /// given and nothing holds).
    pub fn f1(self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// How many texts have the label.
    pub fn support(self) -> u64 {
        self.tp + self.fn_
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_recall_f1_by_hand() {
        let mut c = Counts::default();
        for (p, a) in [
            (true, true),
            (true, false),
            (false, true),
            (false, false),
            (true, true),
        ] {
            c.add(p, a);
        }
        assert_eq!(
            c,
            Counts {
                tp: 2,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(
            (c.precision(), c.recall(), c.f1(), c.support()),
            (2.0 / 3.0, 2.0 / 3.0, 4.0 / 6.0, 3)
        );
        assert_eq!(Counts::default().f1(), 0.0);
        assert_eq!(c.plus(c).tp, 4);
    }
}
