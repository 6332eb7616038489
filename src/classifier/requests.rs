//! The bookkeeping of one [`classify_each`](crate::EmotionClassifier::classify_each) call, apart
//! from the model: which inputs the cache answered, which distinct texts are left to compute
//! (a text repeated in the call is computed once), what each has received so far (one row of
//! probabilities per window, or the error that stopped it), and the one result per input that
//! comes out, in input order.
//!
//! Errors are shared, not recomputed: every input holding a failed text gets the same cause
//! (through an `Arc`), a tokenizer error as [`Error::Tokenize`], a forward pass's as
//! [`Error::BatchFailed`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::scores::EmotionScores;

/// What one input gets its result from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The cache's scores, `cached[i]`.
    Cached(usize),
    /// Distinct text `slot`.
    Text(usize),
}

/// A distinct text's windows' logits so far, or the error that stopped one of them.
type Progress = Result<Vec<Vec<f32>>, Arc<Error>>;

/// One call's inputs, the distinct texts they hold and what each text has received.
pub(super) struct Requests<'t> {
    sources: Vec<Source>,
    cached: Vec<Arc<EmotionScores>>,
    texts: Vec<&'t str>,
    progress: Vec<Progress>,
    /// Whether each distinct text was cut to fit.
    truncated: Vec<bool>,
}

impl<'t> Requests<'t> {
    /// The bookkeeping for `inputs`, with `cache` answering the texts it has. The cache is
    /// asked for every input except repeats of a text already left to compute, so its hit
    /// count is the number of inputs it answered.
    pub(super) fn new<S: AsRef<str>>(
        inputs: &'t [S],
        cache: impl Fn(&str) -> Option<Arc<EmotionScores>>,
    ) -> Self {
        let mut sources = Vec::with_capacity(inputs.len());
        let mut cached = Vec::new();
        let mut texts = Vec::new();
        let mut slot_of: HashMap<&str, usize> = HashMap::new();
        for input in inputs {
            let text = input.as_ref();
            let source = if let Some(&slot) = slot_of.get(text) {
                Source::Text(slot)
            } else if let Some(hit) = cache(text) {
                cached.push(hit);
                Source::Cached(cached.len() - 1)
            } else {
                slot_of.insert(text, texts.len());
                texts.push(text);
                Source::Text(texts.len() - 1)
            };
            sources.push(source);
        }
        let progress = texts.iter().map(|_| Ok(Vec::new())).collect();
        let truncated = vec![false; texts.len()];
        Self {
            sources,
            cached,
            texts,
            progress,
            truncated,
        }
    }

    /// The distinct texts the cache did not have, by slot: what the model must compute.
    pub(super) fn texts(&self) -> &[&'t str] {
        &self.texts
    }

    /// Records one window's logits for the text in `slot` (a text has one window, or several
    /// when long texts are chunked). Ignored once the text has failed.
    pub(super) fn add_window(&mut self, slot: usize, logits: Vec<f32>) {
        if let Some(Ok(windows)) = self.progress.get_mut(slot) {
            windows.push(logits);
        }
    }

    /// Records that the text in `slot` was cut to fit the model.
    pub(super) fn mark_truncated(&mut self, slot: usize) {
        if let Some(flag) = self.truncated.get_mut(slot) {
            *flag = true;
        }
    }

    /// Records that the text in `slot` failed; the first error is the one kept.
    pub(super) fn fail(&mut self, slot: usize, error: Arc<Error>) {
        if let Some(entry @ Ok(_)) = self.progress.get_mut(slot) {
            *entry = Err(error);
        }
    }

    /// Fails every text that has not failed yet with `error` (a call refused as a whole).
    pub(super) fn fail_unfinished(&mut self, error: &Arc<Error>) {
        for entry in &mut self.progress {
            if entry.is_ok() {
                *entry = Err(Arc::clone(error));
            }
        }
    }

    /// One result per input, in input order. `finish` turns each distinct text's windows (and
    /// whether it was cut) into its scores, once per text (where the caller also caches them);
    /// a text that received no window at all gets [`Error::WorkerStopped`].
    pub(super) fn results(
        self,
        mut finish: impl FnMut(&str, Vec<Vec<f32>>, bool) -> Result<Arc<EmotionScores>, Arc<Error>>,
    ) -> Vec<Result<EmotionScores>> {
        let outcomes: Vec<Result<Arc<EmotionScores>, Arc<Error>>> = self
            .texts
            .iter()
            .zip(self.progress)
            .zip(self.truncated)
            .map(|((text, progress), truncated)| match progress {
                Ok(windows) if windows.is_empty() => Err(Arc::new(Error::WorkerStopped)),
                Ok(windows) => finish(text, windows, truncated),
                Err(error) => Err(error),
            })
            .collect();
        self.sources
            .iter()
            .map(|source| match *source {
                Source::Cached(i) => Ok((*self.cached[i]).clone()),
                Source::Text(slot) => match &outcomes[slot] {
                    Ok(scores) => Ok((**scores).clone()),
                    Err(shared) => Err(for_one_input(shared)),
                },
            })
            .collect()
    }
}

/// One input's error for a cause shared by every input holding the text.
fn for_one_input(shared: &Arc<Error>) -> Error {
    match &**shared {
        Error::WorkerStopped => Error::WorkerStopped,
        Error::Overloaded { queued, limit } => Error::Overloaded {
            queued: *queued,
            limit: *limit,
        },
        Error::Tokenize { source } => Error::Tokenize {
            source: Arc::clone(source),
        },
        Error::TooLong { tokens, limit } => Error::TooLong {
            tokens: *tokens,
            limit: *limit,
        },
        Error::InvalidOption { option, reason } => Error::InvalidOption { option, reason },
        _ => Error::BatchFailed {
            source: Arc::clone(shared),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Arc<[String]> {
        vec!["joy".to_owned(), "anger".to_owned()].into()
    }

    fn scores(joy: f32) -> Arc<EmotionScores> {
        Arc::new(EmotionScores::new(labels(), vec![joy, 1.0 - joy]).unwrap())
    }

    /// Scores from the windows' mean of the first label, as the classifier's finish does.
    fn mean_of_windows(
        _: &str,
        windows: Vec<Vec<f32>>,
        _truncated: bool,
    ) -> Result<Arc<EmotionScores>, Arc<Error>> {
        let joy = windows.iter().map(|w| w[0]).sum::<f32>() / windows.len() as f32;
        Ok(scores(joy))
    }

    fn joy(result: &Result<EmotionScores>) -> f32 {
        result.as_ref().unwrap().scores()[0]
    }

    #[test]
    fn repeated_texts_are_computed_once_and_cache_hits_not_at_all() {
        let asked = std::cell::RefCell::new(Vec::new());
        let inputs = ["a", "b", "a", "cached", "b", "cached"];
        let mut requests = Requests::new(&inputs, |text| {
            asked.borrow_mut().push(text.to_owned());
            (text == "cached").then(|| scores(0.9))
        });
        // Repeats of a text left to compute do not ask the cache again; each cache hit counts.
        assert_eq!(*asked.borrow(), ["a", "b", "cached", "cached"]);
        assert_eq!(requests.texts(), ["a", "b"]);
        requests.add_window(0, vec![0.25, 0.0]);
        requests.add_window(1, vec![0.5, 0.0]);
        let mut finished = Vec::new();
        let results = requests.results(|text, windows, truncated| {
            finished.push(text.to_owned());
            mean_of_windows(text, windows, truncated)
        });
        assert_eq!(finished, ["a", "b"]);
        let joys: Vec<f32> = results.iter().map(joy).collect();
        assert_eq!(joys, [0.25, 0.5, 0.25, 0.9, 0.5, 0.9]);
    }

    #[test]
    fn windows_of_one_text_are_combined() {
        let inputs = ["long"];
        let mut requests = Requests::new(&inputs, |_| None);
        requests.add_window(0, vec![0.25, 0.0]);
        requests.add_window(0, vec![0.75, 0.0]);
        assert_eq!(joy(&requests.results(mean_of_windows)[0]), 0.5);
    }

    #[test]
    fn the_truncated_flag_reaches_finish_for_its_text_only() {
        let inputs = ["cut", "whole"];
        let mut requests = Requests::new(&inputs, |_| None);
        requests.mark_truncated(0);
        requests.add_window(0, vec![0.5, 0.0]);
        requests.add_window(1, vec![0.5, 0.0]);
        let mut flags = Vec::new();
        requests.results(|text, windows, truncated| {
            flags.push((text.to_owned(), truncated));
            mean_of_windows(text, windows, truncated)
        });
        assert_eq!(
            flags,
            [("cut".to_owned(), true), ("whole".to_owned(), false)]
        );
    }

    #[test]
    fn a_too_long_text_keeps_its_own_error() {
        let inputs = ["long", "short"];
        let mut requests = Requests::new(&inputs, |_| None);
        requests.fail(
            0,
            Arc::new(Error::TooLong {
                tokens: 600,
                limit: 512,
            }),
        );
        requests.add_window(1, vec![0.5, 0.0]);
        let results = requests.results(mean_of_windows);
        assert!(matches!(
            results[0],
            Err(Error::TooLong {
                tokens: 600,
                limit: 512
            })
        ));
        assert_eq!(joy(&results[1]), 0.5);
    }

    #[test]
    fn a_tokenizer_error_is_shared_by_every_repeat_of_the_text() {
        let inputs = ["bad", "good", "bad"];
        let mut requests = Requests::new(&inputs, |_| None);
        let source: crate::error::SharedSource = Arc::new(std::io::Error::other("no tokens"));
        requests.fail(0, Arc::new(Error::Tokenize { source }));
        requests.add_window(1, vec![0.5, 0.0]);
        let results = requests.results(mean_of_windows);
        let sources: Vec<_> = [&results[0], &results[2]]
            .iter()
            .map(|r| match r {
                Err(Error::Tokenize { source }) => Arc::as_ptr(source) as *const u8,
                other => panic!("expected Tokenize, got {other:?}"),
            })
            .collect();
        assert_eq!(sources[0], sources[1], "one shared cause, not two");
        assert_eq!(joy(&results[1]), 0.5);
    }

    #[test]
    fn a_failed_pass_fails_its_texts_as_batch_failed_and_keeps_the_first_error() {
        let inputs = ["x", "y", "x"];
        let mut requests = Requests::new(&inputs, |_| None);
        let first = Arc::new(Error::LogitRows { rows: 1, texts: 2 });
        requests.fail(0, Arc::clone(&first));
        requests.fail(0, Arc::new(Error::WorkerStopped));
        requests.add_window(0, vec![0.5, 0.0]);
        requests.fail(1, Arc::new(Error::WorkerStopped));
        let results = requests.results(mean_of_windows);
        for result in [&results[0], &results[2]] {
            match result {
                Err(Error::BatchFailed { source }) => assert!(Arc::ptr_eq(source, &first)),
                other => panic!("expected BatchFailed, got {other:?}"),
            }
        }
        assert!(matches!(results[1], Err(Error::WorkerStopped)));
    }

    #[test]
    fn a_refused_call_fails_every_unfinished_text_as_overloaded() {
        let inputs = ["bad", "x", "y", "cached"];
        let mut requests = Requests::new(&inputs, |text| (text == "cached").then(|| scores(0.9)));
        let source: crate::error::SharedSource = Arc::new(std::io::Error::other("no tokens"));
        requests.fail(0, Arc::new(Error::Tokenize { source }));
        requests.add_window(1, vec![0.5, 0.0]);
        requests.fail_unfinished(&Arc::new(Error::Overloaded {
            queued: 4,
            limit: 4,
        }));
        let results = requests.results(mean_of_windows);
        // The tokenizer's error stays; the others are refused; the cache still answers.
        assert!(matches!(results[0], Err(Error::Tokenize { .. })));
        for result in &results[1..3] {
            assert!(matches!(
                result,
                Err(Error::Overloaded {
                    queued: 4,
                    limit: 4
                })
            ));
        }
        assert_eq!(joy(&results[3]), 0.9);
    }

    #[test]
    fn a_text_that_received_nothing_is_worker_stopped() {
        let inputs = ["never answered"];
        let requests = Requests::new(&inputs, |_| None);
        assert!(matches!(
            requests.results(mean_of_windows)[0],
            Err(Error::WorkerStopped)
        ));
    }

    #[test]
    fn no_inputs_no_results() {
        let inputs: [&str; 0] = [];
        let requests = Requests::new(&inputs, |_| None);
        assert!(requests.texts().is_empty());
        assert!(requests.results(mean_of_windows).is_empty());
    }
}
