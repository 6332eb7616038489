//! The evaluation as pictures (feature `plots`): a precision-recall curve per label, and a
//! single-label model's confusion matrix as a heat map, SVG drawn with `plotters` (the
//! well-kept Rust plotting crate, whose SVG backend needs no font files or system libraries).
//! Each picture names the model and the data it shows.

use plotters::prelude::*;

use super::{Confusion, CurvePoint};

/// Why a picture could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the plot: {0}")]
pub struct PlotError(String);

fn plot_error(e: impl std::fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

/// A precision-recall curve as SVG: recall across, precision up, `title` on top (say, the
/// label, the model and the data).
///
/// # Errors
/// [`PlotError`] if plotters cannot draw it.
pub fn precision_recall_svg(title: &str, curve: &[CurvePoint]) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("recall")
            .y_desc("precision")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(
                curve.iter().map(|p| (p.recall, p.precision)),
                BLUE.stroke_width(2),
            ))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A line chart as SVG: `points` joined, `x` and `y` named on the axes, `title` on top, and an
/// optional point marked with a circle and `mark`'s text (fine-tuning's best epoch).
///
/// # Errors
/// [`PlotError`] if plotters cannot draw it.
pub fn line_svg(
    title: &str,
    (x, y): (&str, &str),
    points: &[(f64, f64)],
    mark: Option<((f64, f64), &str)>,
) -> Result<String, PlotError> {
    let finite = || {
        points
            .iter()
            .filter(|(a, b)| a.is_finite() && b.is_finite())
    };
    let bounds = |get: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = finite()
            .map(get)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo.is_finite() && hi > lo {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        } else if lo.is_finite() {
            (lo - 1.0, lo + 1.0)
        } else {
            (0.0, 1.0)
        }
    };
    let (x0, x1) = bounds(|p| p.0);
    let (y0, y1) = bounds(|p| p.1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(x)
            .y_desc(y)
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(finite().copied(), BLUE.stroke_width(2)))
            .map_err(plot_error)?;
        if let Some((at, text)) = mark {
            chart
                .draw_series(std::iter::once(Circle::new(at, 6, RED.filled())))
                .map_err(plot_error)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    text.to_owned(),
                    at,
                    ("sans-serif", 14).into_font().color(&RED),
                )))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A confusion matrix as an SVG heat map: gold labels down, predicted across, each cell's count
/// written in it, darker for more.
///
/// # Errors
/// [`PlotError`] if plotters cannot draw it.
pub fn confusion_svg(title: &str, confusion: &Confusion) -> Result<String, PlotError> {
    let n = confusion.labels.len();
    let most = confusion
        .counts
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let side = (120 + 60 * n as u32).clamp(360, 1600);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (side + 120, side)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(90)
            .y_label_area_size(110)
            .build_cartesian_2d(0..n, 0..n)
            .map_err(plot_error)?;
        let name = |i: &usize| confusion.labels.get(*i).cloned().unwrap_or_default();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n)
            .y_labels(n)
            .x_label_formatter(&name)
            .y_label_formatter(&|i: &usize| {
                n.checked_sub(1 + *i)
                    .map(|row| name(&row))
                    .unwrap_or_default()
            })
            .x_desc("predicted")
            .y_desc("gold")
            .draw()
            .map_err(plot_error)?;
        for (gold, row) in confusion.counts.iter().enumerate() {
            for (predicted, &count) in row.iter().enumerate() {
                let shade = 1.0 - count as f64 / most as f64;
                let level = (255.0 * shade) as u8;
                let y = n - 1 - gold;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(predicted, y), (predicted + 1, y + 1)],
                        RGBColor(level, level, 255).filled(),
                    )))
                    .map_err(plot_error)?;
                let ink = if shade < 0.5 { &WHITE } else { &BLACK };
                chart
                    .draw_series(std::iter::once(Text::new(
                        count.to_string(),
                        (predicted, y + 1),
                        ("sans-serif", 14).into_font().color(ink),
                    )))
                    .map_err(plot_error)?;
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::svg_texts_and_lines as parse;

    #[test]
    fn the_pictures_name_their_labels_and_hold_a_curve() {
        let curve = vec![
            CurvePoint {
                threshold: 0.9,
                precision: 1.0,
                recall: 0.25,
            },
            CurvePoint {
                threshold: 0.5,
                precision: 0.75,
                recall: 0.75,
            },
            CurvePoint {
                threshold: 0.1,
                precision: 0.5,
                recall: 1.0,
            },
        ];
        let svg = precision_recall_svg("joy: tiny model on tickets.csv", &curve).expect("svg");
        let (texts, lines) = parse(&svg);
        assert!(
            texts.contains(&"joy: tiny model on tickets.csv".to_owned()),
            "{texts:?}"
        );
        assert!(texts.contains(&"recall".to_owned()) && texts.contains(&"precision".to_owned()));
        assert!(lines.contains(&3), "the curve's three points: {lines:?}");
        let confusion = Confusion {
            labels: vec!["anger".into(), "joy".into()],
            counts: vec![vec![3, 1], vec![0, 5]],
        };
        let (texts, _) = parse(&confusion_svg("confusion", &confusion).expect("svg"));
        for text in ["anger", "joy", "3", "1", "0", "5", "predicted", "gold"] {
            assert!(
                texts.contains(&text.to_owned()),
                "{text:?} missing from {texts:?}"
            );
        }
        let svg = line_svg(
            "loss",
            ("step", "loss"),
            &[(1.0, 2.0), (2.0, 1.0)],
            Some(((2.0, 1.0), "best")),
        )
        .expect("svg");
        let (texts, lines) = parse(&svg);
        assert!(texts.contains(&"best".to_owned()) && lines.contains(&2));
    }
}
