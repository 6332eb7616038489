//! Emotion functions for Apache DataFusion SQL (feature `datafusion`).
//!
//! ```sql
//! SELECT id, emotion_top(body)['label'], emotion(body, 'joy') FROM 'tickets.parquet'
//! ```
//!
//! - `emotion_scores(text)`: a struct with one `Float32` field per label, in the model's order;
//! - `emotion_top(text)`: a struct `{label: Utf8, score: Float32}`;
//! - `emotion(text, 'joy')`: one label's probability, `Float32`; an unknown label is a
//!   planning error naming the model's labels.
//!
//! Each Arrow batch goes to [`classify_each`](crate::EmotionClassifier::classify_each) whole, so a batch gets the
//! length-sorted planner, the cache and repeated-text deduplication. `NULL` gives `NULL`; a text
//! the model cannot score gives `NULL` too (counted in [`SqlStats`], the first error logged),
//! or with [`EmotionFunctions::strict`] fails the query naming the row. Text may be `Utf8`,
//! `Utf8View` (DataFusion's Parquet strings) or `LargeUtf8`.
//!
//! The functions are `Immutable`: a call on a constant (`emotion_top('I am happy')`) is folded
//! while the query is planned, so the model runs where the query is planned.
//!
//! - [`EmotionFunctions`] (`functions`): the classifier, the options and the counters, and
//!   registration on a `SessionContext` or a `SessionStateBuilder`;
//! - `model`: the classifier, built already or on first use ([`EmotionFunctions::lazy`], what
//!   a Ballista executor or scheduler wants), and [`ModelLoadError`];
//! - [`run`] (`statement`): one statement, with input errors naming the files and a failed
//!   `COPY` leaving no partial output;
//! - [`ballista`] (feature `ballista`): the functions on an Apache DataFusion Ballista cluster.
//! - `udf`: the three `ScalarUDFImpl`s;
//! - `arrays`: Arrow strings in, Arrow scores out.

mod arrays;
#[cfg(feature = "ballista")]
pub mod ballista;
mod functions;
mod model;
mod statement;
mod udf;

pub use functions::{register, EmotionFunctions, SqlStats};
pub use model::ModelLoadError;
pub use statement::run;
