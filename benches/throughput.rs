//! (a) Batch throughput: one `classify_batch` over the 5,427 Ekman test texts, f32 (the
//! defaults: two workers sharing the cores on 2+ cores; and one worker with every core), bf16
//! and int8; (b) single-text latency: one `classify` per text, cache off, f32 and int8.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use emotion_classifier::Precision;

fn batch(c: &mut Criterion) {
    common::print_cpu();
    let mut texts = common::test_texts();
    if common::smoke_test() {
        texts.truncate(256);
    }
    let mut group = c.benchmark_group("batch_5427_texts");
    group.sample_size(10);
    group.throughput(Throughput::Elements(texts.len() as u64));
    for (name, precision) in [
        ("f32", Precision::F32),
        ("bf16", Precision::Bf16),
        ("int8", Precision::Int8),
    ] {
        if precision == Precision::Bf16 && !Precision::cpu_has_fast_bf16() {
            // Emulated bf16 runs at a few texts/s: minutes per sample.
            eprintln!("skipping batch_5427_texts/bf16: this CPU lacks AVX512-BF16");
            continue;
        }
        let classifier = match common::try_classifier(|b| b.precision(precision)) {
            Ok(classifier) => classifier,
            Err(e) => {
                // bf16 and int8 are the fused encoder's: other architectures refuse them.
                eprintln!("skipping batch_5427_texts/{name}: {e}");
                continue;
            }
        };
        group.bench_function(name, |b| {
            b.iter(|| classifier.classify_batch(&texts).expect("batch"))
        });
    }
    // One worker with every core, for comparison with the default pool.
    let one = common::classifier(|b| b.workers(1));
    group.bench_function("f32_1_worker", |b| {
        b.iter(|| one.classify_batch(&texts).expect("batch"))
    });
    group.finish();
}

fn single(c: &mut Criterion) {
    let texts: Vec<String> = common::test_texts().into_iter().take(200).collect();
    let mut group = c.benchmark_group("single_text");
    group.throughput(Throughput::Elements(1));
    for (name, precision) in [
        ("classify", Precision::F32),
        ("classify_int8", Precision::Int8),
    ] {
        let classifier = match common::try_classifier(|b| b.precision(precision)) {
            Ok(classifier) => classifier,
            Err(e) => {
                eprintln!("skipping single_text/{name}: {e}");
                continue;
            }
        };
        let mut rng = common::Rng::new(7);
        group.bench_function(name, |b| {
            b.iter(|| {
                let text = &texts[rng.below(texts.len())];
                classifier.classify(text).expect("classify")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, batch, single);
criterion_main!(benches);
