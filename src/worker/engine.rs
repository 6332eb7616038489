//! What the worker runs.

use crate::batch::TokenBatch;
use crate::cpu::team::Session;
use crate::error::Result;

/// Turns a pass's texts (token ids with offsets, no padding) into one row of logits per text.
pub(crate) trait Engine: Send + 'static {
    /// Logits for every row of `batch`, in order. `team`, when the pass has one, takes a share
    /// of its products (only given to an engine that [`splits_products`](Self::splits_products)).
    fn logits(&mut self, batch: &TokenBatch, team: Option<&Session>) -> Result<Vec<Vec<f32>>>;

    /// Sets the intra-op threads of the calling (worker) thread for the passes that follow.
    fn set_threads(&mut self, _threads: i32) {}

    /// Whether its passes can split their products over a team of helper threads; such an
    /// engine runs a pass that has the cores to itself on one intra-op thread plus the team.
    fn splits_products(&self) -> bool {
        false
    }

    /// Run once on each of the team's helper threads before its first task.
    fn prepare_helper() {}
}

impl Engine for crate::model::Network {
    fn logits(&mut self, batch: &TokenBatch, team: Option<&Session>) -> Result<Vec<Vec<f32>>> {
        self.batch_logits(batch, team)
    }

    /// libtorch keeps the OpenMP and MKL thread counts per calling thread.
    fn set_threads(&mut self, threads: i32) {
        tch::set_num_threads(threads);
    }

    fn splits_products(&self) -> bool {
        crate::model::Network::splits_products(self)
    }

    /// A helper runs MKL products on its own core: MKL must not start threads of its own there.
    fn prepare_helper() {
        tch::set_num_threads(1);
    }
}
