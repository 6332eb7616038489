//! Messages to the worker.

use std::sync::Arc;

use super::queue::Permit;
use crate::error::Error;

/// One text's logits, or the error of the forward pass it was in (shared by that pass's texts).
pub(crate) type RowResult = Result<Vec<f32>, Arc<Error>>;

/// A job's answer: one [`RowResult`] per text, in order, and when the worker started the
/// passes that computed them (the end of the job's wait in the queue).
pub(crate) struct Answer {
    pub(crate) rows: Vec<RowResult>,
    pub(crate) started: std::time::Instant,
}

/// Token ids of some texts, and where to send their logits.
pub(crate) struct Job {
    pub(crate) sequences: Vec<Vec<u32>>,
    pub(crate) reply: oneshot::Sender<Answer>,
    /// The job's room in the bounded queue, given back when a worker takes it.
    pub(crate) permit: Option<Permit>,
}

impl Job {
    /// Whether every caller has dropped its reply: nobody would read the answer.
    pub(crate) fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

/// What a handle can ask of the worker.
pub(crate) enum Message {
    Run(Job),
    Stop,
}
