//! A label's precision-recall curve: one point per distinct score, from the highest threshold
//! (few given, precise) down to the lowest (all given, full recall).

use serde::Serialize;

use super::Counts;

/// One point of a precision-recall curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Scores at or over it are given the label.
    pub threshold: f32,
    /// Precision there.
    pub precision: f64,
    /// Recall there.
    pub recall: f64,
}

/// Label `label`'s curve: `scores[i][label]` is text `i`'s score, `gold[i][label]` whether it
/// has the label. At most `max_points` points (evenly thinned; the ends kept). Empty when no
/// text has the label or there are no texts.
pub fn precision_recall_curve(
    scores: &[Vec<f32>],
    gold: &[Vec<bool>],
    label: usize,
    max_points: usize,
) -> Vec<CurvePoint> {
    let mut pairs: Vec<(f32, bool)> = scores
        .iter()
        .zip(gold)
        .filter_map(|(s, g)| Some((*s.get(label)?, *g.get(label)?)))
        .filter(|(s, _)| s.is_finite())
        .collect();
    let positives = pairs.iter().filter(|(_, g)| *g).count() as u64;
    if positives == 0 {
        return Vec::new();
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut counts = Counts {
        tp: 0,
        fp: 0,
        fn_: positives,
    };
    let mut points = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let threshold = pairs[i].0;
        while i < pairs.len() && pairs[i].0 == threshold {
            if pairs[i].1 {
                counts.tp += 1;
                counts.fn_ -= 1;
            } else {
                counts.fp += 1;
            }
            i += 1;
        }
        points.push(CurvePoint {
            threshold,
            precision: counts.precision(),
            recall: counts.recall(),
        });
    }
    thin(points, max_points.max(2))
}

fn thin(points: Vec<CurvePoint>, max: usize) -> Vec<CurvePoint> {
    if points.len() <= max {
        return points;
    }
    let last = points.len() - 1;
    (0..max).map(|k| points[k * last / (max - 1)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_walks_the_thresholds_down() {
        let scores = vec![vec![0.9], vec![0.8], vec![0.4], vec![0.4], vec![0.1]];
        let gold = vec![vec![true], vec![false], vec![true], vec![false], vec![true]];
        let curve = precision_recall_curve(&scores, &gold, 0, 100);
        let got: Vec<(f32, f64, f64)> = curve
            .iter()
            .map(|p| (p.threshold, p.precision, p.recall))
            .collect();
        assert_eq!(
            got,
            [
                (0.9, 1.0, 1.0 / 3.0),
                (0.8, 0.5, 1.0 / 3.0),
                (0.4, 0.5, 2.0 / 3.0),
                (0.1, 0.6, 1.0)
            ]
        );
        assert_eq!(precision_recall_curve(&scores, &gold, 0, 2).len(), 2);
        assert!(precision_recall_curve(&scores, &vec![vec![false]; 5], 0, 10).is_empty());
    }
}
