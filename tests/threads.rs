//! One classifier shared by many threads gives each the same scores as one thread would.

mod support;

use std::thread;

#[test]
fn shared_across_threads_gives_single_threaded_results() {
    let classifier = support::classifier("emotion-minilm-ekman");
    let texts: Vec<String> = support::references("emotion-minilm-ekman")
        .into_iter()
        .take(48)
        .map(|r| r.text)
        .collect();
    let expected = classifier.classify_batch(&texts).unwrap();
    thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let classifier = classifier.clone();
                let texts = &texts;
                scope.spawn(move || {
                    texts
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % 4 == t)
                        .map(|(i, text)| (i, classifier.classify(text).unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for (i, scores) in handle.join().unwrap() {
                for (a, b) in scores.scores().iter().zip(expected[i].scores()) {
                    assert!((a - b).abs() <= 1e-5, "text {i}: {a} vs {b}");
                }
            }
        }
    });
}

#[test]
fn a_pool_of_workers_gives_one_workers_results_and_stops_as_one() {
    use emotion_classifier::{EmotionClassifier, Error};
    let one = support::classifier("emotion-minilm-ekman");
    let pool = EmotionClassifier::builder()
        .model(support::model_dir("emotion-minilm-ekman"))
        .workers(2)
        .threads(1)
        .cache_capacity(0)
        .build()
        .unwrap();
    let texts: Vec<String> = support::references("emotion-minilm-ekman")
        .into_iter()
        .map(|r| r.text)
        .collect();
    let expected = one.classify_batch(&texts).unwrap();
    // Batches spread over both workers, and single calls from many threads at once.
    let batched = pool.classify_batch(&texts).unwrap();
    let singles: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let pool = pool.clone();
                let texts = &texts;
                scope.spawn(move || {
                    (t..texts.len())
                        .step_by(4)
                        .map(|i| (i, pool.classify(&texts[i]).unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(singles.len(), texts.len());
    for (i, scores) in singles
        .iter()
        .map(|(i, s)| (*i, s))
        .chain(batched.iter().enumerate())
    {
        for (a, b) in scores.scores().iter().zip(expected[i].scores()) {
            assert!((a - b).abs() <= 1e-5, "text {i}: {a} vs {b}");
        }
    }
    pool.shutdown();
    // Every worker got its stop: nothing is served after it, and nothing hangs.
    for _ in 0..4 {
        assert!(matches!(pool.classify("after"), Err(Error::WorkerStopped)));
    }
    for workers in [0, 257] {
        let refused = EmotionClassifier::builder()
            .model(support::model_dir("tiny-roberta-emotion"))
            .workers(workers)
            .build();
        assert!(
            matches!(
                refused,
                Err(Error::InvalidOption {
                    option: "workers",
                    ..
                })
            ),
            "workers({workers})"
        );
    }
}
