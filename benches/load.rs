//! (f) Loading a model folder: config, tokenizer, weights, and the network built, for the
//! default model (`emotion-minilm-ekman`, fp16 safetensors, 45 MB) and a pickle checkpoint
//! (`tiny-roberta-emotion-bin`, `pytorch_model.bin`), one worker, cache off. The time a user
//! waits in `build()`; the readers' bounds (docs/SECURITY.md) must not make it slower.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use emotion_classifier::EmotionClassifier;

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    for name in ["emotion-minilm-ekman", "tiny-roberta-emotion-bin"] {
        let dir = common::shared_dir().join("models").join(name);
        group.bench_function(name, |b| {
            b.iter(|| {
                let classifier = EmotionClassifier::builder()
                    .model(dir.clone())
                    .cache_capacity(0)
                    .threads(1)
                    .build()
                    .expect("the model loads");
                std::hint::black_box(classifier)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
