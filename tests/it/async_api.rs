//! The async API under tokio: many concurrent tasks, all answered, with the blocking API's
//! scores; the `try_` calls refuse what the queue cannot hold.

use crate::support;

use emotion_classifier::{EmotionClassifier, Error};

fn texts() -> Vec<String> {
    support::references("tiny-distilbert-emotion")
        .into_iter()
        .map(|r| r.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_tasks_are_all_answered_with_the_blocking_apis_scores() {
    let classifier = EmotionClassifier::builder()
        .model(support::model_dir("tiny-distilbert-emotion"))
        .cache_capacity(0)
        .max_queued(64)
        .build()
        .unwrap();
    let texts = texts();
    let expected: Vec<_> = texts
        .iter()
        .map(|t| classifier.classify(t).unwrap())
        .collect();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let classifier = classifier.clone();
        let text = texts[i % texts.len()].clone();
        tasks.push(tokio::spawn(async move {
            (i, classifier.classify_async(&text).await)
        }));
    }
    for task in tasks {
        let (i, got) = task.await.unwrap();
        let got = got.unwrap();
        let want = &expected[i % texts.len()];
        assert_eq!(got.labels(), want.labels());
        for (a, b) in got.scores().iter().zip(want.scores()) {
            let tolerance = support::batch_tolerance("tiny-distilbert-emotion");
            assert!((a - b).abs() <= tolerance, "text {i}: {a} vs {b}");
        }
    }
    // Concurrent tasks shared forward passes, and the queue never held more than its bound.
    let passes = classifier.pass_stats();
    assert!(passes.sequences_per_pass() > 1.0, "{passes:?}");
    let queue = classifier.queue_stats();
    assert!(queue.peak <= 64, "{queue:?}");
    assert_eq!(queue.queued, 0);
}

#[tokio::test]
async fn a_batch_async_equals_the_blocking_batch() {
    let classifier = support::classifier("tiny-distilbert-emotion");
    let texts = texts();
    let blocking = classifier.classify_batch(&texts).unwrap();
    let asynchronous = classifier.classify_batch_async(&texts).await.unwrap();
    assert_eq!(asynchronous.len(), blocking.len());
    for (a, b) in asynchronous.iter().zip(&blocking) {
        for (x, y) in a.scores().iter().zip(b.scores()) {
            assert!((x - y).abs() <= 1e-5);
        }
    }
    let each = classifier.classify_each_async(&["", "fine"]).await;
    assert!(each.iter().all(Result::is_ok));
}

#[tokio::test]
async fn try_calls_refuse_more_than_the_queue_holds_and_waiting_calls_do_not() {
    let classifier = EmotionClassifier::builder()
        .model(support::model_dir("tiny-distilbert-emotion"))
        .cache_capacity(0)
        .max_queued(2)
        .build()
        .unwrap();
    let three = ["one text", "another text", "a third text"];
    match classifier.try_classify_batch_async(&three).await {
        Err(Error::Overloaded { limit, .. }) => assert_eq!(limit, 2),
        other => panic!("expected Overloaded, got {other:?}"),
    }
    match classifier.try_classify_batch(&three) {
        Err(Error::Overloaded { limit, .. }) => assert_eq!(limit, 2),
        other => panic!("expected Overloaded, got {other:?}"),
    }
    // The refused call ran nothing; waiting calls take the same texts in.
    assert_eq!(classifier.pass_stats().sequences, 0);
    assert_eq!(
        classifier.classify_batch_async(&three).await.unwrap().len(),
        3
    );
    assert_eq!(classifier.classify_batch(&three).unwrap().len(), 3);
    assert!(classifier.try_classify_async("one text").await.is_ok());
    assert!(classifier.try_classify("fits").is_ok());
}

#[test]
fn max_queued_of_zero_is_an_invalid_option() {
    match EmotionClassifier::builder()
        .model(support::model_dir("tiny-distilbert-emotion"))
        .max_queued(0)
        .build()
    {
        Err(Error::InvalidOption { option, .. }) => assert_eq!(option, "max_queued"),
        other => panic!("expected InvalidOption, got {other:?}"),
    }
}
