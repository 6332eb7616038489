//! The bound on queued texts (as in tower's `Buffer`): how many texts may wait in the workers'
//! queue, not yet taken for a forward pass. Past the bound a caller waits for room
//! (backpressure), or, with [`Admission::Try`], gets [`Error::Overloaded`] at once.
//!
//! Each job holds a [`Permit`] for its texts while it is queued; the worker drops it when it
//! takes the job for a pass (or when the job is dropped unrun), which wakes waiting callers.
//! Waiting is a runtime-agnostic future (`event-listener`); a blocking caller runs it with
//! `block_on`. No libtorch here: tested on its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use event_listener::Event;

use crate::error::{Error, Result};

/// The workers' queue, as [`EmotionClassifier::queue_stats`](crate::EmotionClassifier::queue_stats)
/// reads it: a few atomic loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct QueueStats {
    /// Texts waiting now, not yet taken for a forward pass.
    pub queued: usize,
    /// The most that may wait ([`max_queued`](crate::EmotionClassifierBuilder::max_queued)).
    pub max_queued: usize,
    /// The most that ever waited at once.
    pub peak: usize,
}

/// What a caller does when its texts do not fit in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Wait for room. A job larger than the whole bound is let in once the queue is empty, so
    /// no call waits forever.
    Wait,
    /// Fail at once with [`Error::Overloaded`] unless the texts fit now.
    Try,
}

/// The queue's bound and what is queued now.
#[derive(Debug)]
pub(crate) struct QueueBound {
    limit: usize,
    queued: AtomicUsize,
    /// The most texts ever queued at once (for tests and monitoring).
    peak: AtomicUsize,
    freed: Event,
}

/// Room for some texts in the queue, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    bound: Arc<QueueBound>,
    texts: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.bound.queued.fetch_sub(self.texts, Ordering::AcqRel);
        self.bound.freed.notify(usize::MAX);
    }
}

impl QueueBound {
    /// A bound of `limit` queued texts (at least 1).
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            queued: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            freed: Event::new(),
        })
    }

    /// The texts queued now.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// The most texts queued at any one time so far.
    #[cfg(test)]
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    /// What is queued now, the bound and the most ever queued.
    pub(crate) fn stats(&self) -> QueueStats {
        QueueStats {
            queued: self.queued(),
            max_queued: self.limit,
            peak: self.peak.load(Ordering::Acquire),
        }
    }

    /// Room for `texts` if they fit now; with `alone`, also when the queue is empty whatever
    /// their number.
    fn take(self: &Arc<Self>, texts: usize, alone: bool) -> Option<Permit> {
        let mut current = self.queued.load(Ordering::Acquire);
        loop {
            let fits = current.saturating_add(texts) <= self.limit || (alone && current == 0);
            if !fits {
                return None;
            }
            match self.queued.compare_exchange_weak(
                current,
                current + texts,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.peak.fetch_max(current + texts, Ordering::AcqRel);
                    return Some(Permit {
                        bound: Arc::clone(self),
                        texts,
                    });
                }
                Err(now) => current = now,
            }
        }
    }

    fn overloaded(&self) -> Error {
        Error::Overloaded {
            queued: self.queued(),
            limit: self.limit,
        }
    }

    /// Room for `texts`, waiting in the calling task until there is (as [`Admission`] says).
    ///
    /// # Errors
    /// [`Error::Overloaded`] with [`Admission::Try`] when they do not fit now.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        texts: usize,
        admission: Admission,
    ) -> Result<Permit> {
        if admission == Admission::Try {
            return self.take(texts, false).ok_or_else(|| self.overloaded());
        }
        loop {
            if let Some(permit) = self.take(texts, true) {
                return Ok(permit);
            }
            // Listen before checking again, so a release between the two is not missed.
            let listener = self.freed.listen();
            if let Some(permit) = self.take(texts, true) {
                return Ok(permit);
            }
            listener.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::block_on::block_on;

    fn acquire_blocking(
        bound: &Arc<QueueBound>,
        texts: usize,
        admission: Admission,
    ) -> Result<Permit> {
        block_on(bound.acquire(texts, admission))
    }

    #[test]
    fn permits_count_texts_and_give_them_back_when_dropped() {
        let bound = QueueBound::new(10);
        let a = acquire_blocking(&bound, 4, Admission::Try).unwrap();
        let b = acquire_blocking(&bound, 6, Admission::Try).unwrap();
        assert_eq!(bound.queued(), 10);
        match acquire_blocking(&bound, 1, Admission::Try) {
            Err(Error::Overloaded { queued, limit }) => assert_eq!((queued, limit), (10, 10)),
            other => panic!("expected Overloaded, got {other:?}"),
        }
        drop(a);
        assert_eq!(bound.queued(), 6);
        let c = acquire_blocking(&bound, 4, Admission::Try).unwrap();
        drop((b, c));
        assert_eq!((bound.queued(), bound.peak()), (0, 10));
    }

    #[test]
    fn more_than_the_bound_waits_for_an_empty_queue_or_is_refused() {
        let bound = QueueBound::new(3);
        // Try never lets in more than the bound.
        assert!(matches!(
            acquire_blocking(&bound, 5, Admission::Try),
            Err(Error::Overloaded { .. })
        ));
        // Wait lets it in alone, so a large job never waits forever.
        let big = acquire_blocking(&bound, 5, Admission::Wait).unwrap();
        assert_eq!(bound.queued(), 5);
        drop(big);
    }

    #[test]
    fn a_waiting_caller_gets_in_when_room_is_given_back() {
        let bound = QueueBound::new(2);
        let held = acquire_blocking(&bound, 2, Admission::Wait).unwrap();
        let waiter = {
            let bound = Arc::clone(&bound);
            std::thread::spawn(move || acquire_blocking(&bound, 1, Admission::Wait).map(drop))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "it must wait while the queue is full"
        );
        drop(held);
        waiter.join().unwrap().unwrap();
        assert_eq!(bound.queued(), 0);
    }

    #[test]
    fn many_threads_never_exceed_the_bound() {
        let bound = QueueBound::new(5);
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let bound = Arc::clone(&bound);
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let permit = acquire_blocking(&bound, 1 + i % 3, Admission::Wait).unwrap();
                        assert!(bound.queued() <= 5);
                        drop(permit);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(bound.peak() <= 5, "peak {}", bound.peak());
        assert_eq!(bound.queued(), 0);
    }
}
