//! Measuring a classifier on labelled texts, with no model in sight: scores and gold labels in,
//! precision, recall, F1, accuracy, confusion and precision-recall curves out. Pure Rust (no
//! tch), so it is unit-tested on numbers worked by hand.
//!
//! - [`Counts`] (`counts`): true and false positives and negatives, and the one place F1 is
//!   counted (fine-tuning's dev score and threshold tuning count through it too).
//! - [`evaluate`] and [`EvaluationReport`] (`report`): per label and overall, with accuracy and
//!   the confusion matrix for a single-label model.
//! - [`precision_recall_curve`] (`curve`): a label's curve over its thresholds.
//! - `plots` (feature `plots`): the curves and the confusion matrix as SVG.

mod counts;
mod curve;
#[cfg(feature = "plots")]
mod plots;
mod report;

pub use counts::Counts;
pub use curve::{precision_recall_curve, CurvePoint};
#[cfg(feature = "plots")]
pub use plots::{confusion_svg, line_svg, precision_recall_svg, PlotError};
pub(crate) use report::top_label;
pub use report::{evaluate, Confusion, EvaluationReport, LabelMetrics};

/// The texts of an SVG's `<text>` elements, and the point counts of its polylines, for the
/// tests that check a picture (an SVG that does not parse fails the test).
#[cfg(all(test, feature = "plots"))]
pub(crate) fn svg_texts_and_lines(svg: &str) -> (Vec<String>, Vec<usize>) {
    let document = roxmltree::Document::parse(svg).expect("well-formed SVG");
    let texts = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_owned())
        .collect();
    let lines = document
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| {
            n.attribute("points")
                .unwrap_or_default()
                .split_whitespace()
                .count()
        })
        .collect();
    (texts, lines)
}
