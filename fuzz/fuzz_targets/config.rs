//! Arbitrary bytes as `config.json`: every size checked before use, in checked arithmetic.
//! Checked: labels or a typed error, never a panic (an overflow panics in this debug build).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = emotion_classifier::fuzzing::config(bytes);
});
