//! Arbitrary bytes as `pytorch_model.bin`: first as the pickle alone (the machine, where most
//! of the risk is), then as the whole zip archive. Checked: every input ends in tensors or an
//! error; never a panic, a stack overflow, a hang, or memory past the reader's budget
//! (`-rss_limit_mb` catches that).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = emotion_classifier::fuzzing::pickle(bytes);
    let _ = emotion_classifier::fuzzing::torch_archive(bytes);
});
