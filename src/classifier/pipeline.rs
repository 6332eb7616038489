//! The one pipeline behind every call, blocking or async: the cache answers what it has, the
//! rest is tokenized and planned into jobs round by round, the jobs go to the workers, and the
//! answers come back as scores in input order (and into the cache).
//!
//! Nothing here blocks a thread: the blocking calls run [`Inner::each_async`] with `block_on`.
//! The work a caller's task does itself is the cache lookup and tokenization, on the calling
//! task; a long batch is tokenized in slices of [`TOKENIZE_SLICE`] texts with a yield to the
//! executor between slices, so one large call does not hold an executor thread for long
//! (tokenizing 32 typical texts takes well under a millisecond; a single very long text is
//! still tokenized in one go).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::block_on::block_on;
use crate::cache::ScoreCache;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::long_texts::{Aggregate, Truncation};
use crate::scores::{probabilities, EmotionScores, Head};
use crate::tokenize::TextEncoder;
use crate::worker::{Admission, Batching, Pending, RowResult, WorkerHandle};

/// Where a call's texts are tokenized.
#[derive(Clone, Copy)]
pub(super) enum Tokenizing<'p> {
    /// On the calling task, a slice at a time with a yield between slices.
    Inline,
    /// On a pool's threads (a server's), the calling task only waiting.
    #[cfg(feature = "server")]
    Pool(&'p crate::tokenize::TokenizerPool),
    #[cfg(not(feature = "server"))]
    #[allow(dead_code)]
    Never(std::marker::PhantomData<&'p ()>),
}

/// Where one call's time went, as a server reports it: tokenizing, waiting in the queue and in
/// the forward passes (the longest wait and the longest passes of its jobs), and the tokens it
/// sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timings {
    pub(crate) tokenization: Duration,
    pub(crate) queue: Duration,
    pub(crate) inference: Duration,
    pub(crate) tokens: usize,
}

use super::requests::Requests;
use super::round::Round;

/// What a classifier shares between its clones: the model's config, its labels with their
/// function and thresholds, the tokenizer, the workers, the cache and the counters.
pub(super) struct Inner {
    pub(super) config: ModelConfig,
    pub(super) encoder: TextEncoder,
    pub(super) worker: WorkerHandle,
    pub(super) cache: Option<ScoreCache>,
    pub(super) head: Arc<Head>,
    /// The builder's treatment of long texts: calls with it use the cache.
    pub(super) truncation: Truncation,
    pub(super) batching: Batching,
    pub(super) aggregate: Aggregate,
    pub(super) computed: AtomicU64,
    pub(super) workers: usize,
    pub(super) threads: usize,
}

/// Texts tokenized and sent to the worker per round: the worker computes one round while the
/// caller tokenizes the next.
pub(super) const ROUND: usize = 2048;

/// Texts tokenized between two yields to the executor.
const TOKENIZE_SLICE: usize = 32;

/// How one call runs: how it enters the queue, how it cuts long texts, and how it uses the
/// result cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call {
    pub(super) admission: Admission,
    pub(super) truncation: Truncation,
    pub(super) cache: CacheUse,
}

/// What a call may take from the result cache and put in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CacheUse {
    /// The call treats long texts as the builder said: every entry is its answer, and every
    /// result goes in.
    All,
    /// The call treats long texts another way: only texts that fit the model in one window
    /// (whose scores do not depend on how long texts are treated) are read and stored.
    Fitting,
    /// Neither read nor stored (an explanation's variants).
    Off,
}

/// The one result of a one-text call.
pub(super) fn single(mut results: Vec<Result<EmotionScores>>) -> Result<EmotionScores> {
    results.pop().unwrap_or(Err(Error::WorkerStopped))
}

/// Every text's scores, or the first error: [`Error::Overloaded`] as it is (the call as a whole
/// was refused), anything else as [`Error::InBatch`] naming the text.
pub(super) fn all_or_first_error(
    results: Vec<Result<EmotionScores>>,
) -> Result<Vec<EmotionScores>> {
    results
        .into_iter()
        .enumerate()
        .map(|(index, result)| {
            result.map_err(|e| match e {
                overloaded @ Error::Overloaded { .. } => overloaded,
                e => Error::InBatch {
                    index,
                    source: Box::new(e),
                },
            })
        })
        .collect()
}

impl Inner {
    /// A call with the builder's settings, entering the queue as `admission` says.
    pub(super) fn call(&self, admission: Admission) -> Call {
        Call {
            admission,
            truncation: self.truncation,
            cache: CacheUse::All,
        }
    }

    /// A call that cuts long texts as `truncation` says (using the whole cache only when that
    /// is the builder's own, else only for texts that fit).
    pub(super) fn call_with(&self, admission: Admission, truncation: Truncation) -> Call {
        Call {
            admission,
            truncation,
            cache: if truncation == self.truncation {
                CacheUse::All
            } else {
                CacheUse::Fitting
            },
        }
    }

    /// One result per text, run as `call` says, blocking this thread: the async pipeline
    /// ([`Inner::each_async`]) run to completion here.
    pub(super) fn each_blocking<S: AsRef<str>>(
        &self,
        texts: &[S],
        call: Call,
    ) -> Vec<Result<EmotionScores>> {
        block_on(self.each_async(texts, call))
    }

    /// The bookkeeping of a call on `texts`, with the cache answering what it has (when the
    /// call may use it).
    pub(super) fn requests<'t, S: AsRef<str>>(&self, texts: &'t [S], call: Call) -> Requests<'t> {
        let cache = self.cache.as_ref().filter(|_| call.cache != CacheUse::Off);
        let all = call.cache == CacheUse::All;
        Requests::new(texts, |text| {
            cache.and_then(|cache| cache.get_if(text, |s| all || s.fits()))
        })
    }

    /// Files one job's submission (`count` texts for `slots`): a queued job joins `sent`; a
    /// refused one fails its texts. Returns whether the whole call is refused
    /// ([`Error::Overloaded`]): then every text not yet answered fails too, and what was sent
    /// is dropped, which tells the workers to skip it.
    pub(super) fn file(
        &self,
        submitted: Result<Pending>,
        slots: Vec<usize>,
        count: usize,
        sent: &mut Vec<(Vec<usize>, Pending)>,
        requests: &mut Requests,
    ) -> bool {
        let error = match submitted {
            Ok(pending) => {
                self.computed.fetch_add(count as u64, Ordering::Relaxed);
                sent.push((slots, pending));
                return false;
            }
            Err(error) => error,
        };
        let overloaded = matches!(error, Error::Overloaded { .. });
        let error = Arc::new(error);
        if overloaded {
            requests.fail_unfinished(&error);
            sent.clear();
        } else {
            for &slot in &slots {
                requests.fail(slot, Arc::clone(&error));
            }
        }
        overloaded
    }

    /// Records one job's answer: each row's logits under its text's slot.
    pub(super) fn record(
        &self,
        slots: &[usize],
        answer: Result<Vec<RowResult>>,
        requests: &mut Requests<'_>,
    ) {
        let rows: Vec<RowResult> = match answer {
            Ok(rows) => rows,
            Err(e) => vec![Err(Arc::new(e)); slots.len()],
        };
        for (&slot, row) in slots.iter().zip(rows) {
            match row {
                Ok(logits) => requests.add_window(slot, logits),
                Err(e) => requests.fail(slot, e),
            }
        }
    }

    /// Turns a text's windows of logits into its scores (each window's through the score
    /// function, then combined; the logits combined alike) and caches them as `cache` allows.
    pub(super) fn finish(
        &self,
        text: &str,
        windows: &[Vec<f32>],
        truncated: bool,
        cache: CacheUse,
    ) -> Result<Arc<EmotionScores>, Arc<Error>> {
        let function = self.head.function;
        let scores = if windows.len() == 1 {
            probabilities(function, &windows[0])
        } else {
            let each: Vec<Vec<f32>> = windows.iter().map(|w| probabilities(function, w)).collect();
            self.aggregate.combine(&each)
        };
        let logits = self.aggregate.combine(windows);
        let found = logits.len();
        let scores = EmotionScores::from_head(
            Arc::clone(&self.head),
            scores,
            logits,
            truncated,
            windows.len(),
        )
        .ok_or_else(|| {
            Arc::new(Error::LogitWidth {
                labels: self.head.labels.len(),
                found,
            })
        })?;
        let scores = Arc::new(scores);
        let store = match cache {
            CacheUse::All => true,
            CacheUse::Fitting => scores.fits(),
            CacheUse::Off => false,
        };
        if let Some(cache) = self.cache.as_ref().filter(|_| store) {
            cache.insert(text, Arc::clone(&scores));
        }
        Ok(scores)
    }

    /// One result per text, run as `call` says, waiting in the calling task: the one pipeline
    /// behind every call (the blocking ones run it with `block_on`).
    pub(super) async fn each_async<S: AsRef<str>>(
        &self,
        texts: &[S],
        call: Call,
    ) -> Vec<Result<EmotionScores>> {
        self.each_timed_async(texts, call, Tokenizing::Inline)
            .await
            .0
    }

    /// [`each_async`](Self::each_async), tokenizing where `tokenizing` says, and where the
    /// call's time went. Every round is tokenized and sent before the first answer is awaited,
    /// so the workers compute one round while the next is tokenized. Dropping the future drops
    /// the replies of whatever it had queued, so the workers skip those jobs.
    pub(crate) async fn each_timed_async<S: AsRef<str>>(
        &self,
        texts: &[S],
        call: Call,
        tokenizing: Tokenizing<'_>,
    ) -> (Vec<Result<EmotionScores>>, Timings) {
        let mut timings = Timings::default();
        let mut requests = self.requests(texts, call);
        let distinct = requests.texts().to_vec();
        let mut sent = Vec::new();
        'rounds: for (round, texts) in distinct.chunks(ROUND).enumerate() {
            let mut planned = Round::new(round * ROUND);
            let started = Instant::now();
            match tokenizing {
                #[cfg(feature = "server")]
                Tokenizing::Pool(pool) => {
                    let owned = texts.iter().map(|t| (*t).to_owned()).collect();
                    match pool.encode(owned, call.truncation).await {
                        Ok(encoded) => {
                            for one in encoded {
                                planned.add(one, &mut requests);
                            }
                        }
                        Err(error) => {
                            requests.fail_unfinished(&Arc::new(error));
                            sent.clear();
                            break 'rounds;
                        }
                    }
                }
                _ => {
                    for (index, slice) in texts.chunks(TOKENIZE_SLICE).enumerate() {
                        if round > 0 || index > 0 {
                            YieldNow::default().await;
                        }
                        for text in slice {
                            planned.tokenize(&self.encoder, call.truncation, text, &mut requests);
                        }
                    }
                }
            }
            timings.tokenization += started.elapsed();
            for (slots, job) in planned.jobs(self.batching.limits) {
                let count = job.len();
                timings.tokens += job.iter().map(Vec::len).sum::<usize>();
                let submitted = self.worker.submit_async(job, call.admission).await;
                if self.file(submitted, slots, count, &mut sent, &mut requests) {
                    break 'rounds;
                }
            }
        }
        for (slots, pending) in sent {
            let answer = pending.answer().await.map(|timed| {
                timings.queue = timings.queue.max(timed.queue);
                timings.inference = timings.inference.max(timed.inference);
                timed.rows
            });
            self.record(&slots, answer, &mut requests);
        }
        let results = requests
            .results(|text, windows, truncated| self.finish(text, &windows, truncated, call.cache));
        (results, timings)
    }
}

/// Gives the executor a turn: pending once (waking itself at once), then ready.
#[derive(Default)]
struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
