//! The network being trained: rust-bert's `...ForSequenceClassification` module for the
//! architecture, on a `VarStore` whose variables carry transformers' names, filled from the
//! checkpoint (a new head initialized as transformers initializes one).
//!
//! Not the crate's fused encoder: its in-place kernels have no gradients.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rust_bert::bert::{BertConfig, BertForSequenceClassification};
use rust_bert::distilbert::{DistilBertConfig, DistilBertModelClassifier};
use rust_bert::roberta::RobertaForSequenceClassification;
use serde_json::{json, Map, Value};
use tch::{nn, Device, Tensor};

use super::error::FineTuneError;
use crate::config::{fill, Architecture};
use crate::error::{panic_message, Error, Result};
use crate::model_folder::ModelFolder;

enum Module {
    Bert(BertForSequenceClassification),
    Roberta(RobertaForSequenceClassification),
    DistilBert(DistilBertModelClassifier),
}

/// A trainable sequence classifier and its parameters, by transformers' names.
pub(crate) struct TrainableNetwork {
    module: Module,
    architecture: Architecture,
    /// Every trainable variable, sorted by name (the optimizer's and the checkpoint's order).
    parameters: Vec<(String, Tensor)>,
    /// `config.json` as it will be written: the base's, with the labels and problem type.
    config: Value,
    /// The padding token's id (`pad_token_id`, else 0).
    pad_token_id: i64,
    /// Keeps the variables alive beside the module that uses them.
    _store: nn::VarStore,
}

/// The model folder's config, the architecture, and the head the run starts from.
pub(crate) struct LoadedBase {
    pub(crate) network: TrainableNetwork,
    /// Whether the checkpoint had a head (training continues it) or one was made.
    pub(crate) had_head: bool,
    /// Whether the model learns with sigmoids (BCE) rather than a softmax (cross-entropy).
    pub(crate) multi_label: bool,
}

/// Whether a variable belongs to the head (made new for a base without one).
fn in_head(name: &str) -> bool {
    name.starts_with("classifier.") || name.starts_with("pre_classifier.")
}

fn invalid_config(path: &Path, source: serde_json::Error) -> Error {
    Error::InvalidConfig {
        path: path.to_path_buf(),
        source,
    }
}

/// The labels of `config`'s `id2label`, in id order, when it has a complete one.
fn config_labels(config: &Map<String, Value>) -> Option<Vec<String>> {
    let map = config.get("id2label")?.as_object()?;
    (0..map.len())
        .map(|id| map.get(&id.to_string())?.as_str().map(str::to_owned))
        .collect()
}

/// The base model folder, read as inference reads it ([`ModelFolder`]), when the trainer
/// supports its architecture.
///
/// # Errors
/// [`FineTuneError::UnsupportedArchitecture`], [`Error::UnsupportedModelType`],
/// [`Error::InvalidConfig`], [`Error::MissingFile`], [`Error::MissingModelDir`].
pub(crate) fn open_base(dir: &Path) -> Result<ModelFolder> {
    let folder = ModelFolder::open(dir)?;
    let architecture = folder.architecture();
    if !matches!(
        architecture,
        Architecture::Bert
            | Architecture::Roberta
            | Architecture::XlmRoberta
            | Architecture::DistilBert
    ) {
        return Err(FineTuneError::UnsupportedArchitecture {
            model_type: architecture.model_type(),
        }
        .into());
    }
    // The sizes are checked as inference checks them, before anything is built from them
    // (docs/SECURITY.md). A base encoder has no labels yet: one stands in for the check.
    let config_path = folder.config_path();
    let mut checked = folder.raw_config().clone();
    if config_labels(&checked).is_none_or(|labels| labels.is_empty()) {
        checked.insert("id2label".to_owned(), json!({"0": "label"}));
    }
    let bytes =
        serde_json::to_vec(&Value::Object(checked)).map_err(|e| invalid_config(config_path, e))?;
    crate::config::ModelConfig::from_slice(config_path, &bytes)?;
    Ok(folder)
}

impl TrainableNetwork {
    /// Builds the network for the base model `folder` with `labels`.
    ///
    /// A checkpoint with a head continues it: its labels must be `labels`, and its problem
    /// type decides the loss. A base without a head gets a new one, initialized as
    /// transformers does (weights from N(0, initializer_range), biases zero), multi-label
    /// unless `single_label_head`.
    ///
    /// # Errors
    /// [`FineTuneError::UnsupportedArchitecture`] before anything is read but the config;
    /// [`FineTuneError::LabelsDiffer`]; [`Error::InvalidConfig`], [`Error::MissingFile`],
    /// [`Error::MissingTensor`], [`Error::TensorShape`] and the like for a broken folder.
    pub(crate) fn load(
        folder: &ModelFolder,
        labels: &[String],
        single_label_head: bool,
    ) -> Result<LoadedBase> {
        let dir = folder.dir();
        let config_path = folder.config_path().to_path_buf();
        let mut config = folder.raw_config().clone();
        let architecture = folder.architecture();
        if let Some(kind) = config
            .get("position_embedding_type")
            .and_then(Value::as_str)
        {
            if kind != "absolute" {
                return Err(invalid_config(
                    &config_path,
                    serde::de::Error::custom(format!(
                        "unsupported option position_embedding_type: {kind:?} (fine-tuning runs absolute positions only)"
                    )),
                ));
            }
        }
        let weights_path = folder.weights_path();
        let weights = folder.weights()?;
        let head_weight = crate::model::classifier_output_weight(architecture);
        let had_head = weights.shape(&head_weight).is_ok();
        let multi_label = if had_head {
            let model_labels = config_labels(&config).unwrap_or_default();
            if model_labels != labels {
                return Err(FineTuneError::LabelsDiffer {
                    model: dir.to_path_buf(),
                    model_labels,
                    data_labels: labels.to_vec(),
                }
                .into());
            }
            let problem = config.get("problem_type").and_then(Value::as_str);
            match problem {
                Some("multi_label_classification") => true,
                Some("single_label_classification") | None => false,
                Some(other) => {
                    return Err(invalid_config(
                        &config_path,
                        serde::de::Error::custom(format!(
                            "problem_type {other:?}: fine-tuning trains classifiers (multi- or single-label)"
                        )),
                    ))
                }
            }
        } else {
            !single_label_head
        };
        let id2label: Map<String, Value> = labels
            .iter()
            .enumerate()
            .map(|(id, label)| (id.to_string(), json!(label)))
            .collect();
        let label2id: Map<String, Value> = labels
            .iter()
            .enumerate()
            .map(|(id, label)| (label.clone(), json!(id)))
            .collect();
        config.insert("id2label".into(), Value::Object(id2label));
        config.insert("label2id".into(), Value::Object(label2id));
        config.insert(
            "problem_type".into(),
            json!(if multi_label {
                "multi_label_classification"
            } else {
                "single_label_classification"
            }),
        );
        config.insert("architectures".into(), json!([architecture.class_name()]));
        let written = Value::Object(config.clone());

        let store = nn::VarStore::new(Device::Cpu);
        let root = store.root();
        let rust_bert_error = |source| Error::RustBert {
            architecture: architecture.model_type(),
            source: Box::new(source),
        };
        let (module, init_range) = match architecture {
            Architecture::DistilBert => {
                fill(
                    &mut config,
                    json!({"activation": "gelu", "attention_dropout": 0.1, "dropout": 0.1,
                           "qa_dropout": 0.1, "seq_classif_dropout": 0.2,
                           "sinusoidal_pos_embds": false, "tie_weights_": true,
                           "initializer_range": 0.02}),
                );
                let c: DistilBertConfig = serde_json::from_value(Value::Object(config))
                    .map_err(|e| invalid_config(&config_path, e))?;
                let range = f64::from(c.initializer_range);
                let module = DistilBertModelClassifier::new(&root, &c).map_err(rust_bert_error)?;
                (Module::DistilBert(module), range)
            }
            _ => {
                fill(
                    &mut config,
                    json!({"hidden_act": "gelu", "attention_probs_dropout_prob": 0.1,
                           "hidden_dropout_prob": 0.1, "initializer_range": 0.02,
                           "type_vocab_size": 2}),
                );
                let c: BertConfig = serde_json::from_value(Value::Object(config))
                    .map_err(|e| invalid_config(&config_path, e))?;
                let range = f64::from(c.initializer_range);
                let module = if architecture == Architecture::Bert {
                    Module::Bert(
                        BertForSequenceClassification::new(&root, &c).map_err(rust_bert_error)?,
                    )
                } else {
                    Module::Roberta(
                        RobertaForSequenceClassification::new(&root, &c)
                            .map_err(rust_bert_error)?,
                    )
                };
                (module, range)
            }
        };
        // rust-bert builds its modules under transformers' paths (its own weight files are
        // converted from transformers' state dicts), so a variable's name is the tensor's.
        let mut parameters: Vec<(String, Tensor)> = store.variables().into_iter().collect();
        parameters.sort_by(|a, b| a.0.cmp(&b.0));
        // The base's tensors sit under the classifier's prefix (a classifier's checkpoint) or
        // at the root (a base model saved alone, as sentence-transformers saves `BertModel`).
        let prefix = format!("{}.", architecture.checkpoint_prefix());
        tch::no_grad(|| -> Result<()> {
            for (name, variable) in &mut parameters {
                let shape = variable.size();
                let found = if weights.shape(name).is_ok() {
                    Some(weights.tensor_f32(name, &shape)?)
                } else if let Some(bare) = name.strip_prefix(prefix.as_str()).filter(|_| !had_head)
                {
                    match weights.shape(bare) {
                        Ok(_) => Some(weights.tensor_f32(bare, &shape)?),
                        Err(_) => None,
                    }
                } else {
                    None
                };
                match found {
                    Some(tensor) => variable.f_set_data(&tensor)?,
                    // transformers initializes what the checkpoint lacks: a new head, or a
                    // pooler a base was saved without.
                    None if !had_head && (in_head(name) || name.contains(".pooler.")) => {
                        if shape.len() >= 2 {
                            let _ = variable.f_normal_(0.0, init_range)?;
                        } else {
                            let _ = variable.f_zero_()?;
                        }
                    }
                    None => {
                        return Err(Error::MissingTensor {
                            name: name.clone(),
                            path: weights_path.clone(),
                        })
                    }
                }
            }
            Ok(())
        })?;
        Ok(LoadedBase {
            network: Self {
                module,
                architecture,
                parameters,
                pad_token_id: written
                    .get("pad_token_id")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                config: written,
                _store: store,
            },
            had_head,
            multi_label,
        })
    }

    /// The padding token's id.
    pub(crate) fn pad_token_id(&self) -> i64 {
        self.pad_token_id
    }

    /// Every trainable parameter, sorted by name.
    pub(crate) fn parameters(&self) -> &[(String, Tensor)] {
        &self.parameters
    }

    /// `config.json` for the trained model.
    pub(crate) fn config(&self) -> &Value {
        &self.config
    }

    /// The output layer's bias: the one a new head's label priors go into.
    pub(crate) fn output_bias(&self) -> Option<&Tensor> {
        let name =
            crate::model::classifier_output_weight(self.architecture).replace(".weight", ".bias");
        self.parameters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }

    fn parameter(&self, name: &str) -> Result<&Tensor> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::MissingTensor {
                name: name.to_owned(),
                path: "the trainable network".into(),
            })
    }

    /// DistilBERT's word embeddings for rust-bert's `input_embeds`, so that the gradients are
    /// transformers': rust-bert's DistilBERT builds its position embeddings with
    /// `padding_idx: 0`, which gives position 0 (every text's first token) no gradient, and
    /// its word embeddings with padding index 0 whatever `pad_token_id` says. Here the words
    /// are looked up with the config's padding index, and `p0 - p0.detach()` (zero in value)
    /// is added at position 0 so that position 0's row gets the gradient transformers gives it.
    fn distilbert_input_embeds(&self, ids: &Tensor) -> Result<Tensor> {
        let words = self.parameter("distilbert.embeddings.word_embeddings.weight")?;
        let positions = self.parameter("distilbert.embeddings.position_embeddings.weight")?;
        let embeds = Tensor::f_embedding(words, ids, self.pad_token_id, false, false)?;
        let first = positions.f_get(0)?;
        let zero_with_gradient = first.f_sub(&first.f_detach()?)?;
        let length = ids.size().get(1).copied().unwrap_or(0);
        let at_first = Tensor::f_zeros([1, length, 1], (tch::Kind::Float, Device::Cpu))?;
        if length > 0 {
            let _ = at_first.f_narrow(1, 0, 1)?.f_fill_(1.0)?;
        }
        Ok(embeds.f_add(&at_first.f_mul(&zero_with_gradient)?)?)
    }

    /// Logits `[batch, labels]` for padded ids and their mask (`[batch, length]` int64), with
    /// dropout when `train`. A panic in rust-bert or libtorch is [`Error::ModelPanicked`].
    pub(crate) fn logits(&self, ids: &Tensor, mask: &Tensor, train: bool) -> Result<Tensor> {
        let architecture = self.architecture.model_type();
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<Tensor> {
            Ok(match &self.module {
                Module::Bert(m) => {
                    let types = ids.f_zeros_like()?;
                    m.forward_t(Some(ids), Some(mask), Some(&types), None, None, train)
                        .logits
                }
                Module::Roberta(m) => {
                    m.forward_t(Some(ids), Some(mask), None, None, None, train)
                        .logits
                }
                Module::DistilBert(m) => {
                    let embeds = self.distilbert_input_embeds(ids)?;
                    m.forward_t(None, Some(mask), Some(&embeds), train)
                        .map_err(|source| Error::RustBert {
                            architecture,
                            source: Box::new(source),
                        })?
                        .logits
                }
            })
        }));
        match outcome {
            Ok(logits) => logits,
            Err(payload) => Err(Error::ModelPanicked {
                architecture,
                message: panic_message(payload.as_ref()),
            }),
        }
    }
}
