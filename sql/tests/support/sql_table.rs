//! The SQL tests' table: the 5,427 GoEmotions Ekman test texts with some NULLs, written as
//! Parquet files, and the check that a query's scores equal `classify_batch`'s.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use emotion_classifier::{EmotionClassifier, EmotionScores};

/// How far a score from SQL may be from `classify_batch`'s.
pub const TOLERANCE: f32 = 1e-5;

/// The query [`check_scores`] reads: `id`, `emotion_scores`, `emotion_top`, `emotion(_, 'joy')`.
pub const QUERY: &str = "SELECT id, emotion_scores(body) AS s, emotion_top(body) AS t, \
                         emotion(body, 'joy') AS joy FROM t";

/// The Ekman test texts with every 97th row NULL, as (id, text).
pub fn rows() -> Vec<(i64, Option<String>)> {
    let path = super::models_dir().join("../data/goemotions/ekman/test.tsv");
    let data = std::fs::read_to_string(&path).expect("GoEmotions test split");
    data.lines()
        .enumerate()
        .map(|(i, line)| {
            let text = line.split('\t').next().unwrap_or("").to_owned();
            (i as i64, (i % 97 != 5).then_some(text))
        })
        .collect()
}

/// `rows` as `files` Parquet files in `dir` (`id`, `body`), so a scan has that many partitions.
pub fn write_parquet(dir: &Path, rows: &[(i64, Option<String>)], files: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
    ]));
    let per_file = rows.len().div_ceil(files);
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

/// Asserts that `batches`, the result of [`QUERY`] over `rows`, hold every row exactly once,
/// `NULL` where the text is, and otherwise `reference.classify_batch`'s scores to
/// [`TOLERANCE`] and its top label.
pub fn check_scores(
    batches: &[RecordBatch],
    rows: &[(i64, Option<String>)],
    reference: &EmotionClassifier,
) {
    let texts: Vec<&str> = rows.iter().filter_map(|(_, t)| t.as_deref()).collect();
    let expected = reference.classify_batch(&texts).unwrap();
    let mut by_id: Vec<Option<&EmotionScores>> = vec![None; rows.len()];
    let mut expected = expected.iter();
    for (id, text) in rows {
        if text.is_some() {
            by_id[*id as usize] = expected.next();
        }
    }
    let labels = reference.labels();
    let joy = labels.iter().position(|l| l == "joy").unwrap();
    let mut seen = vec![false; rows.len()];
    for batch in batches {
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
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(missing, 0, "every row exactly once: {missing} rows missing");
}
