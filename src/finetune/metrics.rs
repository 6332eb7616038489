//! Macro-F1 of scores against labels, as the recipe's dev evaluation computes it (no tensors).

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
    // (true positives, false positives, false negatives) per label.
    let mut counts = vec![(0u64, 0u64, 0u64); labels];
    for (row, ids) in scores.iter().zip(truth) {
        let predicted: Vec<bool> = if multi_label {
            row.iter().map(|&s| s >= threshold).collect()
        } else {
            let top = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            (0..row.len()).map(|i| Some(i) == top).collect()
        };
        let actual = |k: usize| {
            if multi_label {
                ids.contains(&k)
            } else {
                ids.first() == Some(&k)
            }
        };
        for (k, count) in counts.iter_mut().enumerate() {
            match (predicted.get(k).copied().unwrap_or(false), actual(k)) {
                (true, true) => count.0 += 1,
                (true, false) => count.1 += 1,
                (false, true) => count.2 += 1,
                (false, false) => {}
            }
        }
    }
    let sum: f64 = counts
        .iter()
        .map(|&(tp, fp, fn_)| 2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64)
        .sum();
    sum / labels as f64
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
