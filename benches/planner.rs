//! (e) The batch planner alone: pure Rust, no model.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use emotion_classifier::batch::{plan_batches, BatchLimits};

fn planner(c: &mut Criterion) {
    let mut group = c.benchmark_group("planner");
    for n in [1_000usize, 100_000] {
        let mut rng = common::Rng::new(42);
        // Token lengths shaped like GoEmotions: mostly short, some long.
        let lengths: Vec<usize> = (0..n)
            .map(|_| {
                3 + rng.below(40)
                    + if rng.below(20) == 0 {
                        rng.below(400)
                    } else {
                        0
                    }
            })
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &lengths, |b, lengths| {
            b.iter(|| plan_batches(lengths, BatchLimits::default()))
        });
    }
    group.finish();
}

criterion_group!(benches, planner);
criterion_main!(benches);
