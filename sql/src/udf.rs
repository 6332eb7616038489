//! `emotion_scores`, `emotion_top` and `emotion` as DataFusion scalar functions.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use super::arrays;
use super::functions::EmotionFunctions;

/// Which of the three functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Output {
    /// `emotion_scores(text)`.
    Scores,
    /// `emotion_top(text)`.
    Top,
    /// `emotion(text, label)`.
    One,
}

const TEXT_TYPES: [DataType; 3] = [DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8];

/// One of the functions over a classifier. Equal (and hashed) by function, model config file
/// and strictness, as DataFusion 55 requires of a UDF.
pub(super) struct EmotionUdf {
    output: Output,
    functions: EmotionFunctions,
    signature: Signature,
}

impl EmotionUdf {
    pub(super) fn new(output: Output, functions: EmotionFunctions) -> Self {
        let signature = match output {
            Output::Scores | Output::Top => {
                Signature::uniform(1, TEXT_TYPES.to_vec(), Volatility::Immutable)
            }
            Output::One => Signature::one_of(
                TEXT_TYPES
                    .iter()
                    .flat_map(|text| {
                        TEXT_TYPES
                            .iter()
                            .map(|label| TypeSignature::Exact(vec![text.clone(), label.clone()]))
                    })
                    .collect(),
                Volatility::Immutable,
            ),
        };
        Self {
            output,
            functions,
            signature,
        }
    }

    /// The label `emotion(text, label)` names, checked against the model's labels.
    fn label_index(&self, label: Option<&ScalarValue>) -> Result<usize> {
        let label = match label {
            Some(
                ScalarValue::Utf8(Some(l))
                | ScalarValue::Utf8View(Some(l))
                | ScalarValue::LargeUtf8(Some(l)),
            ) => l,
            _ => return plan_err!("emotion(text, label): the label must be a constant string"),
        };
        let labels = self.functions.labels();
        match labels.iter().position(|l| l == label) {
            Some(index) => Ok(index),
            None => plan_err!(
                "emotion(text, label): unknown label {label:?}; the model's labels are {}",
                labels.join(", ")
            ),
        }
    }
}

impl std::fmt::Debug for EmotionUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmotionUdf")
            .field("name", &self.name())
            .field("model", &self.functions.identity())
            .finish()
    }
}

impl PartialEq for EmotionUdf {
    fn eq(&self, other: &Self) -> bool {
        self.output == other.output && self.functions.identity() == other.functions.identity()
    }
}

impl Eq for EmotionUdf {}

impl Hash for EmotionUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.output.hash(state);
        self.functions.identity().hash(state);
    }
}

impl ScalarUDFImpl for EmotionUdf {
    fn name(&self) -> &str {
        match self.output {
            Output::Scores => "emotion_scores",
            Output::Top => "emotion_top",
            Output::One => "emotion",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.output {
            Output::Scores => arrays::scores_type(self.functions.labels()),
            Output::Top => arrays::top_type(),
            Output::One => DataType::Float32,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(field) = args.arg_fields.first() {
            if !arrays::is_text(field.data_type()) {
                return plan_err!("{}: expected text, got {}", self.name(), field.data_type());
            }
        }
        if self.output == Output::One {
            self.label_index(args.scalar_arguments.get(1).copied().flatten())?;
        }
        let data_type = self.return_type(&[])?;
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(text) = args.args.first() else {
            return exec_err!("{} takes a text", self.name());
        };
        let column = text.to_array(args.number_rows)?;
        let texts = arrays::texts(column.as_ref())?;
        let rows = self.functions.score(&texts)?;
        let array = match self.output {
            Output::Scores => arrays::scores_array(self.functions.labels(), &rows)?,
            Output::Top => arrays::top_array(&rows)?,
            Output::One => {
                let label = match args.args.get(1) {
                    Some(ColumnarValue::Scalar(label)) => Some(label),
                    _ => None,
                };
                arrays::one_label_array(&rows, self.label_index(label)?)
            }
        };
        Ok(ColumnarValue::Array(array))
    }
}
