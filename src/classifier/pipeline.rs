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

use crate::block_on::block_on;
use crate::cache::ScoreCache;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::long_texts::Aggregate;
use crate::scores::{probabilities, EmotionScores};
use crate::tokenize::TextEncoder;
use crate::worker::{Admission, Batching, Pending, RowResult, WorkerHandle};

use super::requests::Requests;
use super::round::Round;

/// What a classifier shares between its clones: the model's config and labels, the tokenizer,
/// the workers, the cache and the counters.
pub(super) struct Inner {
    pub(super) config: ModelConfig,
    pub(super) encoder: TextEncoder,
    pub(super) worker: WorkerHandle,
    pub(super) cache: Option<ScoreCache>,
    pub(super) labels: Arc<[String]>,
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
    /// One result per text, with the workers' queue entered as `admission` says, blocking this
    /// thread: the async pipeline ([`Inner::each_async`]) run to completion here.
    pub(super) fn each_blocking<S: AsRef<str>>(
        &self,
        texts: &[S],
        admission: Admission,
    ) -> Vec<Result<EmotionScores>> {
        block_on(self.each_async(texts, admission))
    }

    /// The bookkeeping of a call on `texts`, with the cache answering what it has.
    pub(super) fn requests<'t, S: AsRef<str>>(&self, texts: &'t [S]) -> Requests<'t> {
        Requests::new(texts, |text| {
            self.cache.as_ref().and_then(|cache| cache.get(text))
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

    /// Records one job's answer: each row's probabilities under its text's slot.
    pub(super) fn record(
        &self,
        slots: &[usize],
        answer: Result<Vec<RowResult>>,
        requests: &mut Requests,
    ) {
        let rows: Vec<RowResult> = match answer {
            Ok(rows) => rows,
            Err(e) => vec![Err(Arc::new(e)); slots.len()],
        };
        for (&slot, row) in slots.iter().zip(rows) {
            match row {
                Ok(logits) => {
                    requests.add_window(slot, probabilities(self.config.score_function(), &logits))
                }
                Err(e) => requests.fail(slot, e),
            }
        }
    }

    /// Combines a text's windows into its scores and caches them.
    pub(super) fn finish(
        &self,
        text: &str,
        windows: &[Vec<f32>],
    ) -> Result<Arc<EmotionScores>, Arc<Error>> {
        let combined = self.aggregate.combine(windows);
        let found = combined.len();
        let scores = EmotionScores::new(Arc::clone(&self.labels), combined).ok_or_else(|| {
            Arc::new(Error::LogitWidth {
                labels: self.labels.len(),
                found,
            })
        })?;
        let scores = Arc::new(scores);
        if let Some(cache) = &self.cache {
            cache.insert(text, Arc::clone(&scores));
        }
        Ok(scores)
    }

    /// One result per text, with the workers' queue entered as `admission` says, waiting in the
    /// calling task: the one pipeline behind every call (the blocking ones run it with
    /// `block_on`). Every round is tokenized and sent before the first answer is awaited, so
    /// the workers compute one round while the next is tokenized. Dropping the future drops the
    /// replies of whatever it had queued, so the workers skip those jobs.
    pub(super) async fn each_async<S: AsRef<str>>(
        &self,
        texts: &[S],
        admission: Admission,
    ) -> Vec<Result<EmotionScores>> {
        let mut requests = self.requests(texts);
        let distinct = requests.texts().to_vec();
        let mut sent = Vec::new();
        'rounds: for (round, texts) in distinct.chunks(ROUND).enumerate() {
            let mut planned = Round::new(round * ROUND);
            for (index, slice) in texts.chunks(TOKENIZE_SLICE).enumerate() {
                if round > 0 || index > 0 {
                    YieldNow::default().await;
                }
                for text in slice {
                    planned.tokenize(&self.encoder, text, &mut requests);
                }
            }
            for (slots, job) in planned.jobs(self.batching.limits) {
                let count = job.len();
                let submitted = self.worker.submit_async(job, admission).await;
                if self.file(submitted, slots, count, &mut sent, &mut requests) {
                    break 'rounds;
                }
            }
        }
        for (slots, pending) in sent {
            let answer = pending.answer().await;
            self.record(&slots, answer, &mut requests);
        }
        requests.results(|text, windows| self.finish(text, &windows))
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
