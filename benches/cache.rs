//! (c) Cache hits: `classify` on texts that are all in the cache, one thread.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn cache_hits(c: &mut Criterion) {
    let texts: Vec<String> = common::test_texts().into_iter().take(1000).collect();
    let classifier = common::classifier(|b| b.cache_capacity(10_000));
    classifier.classify_batch(&texts).expect("warm the cache");
    let mut group = c.benchmark_group("cache");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("hit_1000_texts", |b| {
        b.iter(|| {
            for text in &texts {
                std::hint::black_box(classifier.classify(text).expect("hit"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, cache_hits);
criterion_main!(benches);
