//! Reading TEI's `PredictInput` (`inputs`): a string, `["text"]`, or a batch `[["a"], ["b"]]`;
//! text pairs (`["a", "b"]`, `[["a", "b"]]`) are refused, since an emotion model reads one text.
//! Pure: no model, unit-tested.

use serde_json::Value;

use super::errors::{ErrorType, Refusal};

/// The texts of `inputs` and whether it was a batch (answered with one list per text).
pub(crate) fn texts_of(inputs: Value) -> Result<(Vec<String>, bool), Refusal> {
    let invalid = |message: String| Refusal::new(ErrorType::Validation, "validation", message);
    let pair = |at: &str| {
        invalid(format!(
            "text pairs are not supported ({at}): an emotion model classifies one text at a time, \
             so `inputs` must be a string or a batch of one-string lists"
        ))
    };
    let strings = |items: &[Value]| -> Option<Vec<String>> {
        items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    match inputs {
        Value::String(text) => Ok((vec![text], false)),
        Value::Array(items) if items.is_empty() => Err(Refusal::empty("inputs")),
        Value::Array(items) if items[0].is_string() => match strings(&items) {
            Some(mut texts) if texts.len() == 1 => Ok((vec![texts.remove(0)], false)),
            Some(texts) if texts.len() == 2 => Err(pair("`inputs` is a pair of strings")),
            _ => Err(invalid(
                "`inputs` must be a string, a pair of strings or a batch of lists".to_owned(),
            )),
        },
        Value::Array(items) => {
            let mut texts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_array().and_then(|a| strings(a)) {
                    Some(mut one) if one.len() == 1 => texts.push(one.remove(0)),
                    Some(two) if two.len() == 2 => {
                        return Err(pair(&format!("batch item {i} is a pair")))
                    }
                    _ => {
                        return Err(invalid(format!(
                            "batch item {i} must be a list of one string"
                        )))
                    }
                }
            }
            Ok((texts, true))
        }
        _ => Err(invalid(
            "`inputs` must be a string or a batch [[string], ...]".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<(Vec<String>, bool), u16> {
        texts_of(serde_json::from_str(json).unwrap()).map_err(|r| r.status.as_u16())
    }

    #[test]
    fn inputs_are_read_as_tei_reads_them_and_pairs_refused() {
        assert_eq!(parse(r#""a""#), Ok((vec!["a".into()], false)));
        assert_eq!(parse(r#"["a"]"#), Ok((vec!["a".into()], false)));
        assert_eq!(
            parse(r#"[["a"], ["b"]]"#),
            Ok((vec!["a".into(), "b".into()], true))
        );
        assert_eq!(parse(r#"["a", "b"]"#), Err(422));
        assert_eq!(parse(r#"[["a"], ["b", "c"]]"#), Err(422));
        assert_eq!(parse(r#"["a", "b", "c"]"#), Err(422));
        assert_eq!(parse("[]"), Err(400));
        assert_eq!(parse("3"), Err(422));
        assert_eq!(parse(r#"[["a"], 3]"#), Err(422));
    }
}
