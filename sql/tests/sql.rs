//! The DataFusion SQL functions: scores equal `classify_batch`'s over a
//! Parquet table of the 5,427 GoEmotions Ekman test texts in 4 partitions, NULLs stay NULL,
//! row counts are exact; planning errors and unscorable texts behave as documented.

mod support;

use support::sql_table;

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Schema};
use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use emotion_classifier::EmotionClassifier;
use emotion_classifier_sql::{register, EmotionFunctions, ModelLoadError};

/// The tiny RoBERTa (the SQL layer is under test, not the model; the real MiniLM would make
/// this test minutes long in a debug build), with or without the result cache.
fn classifier(cache: bool) -> Arc<EmotionClassifier> {
    let mut builder =
        EmotionClassifier::builder().model(support::model_dir("tiny-roberta-emotion"));
    if !cache {
        builder = builder.cache_capacity(0);
    }
    Arc::new(builder.build().unwrap())
}

fn context(functions: &EmotionFunctions) -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
    register(&ctx, functions);
    ctx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_scores_equal_classify_batch_with_nulls_and_exact_rows() {
    let rows = sql_table::rows();
    let dir = tempfile::tempdir().unwrap();
    sql_table::write_parquet(dir.path(), &rows, 4);
    // The three functions share the cache, so each text is computed once; the expected
    // scores come from another classifier without one.
    let functions = EmotionFunctions::new(classifier(true));
    let ctx = context(&functions);
    ctx.register_parquet(
        "t",
        dir.path().to_str().unwrap(),
        ParquetReadOptions::default(),
    )
    .await
    .unwrap();
    let df = ctx.sql(sql_table::QUERY).await.unwrap();
    let plan = df.clone().create_physical_plan().await.unwrap();
    assert!(
        plan.output_partitioning().partition_count() >= 4,
        "{}",
        plan.output_partitioning().partition_count()
    );
    let batches = df.collect().await.unwrap();
    sql_table::check_scores(&batches, &rows, &classifier(false));
    let stats = functions.stats();
    let nulls = rows.iter().filter(|(_, t)| t.is_none()).count() as u64;
    // Three functions, each over every row.
    assert_eq!(stats.rows, 3 * rows.len() as u64);
    assert_eq!(stats.null_texts, 3 * nulls);
    assert_eq!(stats.unscored, 0);
}

#[tokio::test]
async fn an_unknown_label_is_a_planning_error_naming_the_labels() {
    let ctx = context(&EmotionFunctions::new(classifier(false)));
    let query = "SELECT emotion(column1, 'happiness') FROM (VALUES ('so glad')) AS v";
    let error = match ctx.sql(query).await {
        Err(e) => e,
        Ok(df) => df.collect().await.expect_err("an unknown label fails"),
    }
    .to_string();
    assert!(error.contains("unknown label \"happiness\""), "{error}");
    assert!(error.contains("anger, disgust, fear, joy"), "{error}");
}

#[tokio::test]
async fn empty_null_and_huge_texts_each_get_an_answer() {
    let functions = EmotionFunctions::new(classifier(false));
    let ctx = context(&functions);
    let huge = "I am so angry about this. ".repeat(40_000); // about 1 MB
    let texts = StringArray::from(vec![
        Some(""),
        None,
        Some("   "),
        Some(huge.as_str()),
        Some("yay"),
    ]);
    let schema = Arc::new(Schema::new(vec![Field::new("body", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(texts)]).unwrap();
    ctx.register_batch("t", batch).unwrap();
    let batches = ctx
        .sql("SELECT emotion_top(body) AS t FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let tops: Vec<&StructArray> = batches.iter().map(|b| b.column(0).as_struct()).collect();
    let nulls: Vec<bool> = tops
        .iter()
        .flat_map(|t| (0..t.len()).map(|i| t.is_null(i)))
        .collect();
    assert_eq!(nulls, [false, true, false, false, false]);
    assert_eq!(functions.stats().unscored, 0);
}

/// A DistilBERT whose tokenizer names an unknown-token that is not in its vocabulary, so a
/// text with a character outside the vocabulary cannot be tokenized.
fn classifier_that_cannot_tokenize_emoji() -> (tempfile::TempDir, Arc<EmotionClassifier>) {
    let dir = support::temp_copy("tiny-distilbert-emotion");
    let path = dir.path().join("tokenizer.json");
    let mut tokenizer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tokenizer["model"]["unk_token"] = "[NOT-IN-VOCAB]".into();
    std::fs::write(&path, tokenizer.to_string()).unwrap();
    let classifier = EmotionClassifier::builder()
        .model(dir.path())
        .cache_capacity(0)
        .build()
        .unwrap();
    assert!(classifier.classify("hello").is_ok());
    assert!(matches!(
        classifier.classify("🦜"),
        Err(emotion_classifier::Error::Tokenize { .. })
    ));
    (dir, Arc::new(classifier))
}

async fn tops(ctx: &SessionContext) -> datafusion::error::Result<Vec<bool>> {
    let texts = StringArray::from(vec![Some("hello"), Some("🦜"), None, Some("bye")]);
    let schema = Arc::new(Schema::new(vec![Field::new("body", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(texts)])?;
    ctx.register_batch("t", batch)?;
    let batches = ctx
        .sql("SELECT emotion_top(body) FROM t")
        .await?
        .collect()
        .await?;
    Ok(batches
        .iter()
        .flat_map(|b| {
            let column = b.column(0).as_struct().clone();
            (0..column.len()).map(move |i| column.is_null(i))
        })
        .collect())
}

#[tokio::test]
async fn unscorable_text_is_null_and_counted_or_fails_the_query_when_strict() {
    let (_dir, classifier) = classifier_that_cannot_tokenize_emoji();
    let lenient = EmotionFunctions::new(classifier.clone());
    let nulls = tops(&context(&lenient)).await.unwrap();
    assert_eq!(nulls, [false, true, true, false]);
    let stats = lenient.stats();
    assert_eq!((stats.rows, stats.null_texts, stats.unscored), (4, 1, 1));

    let strict = EmotionFunctions::new(classifier).strict(true);
    let error = tops(&context(&strict)).await.unwrap_err().to_string();
    assert!(error.contains("row 1 of its batch"), "{error}");
    assert!(error.contains("🦜"), "{error}");
}

/// A one-column table `t(body)` of `texts`.
fn register_texts(ctx: &SessionContext, texts: Vec<Option<&str>>) {
    let schema = Arc::new(Schema::new(vec![Field::new("body", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(texts))]).unwrap();
    ctx.register_batch("t", batch).unwrap();
}

#[tokio::test]
async fn lazy_functions_plan_without_the_model_and_load_it_on_first_use() {
    let model = support::model_dir("tiny-roberta-emotion");
    let functions = EmotionFunctions::lazy(EmotionClassifier::builder().model(model)).unwrap();
    let reference = classifier(false);
    assert_eq!(functions.labels(), reference.labels());
    let ctx = context(&functions);
    register_texts(&ctx, vec![Some("so glad"), None, Some("this is awful")]);
    let df = ctx.sql("SELECT emotion(body, 'joy') FROM t").await.unwrap();
    assert!(!functions.is_loaded(), "planning reads only config.json");
    let batches = df.collect().await.unwrap();
    assert!(functions.is_loaded());
    let joy = reference.labels().iter().position(|l| l == "joy").unwrap();
    let got = batches[0].column(0).as_primitive::<Float32Type>();
    assert!(got.is_null(1));
    for (row, text) in [(0, "so glad"), (2, "this is awful")] {
        let want = reference.classify(text).unwrap().scores()[joy];
        assert!((got.value(row) - want).abs() <= sql_table::TOLERANCE);
    }
}

#[tokio::test]
async fn a_lazy_model_that_fails_to_load_fails_every_query_with_the_cause() {
    let copy = support::temp_copy("tiny-roberta-emotion");
    let functions =
        EmotionFunctions::lazy(EmotionClassifier::builder().model(copy.path())).unwrap();
    // config.json was read; the weights go missing before the first call.
    std::fs::remove_file(copy.path().join("model.safetensors")).unwrap();
    let ctx = context(&functions);
    register_texts(&ctx, vec![Some("so glad")]);
    for _ in 0..2 {
        let error = ctx
            .sql("SELECT emotion_top(body) FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        let mut source: Option<&dyn std::error::Error> = Some(&error);
        let mut load_error = None;
        while let Some(e) = source {
            if let Some(e) = e.downcast_ref::<Arc<ModelLoadError>>() {
                load_error = Some(e.clone());
            }
            source = e.source();
        }
        match load_error.as_deref() {
            Some(ModelLoadError::Load { dir, .. }) => assert_eq!(dir, copy.path()),
            other => panic!("expected ModelLoadError::Load, got {other:?} from {error}"),
        }
        assert!(!functions.is_loaded());
    }
}

#[tokio::test]
async fn a_csv_with_invalid_utf8_fails_naming_the_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tickets.csv");
    // The bad row comes after two full batches (8,192 rows each), which reach the writer first.
    let mut data = b"id,body\n".to_vec();
    for id in 0..20_000 {
        data.extend_from_slice(format!("{id},fine\n").as_bytes());
    }
    data.extend_from_slice(b"20000,caf\xe9 au lait\n20001,ok\n");
    std::fs::write(&csv, data).unwrap();
    let out = dir.path().join("out.parquet");
    let ctx = context(&EmotionFunctions::new(classifier(false))).enable_url_table();
    let copy = |input: &Path| {
        format!(
            "COPY (SELECT id, emotion_top(body) AS top FROM '{}') TO '{}'",
            input.display(),
            out.display()
        )
    };
    let error = emotion_classifier_sql::run(&ctx, &copy(&csv))
        .await
        .expect_err("invalid UTF-8 fails the query")
        .to_string();
    assert!(
        error.contains("invalid UTF-8 data for line 20002"),
        "{error}"
    );
    assert!(error.contains("tickets.csv"), "{error}");
    assert!(!out.exists(), "no output file after a failed COPY");

    // The same COPY over good input writes every row.
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "id,body\n1,fine\n2,great\n").unwrap();
    let counts = emotion_classifier_sql::run(&ctx, &copy(&good))
        .await
        .unwrap();
    let written = counts[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
    assert_eq!(written.value(0), 2);
    assert!(out.exists());
}
