//! Emotion functions for Apache DataFusion SQL, on [`emotion_classifier`].
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
//! # Quick start
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use datafusion::prelude::{CsvReadOptions, SessionContext};
//! use emotion_classifier::{EmotionClassifier, ModelSource};
//! use emotion_classifier_sql::{register, EmotionFunctions};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let classifier = EmotionClassifier::builder()
//!     .model(ModelSource::dir("models/emotion-minilm-ekman"))
//!     .build()?;
//! let ctx = SessionContext::new();
//! register(&ctx, &EmotionFunctions::new(Arc::new(classifier)));
//! ctx.register_csv("tickets", "tickets.csv", CsvReadOptions::new()).await?;
//! let batches = ctx
//!     .sql("SELECT body, emotion_top(body)['label'] AS emotion FROM tickets")
//!     .await?
//!     .collect()
//!     .await?;
//! println!("{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?);
//! # Ok(())
//! # }
//! ```
//!
//! Each Arrow batch goes to
//! [`classify_each`](emotion_classifier::EmotionClassifier::classify_each) whole, so a batch gets the
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
//!
//! DataFusion's and Ballista's types (`SessionContext`, `SessionStateBuilder`, `ScalarUDF`,
//! `SessionConfig`, `DataFusionError`) are this crate's API on purpose: it is a DataFusion
//! extension, used from the caller's own DataFusion session, so it follows DataFusion's major
//! version (55 today) and changes its own version when that changes. The classifier crate has
//! none of them.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod arrays;
#[cfg(feature = "ballista")]
#[cfg_attr(docsrs, doc(cfg(feature = "ballista")))]
pub mod ballista;
mod functions;
mod model;
mod statement;
mod udf;

pub use functions::{register, EmotionFunctions, SqlStats};
pub use model::ModelLoadError;
pub use statement::run;
