//! Arrow in and out: the text column as `&str`s, the scores as Arrow arrays. No model here.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float32Array, StringArray, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, Result};

use emotion_classifier::EmotionScores;

/// The texts of a string column (`Utf8`, `LargeUtf8` or `Utf8View`), `None` for `NULL`.
pub(super) fn texts(array: &dyn Array) -> Result<Vec<Option<&str>>> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        other => return exec_err!("emotion functions take a text column, got {other}"),
    })
}

/// Whether `data_type` is one of the string types the functions take.
pub(super) fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// `emotion_scores`' type: one nullable `Float32` field per label, in the model's order.
pub(super) fn scores_type(labels: &[String]) -> DataType {
    DataType::Struct(
        labels
            .iter()
            .map(|label| Field::new(label, DataType::Float32, true))
            .collect(),
    )
}

fn top_fields() -> Fields {
    Fields::from(vec![
        Field::new("label", DataType::Utf8, true),
        Field::new("score", DataType::Float32, true),
    ])
}

/// `emotion_top`'s type: `{label: Utf8, score: Float32}`.
pub(super) fn top_type() -> DataType {
    DataType::Struct(top_fields())
}

fn row_nulls(rows: &[Option<EmotionScores>]) -> Option<NullBuffer> {
    let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
    (nulls.null_count() > 0).then_some(nulls)
}

/// One struct row per text: every label's probability, or `NULL`.
pub(super) fn scores_array(labels: &[String], rows: &[Option<EmotionScores>]) -> Result<ArrayRef> {
    let DataType::Struct(fields) = scores_type(labels) else {
        return exec_err!("emotion_scores' type is a struct");
    };
    let columns: Vec<ArrayRef> = (0..labels.len())
        .map(|i| {
            Arc::new(Float32Array::from_iter(rows.iter().map(|row| {
                row.as_ref().and_then(|s| s.scores().get(i).copied())
            }))) as ArrayRef
        })
        .collect();
    Ok(Arc::new(StructArray::try_new(
        fields,
        columns,
        row_nulls(rows),
    )?))
}

/// One `{label, score}` row per text: the most probable label, or `NULL`.
pub(super) fn top_array(rows: &[Option<EmotionScores>]) -> Result<ArrayRef> {
    let tops: Vec<Option<(&str, f32)>> = rows
        .iter()
        .map(|row| row.as_ref().map(|s| (s.top().label, s.top().score)))
        .collect();
    let labels = StringArray::from_iter(tops.iter().map(|t| t.map(|(label, _)| label)));
    let scores = Float32Array::from_iter(tops.iter().map(|t| t.map(|(_, score)| score)));
    Ok(Arc::new(StructArray::try_new(
        top_fields(),
        vec![Arc::new(labels), Arc::new(scores)],
        row_nulls(rows),
    )?))
}

/// Label `index`'s probability per text, or `NULL`.
pub(super) fn one_label_array(rows: &[Option<EmotionScores>], index: usize) -> ArrayRef {
    Arc::new(Float32Array::from_iter(rows.iter().map(|row| {
        row.as_ref().and_then(|s| s.scores().get(index).copied())
    })))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{LargeStringArray, StringViewArray};

    use super::*;

    #[test]
    fn every_string_type_reads_with_its_nulls() {
        let want = vec![Some("a"), None, Some("")];
        let utf8 = StringArray::from(want.clone());
        let large = LargeStringArray::from(want.clone());
        let view = StringViewArray::from(want.clone());
        for array in [&utf8 as &dyn Array, &large, &view] {
            assert_eq!(texts(array).unwrap(), want);
        }
        let numbers = Float32Array::from(vec![1.0]);
        assert!(texts(&numbers).is_err());
    }

    #[test]
    fn null_rows_are_null_structs_and_scores_keep_the_label_order() {
        let labels: Vec<String> = ["anger", "joy"].map(String::from).to_vec();
        let scores = EmotionScores::new(labels.clone().into(), vec![0.25, 0.75]);
        let rows = vec![scores, None];
        let all = scores_array(&labels, &rows).unwrap();
        let all = all.as_struct();
        assert_eq!(all.fields()[1].name(), "joy");
        assert!(!all.is_null(0) && all.is_null(1));
        let joy = all
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Float32Type>();
        assert_eq!(joy.value(0), 0.75);
        let top = top_array(&rows).unwrap();
        let top = top.as_struct();
        assert_eq!(top.column(0).as_string::<i32>().value(0), "joy");
        assert!(top.is_null(1));
        let one = one_label_array(&rows, 0);
        assert_eq!(
            one.as_primitive::<datafusion::arrow::datatypes::Float32Type>()
                .value(0),
            0.25
        );
        assert!(one.is_null(1));
    }
}
