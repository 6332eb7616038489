//! Batch planning on arbitrary token lengths and limits. Checked: invalid limits are a typed
//! error; otherwise every text is planned exactly once, no batch is empty or over the batch size,
//! and only a text alone may exceed the padded-token budget.
#![no_main]

use emotion_classifier::batch::{plan_batches, BatchLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, u16, Vec<u16>)| {
    let (max_batch_size, max_batch_tokens, lengths) = input;
    let Ok(limits) = BatchLimits::new(max_batch_size as usize, max_batch_tokens as usize) else {
        return;
    };
    let lengths: Vec<usize> = lengths.into_iter().map(usize::from).collect();
    let batches = plan_batches(&lengths, limits);
    let mut seen = vec![false; lengths.len()];
    for batch in &batches {
        assert!(!batch.is_empty() && batch.len() <= limits.max_batch_size());
        let longest = batch.iter().map(|&i| lengths[i]).max().unwrap_or(0);
        assert!(batch.len() == 1 || batch.len() * longest <= limits.max_batch_tokens());
        for &i in batch {
            assert!(!seen[i], "text {i} planned twice");
            seen[i] = true;
        }
    }
    assert!(seen.iter().all(|&s| s), "a text was not planned");
});
