//! Running a future to completion on the calling thread, parking it between polls.
//!
//! The blocking calls (`classify`, `classify_batch`, ...) run the same pipeline as the async
//! ones this way, so there is one pipeline, not a blocking copy beside an async one. Everything
//! that pipeline awaits (room in the queue through `event-listener`, the worker's `oneshot`
//! reply) wakes whatever waker it is given, so a parked thread is woken exactly as a task is.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread that is blocking on the future.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready, parking between polls. A spurious wake-up
/// only costs another poll.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}
