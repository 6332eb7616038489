//! libtorch's process-wide random generator, and the one lock every user of it in the crate
//! holds: `tch::manual_seed` and every draw (dropout, `randn`, a new head's initial weights)
//! go through that one generator, so a seeded run is reproducible only while nothing else in
//! the process seeds or draws from it.

use std::sync::{Mutex, MutexGuard, PoisonError};

static GENERATOR: Mutex<()> = Mutex::new(());

/// Holds libtorch's generator until the guard drops: one fine-tuning run at a time, and no
/// test seeding or drawing beside it.
pub(crate) fn hold() -> MutexGuard<'static, ()> {
    GENERATOR.lock().unwrap_or_else(PoisonError::into_inner)
}
