//! Sharing the cores among a pool's workers: a worker that runs alone gets all of them.
//!
//! Two one-thread workers keep two cores busier than one two-thread worker when both have work
//! (batches, many callers), but a lone caller's text would then run on one core while the
//! other idles. So each pass asks how many workers are busy: alone, it takes the whole pool's
//! threads; otherwise its share. The count is read when a pass starts; a worker that starts
//! while another runs alone shares the cores until that pass ends (a brief oversubscription,
//! never an error). Pure logic: the worker applies the count (libtorch keeps it per thread),
//! or, for an engine that splits its products, keeps one thread and takes the pool's team of
//! helper threads for a lone pass ([`crate::cpu::team`]).

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads one pass of a pool of `threads` intra-op threads runs on when it has the
/// cores to itself and splits its products (the worker and its team's helpers): the threads,
/// but never more than the cores this process may use (a spinning helper on a shared core
/// would slow every pass). The packed weights are cut into as many column blocks.
pub(crate) fn pass_width(threads: i32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    usize::try_from(threads).unwrap_or(1).clamp(1, cores)
}

/// The pool's cores and how many of its workers are running a pass.
#[derive(Debug)]
pub(crate) struct CoreShare {
    per_worker: i32,
    all: i32,
    busy: AtomicUsize,
}

impl CoreShare {
    /// `workers` workers sharing `threads` intra-op threads: a lone pass gets all of them,
    /// overlapping passes `threads / workers` each (at least one).
    pub(crate) fn new(threads: i32, workers: usize) -> Self {
        let workers = i32::try_from(workers.max(1)).unwrap_or(i32::MAX);
        let all = threads.max(1);
        Self {
            per_worker: (all / workers).max(1),
            all,
            busy: AtomicUsize::new(0),
        }
    }

    /// How many workers are running a pass now.
    pub(crate) fn running(&self) -> &AtomicUsize {
        &self.busy
    }

    /// Marks a worker busy until the returned guard drops; the guard says how many threads its
    /// pass should use.
    pub(crate) fn begin(&self) -> Busy<'_> {
        let others = self.busy.fetch_add(1, Ordering::AcqRel);
        Busy {
            share: self,
            threads: if others == 0 {
                self.all
            } else {
                self.per_worker
            },
            alone: others == 0,
        }
    }
}

/// One worker's pass in progress.
pub(crate) struct Busy<'a> {
    share: &'a CoreShare,
    /// The intra-op threads for this pass.
    pub(crate) threads: i32,
    /// No other worker was running a pass when this one began.
    pub(crate) alone: bool,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.share.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_worker_takes_every_core_and_company_gets_its_share() {
        let share = CoreShare::new(2, 2);
        {
            let alone = share.begin();
            assert_eq!(alone.threads, 2);
            let second = share.begin();
            assert_eq!(second.threads, 1);
            drop(alone);
            // The second is still running: a third pass starting now shares.
            assert_eq!(share.begin().threads, 1);
        }
        // All guards dropped: the next pass is alone again.
        assert_eq!(share.begin().threads, 2);
    }

    #[test]
    fn one_worker_always_gets_the_whole_count() {
        let share = CoreShare::new(3, 1);
        assert_eq!(share.begin().threads, 3);
        let _first = share.begin();
        assert_eq!(share.begin().threads, 3);
    }

    #[test]
    fn shares_round_down_but_never_below_one_thread() {
        // Three threads between two workers: alone 3, together 1 each.
        let share = CoreShare::new(3, 2);
        let alone = share.begin();
        assert_eq!(alone.threads, 3);
        assert_eq!(share.begin().threads, 1);
        drop(alone);
        // More workers than threads: each still gets one.
        let share = CoreShare::new(2, 4);
        let _alone = share.begin();
        assert_eq!(share.begin().threads, 1);
        // Zero threads is never passed on to libtorch.
        assert_eq!(CoreShare::new(0, 1).begin().threads, 1);
    }
}
