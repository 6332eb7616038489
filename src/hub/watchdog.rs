//! Timeouts for a client that has none: `hf-hub` 0.4's blocking client sets no connect or read
//! timeout, so a hub that accepts a connection and then says nothing would hold a build
//! forever. The fetch runs on a thread of its own and beats a [`Heartbeat`] whenever it starts
//! a request and whenever bytes of a download arrive; the caller waits for its result and gives
//! up with [`HubError::Timeout`] once the heartbeat is older than the timeout. A slow download
//! that keeps sending is never cut off; a silent one is, within the timeout.
//!
//! The abandoned thread stays blocked on its socket until the hub closes it: it holds no lock
//! the caller needs, and it writes only under the cache's temporary names.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::HubError;
use crate::error::{Error, Result};

/// When the fetch last showed life, and what it was doing.
#[derive(Debug, Clone)]
pub(crate) struct Heartbeat(Arc<Mutex<(Instant, String)>>);

impl Heartbeat {
    fn new() -> Self {
        Self(Arc::new(Mutex::new((
            Instant::now(),
            "the file list".to_owned(),
        ))))
    }

    /// Starting `what`: a beat, and what a timeout will name.
    pub(crate) fn start(&self, what: &str) {
        let mut beat = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *beat = (Instant::now(), what.to_owned());
    }

    /// Bytes arrived: a beat.
    pub(crate) fn beat(&self) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0 = Instant::now();
    }

    /// How long since the last beat, and what was being done.
    fn silence(&self) -> (Duration, String) {
        let beat = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (beat.0.elapsed(), beat.1.clone())
    }
}

/// A download's progress as beats (and, on a terminal, one line a file).
pub(crate) struct Watched {
    pub(crate) heartbeat: Heartbeat,
    pub(crate) show: bool,
}

impl hf_hub::api::Progress for Watched {
    fn init(&mut self, size: usize, filename: &str) {
        self.heartbeat.beat();
        if self.show {
            eprintln!("downloading {filename} ({size} bytes)");
        }
    }

    fn update(&mut self, _size: usize) {
        self.heartbeat.beat();
    }

    fn finish(&mut self) {
        self.heartbeat.beat();
    }
}

/// Runs `fetch` on a thread of its own and waits for it while it shows life: its result, or
/// [`HubError::Timeout`] after `timeout` without a beat.
pub(crate) fn run<T: Send + 'static>(
    repo: &str,
    endpoint: &str,
    timeout: Duration,
    fetch: impl FnOnce(&Heartbeat) -> Result<T> + Send + 'static,
) -> Result<T> {
    let heartbeat = Heartbeat::new();
    let (done, result) = crossbeam_channel::bounded(1);
    let thread_heartbeat = heartbeat.clone();
    std::thread::Builder::new()
        .name("emotion-hub-fetch".to_owned())
        .spawn(move || {
            let _ = done.send(fetch(&thread_heartbeat));
        })
        .map_err(|e| {
            Error::Hub(HubError::Other {
                repo: repo.to_owned(),
                what: "starting the download thread".to_owned(),
                source: Box::new(e),
            })
        })?;
    let poll = (timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(250));
    loop {
        match result.recv_timeout(poll) {
            Ok(outcome) => return outcome,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(Error::Hub(HubError::Other {
                    repo: repo.to_owned(),
                    what: "downloading".to_owned(),
                    source: "the download thread ended without an answer".into(),
                }))
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                let (silence, what) = heartbeat.silence();
                if silence >= timeout {
                    return Err(Error::Hub(HubError::Timeout {
                        repo: repo.to_owned(),
                        endpoint: endpoint.to_owned(),
                        what,
                        after: timeout,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_fetch_times_out_naming_what_it_did_and_a_beating_one_does_not() {
        let begun = Instant::now();
        let silent = run(
            "o/m",
            "http://127.0.0.1:1",
            Duration::from_millis(200),
            |beat| {
                beat.start("config.json");
                std::thread::sleep(Duration::from_secs(2));
                Ok(())
            },
        );
        match silent {
            Err(Error::Hub(HubError::Timeout { what, after, .. })) => {
                assert_eq!(what, "config.json");
                assert_eq!(after, Duration::from_millis(200));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(begun.elapsed() < Duration::from_millis(1500));
        // 1.2 s of work that beats every 20 ms outlasts a 500 ms timeout.
        let slow = run("o/m", "x", Duration::from_millis(500), |beat| {
            for _ in 0..60 {
                std::thread::sleep(Duration::from_millis(20));
                beat.beat();
            }
            Ok(7)
        });
        assert_eq!(slow.ok(), Some(7));
    }
}
