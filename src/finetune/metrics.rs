//! Macro-F1 of scores against labels, as the recipe's dev evaluation computes it (no tensors),
//! counted with [`Counts`], the one place F1 is counted.

use crate::evaluation::Counts;

/// The mean over labels of each label's F1 (a label never predicted nor present scores 0).
///
/// Multi-label: a label is predicted when its score is at least `threshold`, and each text's
/// labels are its truth. Single-label: the top-scoring label is the prediction, and a text's
/// first label is its truth.
pub(crate) fn macro_f1(
    scores: &[Vec<f32>],
    truth: &[Vec<usize>],
    labels: usize,
    multi_label: bool,
    threshold: f32,
) -> f64 {
    if labels == 0 {
        return 0.0;
    }
    let mut counts = vec![Counts::default(); labels];
    for (row, ids) in scores.iter().zip(truth) {
        let top = crate::evaluation::top_label(row);
        for (k, count) in counts.iter_mut().enumerate() {
            let (predicted, actual) = if multi_label {
                (
                    row.get(k).is_some_and(|&s| s >= threshold),
                    ids.contains(&k),
                )
            } else {
                (top == Some(k), ids.first() == Some(&k))
            };
            count.add(predicted, actual);
        }
    }
    counts.iter().map(|c| c.f1()).sum::<f64>() / labels as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_label_f1_counts_each_label_at_the_threshold() {
        let scores = vec![vec![0.9, 0.1], vec![0.4, 0.35], vec![0.1, 0.2]];
        let truth = vec![vec![0], vec![1], vec![1]];
        // Label 0: tp 1 (row 0), fp 1 (row 1) -> 2/3. Label 1: tp 1 (row 1), fn 1 (row 2) -> 2/3.
        let f1 = macro_f1(&scores, &truth, 2, true, 0.3);
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12, "{f1}");
        // A higher threshold drops row 1's predictions: label 0 perfect, label 1 none.
        let f1 = macro_f1(&scores, &truth, 2, true, 0.5);
        assert!((f1 - 0.5).abs() < 1e-12, "{f1}");
    }

    #[test]
    fn single_label_f1_uses_the_top_score_and_the_first_label() {
        let scores = vec![vec![0.6, 0.4], vec![0.3, 0.7], vec![0.8, 0.2]];
        let truth = vec![vec![0, 1], vec![1], vec![1]];
        // Label 0: tp 1, fp 1 -> 2/3; label 1: tp 1, fn 1 -> 2/3.
        let f1 = macro_f1(&scores, &truth, 2, false, 0.3);
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12, "{f1}");
        assert_eq!(macro_f1(&[], &[], 3, true, 0.3), 0.0);
    }
}
