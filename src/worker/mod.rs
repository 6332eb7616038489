//! The worker: a thread that owns the model and runs every forward pass (or a pool of such
//! threads, each with its own handle on the model's weights, taking jobs from one queue).
//!
//! libtorch tensors are `Send` but not `Sync`, so a model lives on one thread. Callers send it
//! [`Job`]s through a [`WorkerHandle`] (cheap to clone); each job carries its own reply channel.
//! With dynamic batching on, the worker takes every job that is waiting (and, if `max_wait` is
//! set, waits that long for more) and runs them together, so many threads calling `classify`
//! share forward passes. If the workers stop or die, every waiting and later caller gets
//! [`Error::WorkerStopped`](crate::Error::WorkerStopped), never a hang.
//!
//! The queue is bounded ([`queue`]): past `max_queued` texts a caller waits for room, or a
//! `try_` call gets [`Error::Overloaded`](crate::Error::Overloaded) at once; and a job whose
//! callers have all dropped their replies is skipped before its pass.
//!
//! A pool's cores are shared ([`cores`]): a pass that runs alone gets them all, either as
//! libtorch threads or, for an engine that splits its products, as the helper threads of a
//! [`Team`](crate::cpu::team::Team) that run column blocks of each GEMM beside the worker.
//!
//! Every pass is counted ([`PassStats`]: passes, sequences, real and padded tokens, time), so
//! a user can see how well batching fills them. The worker is generic over an [`Engine`], so
//! its scheduling is tested without libtorch.

mod batching;
mod cores;
mod engine;
mod handle;
mod job;
#[cfg(test)]
mod overload;
mod queue;
mod run;
mod stats;

pub use batching::Batching;
pub(crate) use cores::pass_width;
pub use handle::DEFAULT_MAX_QUEUED;
pub(crate) use handle::{Pending, WorkerHandle};
pub(crate) use job::RowResult;
pub(crate) use queue::Admission;
pub use queue::QueueStats;
pub use stats::PassStats;
#[cfg(feature = "server")]
pub(crate) use stats::{PassHistograms, SIZE_BUCKETS, TOKEN_BUCKETS};
