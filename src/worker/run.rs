//! The worker's loop: take jobs from the queue (with dynamic batching, every job waiting, and
//! up to `max_wait` more), plan their texts into passes, run them on the engine, answer each
//! job on its own reply channel.
//!
//! Over 450 lines because of its tests: the loop itself is about 160 lines; the rest drives it
//! with fake engines (slow, failing, panicking) to pin down batching, answers and counts.

use std::sync::Arc;

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Instant;

use super::batching::Batching;
use super::cores::{Busy, CoreShare};
use super::engine::Engine;
use super::job::{Answer, Job, Message, RowResult};
use super::stats::{PassCounters, PassRecord};
use crate::batch::{plan_batches, TokenBatch};
use crate::cpu::team::{Session, Team};

/// Runs jobs until every handle is dropped or one sends [`Message::Stop`]. With `cores`, sets
/// the engine's threads before each pass to what the pool's [`CoreShare`] gives it; a pass
/// that has the cores to itself takes the pool's `team` instead, if it can, and runs on one
/// intra-op thread plus the team's helpers. Every pass is counted in `counters`.
pub(super) fn run<E: Engine>(
    mut engine: E,
    receiver: &Receiver<Message>,
    batching: Batching,
    cores: Option<&CoreShare>,
    team: Option<&Team>,
    counters: &PassCounters,
) {
    // How many jobs the last batch had: as many callers are likely to send again.
    let mut expected_jobs = 1;
    let mut threads = None;
    while let Ok(Message::Run(first)) = receiver.recv() {
        crate::failpoint::panic_at("worker-panic");
        let (jobs, stop) = if batching.dynamic {
            gather(first, receiver, batching, expected_jobs)
        } else {
            (vec![first], false)
        };
        if stop {
            // Dropping the gathered jobs' reply channels tells their callers the worker stopped.
            return;
        }
        expected_jobs = jobs.len();
        // Taken from the queue: their room goes back to waiting callers. Jobs whose callers
        // have all gone (a dropped future, a timed-out request) are not run.
        let (jobs, abandoned): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .map(|mut job| {
                job.permit = None;
                job
            })
            .partition(|job| !job.abandoned());
        for job in &abandoned {
            counters.record_skipped(job.sequences.len());
        }
        if jobs.is_empty() {
            continue;
        }
        let busy = cores.map(CoreShare::begin);
        let session = match (&busy, team, cores) {
            (Some(busy), Some(team), Some(cores)) if busy.alone => team.try_begin(cores.running()),
            _ => None,
        };
        if let Some(busy) = &busy {
            let wanted = if session.is_some() { 1 } else { busy.threads };
            if threads != Some(wanted) {
                engine.set_threads(wanted);
                threads = Some(wanted);
            }
        }
        let hold = Hold {
            _busy: busy,
            session,
        };
        run_jobs(&mut engine, jobs, batching, hold, counters);
    }
}

/// Takes more jobs after `first` while the batch has room: all that are waiting, then, while
/// there are fewer than `expected_jobs` (the last batch's count: its callers are likely to send
/// again), any that arrive within `max_wait`. A lone caller thus never waits. Returns the jobs
/// and whether a stop message came.
fn gather(
    first: Job,
    receiver: &Receiver<Message>,
    batching: Batching,
    expected_jobs: usize,
) -> (Vec<Job>, bool) {
    let room = batching.limits.max_batch_size();
    let deadline = Instant::now() + batching.max_wait;
    let mut rows = first.sequences.len();
    let mut jobs = vec![first];
    while rows < room {
        let message = match receiver.try_recv() {
            Ok(message) => message,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let now = Instant::now();
                if now >= deadline || jobs.len() >= expected_jobs {
                    break;
                }
                match receiver.recv_timeout(deadline - now) {
                    Ok(message) => message,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        match message {
            Message::Run(job) => {
                rows += job.sequences.len();
                jobs.push(job);
            }
            Message::Stop => return (jobs, true),
        }
    }
    (jobs, false)
}

/// A pass's hold on the pool's cores, and on its team if it got it.
struct Hold<'a> {
    /// Held, not read: dropping it tells the pool this worker is idle.
    _busy: Option<Busy<'a>>,
    session: Option<Session<'a>>,
}

/// Runs the texts of all `jobs` in length-sorted batches and answers each job; `hold` (the
/// pass's hold on the pool's cores and team) is released before the answers go out, so a
/// caller's next request finds this worker idle.
fn run_jobs<E: Engine>(
    engine: &mut E,
    jobs: Vec<Job>,
    batching: Batching,
    hold: Hold<'_>,
    counters: &PassCounters,
) {
    let started = Instant::now();
    // Every text of every job, as (job, row) pairs.
    let rows: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| (0..job.sequences.len()).map(move |r| (j, r)))
        .collect();
    let lengths: Vec<usize> = rows
        .iter()
        .map(|&(j, r)| jobs[j].sequences[r].len())
        .collect();
    let mut answers: Vec<Vec<Option<RowResult>>> = jobs
        .iter()
        .map(|job| vec![None; job.sequences.len()])
        .collect();
    for batch in plan_batches(&lengths, batching.limits) {
        let sequences: Vec<&[u32]> = batch
            .iter()
            .map(|&i| jobs[rows[i].0].sequences[rows[i].1].as_slice())
            .collect();
        let tokens = TokenBatch::new(&sequences);
        let start = Instant::now();
        let outcome = engine.logits(&tokens, hold.session.as_ref());
        counters.record(&PassRecord {
            sequences: tokens.rows(),
            tokens: tokens.ids().len(),
            padded_tokens: tokens.rows() * tokens.longest(),
            time: start.elapsed(),
        });
        match outcome {
            Ok(logits) if logits.len() == batch.len() => {
                for (&i, row) in batch.iter().zip(logits) {
                    answers[rows[i].0][rows[i].1] = Some(Ok(row));
                }
            }
            outcome => {
                let error = Arc::new(match outcome {
                    Err(e) => e,
                    Ok(logits) => crate::error::Error::LogitRows {
                        rows: logits.len(),
                        texts: batch.len(),
                    },
                });
                for &i in &batch {
                    answers[rows[i].0][rows[i].1] = Some(Err(Arc::clone(&error)));
                }
            }
        }
    }
    drop(hold);
    for (job, answer) in jobs.into_iter().zip(answers) {
        let answer = answer
            .into_iter()
            .map(|row| row.unwrap_or_else(|| Err(Arc::new(crate::error::Error::WorkerStopped))))
            .collect();
        // A caller that stopped waiting needs no answer.
        let _ = job.reply.send(Answer {
            rows: answer,
            started,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::thread;
    use std::time::Duration;

    use super::super::handle::{Pending, WorkerHandle};
    use super::*;
    use crate::batch::BatchLimits;
    use crate::error::{Error, Result};

    /// Logits that identify the text: its first id and its length. Records batch sizes.
    struct Echo {
        batch_sizes: Arc<Mutex<Vec<usize>>>,
        delay: Duration,
    }

    impl Engine for Echo {
        fn logits(&mut self, batch: &TokenBatch, _: Option<&Session>) -> Result<Vec<Vec<f32>>> {
            thread::sleep(self.delay);
            self.batch_sizes.lock().unwrap().push(batch.rows());
            Ok((0..batch.rows())
                .map(|r| {
                    let text = batch.text(r);
                    vec![text[0] as f32, text.len() as f32]
                })
                .collect())
        }
    }

    /// Fails on any batch holding id 666, panics on any holding id 999.
    struct Faulty;

    impl Engine for Faulty {
        fn logits(&mut self, batch: &TokenBatch, _: Option<&Session>) -> Result<Vec<Vec<f32>>> {
            if batch.ids().contains(&999) {
                panic!("engine crashed");
            }
            if batch.ids().contains(&666) {
                return Err(tch::TchError::Torch("bad batch".into()).into());
            }
            Ok(vec![vec![1.0]; batch.rows()])
        }
    }

    fn batching(dynamic: bool, size: usize) -> Batching {
        Batching {
            limits: BatchLimits::new(size, 10_000).unwrap(),
            dynamic,
            max_wait: Duration::from_millis(if dynamic { 20 } else { 0 }),
        }
    }

    fn echo(dynamic: bool, delay_ms: u64) -> (WorkerHandle, Arc<Mutex<Vec<usize>>>) {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let engine = Echo {
            batch_sizes: Arc::clone(&sizes),
            delay: Duration::from_millis(delay_ms),
        };
        (
            WorkerHandle::spawn(engine, batching(dynamic, 64)).unwrap(),
            sizes,
        )
    }

    #[test]
    fn answers_each_row_in_order() {
        let (worker, _) = echo(false, 0);
        let sequences = vec![vec![7, 1, 1, 1], vec![8], vec![9, 1]];
        let answer = worker.submit(sequences).unwrap().wait().unwrap();
        let rows: Vec<Vec<f32>> = answer.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(rows, [vec![7.0, 4.0], vec![8.0, 1.0], vec![9.0, 2.0]]);
    }

    #[test]
    fn counts_every_pass_with_its_real_and_padded_tokens() {
        let (worker, sizes) = echo(false, 1);
        worker
            .submit(vec![vec![7, 1, 1, 1], vec![8], vec![9, 1]])
            .unwrap()
            .wait()
            .unwrap();
        worker.submit(vec![vec![1, 1]]).unwrap().wait().unwrap();
        assert_eq!(*sizes.lock().unwrap(), [3, 1]);
        let stats = worker.pass_stats();
        assert_eq!(
            (
                stats.passes,
                stats.sequences,
                stats.tokens,
                stats.padded_tokens
            ),
            (2, 4, 9, 14)
        );
        assert!(stats.forward_time >= Duration::from_millis(2), "{stats:?}");
    }

    #[test]
    fn concurrent_callers_share_forward_passes_when_dynamic() {
        for dynamic in [false, true] {
            let (worker, sizes) = echo(dynamic, 2);
            let served = AtomicUsize::new(0);
            thread::scope(|s| {
                for t in 0..8u32 {
                    let worker = worker.clone();
                    let served = &served;
                    s.spawn(move || {
                        for i in 0..10u32 {
                            let id = t * 100 + i;
                            let answer = worker.submit(vec![vec![id, 5]]).unwrap().wait().unwrap();
                            assert_eq!(answer[0].as_ref().unwrap(), &vec![id as f32, 2.0]);
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            });
            assert_eq!(served.load(Ordering::Relaxed), 80);
            let sizes = sizes.lock().unwrap();
            let largest = sizes.iter().copied().max().unwrap();
            if dynamic {
                assert!(largest > 1, "dynamic batching never coalesced: {sizes:?}");
                assert!(sizes.len() < 80);
            } else {
                assert_eq!(largest, 1);
                assert_eq!(sizes.len(), 80);
            }
        }
    }

    /// Counts the forward passes running at once, and the most seen.
    struct Overlap {
        running: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
        passes: Arc<AtomicUsize>,
    }

    impl Engine for Overlap {
        fn logits(&mut self, batch: &TokenBatch, _: Option<&Session>) -> Result<Vec<Vec<f32>>> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(5));
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.passes.fetch_add(1, Ordering::SeqCst);
            Ok((0..batch.rows())
                .map(|r| vec![batch.text(r)[0] as f32])
                .collect())
        }
    }

    #[test]
    fn a_pool_runs_passes_side_by_side_from_one_queue_and_stops_every_worker() {
        let [running, most, passes] = [0; 3].map(|_| Arc::new(AtomicUsize::new(0)));
        let engines: Vec<Overlap> = (0..2)
            .map(|_| Overlap {
                running: Arc::clone(&running),
                most: Arc::clone(&most),
                passes: Arc::clone(&passes),
            })
            .collect();
        let pool = WorkerHandle::spawn_pool(engines, Some(2), batching(false, 64), 4096).unwrap();
        thread::scope(|s| {
            for t in 0..4u32 {
                let pool = pool.clone();
                s.spawn(move || {
                    for i in 0..10u32 {
                        let id = t * 100 + i;
                        let answer = pool.submit(vec![vec![id, 5]]).unwrap().wait().unwrap();
                        assert_eq!(answer[0].as_ref().unwrap(), &vec![id as f32]);
                    }
                });
            }
        });
        assert_eq!(passes.load(Ordering::SeqCst), 40);
        // Four callers kept both workers busy at once (one worker never overlaps itself).
        assert_eq!(most.load(Ordering::SeqCst), 2);
        pool.stop();
        // Both workers took a stop message: a job sent now is never run.
        let after = pool.submit(vec![vec![1]]).and_then(Pending::wait);
        assert!(matches!(after, Err(Error::WorkerStopped)));
        assert_eq!(passes.load(Ordering::SeqCst), 40);
    }

    /// Per pass: passes running at its start, its libtorch threads, whether it had the team.
    type Seen = Arc<Mutex<Vec<(usize, i32, bool)>>>;

    /// Records, for each pass, the threads it was given, how many passes ran at its start and
    /// whether it got the team; `splits` says whether it splits its products.
    struct ThreadRecorder {
        threads: i32,
        splits: bool,
        running: Arc<AtomicUsize>,
        holding_team: Arc<AtomicUsize>,
        seen: Seen,
    }

    impl Engine for ThreadRecorder {
        fn logits(&mut self, batch: &TokenBatch, team: Option<&Session>) -> Result<Vec<Vec<f32>>> {
            let others = self.running.fetch_add(1, Ordering::SeqCst);
            self.seen
                .lock()
                .unwrap()
                .push((others, self.threads, team.is_some()));
            if let Some(team) = team {
                // One pass at a time holds the team.
                assert_eq!(self.holding_team.fetch_add(1, Ordering::SeqCst), 0);
                // The helper runs its part; both parts run before this returns.
                let done = AtomicUsize::new(0);
                let part = || {
                    done.fetch_add(1, Ordering::SeqCst);
                };
                team.run(&[&part, &part]).unwrap();
                assert_eq!(done.load(Ordering::SeqCst), 2);
                thread::sleep(Duration::from_millis(5));
                self.holding_team.fetch_sub(1, Ordering::SeqCst);
            } else {
                thread::sleep(Duration::from_millis(5));
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(vec![vec![0.0]; batch.rows()])
        }

        fn set_threads(&mut self, threads: i32) {
            self.threads = threads;
        }

        fn splits_products(&self) -> bool {
            self.splits
        }
    }

    fn recorders(splits: bool) -> (Vec<ThreadRecorder>, Seen) {
        let running = Arc::new(AtomicUsize::new(0));
        let holding_team = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let engines = (0..2)
            .map(|_| ThreadRecorder {
                threads: 0,
                splits,
                running: Arc::clone(&running),
                holding_team: Arc::clone(&holding_team),
                seen: Arc::clone(&seen),
            })
            .collect();
        (engines, seen)
    }

    /// Four callers at once, ten texts each.
    fn crowd(pool: &WorkerHandle) {
        thread::scope(|s| {
            for _ in 0..4 {
                let pool = pool.clone();
                s.spawn(move || {
                    for _ in 0..10 {
                        pool.submit(vec![vec![1]]).unwrap().wait().unwrap();
                    }
                });
            }
        });
    }

    #[test]
    fn a_lone_pass_gets_the_whole_pools_threads_and_overlapping_passes_their_share() {
        let (engines, seen) = recorders(false);
        let pool = WorkerHandle::spawn_pool(engines, Some(2), batching(false, 64), 4096).unwrap();
        // One caller at a time: every pass runs alone, on both workers' threads.
        for _ in 0..6 {
            pool.submit(vec![vec![1]]).unwrap().wait().unwrap();
        }
        let lone = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(lone, vec![(0, 2, false); 6]);
        // Four callers at once keep both workers busy: passes that start beside another get 1.
        crowd(&pool);
        let busy = seen.lock().unwrap().clone();
        assert_eq!(busy.len(), 40);
        assert!(busy
            .iter()
            .any(|&(others, threads, _)| others == 1 && threads == 1));
        // A pass never gets more than the pool's 2 threads, nor fewer than its share, and an
        // engine that does not split its products never gets a team.
        assert!(busy
            .iter()
            .all(|&(_, threads, team)| (threads == 1 || threads == 2) && !team));
        pool.stop();
    }

    #[test]
    fn a_lone_pass_that_splits_its_products_gets_one_thread_and_the_team() {
        let cores = thread::available_parallelism().map_or(1, usize::from);
        assert!(cores >= 2, "needs two cores for a team; has {cores}");
        let (engines, seen) = recorders(true);
        let pool = WorkerHandle::spawn_pool(engines, Some(2), batching(false, 64), 4096).unwrap();
        for _ in 0..6 {
            pool.submit(vec![vec![1]]).unwrap().wait().unwrap();
        }
        let lone = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(lone, vec![(0, 1, true); 6]);
        crowd(&pool);
        let busy = seen.lock().unwrap().clone();
        assert_eq!(busy.len(), 40);
        // Always one libtorch thread; passes overlapped, and those beside a team holder ran
        // without it (the engine asserts no two passes hold the team at once; a failed
        // assertion there fails the pass and this test's `unwrap`).
        assert!(busy.iter().all(|&(_, threads, _)| threads == 1));
        assert!(busy.iter().any(|&(others, _, team)| others == 1 && !team));
        pool.stop();
    }

    fn job() -> Message {
        Message::Run(Job {
            sequences: vec![vec![1]],
            reply: oneshot::channel().0,
            permit: None,
        })
    }

    fn first_job() -> Job {
        match job() {
            Message::Run(job) => job,
            Message::Stop => unreachable!(),
        }
    }

    /// Runs `gather` on its own thread with a long `max_wait`, returning how many jobs it took;
    /// a gather that waited out the whole `max_wait` fails instead of slowing the suite.
    fn gathered(expected_jobs: usize, send_later: usize) -> usize {
        let long = Batching {
            limits: BatchLimits::new(64, 10_000).unwrap(),
            dynamic: true,
            max_wait: Duration::from_secs(30),
        };
        let (sender, receiver) = crossbeam_channel::unbounded();
        let (done, result) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let (jobs, _) = gather(first_job(), &receiver, long, expected_jobs);
            let _ = done.send(jobs.len());
        });
        for _ in 0..send_later {
            thread::sleep(Duration::from_millis(20));
            sender.send(job()).unwrap();
        }
        result
            .recv_timeout(Duration::from_secs(10))
            .expect("gather waited out max_wait")
    }

    #[test]
    fn a_lone_caller_never_waits_for_company() {
        assert_eq!(gathered(1, 0), 1);
    }

    #[test]
    fn gather_waits_for_as_many_callers_as_last_time() {
        assert_eq!(gathered(3, 2), 3);
    }

    #[test]
    fn a_failed_batch_fails_only_its_rows() {
        let worker = WorkerHandle::spawn(Faulty, batching(false, 1)).unwrap();
        let answer = worker
            .submit(vec![vec![1, 2], vec![666], vec![3]])
            .unwrap()
            .wait()
            .unwrap();
        assert!(answer[0].is_ok());
        assert!(matches!(
            answer[1].as_ref().map_err(|e| &**e),
            Err(Error::Torch { .. })
        ));
        assert!(answer[2].is_ok());
    }

    #[test]
    fn a_dead_worker_fails_every_waiting_and_later_caller() {
        let worker = WorkerHandle::spawn(Faulty, batching(true, 64)).unwrap();
        // Queue work behind the job that kills the worker.
        let doomed = worker.submit(vec![vec![999]]).unwrap();
        let queued: Vec<_> = (0..5).map(|_| worker.submit(vec![vec![1]])).collect();
        assert!(matches!(doomed.wait(), Err(Error::WorkerStopped)));
        for pending in queued {
            // Either refused at submission or dropped unanswered: never a hang.
            match pending {
                Ok(p) => assert!(matches!(p.wait(), Err(Error::WorkerStopped))),
                Err(e) => assert!(matches!(e, Error::WorkerStopped)),
            }
        }
        let later = worker.submit(vec![vec![1]]).and_then(|p| p.wait());
        assert!(matches!(later, Err(Error::WorkerStopped)));
    }

    #[test]
    fn stop_fails_queued_and_later_callers() {
        let (worker, _) = echo(false, 50);
        let running = worker.submit(vec![vec![1]]).unwrap();
        thread::sleep(Duration::from_millis(10));
        let queued = worker.submit(vec![vec![2]]).unwrap();
        worker.stop();
        let queued_after_stop = worker.submit(vec![vec![3]]);
        assert!(running.wait().is_ok());
        // The queued job was ahead of the stop message, so it still runs.
        assert!(queued.wait().is_ok());
        let after = queued_after_stop.and_then(|p| p.wait());
        assert!(matches!(after, Err(Error::WorkerStopped)));
        let later = worker.submit(vec![vec![4]]).and_then(|p| p.wait());
        assert!(matches!(later, Err(Error::WorkerStopped)));
    }
}
