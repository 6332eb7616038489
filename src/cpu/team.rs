//! Helper threads that take a share of one pass's matrix products, handed work by spinning
//! rather than by waking a sleeping thread.
//!
//! A single text's pass is about two dozen GEMMs of 100-200 us each, with small ops between
//! them. Split across the cores, each GEMM has to reach the other core in a microsecond or
//! two: waking a parked thread (a futex) takes 15-35 us, and so does a `rayon::join` whose
//! sibling has gone to sleep between GEMMs (measured on MiniLM's 24 GEMMs of a 19-token text,
//! 2 cores: rayon 0.8 ms slower per pass than a spinning helper). So while a [`Session`] is
//! open its helpers spin on an atomic, and park as soon as it closes (or after
//! [`SPIN_LIMIT`] with nothing to do), so they take no CPU between passes.
//!
//! One session at a time: a worker that finds the team taken runs its products alone. The
//! team holds no libtorch state; its threads run whatever closures a session hands them.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// How long a helper spins with nothing to do before it parks, within an open session (a long
/// serial stretch of the pass). Closing the session parks it at once.
pub(crate) const SPIN_LIMIT: Duration = Duration::from_millis(2);

// A helper's states. SLEEPING: parked or about to park, no session; WAITING: spinning for a
// task; TASK: a task is posted; DONE: it ran (the caller sets WAITING again); STOP: exit.
const SLEEPING: u8 = 0;
const WAITING: u8 = 1;
const TASK: u8 = 2;
const DONE: u8 = 3;
const STOP: u8 = 4;

/// A task posted to a helper: a borrowed closure whose lifetime [`Session::run`] guarantees
/// by waiting for it.
type TaskPtr = *const (dyn Fn() + Sync + 'static);

struct Slot {
    state: AtomicU8,
    task: UnsafeCell<Option<TaskPtr>>,
    panicked: AtomicBool,
}

// SAFETY: `task` is written only by the session's owner while the state is WAITING or
// SLEEPING, and read only by the helper after it observes TASK (release/acquire on `state`);
// the closure it points to is `Sync`.
unsafe impl Sync for Slot {}
unsafe impl Send for Slot {}

struct Shared {
    slots: Vec<Slot>,
    in_use: AtomicBool,
}

/// Helper threads for splitting a pass's products; see the module docs.
pub(crate) struct Team {
    shared: Arc<Shared>,
    threads: Vec<(Thread, JoinHandle<()>)>,
}

impl Team {
    /// A team of `helpers` threads (so `helpers + 1` parts run at once with the caller's
    /// thread). `init` runs first on each helper (to set its libtorch threads, say).
    ///
    /// # Errors
    /// The OS error if a thread cannot be started (those already started stop again).
    pub(crate) fn new(helpers: usize, init: fn()) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            slots: (0..helpers)
                .map(|_| Slot {
                    state: AtomicU8::new(SLEEPING),
                    task: UnsafeCell::new(None),
                    panicked: AtomicBool::new(false),
                })
                .collect(),
            in_use: AtomicBool::new(false),
        });
        let mut team = Self {
            shared: Arc::clone(&shared),
            threads: Vec::with_capacity(helpers),
        };
        for index in 0..helpers {
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("emotion-classifier-gemm-{index}"))
                .spawn(move || {
                    init();
                    help(&shared.slots[index]);
                })?;
            team.threads.push((handle.thread().clone(), handle));
        }
        Ok(team)
    }

    /// How many parts run at once in a session: the helpers and the caller.
    pub(crate) fn width(&self) -> usize {
        self.threads.len() + 1
    }

    /// The team for one pass, if no other pass holds it; its helpers start spinning now, so
    /// the first product finds them awake. `passes` counts the passes running on the cores
    /// the helpers use: while it is above one, the session parks its helpers and runs every
    /// part on the caller's thread (the cores are taken; a spinning helper would slow both).
    pub(crate) fn try_begin<'a>(&'a self, passes: &'a AtomicUsize) -> Option<Session<'a>> {
        if self.threads.is_empty()
            || self
                .shared
                .in_use
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        for (slot, (thread, _)) in self.shared.slots.iter().zip(&self.threads) {
            if slot
                .state
                .compare_exchange(SLEEPING, WAITING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                thread.unpark();
            }
        }
        Some(Session {
            team: self,
            passes,
            _not_sync: std::marker::PhantomData,
        })
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        for slot in &self.shared.slots {
            slot.state.store(STOP, Ordering::Release);
        }
        for (thread, handle) in self.threads.drain(..) {
            thread.unpark();
            // A helper only ends by seeing STOP; it never panics outside `catch_unwind`.
            let _ = handle.join();
        }
    }
}

/// A helper's loop: wait (spinning, then parked) for a task, run it, report, repeat.
fn help(slot: &Slot) {
    loop {
        let mut idle_since = Instant::now();
        let mut spins = 0u32;
        loop {
            match slot.state.load(Ordering::Acquire) {
                TASK => break,
                STOP => return,
                SLEEPING => {
                    std::thread::park();
                    idle_since = Instant::now();
                }
                _ => {
                    std::hint::spin_loop();
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(256)
                        && idle_since.elapsed() > SPIN_LIMIT
                        && slot
                            .state
                            .compare_exchange(
                                WAITING,
                                SLEEPING,
                                Ordering::AcqRel,
                                Ordering::Acquire,
                            )
                            .is_ok()
                    {
                        continue;
                    }
                }
            }
        }
        // SAFETY: the owner wrote `task` before storing TASK (release), read after the
        // acquire load above; it is not written again until this helper stores DONE.
        if let Some(task) = unsafe { *slot.task.get() } {
            // SAFETY: `Session::run` keeps the closure alive until it sees DONE.
            let task = unsafe { &*task };
            if catch_unwind(AssertUnwindSafe(task)).is_err() {
                slot.panicked.store(true, Ordering::Relaxed);
            }
        }
        slot.state.store(DONE, Ordering::Release);
    }
}

/// One pass's hold on the team; closing it (drop) parks the helpers.
pub(crate) struct Session<'a> {
    team: &'a Team,
    passes: &'a AtomicUsize,
    /// One thread drives a session: `run` is not reentrant.
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

/// A helper's task panicked (the products it was computing are missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HelperPanicked;

impl Session<'_> {
    /// How many parts run at once: the helpers and the caller.
    pub(crate) fn width(&self) -> usize {
        self.team.width()
    }

    /// Runs `tasks[0]` on the calling thread and each other task on a helper, at once, and
    /// returns when all have finished. Tasks beyond the team's width run on the caller after
    /// its own; all of them do while another pass is running (see [`Team::try_begin`]).
    ///
    /// # Errors
    /// [`HelperPanicked`] if a task on a helper panicked (a panic on the caller's thread
    /// unwinds as usual, after the helpers are done with their tasks).
    pub(crate) fn run(&self, tasks: &[&(dyn Fn() + Sync)]) -> Result<(), HelperPanicked> {
        let slots = &self.team.shared.slots;
        let Some((own, rest)) = tasks.split_first() else {
            return Ok(());
        };
        if self.passes.load(Ordering::Relaxed) > 1 {
            self.park_helpers();
            tasks.iter().for_each(|task| task());
            return Ok(());
        }
        let posted = rest.len().min(slots.len());
        let wait = WaitForHelpers {
            slots: &slots[..posted],
        };
        for ((slot, (thread, _)), task) in slots.iter().zip(&self.team.threads).zip(rest) {
            // SAFETY: erasing the borrow's lifetime; `wait` (also on unwind) does not let this
            // function return before the helper is done with it.
            let task: TaskPtr =
                unsafe { std::mem::transmute::<*const (dyn Fn() + Sync + '_), TaskPtr>(*task) };
            // SAFETY: the helper reads `task` only after it sees TASK below.
            unsafe { *slot.task.get() = Some(task) };
            if slot.state.swap(TASK, Ordering::AcqRel) == SLEEPING {
                thread.unpark();
            }
        }
        own();
        for task in &rest[posted..] {
            task();
        }
        wait.finish()
    }
}

/// Runs `work(first, end)` over `0..units` cut into nearly equal ranges, on the caller's thread
/// and `team`'s helpers at once (all on the caller without a team). The ranges are handed out
/// as threads ask for them, [`PIECES_PER_THREAD`] per thread: a thread that starts late (a
/// helper's wake-up) or runs slower (its inputs in the other core's cache) takes fewer, so
/// neither waits long for the other at the end.
///
/// # Errors
/// [`HelperPanicked`] if a helper's range panicked.
pub(crate) fn split(
    team: Option<&Session>,
    units: usize,
    work: impl Fn(usize, usize) + Sync,
) -> Result<(), HelperPanicked> {
    let shares = team.map_or(1, Session::width).min(units).max(1);
    match team {
        Some(team) if shares > 1 => {
            let pieces = units.min(shares * PIECES_PER_THREAD);
            let next = AtomicUsize::new(0);
            let take = || loop {
                let piece = next.fetch_add(1, Ordering::Relaxed);
                if piece >= pieces {
                    break;
                }
                work(units * piece / pieces, units * (piece + 1) / pieces);
            };
            let tasks: Vec<&(dyn Fn() + Sync)> = vec![&take; shares];
            team.run(&tasks)
        }
        _ => {
            work(0, units);
            Ok(())
        }
    }
}

/// How many ranges per thread [`split`] cuts its units into (fewer when there are fewer units).
const PIECES_PER_THREAD: usize = 4;

/// Runs `work` on `values` cut into runs of whole rows (`width` values each; a shorter last
/// row goes with the last run), handed out among `team`'s threads as [`split`] hands out its
/// ranges (one run, on the caller, without a team).
///
/// # Errors
/// [`HelperPanicked`] if a helper's run panicked.
pub(crate) fn split_rows(
    team: Option<&Session>,
    values: &mut [f32],
    width: usize,
    work: impl Fn(&mut [f32]) + Sync,
) -> Result<(), HelperPanicked> {
    let (len, rows) = (values.len(), values.len().div_ceil(width.max(1)));
    let start = SplitOut::new(values);
    split(team, rows, |first, end| {
        let (from, to) = ((first * width).min(len), (end * width).min(len));
        // SAFETY: `from..to` lies within `values` (clamped to its length), which outlives the
        // split; `split` hands each thread a different range of rows, so the runs are
        // disjoint and no two threads hold one value.
        let run = unsafe { std::slice::from_raw_parts_mut(start.at(from), to - from) };
        work(run);
    })
}

/// An output that the threads of a [`split`] write at once, each only its own values (its
/// columns or rows): a pointer they may share. Writing through it is `unsafe`; whoever makes
/// one keeps the values alive for the split and gives each range disjoint values.
#[derive(Clone, Copy)]
pub(crate) struct SplitOut(*mut f32);

// SAFETY: the threads of a split reach only disjoint values through it (see the type docs).
unsafe impl Send for SplitOut {}
unsafe impl Sync for SplitOut {}

impl SplitOut {
    pub(crate) fn new(values: &mut [f32]) -> Self {
        Self(values.as_mut_ptr())
    }

    /// The address `offset` values in (computed, not dereferenced).
    pub(crate) fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Waits for posted tasks to finish, on return or on unwind.
struct WaitForHelpers<'a> {
    slots: &'a [Slot],
}

impl WaitForHelpers<'_> {
    fn finish(self) -> Result<(), HelperPanicked> {
        self.wait();
        let panicked = self
            .slots
            .iter()
            .any(|slot| slot.panicked.swap(false, Ordering::Relaxed));
        std::mem::forget(self);
        if panicked {
            Err(HelperPanicked)
        } else {
            Ok(())
        }
    }

    fn wait(&self) {
        for slot in self.slots {
            while slot.state.load(Ordering::Acquire) != DONE {
                std::hint::spin_loop();
            }
            // SAFETY: the helper is done with the task (DONE, acquire); clear the pointer
            // before the closure it borrowed goes.
            unsafe { *slot.task.get() = None };
            slot.state.store(WAITING, Ordering::Release);
        }
    }
}

impl Drop for WaitForHelpers<'_> {
    fn drop(&mut self) {
        self.wait();
    }
}

impl Session<'_> {
    /// Lets waiting helpers park (a posted task wakes them again).
    fn park_helpers(&self) {
        for slot in &self.team.shared.slots {
            // Only a waiting helper is parked: DONE/TASK cannot be seen here (run waited).
            let _ =
                slot.state
                    .compare_exchange(WAITING, SLEEPING, Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.park_helpers();
        self.team.shared.in_use.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    use super::*;

    fn noop() {}

    #[test]
    fn every_task_runs_once_on_its_own_thread_and_run_waits_for_all() {
        let team = Team::new(2, noop).unwrap();
        assert_eq!(team.width(), 3);
        let passes = AtomicUsize::new(1);
        let session = team.try_begin(&passes).unwrap();
        for round in 0..200 {
            let ran = [0, 1, 2].map(|_| AtomicUsize::new(0));
            let names = Mutex::new(Vec::new());
            let task = |i: usize| {
                let ran = &ran;
                let names = &names;
                move || {
                    // Long enough that a run returning early would be seen.
                    std::thread::sleep(Duration::from_micros(50 * (i as u64)));
                    ran[i].fetch_add(1, Ordering::SeqCst);
                    names
                        .lock()
                        .unwrap()
                        .push(std::thread::current().name().map(str::to_owned));
                }
            };
            let (a, b, c) = (task(0), task(1), task(2));
            session.run(&[&a, &b, &c]).unwrap();
            assert_eq!(
                ran.map(|r| r.load(Ordering::SeqCst)),
                [1, 1, 1],
                "round {round}"
            );
            let mut names = names.into_inner().unwrap();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), 3, "three threads, round {round}");
        }
    }

    #[test]
    fn split_rows_hands_out_every_row_once_in_whole_rows() {
        let team = Team::new(1, noop).unwrap();
        let passes = AtomicUsize::new(1);
        let session = team.try_begin(&passes).unwrap();
        for (len, width) in [(0, 3), (12, 3), (13, 3), (5, 8), (7, 1)] {
            for team in [None, Some(&session)] {
                let mut values = vec![0f32; len];
                let runs = Mutex::new(Vec::new());
                split_rows(team, &mut values, width, |run| {
                    run.iter_mut().for_each(|v| *v += 1.0);
                    runs.lock().unwrap().push(run.len());
                })
                .unwrap();
                assert!(
                    values.iter().all(|&v| v == 1.0),
                    "{len}/{width}: {values:?}"
                );
                let runs = runs.into_inner().unwrap();
                assert_eq!(runs.iter().sum::<usize>(), len);
                // Every run but one holding a short last row is whole rows.
                assert!(runs.iter().filter(|&&n| n % width != 0).count() <= 1);
            }
        }
    }

    #[test]
    fn one_session_at_a_time_and_helpers_wake_after_sleeping() {
        let team = Team::new(1, noop).unwrap();
        let passes = AtomicUsize::new(1);
        let first = team.try_begin(&passes).unwrap();
        assert!(team.try_begin(&passes).is_none());
        drop(first);
        // Closed: the helper parks; the next session wakes it, also after its spin limit.
        for pause in [Duration::ZERO, SPIN_LIMIT * 3] {
            std::thread::sleep(pause);
            let session = team.try_begin(&passes).unwrap();
            std::thread::sleep(pause);
            let count = AtomicUsize::new(0);
            let add = || {
                count.fetch_add(1, Ordering::SeqCst);
            };
            session.run(&[&add, &add]).unwrap();
            assert_eq!(count.load(Ordering::SeqCst), 2);
        }
    }

    #[test]
    fn more_tasks_than_threads_run_on_the_caller_and_a_helper_panic_is_reported() {
        let team = Team::new(1, noop).unwrap();
        let passes = AtomicUsize::new(1);
        let session = team.try_begin(&passes).unwrap();
        let count = AtomicUsize::new(0);
        let add = || {
            count.fetch_add(1, Ordering::SeqCst);
        };
        session.run(&[&add, &add, &add, &add]).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 4);
        let boom = || panic!("a helper's task failed");
        assert_eq!(session.run(&[&add, &boom]), Err(HelperPanicked));
        // The helper survives its task's panic.
        session.run(&[&add, &add]).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 7);
    }

    #[test]
    fn split_covers_every_unit_once_in_up_to_four_ranges_a_thread() {
        let team = Team::new(2, noop).unwrap();
        let passes = AtomicUsize::new(1);
        let session = team.try_begin(&passes).unwrap();
        for (units, team, expected_ranges) in [
            (0, None, 1),
            (1, Some(&session), 1),
            (7, Some(&session), 7),
            (24, Some(&session), 12),
            (100, Some(&session), 12),
            (24, None, 1),
        ] {
            let seen = Mutex::new(Vec::new());
            split(team, units, |first, end| {
                seen.lock().unwrap().push((first, end))
            })
            .unwrap();
            let mut seen = seen.into_inner().unwrap();
            seen.sort_unstable();
            assert_eq!(seen.len(), expected_ranges, "{units} units: {seen:?}");
            let covered: Vec<usize> = seen.iter().flat_map(|&(a, b)| a..b).collect();
            assert_eq!(covered, (0..units).collect::<Vec<_>>());
            // Nearly equal: no range more than one unit longer than another.
            let lengths = seen.iter().map(|&(a, b)| b - a);
            let (short, long) = (lengths.clone().min(), lengths.max());
            assert!(long.zip(short).is_some_and(|(l, s)| l - s <= 1), "{seen:?}");
        }
    }

    #[test]
    fn a_team_without_helpers_never_opens_a_session() {
        let team = Team::new(0, noop).unwrap();
        assert_eq!(team.width(), 1);
        assert!(team.try_begin(&AtomicUsize::new(1)).is_none());
    }

    #[test]
    fn while_another_pass_runs_every_task_runs_on_the_caller() {
        let team = Team::new(1, noop).unwrap();
        let passes = AtomicUsize::new(1);
        let session = team.try_begin(&passes).unwrap();
        let caller = std::thread::current().id();
        let threads = Mutex::new(Vec::new());
        let record = || threads.lock().unwrap().push(std::thread::current().id());
        passes.store(2, Ordering::Relaxed);
        session.run(&[&record, &record]).unwrap();
        assert_eq!(*threads.lock().unwrap(), [caller, caller]);
        // Alone again: the parked helper is woken for its task.
        passes.store(1, Ordering::Relaxed);
        threads.lock().unwrap().clear();
        session.run(&[&record, &record]).unwrap();
        let seen = threads.into_inner().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().any(|id| *id != caller), "{seen:?}");
    }
}
