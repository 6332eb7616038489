//! What the worker runs.

use crate::batch::PaddedBatch;
use crate::error::Result;

/// Turns a padded batch into one row of logits per text.
pub(crate) trait Engine: Send + 'static {
    /// Logits for every row of `batch`, in order.
    fn logits(&mut self, batch: &PaddedBatch) -> Result<Vec<Vec<f32>>>;

    /// Sets the intra-op threads of the calling (worker) thread for the passes that follow.
    fn set_threads(&mut self, _threads: i32) {}
}

impl Engine for crate::model::Network {
    fn logits(&mut self, batch: &PaddedBatch) -> Result<Vec<Vec<f32>>> {
        self.batch_logits(batch)
    }

    /// libtorch keeps the OpenMP and MKL thread counts per calling thread.
    fn set_threads(&mut self, threads: i32) {
        tch::set_num_threads(threads);
    }
}
