//! Helpers shared by the benches: where the model and texts are, seeded inputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use emotion_classifier::EmotionClassifier;

/// The shared folder (models, data): `EMOTION_TEST_MODELS/..`, default `../shared`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("EMOTION_TEST_MODELS")
        .map(|m| PathBuf::from(m).join(".."))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// The benchmark model: `EMOTION_BENCH_MODEL` (any model folder the crate loads, e.g.
/// `../shared/models/tiny-deberta-v2-emotion`), else `emotion-minilm-ekman`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("EMOTION_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared_dir().join("models/emotion-minilm-ekman"))
}

/// Whether this is `cargo test` running the bench once as a smoke test (`cargo bench` passes
/// `--bench`): then a slice of the inputs is enough, and keeps the test suite short.
pub fn smoke_test() -> bool {
    !std::env::args().any(|arg| arg == "--bench")
}

/// The 5,427 texts of the GoEmotions Ekman test split.
pub fn test_texts() -> Vec<String> {
    let path = shared_dir().join("data/goemotions/ekman/test.tsv");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

/// Like [`classifier`], but returns the build error (bf16 on a model outside the fused
/// encoder is refused, for example).
pub fn try_classifier(
    configure: impl FnOnce(
        emotion_classifier::EmotionClassifierBuilder,
    ) -> emotion_classifier::EmotionClassifierBuilder,
) -> emotion_classifier::Result<EmotionClassifier> {
    configure(
        EmotionClassifier::builder()
            .model(model_dir())
            .cache_capacity(0)
            .tune_malloc(true),
    )
    .build()
}

/// A classifier on the benchmark model, with the cache off unless asked.
pub fn classifier(
    configure: impl FnOnce(
        emotion_classifier::EmotionClassifierBuilder,
    ) -> emotion_classifier::EmotionClassifierBuilder,
) -> EmotionClassifier {
    try_classifier(configure).expect("benchmark model")
}

/// A seeded xorshift generator, so every run benches the same inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

/// Prints the CPU's model and which of the features that decide this crate's speed it has
/// (`/proc/cpuinfo`; Linux), so a benchmark's numbers say what machine they came from.
pub fn print_cpu() {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let flags = field("flags");
    let flags: Vec<&str> = flags.split_whitespace().collect();
    let wanted = [
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx_vnni",
        "avx512_bf16",
        "amx_bf16",
        "amx_int8",
    ];
    let has: Vec<&str> = wanted.into_iter().filter(|f| flags.contains(f)).collect();
    eprintln!(
        "cpu: {} | {} threads available | features: {}",
        field("model name"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if has.is_empty() {
            "none of interest".to_owned()
        } else {
            has.join(" ")
        }
    );
}
