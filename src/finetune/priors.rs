//! A new head's biases from the training labels' frequencies, so training starts from the
//! label priors instead of from 0.5 everywhere.

/// Each label's initial bias.
///
/// Multi-label (sigmoid): the log-odds of the label's frequency, `ln(p / (1 - p))`, with `p`
/// clipped to `[1e-4, 1 - 1e-4]` as the peer clips it. Single-label (softmax): the log of the
/// frequency, clipped the same way (a softmax over log-frequencies gives the frequencies).
/// `texts` holds each training text's label ids; ids at or over `labels` are ignored (the
/// readers refuse them first).
pub(crate) fn initial_biases(texts: &[Vec<usize>], labels: usize, multi_label: bool) -> Vec<f32> {
    let mut counts = vec![0f64; labels];
    for ids in texts {
        for &id in ids {
            if let Some(count) = counts.get_mut(id) {
                *count += 1.0;
            }
        }
    }
    let n = texts.len().max(1) as f64;
    counts
        .iter()
        .map(|&count| {
            // f32 as the peer's numpy float32 mean.
            let p = ((count / n) as f32).clamp(1e-4, 1.0 - 1e-4);
            if multi_label {
                (p / (1.0 - p)).ln()
            } else {
                p.ln()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_label_biases_are_log_odds_of_frequencies() {
        let texts = vec![vec![0], vec![0, 1], vec![2], vec![0]];
        let b = initial_biases(&texts, 4, true);
        assert!((b[0] - (0.75f32 / 0.25).ln()).abs() < 1e-6);
        assert!((b[1] - (0.25f32 / 0.75).ln()).abs() < 1e-6);
        assert!((b[2] - (0.25f32 / 0.75).ln()).abs() < 1e-6);
        // Never seen: clipped, not -inf.
        assert!((b[3] - (1e-4f32 / (1.0 - 1e-4)).ln()).abs() < 1e-4);
    }

    #[test]
    fn single_label_biases_give_the_frequencies_under_softmax() {
        let texts = vec![vec![0], vec![1], vec![1], vec![1]];
        let b = initial_biases(&texts, 2, false);
        let z: f32 = b.iter().map(|x| x.exp()).sum();
        assert!((b[0].exp() / z - 0.25).abs() < 1e-6);
        assert!((b[1].exp() / z - 0.75).abs() < 1e-6);
    }
}
