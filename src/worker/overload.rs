//! Tests of the workers under overload, on a slowed fake engine (no libtorch): the queue's
//! bound holds against a flood of callers, every call is answered or refused, nothing hangs,
//! and jobs whose callers have gone are skipped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use super::batching::Batching;
use super::engine::Engine;
use super::handle::WorkerHandle;
use super::queue::Admission;
use crate::batch::{BatchLimits, TokenBatch};
use crate::error::{Error, Result};

/// Answers each row with its first id, after `delay` per pass; counts the rows it ran.
struct Slow {
    delay: Duration,
    rows: Arc<AtomicUsize>,
}

impl Engine for Slow {
    fn logits(
        &mut self,
        batch: &TokenBatch,
        _: Option<&crate::cpu::team::Session>,
    ) -> Result<Vec<Vec<f32>>> {
        thread::sleep(self.delay);
        self.rows.fetch_add(batch.rows(), Ordering::Relaxed);
        Ok((0..batch.rows())
            .map(|r| vec![batch.text(r)[0] as f32])
            .collect())
    }
}

fn slow_pool(workers: usize, delay_ms: u64, max_queued: usize) -> (WorkerHandle, Arc<AtomicUsize>) {
    let rows = Arc::new(AtomicUsize::new(0));
    let engines = (0..workers)
        .map(|_| Slow {
            delay: Duration::from_millis(delay_ms),
            rows: Arc::clone(&rows),
        })
        .collect();
    let batching = Batching {
        limits: BatchLimits::new(8, 10_000).unwrap(),
        dynamic: true,
        max_wait: Duration::ZERO,
    };
    let pool = WorkerHandle::spawn_pool(engines, None, batching, max_queued).unwrap();
    (pool, rows)
}

#[test]
fn a_flood_of_64_threads_never_queues_past_the_bound_and_every_call_ends() {
    const BOUND: usize = 6;
    let (pool, rows) = slow_pool(2, 3, BOUND);
    let (done, finished) = mpsc::channel();
    for caller in 0..64u32 {
        let pool = pool.clone();
        let done = done.clone();
        thread::spawn(move || {
            // Half the callers wait for room, half want an answer now or never.
            let admission = if caller % 2 == 0 {
                Admission::Wait
            } else {
                Admission::Try
            };
            let mut outcomes = (0, 0);
            for round in 0..10u32 {
                let id = caller * 100 + round + 1;
                let texts = vec![vec![id, 1]; 1 + (round % 2) as usize];
                let submitted = pool.submit_blocking(texts, admission);
                // Counted by the channel itself, not by the bound's own bookkeeping: every job
                // holds at least one text, so no more jobs than the bound can be queued.
                assert!(pool.jobs_in_channel() <= BOUND);
                match submitted.and_then(|pending| pending.wait()) {
                    Ok(answer) => {
                        for row in answer {
                            assert_eq!(row.unwrap(), [id as f32]);
                        }
                        outcomes.0 += 1;
                    }
                    Err(Error::Overloaded { limit, .. }) => {
                        assert_eq!(admission, Admission::Try, "a waiting call is never refused");
                        assert_eq!(limit, BOUND);
                        outcomes.1 += 1;
                    }
                    Err(other) => panic!("caller {caller}: {other:?}"),
                }
            }
            done.send(outcomes).unwrap();
        });
    }
    drop(done);
    let (mut answered, mut refused) = (0, 0);
    for _ in 0..64 {
        let (a, r) = finished
            .recv_timeout(Duration::from_secs(60))
            .expect("a caller hung");
        answered += a;
        refused += r;
    }
    assert_eq!(answered + refused, 640);
    assert!(
        answered >= 320,
        "every waiting call is answered: {answered}"
    );
    let stats = pool.queue_stats();
    assert!(stats.peak <= BOUND, "peak {} over the bound", stats.peak);
    assert!(stats.peak > 0);
    assert_eq!(stats.queued, 0);
    // Each answered call ran 1 or 2 rows; refused calls ran none.
    let ran = rows.load(Ordering::Relaxed);
    assert!(
        (answered..=2 * answered).contains(&ran),
        "{ran} rows for {answered} answered calls"
    );
    pool.stop();
}

#[test]
fn jobs_whose_callers_have_gone_are_skipped_and_counted() {
    let (pool, rows) = slow_pool(1, 150, 100);
    // The worker takes this one and is busy with it for a while...
    let running = pool
        .submit_blocking(vec![vec![1]], Admission::Wait)
        .unwrap();
    thread::sleep(Duration::from_millis(30));
    // ...while four jobs queue up, whose callers then give up.
    for id in 2..6 {
        let abandoned = pool
            .submit_blocking(vec![vec![id], vec![id]], Admission::Wait)
            .unwrap();
        drop(abandoned);
    }
    assert_eq!(running.wait().unwrap().len(), 1);
    // A later job runs; the abandoned ones did not.
    let later = pool
        .submit_blocking(vec![vec![9]], Admission::Wait)
        .unwrap();
    assert_eq!(later.wait().unwrap().len(), 1);
    let stats = pool.pass_stats();
    assert_eq!((stats.skipped_jobs, stats.skipped_sequences), (4, 8));
    assert_eq!(
        rows.load(Ordering::Relaxed),
        2,
        "only the two live jobs ran"
    );
    assert_eq!(pool.queue_stats().queued, 0);
    pool.stop();
}

#[test]
fn the_async_submit_waits_for_room_without_blocking_its_thread() {
    let (pool, _) = slow_pool(1, 50, 1);
    let first = pool
        .submit_blocking(vec![vec![1]], Admission::Wait)
        .unwrap();
    let second = pool
        .submit_blocking(vec![vec![2]], Admission::Wait)
        .unwrap();
    // The queue is full (1 text): an async submit waits, then gets in; try is refused.
    assert!(matches!(
        pool.submit_blocking(vec![vec![3]], Admission::Try),
        Err(Error::Overloaded { .. })
    ));
    let answer = crate::block_on::block_on(async {
        let pending = pool.submit_async(vec![vec![4]], Admission::Wait).await?;
        pending.answer().await
    });
    assert_eq!(answer.unwrap().rows[0].as_ref().unwrap(), &[4.0]);
    assert_eq!(first.wait().unwrap().len(), 1);
    assert_eq!(second.wait().unwrap().len(), 1);
    pool.stop();
}
