//! A fine-tuning run's report as pictures (feature `plots`): the training loss per step, the
//! learning rate per step, and the dev macro-F1 per epoch with the best epoch marked, as SVG.

use std::path::{Path, PathBuf};

use super::FineTuneReport;
use crate::evaluation::{line_svg, PlotError};

/// The three pictures of a run, as SVG text.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingPlots {
    /// The training loss per step.
    pub loss: String,
    /// The learning rate per step.
    pub learning_rate: String,
    /// The dev macro-F1 per epoch, the best epoch marked (`None` without dev texts).
    pub dev_macro_f1: Option<String>,
}

impl FineTuneReport {
    /// Draws the run: see [`TrainingPlots`]. `name` (say, the output folder and the data) is
    /// put in every title.
    ///
    /// # Errors
    /// [`PlotError`] if plotters cannot draw one.
    pub fn plots(&self, name: &str) -> Result<TrainingPlots, PlotError> {
        let per_step = |value: fn(&super::StepRecord) -> f64| -> Vec<(f64, f64)> {
            self.history
                .iter()
                .map(|s| (s.step as f64, value(s)))
                .collect()
        };
        let loss = line_svg(
            &format!("training loss: {name}"),
            ("step", "loss"),
            &per_step(|s| s.loss),
            None,
        )?;
        let learning_rate = line_svg(
            &format!("learning rate: {name}"),
            ("step", "learning rate"),
            &per_step(|s| s.learning_rate),
            None,
        )?;
        let f1: Vec<(f64, f64)> = self
            .epochs
            .iter()
            .filter_map(|e| Some((e.epoch as f64, e.dev_macro_f1?)))
            .collect();
        let dev_macro_f1 = if f1.is_empty() {
            None
        } else {
            let best = self
                .best_dev_macro_f1
                .map(|f1| ((self.best_epoch as f64, f1), "best"));
            Some(line_svg(
                &format!("dev macro-F1: {name}"),
                ("epoch", "dev macro-F1"),
                &f1,
                best,
            )?)
        };
        Ok(TrainingPlots {
            loss,
            learning_rate,
            dev_macro_f1,
        })
    }

    /// Writes [`plots`](Self::plots) into `dir` as `loss.svg`, `learning-rate.svg` and
    /// `dev-macro-f1.svg`; returns the files written.
    ///
    /// # Errors
    /// [`crate::Error::Write`] naming the file, or a drawing error as [`crate::Error::Write`]'s
    /// source.
    pub fn write_plots(&self, dir: &Path, name: &str) -> crate::Result<Vec<PathBuf>> {
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| crate::Error::Write { path, source }
        };
        std::fs::create_dir_all(dir).map_err(write_error(dir))?;
        let plots = self
            .plots(name)
            .map_err(|e| write_error(dir)(std::io::Error::other(e)))?;
        let mut written = Vec::new();
        for (file, svg) in [
            ("loss.svg", Some(plots.loss)),
            ("learning-rate.svg", Some(plots.learning_rate)),
            ("dev-macro-f1.svg", plots.dev_macro_f1),
        ] {
            if let Some(svg) = svg {
                let path = dir.join(file);
                std::fs::write(&path, svg).map_err(write_error(&path))?;
                written.push(path);
            }
        }
        Ok(written)
    }
}
