//! One classifier shared by many threads gives each the same scores as one thread would.

use crate::support;

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
    let one = EmotionClassifier::builder()
        .model(support::model_dir("emotion-minilm-ekman"))
        .workers(1)
        .build()
        .unwrap();
    assert_eq!(one.workers(), 1);
    let pool = EmotionClassifier::builder()
        .model(support::model_dir("emotion-minilm-ekman"))
        .workers(2)
        .threads(2)
        .cache_capacity(0)
        .build()
        .unwrap();
    assert_eq!((pool.workers(), pool.threads()), (2, 2));
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

#[test]
fn two_workers_by_default_when_there_are_two_threads_to_share() {
    use emotion_classifier::EmotionClassifier;
    let build = |model: &str, threads: Option<usize>, workers: Option<usize>| {
        let mut builder = EmotionClassifier::builder().model(support::model_dir(model));
        if let Some(threads) = threads {
            builder = builder.threads(threads);
        }
        if let Some(workers) = workers {
            builder = builder.workers(workers);
        }
        let classifier = builder.build().unwrap();
        (classifier.workers(), classifier.threads())
    };
    // Two workers sharing the weights when there are two threads, whatever the architecture.
    assert_eq!(build("emotion-minilm-ekman", Some(2), None), (2, 2));
    assert_eq!(build("tiny-roberta-emotion", Some(4), None), (2, 4));
    assert_eq!(build("tiny-distilbert-emotion", Some(2), None), (2, 2));
    // One thread: one worker, so threads(1) keeps the classifier on one core.
    assert_eq!(build("emotion-minilm-ekman", Some(1), None), (1, 1));
    assert_eq!(build("tiny-distilbert-emotion", Some(2), Some(3)), (3, 2));
    // An explicit count wins, even above the threads.
    assert_eq!(build("emotion-minilm-ekman", Some(1), Some(3)), (3, 1));
    // Without threads(), libtorch's count as the classifier is built.
    let threads = usize::try_from(tch::get_num_threads()).unwrap();
    let (workers, got) = build("emotion-minilm-ekman", None, None);
    assert_eq!(got, threads);
    assert_eq!(workers, if threads >= 2 { 2 } else { 1 });
}
