//! One round of a call: texts tokenized (each into one or more windows), then planned into
//! jobs for the workers, each job remembering which distinct text (slot) each row is for.

use crate::batch::{plan_batches, BatchLimits};
use crate::error::Result;
use crate::long_texts::Truncation;
use crate::tokenize::{Encoded, TextEncoder};

use super::requests::Requests;

/// The windows of one round's texts, with their slots.
pub(super) struct Round {
    /// The slot of the next text tokenized.
    next_slot: usize,
    slots: Vec<usize>,
    sequences: Vec<Vec<u32>>,
}

/// A job for the workers: the slots of its rows, and the rows' token ids.
pub(super) type PlannedJob = (Vec<usize>, Vec<Vec<u32>>);

impl Round {
    /// A round whose first text is slot `first`.
    pub(super) fn new(first: usize) -> Self {
        Self {
            next_slot: first,
            slots: Vec::new(),
            sequences: Vec::new(),
        }
    }

    /// Tokenizes the round's next text, cut as `how` says; a text the tokenizer rejects (or
    /// a long text `how` refuses) is failed in `requests` at once.
    pub(super) fn tokenize(
        &mut self,
        encoder: &TextEncoder,
        how: Truncation,
        text: &str,
        requests: &mut Requests,
    ) {
        self.add(encoder.encode(text, how), requests);
    }

    /// Adds the round's next text, tokenized elsewhere (as [`tokenize`](Self::tokenize) would).
    pub(super) fn add(&mut self, encoded: Result<Encoded>, requests: &mut Requests) {
        let slot = self.next_slot;
        self.next_slot += 1;
        match encoded {
            Ok(encoded) => {
                if encoded.truncated {
                    requests.mark_truncated(slot);
                }
                for ids in encoded.windows {
                    self.slots.push(slot);
                    self.sequences.push(ids);
                }
            }
            Err(e) => requests.fail(slot, std::sync::Arc::new(e)),
        }
    }

    /// The round's windows sorted by length and cut into jobs under `limits`.
    pub(super) fn jobs(self, limits: BatchLimits) -> Vec<PlannedJob> {
        let lengths: Vec<usize> = self.sequences.iter().map(Vec::len).collect();
        let mut sequences: Vec<Option<Vec<u32>>> = self.sequences.into_iter().map(Some).collect();
        plan_batches(&lengths, limits)
            .into_iter()
            .map(|batch| {
                let job = batch
                    .iter()
                    .map(|&i| sequences[i].take().unwrap_or_default())
                    .collect();
                let slots = batch.iter().map(|&i| self.slots[i]).collect();
                (slots, job)
            })
            .collect()
    }
}
