//! [`evaluate`]: a labelled set's scores against its gold labels, per label and overall.

use serde::Serialize;

use super::Counts;

/// One label's quality at its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelMetrics {
    /// The label.
    pub label: String,
    /// The threshold its scores were cut at (a single-label model decides by the top score).
    pub threshold: f32,
    /// Of the texts given the label, the share that have it.
    pub precision: f64,
    /// Of the texts that have the label, the share given it.
    pub recall: f64,
    /// The harmonic mean of precision and recall.
    pub f1: f64,
    /// How many texts have the label.
    pub support: u64,
}

/// A single-label model's confusion: `counts[gold][predicted]` texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    /// The labels, in the rows' and columns' order.
    pub labels: Vec<String>,
    /// Rows by gold label, columns by predicted label.
    pub counts: Vec<Vec<u64>>,
}

/// Quality over a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationReport {
    /// Texts scored.
    pub texts: usize,
    /// Whether decisions took the top score (single-label) or every score at its threshold.
    pub single_label: bool,
    /// Per label, in label order.
    pub labels: Vec<LabelMetrics>,
    /// The mean of the labels' F1.
    pub macro_f1: f64,
    /// F1 over all (text, label) decisions pooled.
    pub micro_f1: f64,
    /// For a single-label model: the share of texts whose top label is their (first) gold one.
    pub accuracy: Option<f64>,
    /// For a single-label model: the confusion matrix.
    pub confusion: Option<Confusion>,
}

/// Scores each label of `labels`. `scores[i][l]` is text `i`'s score for label `l`, `gold[i][l]`
/// whether it has it. Multi-label (`single_label` false): label `l` is given when its score is
/// at or over `thresholds[l]`. Single-label: the top-scoring label is given, and a text's gold
/// label is its first. Rows shorter than `labels` count as "not given" and "does not have".
pub fn evaluate(
    labels: &[String],
    scores: &[Vec<f32>],
    gold: &[Vec<bool>],
    thresholds: &[f32],
    single_label: bool,
) -> EvaluationReport {
    let n = labels.len();
    let mut counts = vec![Counts::default(); n];
    let mut confusion = vec![vec![0u64; n]; n];
    let mut correct = 0u64;
    for (row, truth) in scores.iter().zip(gold) {
        let has = |l: usize| truth.get(l).copied().unwrap_or(false);
        if single_label {
            let top = top_label(row);
            let first_gold = (0..n).find(|&l| has(l));
            for (l, c) in counts.iter_mut().enumerate() {
                c.add(top == Some(l), first_gold == Some(l));
            }
            if let (Some(g), Some(p)) = (first_gold, top.filter(|&p| p < n)) {
                confusion[g][p] += 1;
                correct += u64::from(g == p);
            }
        } else {
            for (l, c) in counts.iter_mut().enumerate() {
                let threshold = thresholds.get(l).copied().unwrap_or(0.5);
                c.add(row.get(l).is_some_and(|&s| s >= threshold), has(l));
            }
        }
    }
    let per_label: Vec<LabelMetrics> = labels
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(l, (label, c))| LabelMetrics {
            label: label.clone(),
            threshold: thresholds.get(l).copied().unwrap_or(f32::NAN),
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            support: c.support(),
        })
        .collect();
    let pooled = counts.iter().fold(Counts::default(), |a, &c| a.plus(c));
    let macro_f1 = per_label.iter().map(|m| m.f1).sum::<f64>() / n.max(1) as f64;
    let texts = scores.len().min(gold.len());
    EvaluationReport {
        texts,
        single_label,
        labels: per_label,
        macro_f1,
        micro_f1: pooled.f1(),
        accuracy: single_label.then(|| correct as f64 / texts.max(1) as f64),
        confusion: single_label.then(|| Confusion {
            labels: labels.to_vec(),
            counts: confusion,
        }),
    }
}

/// The index of the highest score (the first of equals), ignoring NaN.
pub(crate) fn top_label(row: &[f32]) -> Option<usize> {
    row.iter()
        .enumerate()
        .filter(|(_, s)| !s.is_nan())
        .fold(None, |best: Option<(usize, f32)>, (i, &s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((i, s)),
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        vec!["a".to_string(), "b".to_string()]
    }

    #[test]
    fn multi_label_by_hand() {
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
        let r = evaluate(&labels(), &scores, &gold, &[0.5, 0.5], false);
        // a: tp 1 (text 0), fp 1 (text 1), fn 1 (text 2): p = r = f1 = 0.5.
        assert_eq!(
            (r.labels[0].precision, r.labels[0].recall, r.labels[0].f1),
            (0.5, 0.5, 0.5)
        );
        // b: tp 2, nothing wrong.
        assert_eq!((r.labels[1].f1, r.labels[1].support), (1.0, 2));
        assert_eq!(r.macro_f1, 0.75);
        // Pooled: tp 3, fp 1, fn 1: 6 / 8.
        assert_eq!(r.micro_f1, 0.75);
        assert_eq!((r.accuracy, r.confusion.is_none()), (None, true));
    }

    #[test]
    fn single_label_takes_the_top_score_with_accuracy_and_confusion() {
        let scores = vec![
            vec![0.6, 0.4],
            vec![0.3, 0.7],
            vec![0.8, 0.2],
            vec![0.1, 0.9],
        ];
        let gold = vec![
            vec![true, true], // first gold label: a; predicted a
            vec![false, true],
            vec![false, true], // predicted a: wrong
            vec![false, true],
        ];
        let r = evaluate(&labels(), &scores, &gold, &[0.5, 0.5], true);
        assert_eq!(r.accuracy, Some(0.75));
        assert_eq!(
            r.confusion.as_ref().map(|c| c.counts.clone()),
            Some(vec![vec![1, 0], vec![1, 2]])
        );
        // a: tp 1, fp 1 -> 2/3; b: tp 2, fn 1 -> 4/5.
        assert!((r.labels[0].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.labels[1].f1 - 0.8).abs() < 1e-12);
        assert_eq!(top_label(&[f32::NAN, 0.2, 0.2]), Some(1));
    }
}
