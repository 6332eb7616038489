//! Batching, in pure Rust: which texts run together, and how they are padded.
//!
//! Public only for the benches and the fuzz targets (hidden from the docs); users set the limits
//! through the builder, and [`BatchLimits`] is re-exported at the crate root.
//!
//! Texts are sorted by token length and cut into batches under a maximum batch size and a maximum
//! number of padded tokens (rows x longest row), so short texts are not padded to the length of
//! long ones and no batch grows past a memory budget. Nothing here touches libtorch.

mod padded;
mod plan;

pub(crate) use padded::PaddedBatch;
pub use plan::{plan_batches, BatchLimits};
