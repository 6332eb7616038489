//! Arbitrary bytes as `model.safetensors`: the header is checked against the file before
//! anything is allocated from it. Checked: tensors or an error, never a panic or a large
//! allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = emotion_classifier::fuzzing::safetensors(bytes);
});
