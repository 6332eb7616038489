//! Multi-label evaluation: precision, recall and F1 per label, macro and micro F1. Pure Rust,
//! no model. (Tuning thresholds is the library's `Thresholds::tune`.)
//!
//! The `evaluate` example's own module: its functions expect every row of `scores` and `gold`,
//! and `thresholds`, to have one entry per label.

use serde::Serialize;

/// One label's quality at its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelMetrics {
    /// The label.
    pub label: String,
    /// The threshold its scores were cut at.
    pub threshold: f32,
    /// Of the texts given the label, the share that have it.
    pub precision: f64,
    /// Of the texts that have the label, the share given it.
    pub recall: f64,
    /// The harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// How many texts have the label.
    pub support: usize,
}

/// Quality over a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Per label, in label order.
    pub labels: Vec<LabelMetrics>,
    /// The mean of the labels' F1.
    pub macro_f1: f64,
    /// F1 over all (text, label) decisions pooled.
    pub micro_f1: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn of(scores: &[Vec<f32>], gold: &[Vec<bool>], label: usize, threshold: f32) -> Self {
        let mut c = Counts::default();
        for (s, g) in scores.iter().zip(gold) {
            match (s[label] >= threshold, g[label]) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                (false, false) => {}
            }
        }
        c
    }

    fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    fn f1(self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores each label of `labels` at its threshold. `scores[i][l]` is text `i`'s probability of
/// label `l`; `gold[i][l]` whether it has it.
pub fn evaluate(
    labels: &[String],
    scores: &[Vec<f32>],
    gold: &[Vec<bool>],
    thresholds: &[f32],
) -> Report {
    let mut pooled = Counts::default();
    let per_label: Vec<LabelMetrics> = labels
        .iter()
        .enumerate()
        .map(|(l, label)| {
            let c = Counts::of(scores, gold, l, thresholds[l]);
            pooled.tp += c.tp;
            pooled.fp += c.fp;
            pooled.fn_ += c.fn_;
            LabelMetrics {
                label: label.clone(),
                threshold: thresholds[l],
                precision: c.precision(),
                recall: c.recall(),
                f1: c.f1(),
                support: c.tp + c.fn_,
            }
        })
        .collect();
    let macro_f1 = per_label.iter().map(|m| m.f1).sum::<f64>() / per_label.len().max(1) as f64;
    Report {
        labels: per_label,
        macro_f1,
        micro_f1: pooled.f1(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_precision_recall_f1_by_hand() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let scores = vec![
            vec![0.9, 0.1],
            vec![0.8, 0.7],
            vec![0.2, 0.6],
            vec![0.1, 0.2],
        ];
        let gold = vec![
            vec![true, false],
            vec![false, true],
            vec![true, true],
            vec![false, false],
        ];
        let r = evaluate(&labels, &scores, &gold, &[0.5, 0.5]);
        // a: tp 1 (text 0), fp 1 (text 1), fn 1 (text 2) -> p 0.5 r 0.5 f1 0.5
        assert_eq!(
            (r.labels[0].precision, r.labels[0].recall, r.labels[0].f1),
            (0.5, 0.5, 0.5)
        );
        // b: tp 2, fp 0, fn 0 -> 1.0
        assert_eq!(r.labels[1].f1, 1.0);
        assert_eq!(r.labels[1].support, 2);
        assert_eq!(r.macro_f1, 0.75);
        // pooled: tp 3, fp 1, fn 1 -> 6 / 8
        assert_eq!(r.micro_f1, 0.75);
    }
}
