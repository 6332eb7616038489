//! The result cache, duplicate texts, dynamic batching and the worker's shutdown, on a real model.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use emotion_classifier::{EmotionClassifier, Error};

const MODEL: &str = "tiny-distilbert-emotion";

fn build(cache: usize, dynamic: bool) -> EmotionClassifier {
    EmotionClassifier::builder()
        .model(support::model_dir(MODEL))
        .cache_capacity(cache)
        .dynamic_batching(dynamic)
        .build()
        .unwrap()
}

#[test]
fn repeated_texts_are_computed_once_and_cached() {
    let classifier = build(100, true);
    let texts = ["happy", "sad", "happy", "happy", "angry", "sad"];
    let first = classifier.classify_batch(&texts).unwrap();
    assert_eq!(classifier.computed_texts(), 3);
    assert_eq!(first[0], first[2]);
    assert_eq!(first[1], first[5]);
    let stats = classifier.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 3, 3));

    // Now all from the cache, equal to what was computed.
    let again = classifier.classify_batch(&texts).unwrap();
    assert_eq!(again, first);
    assert_eq!(classifier.computed_texts(), 3);
    assert_eq!(classifier.cache_stats().hits, 6);
    assert_eq!(classifier.classify("sad").unwrap(), first[1]);
}

#[test]
fn cache_is_bounded_and_counts_evictions() {
    let classifier = build(50, true);
    let texts: Vec<String> = (0..300).map(|i| format!("text number {i}")).collect();
    classifier.classify_batch(&texts).unwrap();
    let stats = classifier.cache_stats();
    assert_eq!(stats.capacity, 50);
    assert!(stats.entries <= 50, "{stats:?}");
    assert_eq!(stats.entries + stats.evictions, 300, "{stats:?}");
}

#[test]
fn capacity_zero_disables_the_cache_but_not_deduplication() {
    let classifier = build(0, true);
    let a = classifier.classify_batch(&["x", "x", "y"]).unwrap();
    assert_eq!(a[0], a[1]);
    assert_eq!(classifier.computed_texts(), 2);
    classifier.classify("x").unwrap();
    assert_eq!(classifier.computed_texts(), 3);
    assert_eq!(classifier.cache_stats(), Default::default());
}

#[test]
fn pass_stats_count_what_the_model_ran() {
    let classifier = build(0, false);
    assert_eq!(classifier.pass_stats(), Default::default());
    let texts = [
        "a",
        "a much longer text than the first one, with many more tokens",
        "a",
    ];
    classifier.classify_batch(&texts).unwrap();
    let stats = classifier.pass_stats();
    // The repeated text is computed once; two texts fit one pass.
    assert_eq!((stats.passes, stats.sequences), (1, 2), "{stats:?}");
    assert_eq!(stats.sequences, classifier.computed_texts());
    // Padded to the longer text: the short one's slots beyond its length are padding.
    assert_eq!(stats.padded_tokens % 2, 0, "{stats:?}");
    let longest = stats.padded_tokens / 2;
    assert!(
        stats.tokens > longest && stats.tokens < stats.padded_tokens,
        "{stats:?}"
    );
    assert!(stats.padding_fraction() > 0.0 && !stats.forward_time.is_zero());

    // One text alone has no padding.
    classifier.classify("a").unwrap();
    classifier.classify("b").unwrap();
    let after = classifier.pass_stats();
    assert_eq!((after.passes, after.sequences), (3, 4), "{after:?}");
    assert_eq!(
        after.padded_tokens - stats.padded_tokens,
        after.tokens - stats.tokens
    );
}

#[test]
fn cached_and_uncached_scores_are_identical() {
    let cached = build(1000, true);
    let uncached = build(0, false);
    for text in ["I love it", "I hate it", "", "meh"] {
        let a = cached.classify(text).unwrap();
        let b = cached.classify(text).unwrap();
        let c = uncached.classify(text).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
    }
}

#[test]
fn concurrent_callers_with_and_without_dynamic_batching_agree() {
    let texts: Vec<String> = (0..64)
        .map(|i| format!("message {i} {}", "ok ".repeat(i % 9)))
        .collect();
    let expected = build(0, false).classify_batch(&texts).unwrap();
    for dynamic in [false, true] {
        let classifier = build(0, dynamic);
        thread::scope(|s| {
            for t in 0..8 {
                let classifier = classifier.clone();
                let (texts, expected) = (&texts, &expected);
                s.spawn(move || {
                    for i in (t..texts.len()).step_by(8) {
                        let got = classifier.classify(&texts[i]).unwrap();
                        for (a, b) in got.scores().iter().zip(expected[i].scores()) {
                            assert!(
                                (a - b).abs() <= 1e-5,
                                "dynamic={dynamic} text {i}: {a} vs {b}"
                            );
                        }
                    }
                });
            }
        });
    }
}

#[test]
fn shutdown_ends_waiting_and_later_calls_with_an_error_not_a_hang() {
    let classifier = build(0, true);
    let ok = AtomicUsize::new(0);
    let stopped = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..4 {
            let classifier = classifier.clone();
            let (ok, stopped) = (&ok, &stopped);
            s.spawn(move || {
                for i in 0..200 {
                    match classifier.classify(&format!("thread {t} call {i}")) {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(Error::WorkerStopped) => stopped.fetch_add(1, Ordering::Relaxed),
                        Err(e) => panic!("unexpected error {e:?}"),
                    };
                }
            });
        }
        thread::sleep(std::time::Duration::from_millis(20));
        classifier.shutdown();
    });
    assert_eq!(
        ok.load(Ordering::Relaxed) + stopped.load(Ordering::Relaxed),
        800
    );
    assert!(stopped.load(Ordering::Relaxed) > 0);
    assert!(matches!(
        classifier.classify("after"),
        Err(Error::WorkerStopped)
    ));
    let each = classifier.classify_each(&["a", "b"]);
    assert_eq!(each.len(), 2);
    assert!(each.iter().all(|r| matches!(r, Err(Error::WorkerStopped))));
}

#[test]
fn cuda_if_available_without_a_gpu_runs_on_the_cpu_unchanged() {
    if tch::Cuda::is_available() {
        return; // this machine has a GPU: the fallback is not what runs
    }
    let cpu = build(0, true);
    let auto = EmotionClassifier::builder()
        .model(support::model_dir(MODEL))
        .device(emotion_classifier::Device::CudaIfAvailable)
        .cache_capacity(0)
        .build()
        .unwrap();
    for text in ["so happy", "so sad", ""] {
        assert_eq!(cpu.classify(text).unwrap(), auto.classify(text).unwrap());
    }
}
