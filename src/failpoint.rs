//! Crash points for the crash-safety tests: with the `failpoints` feature (tests only), a
//! process whose `EMOTION_CLASSIFIER_FAILPOINT` names a point kills itself with SIGKILL when it
//! reaches it: no destructors, no buffers flushed, as a power cut or the OOM killer would.
//! [`panic_at`] instead panics the thread that reaches it. Without the feature every point
//! compiles to nothing.

/// Dies here, at once, if the `failpoints` feature is on and `EMOTION_CLASSIFIER_FAILPOINT`
/// equals `name`.
#[cfg(feature = "failpoints")]
pub(crate) fn hit(name: &str) {
    if std::env::var("EMOTION_CLASSIFIER_FAILPOINT").is_ok_and(|point| point == name) {
        #[cfg(unix)]
        // SAFETY: kill(2) on our own pid has no memory effects; SIGKILL cannot be caught.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}

/// Panics here, ending the calling thread as a bug would, if the `failpoints` feature is on and
/// `EMOTION_CLASSIFIER_FAILPOINT` equals `name` (a worker dying under a server, for example).
#[cfg(feature = "failpoints")]
pub(crate) fn panic_at(name: &str) {
    if std::env::var("EMOTION_CLASSIFIER_FAILPOINT").is_ok_and(|point| point == name) {
        panic!("failpoint {name}");
    }
}

/// Nothing: crash points are compiled only with the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn panic_at(_name: &str) {}

/// Nothing: crash points are compiled only with the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit(_name: &str) {}
