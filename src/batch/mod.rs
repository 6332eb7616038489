//! Batching, in pure Rust: which texts run together, and how they are padded.
//!
//! The classifier plans every call's forward passes with [`plan_batches`]; it is public so that
//! a caller can see how texts of given token lengths would be grouped (and the benches and fuzz
//! targets drive it directly). Users set the limits through
//! [`EmotionClassifierBuilder`](crate::EmotionClassifierBuilder); [`BatchLimits`] is also
//! re-exported at the crate root.
//!
//! Texts are sorted by token length and cut into batches under a maximum batch size and a maximum
//! number of padded tokens (rows x longest row), so short texts are not padded to the length of
//! long ones and no batch grows past a memory budget. Nothing here touches libtorch.

mod padded;
mod plan;
mod tokens;

pub use plan::{plan_batches, BatchLimits};
pub(crate) use tokens::TokenBatch;
