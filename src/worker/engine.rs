//! What the worker runs.

use crate::batch::PaddedBatch;
use crate::error::Result;

/// Turns a padded batch into one row of logits per text.
pub(crate) trait Engine: Send + 'static {
    /// Logits for every row of `batch`, in order.
    fn logits(&mut self, batch: &PaddedBatch) -> Result<Vec<Vec<f32>>>;
}

impl Engine for crate::model::Network {
    fn logits(&mut self, batch: &PaddedBatch) -> Result<Vec<Vec<f32>>> {
        self.batch_logits(batch)
    }
}
