//! Sharing the cores among a pool's workers: a worker that runs alone gets all of them.
//!
//! Two one-thread workers keep two cores busier than one two-thread worker when both have work
//! (batches, many callers), but a lone caller's text would then run on one core while the
//! other idles. So each pass asks how many workers are busy: alone, it takes the whole pool's
//! threads; otherwise its share. The count is read when a pass starts; a worker that starts
//! while another runs alone shares the cores until that pass ends (a brief oversubscription,
//! never an error). Pure logic: the worker applies the count (libtorch keeps it per thread).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The pool's cores and how many of its workers are running a pass.
#[derive(Debug)]
pub(crate) struct CoreShare {
    per_worker: i32,
    all: i32,
    busy: AtomicUsize,
}

impl CoreShare {
    /// `workers` workers with `per_worker` intra-op threads each.
    pub(crate) fn new(per_worker: i32, workers: usize) -> Self {
        let workers = i32::try_from(workers).unwrap_or(i32::MAX);
        Self {
            per_worker,
            all: per_worker.saturating_mul(workers.max(1)),
            busy: AtomicUsize::new(0),
        }
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
        }
    }
}

/// One worker's pass in progress.
pub(crate) struct Busy<'a> {
    share: &'a CoreShare,
    /// The intra-op threads for this pass.
    pub(crate) threads: i32,
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
        let share = CoreShare::new(1, 2);
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
    fn one_worker_always_gets_its_own_count() {
        let share = CoreShare::new(3, 1);
        assert_eq!(share.begin().threads, 3);
        let share = CoreShare::new(2, 4);
        assert_eq!(share.begin().threads, 8);
    }
}
