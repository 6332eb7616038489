//! The DataFusion SQL functions (feature `datafusion`): scores equal `classify_batch`'s over a
//! Parquet table of the 5,427 GoEmotions Ekman test texts in 4 partitions, NULLs stay NULL,
//! row counts are exact; planning errors and unscorable texts behave as documented.
#![cfg(feature = "datafusion")]

mod support;

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use emotion_classifier::sql::{register, EmotionFunctions};
use emotion_classifier::EmotionClassifier;

const TOLERANCE: f32 = 1e-5;

/// The Ekman test texts with every 97th row NULL, as (id, text).
fn rows() -> Vec<(i64, Option<String>)> {
    let path = support::models_dir().join("../data/goemotions/ekman/test.tsv");
    let data = std::fs::read_to_string(&path).expect("GoEmotions test split");
    data.lines()
        .enumerate()
        .map(|(i, line)| {
            let text = line.split('\t').next().unwrap_or("").to_owned();
            (i as i64, (i % 97 != 5).then_some(text))
        })
        .collect()
}

/// `rows` as 4 Parquet files in `dir`, so a scan has 4 partitions.
fn write_parquet(dir: &Path, rows: &[(i64, Option<String>)]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
    ]));
    let per_file = rows.len().div_ceil(4);
    for (part, chunk) in rows.chunks(per_file).enumerate() {
        let ids = Int64Array::from_iter_values(chunk.iter().map(|(id, _)| *id));
        let bodies = StringArray::from_iter(chunk.iter().map(|(_, t)| t.as_deref()));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(bodies)]).unwrap();
        let file = std::fs::File::create(dir.join(format!("part-{part}.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
}

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
    let rows = rows();
    let dir = tempfile::tempdir().unwrap();
    write_parquet(dir.path(), &rows);
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
    let df = ctx
        .sql("SELECT id, emotion_scores(body) AS s, emotion_top(body) AS t, emotion(body, 'joy') AS joy FROM t")
        .await
        .unwrap();
    let plan = df.clone().create_physical_plan().await.unwrap();
    assert!(
        plan.output_partitioning().partition_count() >= 4,
        "{}",
        plan.output_partitioning().partition_count()
    );
    let batches = df.collect().await.unwrap();

    let texts: Vec<&str> = rows.iter().filter_map(|(_, t)| t.as_deref()).collect();
    let reference = classifier(false);
    let expected = reference.classify_batch(&texts).unwrap();
    let mut by_id: Vec<Option<&emotion_classifier::EmotionScores>> = vec![None; rows.len()];
    let mut expected = expected.iter();
    for (id, text) in &rows {
        if text.is_some() {
            by_id[*id as usize] = expected.next();
        }
    }
    let labels = reference.labels();
    let joy = labels.iter().position(|l| l == "joy").unwrap();
    let mut seen = vec![false; rows.len()];
    for batch in &batches {
        let ids = batch.column(0).as_primitive::<Int64Type>();
        let scores = batch.column(1).as_struct();
        let tops = batch.column(2).as_struct();
        let joys = batch.column(3).as_primitive::<Float32Type>();
        assert_eq!(scores.num_columns(), labels.len());
        for (field, label) in scores.fields().iter().zip(labels) {
            assert_eq!(field.name(), label);
        }
        for row in 0..batch.num_rows() {
            let id = ids.value(row) as usize;
            assert!(!seen[id], "row {id} twice");
            seen[id] = true;
            match by_id[id] {
                None => {
                    assert!(scores.is_null(row) && tops.is_null(row) && joys.is_null(row));
                }
                Some(want) => {
                    for (i, w) in want.scores().iter().enumerate() {
                        let got = scores.column(i).as_primitive::<Float32Type>().value(row);
                        assert!(
                            (got - w).abs() <= TOLERANCE,
                            "row {id} {}: {got} vs {w}",
                            labels[i]
                        );
                    }
                    let top_label = tops.column(0).as_string::<i32>().value(row);
                    assert_eq!(top_label, want.top().label, "row {id}");
                    assert!((joys.value(row) - want.scores()[joy]).abs() <= TOLERANCE);
                }
            }
        }
    }
    assert!(seen.iter().all(|s| *s), "every row exactly once");
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
