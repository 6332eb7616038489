//! (d) 8 threads calling `classify` at once, one text per call, with and without dynamic
//! batching.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CALLERS: usize = 8;

fn concurrent(c: &mut Criterion) {
    common::print_cpu();
    let texts: Vec<String> = common::test_texts().into_iter().take(512).collect();
    let mut group = c.benchmark_group("8_callers_512_texts");
    group.sample_size(10);
    group.throughput(Throughput::Elements(texts.len() as u64));
    for dynamic in [true, false] {
        let classifier = common::classifier(|b| b.dynamic_batching(dynamic));
        let name = if dynamic { "dynamic" } else { "no_dynamic" };
        group.bench_function(name, |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for caller in 0..CALLERS {
                        let (classifier, texts) = (&classifier, &texts);
                        s.spawn(move || {
                            for text in texts.iter().skip(caller).step_by(CALLERS) {
                                classifier.classify(text).expect("classify");
                            }
                        });
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, concurrent);
criterion_main!(benches);
