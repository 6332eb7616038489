//! (e) Explanations: `explain(text)` against `classify_batch` of the same texts it scores (the
//! text and each variant with one word removed), cache off, on seeded test texts of 8 to 30
//! words. The difference is what occlusion adds on top of the forward passes.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use emotion_classifier::explain::{without_word, words};

fn explain(c: &mut Criterion) {
    common::print_cpu();
    let all = common::test_texts();
    let mut rng = common::Rng::new(27);
    let count = if common::smoke_test() { 2 } else { 20 };
    let mut texts = Vec::with_capacity(count);
    while texts.len() < count {
        let text = &all[rng.below(all.len())];
        if (8..=30).contains(&words(text).len()) {
            texts.push(text.clone());
        }
    }
    let variants: Vec<Vec<String>> = texts
        .iter()
        .map(|text| {
            let mut batch = vec![text.clone()];
            batch.extend(words(text).iter().map(|w| without_word(text, w)));
            batch
        })
        .collect();
    let scored: usize = variants.iter().map(Vec::len).sum();
    let classifier = common::classifier(|b| b);
    let mut group = c.benchmark_group("explain");
    group.throughput(Throughput::Elements(scored as u64));
    group.bench_function("explain", |b| {
        b.iter(|| {
            for text in &texts {
                std::hint::black_box(classifier.explain(text).expect("explain"));
            }
        })
    });
    group.bench_function("classify_batch_of_the_variants", |b| {
        b.iter(|| {
            for batch in &variants {
                std::hint::black_box(classifier.classify_batch(batch).expect("classify"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, explain);
criterion_main!(benches);
