//! The DataFusion path against `classify_batch` on the same texts, in one run: the 5,427 Ekman test texts from Parquet through `emotion_scores`, as one file
//! (one partition) and as four files (four partitions), and the same scan without the model
//! (what the query engine and Parquet cost alone). Cache off everywhere.
//!
//! ```text
//! cargo bench -p emotion-classifier-sql --bench sql
//! ```

// The core crate's bench helpers (model and data paths, seeded inputs, the CPU line).
#[path = "../../benches/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use emotion_classifier_sql::{register, EmotionFunctions};

/// `texts` as `files` Parquet files (one `text` column) in `dir`.
fn write_parquet(dir: &Path, texts: &[String], files: usize) {
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
    for (part, chunk) in texts.chunks(texts.len().div_ceil(files)).enumerate() {
        let column = StringArray::from_iter_values(chunk);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(column)]).expect("batch");
        let file = std::fs::File::create(dir.join(format!("part-{part}.parquet"))).expect("file");
        let mut writer = ArrowWriter::try_new(file, schema.clone(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }
}

fn sql_against_batch(c: &mut Criterion) {
    common::print_cpu();
    let mut texts = common::test_texts();
    if common::smoke_test() {
        texts.truncate(256);
    }
    let classifier = Arc::new(common::classifier(|b| b));
    let functions = EmotionFunctions::new(classifier.clone());
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let temp = tempfile::tempdir().expect("temp dir");
    let mut contexts = Vec::new();
    for files in [1, 4] {
        let dir = temp.path().join(format!("{files}-files"));
        std::fs::create_dir_all(&dir).expect("dir");
        write_parquet(&dir, &texts, files);
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_target_partitions(files));
        register(&ctx, &functions);
        runtime
            .block_on(ctx.register_parquet(
                "t",
                dir.to_str().expect("utf-8 path"),
                ParquetReadOptions::default(),
            ))
            .expect("register");
        contexts.push((files, ctx));
    }
    let run = |ctx: &SessionContext, query: &str| {
        let batches = runtime
            .block_on(async { ctx.sql(query).await?.collect().await })
            .expect("query");
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            texts.len()
        );
    };

    let mut group = c.benchmark_group("sql_vs_batch_5427_texts");
    group.sample_size(10);
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("classify_batch", |b| {
        b.iter(|| classifier.classify_batch(&texts).expect("batch"))
    });
    for (files, ctx) in &contexts {
        group.bench_function(format!("emotion_scores_{files}_files"), |b| {
            b.iter(|| run(ctx, "SELECT emotion_scores(text) FROM t"))
        });
    }
    let (_, one_file) = &contexts[0];
    group.bench_function("scan_only_1_file", |b| {
        b.iter(|| run(one_file, "SELECT length(text) FROM t"))
    });
    group.finish();
}

criterion_group!(benches, sql_against_batch);
criterion_main!(benches);
