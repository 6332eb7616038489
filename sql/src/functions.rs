//! The three functions' shared state, the counters, and registration.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

use super::model::SqlModel;
use super::udf::{EmotionUdf, Output};
use emotion_classifier::{EmotionClassifier, EmotionClassifierBuilder, EmotionScores};

/// The emotion SQL functions over one classifier: build it, then [`register`] it on a
/// `SessionContext` (or add [`EmotionFunctions::udfs`] to a `SessionStateBuilder`).
///
/// Cloning is cheap and keeps one classifier and one set of counters.
#[derive(Clone)]
pub struct EmotionFunctions {
    model: Arc<SqlModel>,
    strict: bool,
    counters: Arc<Counters>,
}

/// What the functions have seen since they were built: read with [`EmotionFunctions::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SqlStats {
    /// Rows the functions were called on.
    pub rows: u64,
    /// Rows whose text was `NULL` (answered `NULL`).
    pub null_texts: u64,
    /// Rows the model could not score (answered `NULL`, or failing the query when strict).
    pub unscored: u64,
}

#[derive(Default)]
struct Counters {
    rows: AtomicU64,
    null_texts: AtomicU64,
    unscored: AtomicU64,
    logged: AtomicBool,
}

/// A text the model could not score, in strict mode: the query fails with it.
#[derive(Debug, thiserror::Error)]
#[error("emotion function: row {row} of its batch cannot be scored (text starts {start:?})")]
pub(super) struct UnscoredRow {
    row: usize,
    start: String,
    #[source]
    source: emotion_classifier::Error,
}

impl EmotionFunctions {
    /// The functions over `classifier`; texts the model cannot score give `NULL`.
    pub fn new(classifier: Arc<EmotionClassifier>) -> Self {
        Self::over(SqlModel::Ready(classifier))
    }

    /// The functions over the model `builder` names, built the first time a function runs:
    /// a Ballista executor loads its model once, when its first task needs it, and a
    /// scheduler, which only plans, never loads it.
    ///
    /// Reads the model's `config.json` now, for the labels (a hub model's files are downloaded
    /// into the cache first). The first call that scores texts then builds the classifier from
    /// the same folder, about as long as [`EmotionClassifierBuilder::build`]; calls made
    /// meanwhile wait for it. If the build fails, that call and every later one fail with a
    /// [`ModelLoadError`](super::ModelLoadError).
    ///
    /// # Errors
    /// Fetching a hub model, or a missing or invalid `config.json`.
    pub fn lazy(builder: EmotionClassifierBuilder) -> emotion_classifier::Result<Self> {
        Ok(Self::over(SqlModel::lazy(builder)?))
    }

    fn over(model: SqlModel) -> Self {
        Self {
            model: Arc::new(model),
            strict: false,
            counters: Arc::default(),
        }
    }

    /// Strict: a text the model cannot score fails the query, naming the row, instead of
    /// giving `NULL`.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The model's labels, in its order: `emotion_scores`' fields.
    pub fn labels(&self) -> &[String] {
        self.model.labels()
    }

    /// Whether the model is loaded: always for [`new`](Self::new); for [`lazy`](Self::lazy),
    /// once a function has run.
    pub fn is_loaded(&self) -> bool {
        self.model.is_loaded()
    }

    /// The counters since these functions were built (one atomic read each).
    pub fn stats(&self) -> SqlStats {
        SqlStats {
            rows: self.counters.rows.load(Ordering::Relaxed),
            null_texts: self.counters.null_texts.load(Ordering::Relaxed),
            unscored: self.counters.unscored.load(Ordering::Relaxed),
        }
    }

    /// `emotion_scores`, `emotion_top` and `emotion`, for `SessionStateBuilder::with_scalar_functions`
    /// or `register_udf` (Ballista's client, scheduler and executors all need them by name).
    pub fn udfs(&self) -> Vec<Arc<ScalarUDF>> {
        [Output::Scores, Output::Top, Output::One]
            .into_iter()
            .map(|output| {
                Arc::new(ScalarUDF::new_from_impl(EmotionUdf::new(
                    output,
                    self.clone(),
                )))
            })
            .collect()
    }

    /// `builder` with the functions added to the scalar functions it already has (its list is
    /// empty unless `with_default_features` or `with_scalar_functions` filled it).
    pub fn add_to(&self, mut builder: SessionStateBuilder) -> SessionStateBuilder {
        builder
            .scalar_functions()
            .get_or_insert_with(Vec::new)
            .extend(self.udfs());
        builder
    }

    /// The identity two function sets are equal by: the model's config file and the mode.
    pub(super) fn identity(&self) -> (&std::path::Path, bool) {
        (self.model.config_path(), self.strict)
    }

    /// Scores for a column of texts, `None` for `NULL` and (unless strict) for texts the model
    /// cannot score. One `classify_each` call for the whole column.
    pub(super) fn score(&self, texts: &[Option<&str>]) -> Result<Vec<Option<EmotionScores>>> {
        let present: Vec<&str> = texts.iter().flatten().copied().collect();
        // A batch of NULLs never needs the model (nor loads a lazy one).
        let answers = if present.is_empty() {
            Vec::new()
        } else {
            self.model.classifier()?.classify_each(&present)
        };
        let mut answers = answers.into_iter();
        let counters = &self.counters;
        counters
            .rows
            .fetch_add(texts.len() as u64, Ordering::Relaxed);
        let mut rows = Vec::with_capacity(texts.len());
        for (row, text) in texts.iter().enumerate() {
            let Some(text) = text else {
                counters.null_texts.fetch_add(1, Ordering::Relaxed);
                rows.push(None);
                continue;
            };
            match answers.next() {
                Some(Ok(scores)) => rows.push(Some(scores)),
                Some(Err(source)) => {
                    let failure = UnscoredRow {
                        row,
                        start: text.chars().take(60).collect(),
                        source,
                    };
                    if self.strict {
                        return Err(DataFusionError::External(Box::new(failure)));
                    }
                    counters.unscored.fetch_add(1, Ordering::Relaxed);
                    if !counters.logged.swap(true, Ordering::Relaxed) {
                        log::warn!("{failure} (answered NULL; later failures are only counted)");
                    }
                    rows.push(None);
                }
                None => {
                    return Err(DataFusionError::Internal(format!(
                        "classify_each answered {} of {} texts",
                        row,
                        present.len()
                    )))
                }
            }
        }
        Ok(rows)
    }
}

/// Registers `emotion_scores`, `emotion_top` and `emotion` on `ctx`, next to its other
/// functions.
pub fn register(ctx: &SessionContext, functions: &EmotionFunctions) {
    for udf in functions.udfs() {
        ctx.register_udf(udf.as_ref().clone());
    }
}
