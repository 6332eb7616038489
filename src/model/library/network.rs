//! One of rust-bert's sequence classifiers, filled from a checkpoint and called with masks.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rust_bert::albert::AlbertForSequenceClassification;
use rust_bert::longformer::LongformerForSequenceClassification;
use rust_bert::mobilebert::MobileBertForSequenceClassification;
use rust_bert::RustBertError;
use tch::{nn, Device, Kind, Tensor};

use super::deberta_v2::DebertaV2Classifier;
use crate::config::{Architecture, LibraryConfig};
use crate::error::{panic_message, Error, Result};
use crate::model::params::Params;

/// rust-bert's module for one architecture.
enum Module {
    Albert(AlbertForSequenceClassification),
    /// The crate's own (rust-bert's computes other scores than `transformers`).
    DebertaV2(Box<DebertaV2Classifier>),
    MobileBert(MobileBertForSequenceClassification),
    Longformer(LongformerForSequenceClassification),
}

/// A rust-bert sequence classifier with its weights, on one device.
///
/// Holds libtorch tensors, so it is `Send` but not `Sync`: one worker thread owns it.
pub(crate) struct LibraryNetwork {
    module: Module,
    token_types: bool,
    /// MobileBERT with trigram input: the word embedding matrix, to zero padding's embeddings.
    trigram_embeddings: Option<Tensor>,
    /// Keeps the variables' store alive beside the module that uses them.
    _store: nn::VarStore,
}

fn library_error(architecture: Architecture, source: RustBertError) -> Error {
    Error::RustBert {
        architecture: architecture.model_type(),
        source: Box::new(source),
    }
}

impl LibraryNetwork {
    /// Builds rust-bert's module for `config` on `device` and sets every one of its variables
    /// to the checkpoint tensor of the same name (see `names`), fetched through `params` (so
    /// networks loaded from one `params` share their weights).
    ///
    /// # Errors
    /// [`Error::MissingTensor`] or [`Error::TensorShape`] for a variable the checkpoint lacks or
    /// holds in another shape; [`Error::RustBert`] when rust-bert refuses the config.
    pub(crate) fn load(
        architecture: Architecture,
        config: &LibraryConfig,
        labels: i64,
        params: &Params,
        device: Device,
    ) -> Result<Self> {
        let mut store = nn::VarStore::new(device);
        let root = store.root();
        let module = match config {
            LibraryConfig::Albert(c) => Module::Albert(
                AlbertForSequenceClassification::new(&root, c)
                    .map_err(|e| library_error(architecture, e))?,
            ),
            LibraryConfig::DebertaV2(c, terms) => {
                Module::DebertaV2(Box::new(DebertaV2Classifier::new(&root, c, *terms, labels)))
            }
            LibraryConfig::MobileBert(c) => Module::MobileBert(
                MobileBertForSequenceClassification::new(&root, c)
                    .map_err(|e| library_error(architecture, e))?,
            ),
            LibraryConfig::Longformer(c) => Module::Longformer(
                LongformerForSequenceClassification::new(&root, c)
                    .map_err(|e| library_error(architecture, e))?,
            ),
        };
        let mut variables: Vec<(String, Tensor)> = store.variables().into_iter().collect();
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        tch::no_grad(|| -> Result<()> {
            for (name, mut variable) in variables {
                let tensor = params.tensor(&name, &variable.size())?;
                variable.f_set_data(&tensor)?;
            }
            Ok(())
        })?;
        store.freeze();
        let trigram_embeddings = match config {
            LibraryConfig::MobileBert(c) if c.trigram_input.unwrap_or(true) => {
                let name = super::word_embeddings(architecture);
                let shape = params.shape(&name)?;
                Some(params.tensor(&name, &shape)?)
            }
            _ => None,
        };
        Ok(Self {
            module,
            token_types: config.has_token_types(),
            trigram_embeddings,
            _store: store,
        })
    }

    /// Logits of shape `[batch, labels]` for padded token ids and their attention mask, both
    /// `[batch, length]` int64. A panic inside rust-bert or libtorch is returned as
    /// [`Error::ModelPanicked`].
    pub(crate) fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let types = if self.token_types {
            Some(ids.f_zeros_like()?)
        } else {
            None
        };
        let types = types.as_ref();
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<Tensor> {
            let architecture = self.architecture();
            let wrap = |e| library_error(architecture, e);
            Ok(match &self.module {
                Module::Albert(m) => {
                    m.forward_t(Some(ids), Some(mask), types, None, None, false)
                        .logits
                }
                Module::DebertaV2(m) => m.forward(ids, mask, types)?,
                Module::MobileBert(m) => {
                    // Trigram input puts each token's neighbours' embeddings beside its own,
                    // and zeros past the text's ends. In a padded batch the neighbour past the
                    // end is a padding token, whose embedding is not zero, so a text's scores
                    // would change with its batch. Zeroing padding's embeddings keeps them
                    // equal to the text's alone (`transformers` has the same flaw batched).
                    let embeds = match &self.trigram_embeddings {
                        Some(table) => Some(
                            Tensor::f_embedding(table, ids, -1, false, false)?
                                .f_mul(&mask.f_unsqueeze(-1)?.f_to_kind(table.kind())?)?,
                        ),
                        None => None,
                    };
                    let ids = if embeds.is_some() { None } else { Some(ids) };
                    let mask = additive_mask_for_minus_10000(mask)?;
                    m.forward_t(ids, types, None, embeds.as_ref(), Some(&mask), false)
                        .map_err(wrap)?
                        .logits
                }
                Module::Longformer(m) => {
                    // `LongformerForSequenceClassification` in `transformers`: global
                    // attention on the first token (`<s>`) of every text.
                    let global = ids.f_zeros_like()?;
                    let _first = global.f_select(1, 0)?.f_fill_(1)?;
                    m.forward_t(
                        Some(ids),
                        Some(mask),
                        Some(&global),
                        types,
                        None,
                        None,
                        false,
                    )
                    .map_err(wrap)?
                    .logits
                }
            })
        }));
        match outcome {
            Ok(logits) => Ok(logits?.f_to_kind(Kind::Float)?),
            Err(payload) => Err(Error::ModelPanicked {
                architecture: self.architecture().model_type(),
                message: panic_message(payload.as_ref()),
            }),
        }
    }

    /// Where the word embedding matrix's data is: equal for networks that share weights.
    #[cfg(test)]
    pub(crate) fn word_embeddings_address(&self) -> usize {
        let name = super::word_embeddings(self.architecture());
        self._store
            .variables()
            .get(&name)
            .map_or(0, |t| t.data_ptr() as usize)
    }

    fn architecture(&self) -> Architecture {
        match self.module {
            Module::Albert(_) => Architecture::Albert,
            Module::DebertaV2(_) => Architecture::DebertaV2,
            Module::MobileBert(_) => Architecture::MobileBert,
            Module::Longformer(_) => Architecture::Longformer,
        }
    }
}

/// A float mask that rust-bert's `(1 - mask) * -10000` turns into `transformers`' additive
/// mask: 0 on tokens and `f32::MIN` on padding. With -10000 alone, a model whose attention
/// scores are larger than that (MobileBERT without LayerNorm) lets padding into the softmax.
fn additive_mask_for_minus_10000(mask: &Tensor) -> Result<Tensor> {
    let padding = mask.f_eq(0)?;
    let ones = mask.f_ones_like()?.f_to_kind(Kind::Float)?;
    Ok(ones.f_masked_fill(&padding, 1.0 + f64::from(f32::MIN) / 10_000.0)?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::checkpoint::Weights;
    use crate::config::{ModelConfig, NetworkConfig};

    /// rust-bert's variable names are `transformers`' state-dict names: every variable finds
    /// its tensor, and no tensor of the checkpoint is left unused (which would mean a weight
    /// the model ignores).
    #[test]
    fn every_checkpoint_tensor_fills_exactly_one_variable() {
        // Building rust-bert's modules draws their initial weights from libtorch's generator.
        let _generator = crate::torch_rng::hold();
        for name in [
            "tiny-albert-emotion",
            "tiny-deberta-v2-emotion",
            "tiny-mobilebert-emotion",
            "tiny-longformer-emotion",
        ] {
            let dir = crate::model::test_model_dir(name);
            let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
            let NetworkConfig::Library(library) = config.network() else {
                panic!("{name} runs through rust-bert");
            };
            let weights = Weights::from_safetensors(&dir.join("model.safetensors")).unwrap();
            let params = Params::new(
                &weights,
                Kind::Float,
                Device::Cpu,
                crate::model::params::Matrices::Plain,
            );
            let labels = config.labels().len() as i64;
            LibraryNetwork::load(config.architecture(), library, labels, &params, Device::Cpu)
                .unwrap();
            let fetched: BTreeSet<String> = params.fetched().into_iter().collect();
            let stored: BTreeSet<String> = weights.names().map(str::to_owned).collect();
            assert_eq!(fetched, stored, "{name}");
        }
    }
}
