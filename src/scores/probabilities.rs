//! Logits to scores: a sigmoid, a softmax, or nothing.

use crate::config::ScoreFunction;

/// Applies `function` to one row of logits, in f32 as `transformers` does.
pub(crate) fn probabilities(function: ScoreFunction, logits: &[f32]) -> Vec<f32> {
    match function {
        ScoreFunction::Sigmoid => logits.iter().map(|&x| sigmoid(x)).collect(),
        ScoreFunction::Softmax => softmax(logits),
        ScoreFunction::Raw => logits.to_vec(),
    }
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_matches_its_definition_and_saturates() {
        let p = probabilities(ScoreFunction::Sigmoid, &[0.0, 2.0, -2.0, 100.0, -100.0]);
        assert_eq!(p[0], 0.5);
        assert!((p[1] - 0.880_797).abs() < 1e-6);
        assert!((p[1] + p[2] - 1.0).abs() < 1e-6);
        assert_eq!(p[3], 1.0);
        assert!(p[4] > 0.0 && p[4] < 1e-40);
    }

    #[test]
    fn raw_is_the_logits() {
        let logits = [1.5, -300.0, 0.0];
        assert_eq!(probabilities(ScoreFunction::Raw, &logits), logits);
    }

    #[test]
    fn softmax_sums_to_one_and_is_shift_invariant() {
        let a = probabilities(ScoreFunction::Softmax, &[1.0, 2.0, 3.0]);
        let b = probabilities(ScoreFunction::Softmax, &[1001.0, 1002.0, 1003.0]);
        assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6);
        }
        assert!((a[2] - 0.665_241).abs() < 1e-6);
    }
}
