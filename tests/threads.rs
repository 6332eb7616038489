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
