//! Starting the worker and talking to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Sender};

use super::batching::Batching;
use super::cores::CoreShare;
use super::engine::Engine;
use super::job::{Answer, Job, Message, RowResult};
use super::queue::{Admission, QueueBound, QueueStats};
use super::stats::{PassCounters, PassStats};
use crate::cpu::team::Team;
use crate::error::{Error, Result};

/// The default bound on queued texts ([`max_queued`](crate::EmotionClassifierBuilder::max_queued)):
/// two of `classify_batch`'s rounds of 2,048, so a large call keeps the workers fed while it
/// tokenizes ahead, and a flood of callers waits instead of piling up.
pub const DEFAULT_MAX_QUEUED: usize = 4096;

/// A job sent to the worker, whose answer has not been read yet. Dropping it unread tells the
/// worker nobody wants the answer: a job whose callers have all gone is skipped.
pub(crate) struct Pending {
    reply: oneshot::Receiver<Answer>,
    submitted: Instant,
}

/// A job's rows, with how long it waited in the queue and how long its passes took (until the
/// answer was read).
pub(crate) struct Timed {
    pub(crate) rows: Vec<RowResult>,
    pub(crate) queue: Duration,
    pub(crate) inference: Duration,
}

impl Pending {
    /// Blocks until the worker answers; [`Error::WorkerStopped`] if it never will. (The
    /// classifier awaits [`answer`](Self::answer); tests block.)
    #[cfg(test)]
    pub(crate) fn wait(self) -> Result<Vec<RowResult>> {
        self.reply
            .recv()
            .map(|answer| answer.rows)
            .map_err(|_| Error::WorkerStopped)
    }

    /// Waits in the calling task until the worker answers; [`Error::WorkerStopped`] if it never
    /// will. Runtime-agnostic.
    pub(crate) async fn answer(self) -> Result<Timed> {
        let answer = self.reply.await.map_err(|_| Error::WorkerStopped)?;
        Ok(Timed {
            rows: answer.rows,
            queue: answer.started.saturating_duration_since(self.submitted),
            inference: answer.started.elapsed(),
        })
    }
}

/// The sending side of the workers; they stop when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct WorkerHandle {
    sender: Sender<Message>,
    workers: usize,
    counters: Arc<PassCounters>,
    bound: Arc<QueueBound>,
    /// Worker threads still running: each counts itself out when it ends, by returning or by
    /// a panic.
    alive: Arc<AtomicUsize>,
}

/// Counts a worker thread out of [`WorkerHandle::alive`] when dropped, however the thread ends.
struct AliveGuard(Arc<AtomicUsize>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl WorkerHandle {
    /// Starts a worker thread that owns `engine`.
    ///
    /// # Errors
    /// [`Error::WorkerSpawn`] if the thread cannot be spawned.
    #[cfg(test)]
    pub(crate) fn spawn<E: Engine>(engine: E, batching: Batching) -> Result<Self> {
        Self::spawn_pool(vec![engine], None, batching, DEFAULT_MAX_QUEUED)
    }

    /// Starts one worker thread per engine, all taking jobs from one queue. With `threads` (the
    /// whole pool's), each sets its own libtorch intra-op thread count (an OpenMP and MKL
    /// setting of the calling thread) before a pass: all `threads` when no other worker is
    /// busy, otherwise its share ([`CoreShare`]). At most `max_queued` texts wait in the queue
    /// ([`QueueBound`]).
    ///
    /// # Errors
    /// [`Error::WorkerSpawn`] if a thread cannot be spawned (the ones already started then stop).
    pub(crate) fn spawn_pool<E: Engine>(
        engines: Vec<E>,
        threads: Option<i32>,
        batching: Batching,
        max_queued: usize,
    ) -> Result<Self> {
        // crossbeam's channel: several workers receive from one queue (std's mpsc has one
        // receiver). When the last worker ends, queued jobs are dropped, failing their callers.
        let (sender, receiver) = unbounded();
        let workers = engines.len();
        let cores = threads.map(|threads| Arc::new(CoreShare::new(threads, workers)));
        let team = match (threads, engines.first()) {
            (Some(threads), Some(engine)) if engine.splits_products() => {
                let helpers = super::cores::pass_width(threads).saturating_sub(1);
                let team = Team::new(helpers, E::prepare_helper)
                    .map_err(|source| Error::WorkerSpawn { index: 0, source })?;
                (helpers > 0).then(|| Arc::new(team))
            }
            _ => None,
        };
        let counters = Arc::new(PassCounters::default());
        let alive = Arc::new(AtomicUsize::new(0));
        for (index, engine) in engines.into_iter().enumerate() {
            alive.fetch_add(1, Ordering::Release);
            let guard = AliveGuard(Arc::clone(&alive));
            let receiver = receiver.clone();
            let cores = cores.clone();
            let team = team.clone();
            let pass_counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name(format!("emotion-classifier-worker-{index}"))
                .spawn(move || {
                    let _guard = guard;
                    super::run::run(
                        engine,
                        &receiver,
                        batching,
                        cores.as_deref(),
                        team.as_deref(),
                        &pass_counters,
                    );
                })
                .map_err(|source| Error::WorkerSpawn { index, source })?;
        }
        Ok(Self {
            sender,
            workers,
            counters,
            bound: QueueBound::new(max_queued),
            alive,
        })
    }

    /// How many worker threads are still running (0 once they stopped or died). One atomic
    /// load: a health check that never waits behind the queue.
    pub(crate) fn alive(&self) -> usize {
        self.alive.load(Ordering::Acquire)
    }

    /// The forward passes run so far, all workers together.
    pub(crate) fn pass_stats(&self) -> PassStats {
        self.counters.snapshot()
    }

    /// The passes by size and tokens, all workers together.
    #[cfg(feature = "server")]
    pub(crate) fn pass_histograms(&self) -> super::stats::PassHistograms {
        self.counters.histograms()
    }

    /// The queue: what is queued now, its bound and the most ever queued.
    pub(crate) fn queue_stats(&self) -> QueueStats {
        self.bound.stats()
    }

    /// Jobs in the channel now, counted by the channel itself (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn jobs_in_channel(&self) -> usize {
        self.sender.len()
    }

    /// Queues the forward pass of `sequences`, waiting for room; read the answer with
    /// [`Pending::wait`].
    #[cfg(test)]
    pub(crate) fn submit(&self, sequences: Vec<Vec<u32>>) -> Result<Pending> {
        self.submit_blocking(sequences, Admission::Wait)
    }

    /// [`submit_async`](Self::submit_async), blocking this thread (for tests).
    #[cfg(test)]
    pub(crate) fn submit_blocking(
        &self,
        sequences: Vec<Vec<u32>>,
        admission: Admission,
    ) -> Result<Pending> {
        crate::block_on::block_on(self.submit_async(sequences, admission))
    }

    /// Queues the forward pass of `sequences` once there is room, waiting in the calling task.
    ///
    /// # Errors
    /// [`Error::Overloaded`] (with [`Admission::Try`]), [`Error::WorkerStopped`].
    pub(crate) async fn submit_async(
        &self,
        sequences: Vec<Vec<u32>>,
        admission: Admission,
    ) -> Result<Pending> {
        let permit = self.bound.acquire(sequences.len(), admission).await?;
        self.send(sequences, permit)
    }

    fn send(&self, sequences: Vec<Vec<u32>>, permit: super::queue::Permit) -> Result<Pending> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            sequences,
            reply,
            permit: Some(permit),
        };
        self.sender
            .send(Message::Run(job))
            .map_err(|_| Error::WorkerStopped)?;
        Ok(Pending {
            reply: answer,
            submitted: Instant::now(),
        })
    }

    /// Asks the workers to stop: queued jobs and later submissions get [`Error::WorkerStopped`].
    pub(crate) fn stop(&self) {
        // One stop message per worker; each ends at the first it takes. Workers that are
        // already gone are stopped.
        for _ in 0..self.workers {
            let _ = self.sender.send(Message::Stop);
        }
    }
}
