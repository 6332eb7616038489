//! The transformer itself, loaded from checked weights: the crate's fused [`Encoder`] for BERT,
//! RoBERTa, XLM-RoBERTa and DistilBERT, rust-bert's modules ([`LibraryNetwork`]) for the rest.

use tch::{Device, Kind, Tensor};

use super::activation::Activation;
use super::encoder::{Encoder, EncoderShape};
use super::library::LibraryNetwork;
use super::names;
use super::params::{Matrices, Params};
use crate::batch::TokenBatch;
use crate::checkpoint::Weights;
use crate::config::{ModelConfig, NetworkConfig};
use crate::cpu::team::Session;
use crate::error::{Error, Result};
use crate::precision::Precision;

/// How to hold and run the network's weights.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetworkOptions {
    pub(crate) precision: Precision,
    pub(crate) device: Device,
    /// Pack f32 CPU weight matrices for MKL's packed GEMM.
    pub(crate) pack_weights: bool,
    /// Column blocks per packed matrix: the cores one pass can split its products across.
    pub(crate) gemm_parts: usize,
    /// Run passes of a few dozen tokens on the crate's row kernels (see `small_pass`).
    pub(crate) small_passes: bool,
}

/// A sequence classifier with its weights, on one device.
///
/// Holds libtorch tensors, so it is `Send` but not `Sync`: one worker thread owns it.
pub(crate) struct Network {
    body: Body,
    labels: usize,
    device: Device,
    /// The id a padded batch pads with, for the networks that take one.
    pad_id: i64,
}

/// The code that runs the network.
enum Body {
    Fused(Box<Encoder>),
    Library(Box<LibraryNetwork>),
}

impl Network {
    /// Builds the architecture `config` names and fills every parameter from `weights`:
    /// `copies` networks (at least one, one per worker) on one set of parameters, each tensor
    /// converted, moved and packed once.
    ///
    /// # Errors
    /// [`Error::LabelCountMismatch`] when the classifier's outputs differ from the labels;
    /// [`Error::MissingTensor`], [`Error::TensorShape`], [`Error::TensorDtype`] for any parameter.
    pub(crate) fn load(
        config: &ModelConfig,
        weights: &Weights,
        options: NetworkOptions,
        copies: usize,
    ) -> Result<Vec<Self>> {
        let NetworkOptions {
            precision,
            device,
            pack_weights,
            gemm_parts,
            small_passes,
        } = options;
        check_label_count(config, weights)?;
        if let NetworkConfig::Library(library) = config.network() {
            return load_library(config, library, weights, options, copies);
        }
        // On a GPU the model runs in f16; on the CPU in the requested precision.
        let kind = match (device, precision) {
            (Device::Cuda(_), Precision::Int8) => return Err(int8_on_cpu_only()),
            (Device::Cuda(_), _) => Kind::Half,
            (_, Precision::Bf16) => Kind::BFloat16,
            (_, Precision::F32 | Precision::Int8) => Kind::Float,
        };
        let shape = match config.network() {
            NetworkConfig::Bert(c, eps) | NetworkConfig::Roberta(c, eps) => EncoderShape {
                hidden: c.hidden_size,
                intermediate: c.intermediate_size,
                heads: c.num_attention_heads,
                layers: c.num_hidden_layers,
                type_vocab: c.type_vocab_size,
                eps: *eps,
                activation: Activation::from(c.hidden_act),
            },
            // `transformers`' DistilBERT fixes LayerNorm's epsilon at 1e-12.
            NetworkConfig::DistilBert(c) => EncoderShape {
                hidden: c.dim,
                intermediate: c.hidden_dim,
                heads: c.n_heads,
                layers: c.n_layers,
                type_vocab: 0,
                eps: 1e-12,
                activation: Activation::from(c.activation),
            },
            NetworkConfig::Library(_) => unreachable_library(config)?,
        };
        let matrices = match precision {
            Precision::Int8 => Matrices::Int8,
            _ if pack_weights => Matrices::Packed(gemm_parts),
            _ => Matrices::Plain,
        };
        let params = Params::new(weights, kind, device, matrices);
        (0..copies.max(1))
            .map(|_| {
                Ok(Self {
                    body: Body::Fused(Box::new(Encoder::load(
                        config,
                        &shape,
                        &params,
                        small_passes,
                    )?)),
                    labels: config.labels().len(),
                    device,
                    pad_id: config.pad_token_id(),
                })
            })
            .collect()
    }

    /// Whether its passes split their products into column blocks that a [`Team`]'s threads
    /// run at once: the fused encoder with packed f32 or int8 weights. The others leave the cores to
    /// libtorch's own threads.
    ///
    /// [`Team`]: crate::cpu::team::Team
    pub(crate) fn splits_products(&self) -> bool {
        match &self.body {
            Body::Fused(encoder) => encoder.has_split_weights(),
            Body::Library(_) => false,
        }
    }

    /// Where the word embedding matrix's data is: equal for networks that share weights.
    #[cfg(test)]
    pub(crate) fn embeddings_address(&self) -> usize {
        match &self.body {
            Body::Fused(encoder) => encoder.word_embeddings().data_ptr() as usize,
            Body::Library(network) => network.word_embeddings_address(),
        }
    }

    /// Logits of shape `[batch, labels]` for `batch`'s texts: the fused encoder takes the
    /// token ids and offsets as they are (and splits its products over `team`'s threads); the
    /// other networks get the texts padded to the longest, with an attention mask.
    fn logits(&self, batch: &TokenBatch, team: Option<&Session>) -> Result<Tensor> {
        tch::no_grad(|| match &self.body {
            Body::Fused(encoder) => encoder.forward(batch, team),
            Body::Library(network) => {
                let padded = batch.padded(self.pad_id);
                let shape = [padded.rows as i64, padded.columns as i64];
                let mut ids = Tensor::f_from_slice(&padded.ids)?.f_view(shape)?;
                let mut mask = Tensor::f_from_slice(&padded.mask)?.f_view(shape)?;
                if self.device != Device::Cpu {
                    ids = ids.f_to_device(self.device)?;
                    mask = mask.f_to_device(self.device)?;
                }
                network.forward(&ids, &mask)
            }
        })
    }

    /// Logits for a pass's texts, one row per text with one value per label; `team`, if any,
    /// takes a share of each product (see [`Network::splits_products`]).
    pub(crate) fn batch_logits(
        &self,
        batch: &TokenBatch,
        team: Option<&Session>,
    ) -> Result<Vec<Vec<f32>>> {
        let labels = self.labels;
        if batch.rows() == 0 || labels == 0 {
            return Ok(Vec::new());
        }
        let logits = self
            .logits(batch, team)?
            .f_to_device(Device::Cpu)?
            .f_to_kind(Kind::Float)?
            .f_contiguous()?;
        let flat = Vec::<f32>::try_from(&logits.f_view([-1])?)?;
        Ok(flat.chunks(labels).map(<[f32]>::to_vec).collect())
    }
}

/// `copies` networks for `library` (rust-bert's modules, or the crate's DeBERTa-v2) on one set
/// of weights. They run in f32 on the CPU (f16 on a GPU, as the fused encoder does); bf16 is
/// the fused encoder's alone.
fn load_library(
    config: &ModelConfig,
    library: &crate::config::LibraryConfig,
    weights: &Weights,
    options: NetworkOptions,
    copies: usize,
) -> Result<Vec<Network>> {
    let NetworkOptions {
        precision, device, ..
    } = options;
    let kind = match (device, precision) {
        (Device::Cuda(_), _) => Kind::Half,
        (_, Precision::F32) => Kind::Float,
        (_, Precision::Int8) => {
            return Err(Error::InvalidOption {
                option: "precision",
                reason: "int8 runs on the fused encoder's architectures (BERT, DistilBERT, \
                         RoBERTa, XLM-RoBERTa) only; this architecture runs in f32",
            })
        }
        (_, Precision::Bf16) => {
            return Err(Error::InvalidOption {
                option: "precision",
                reason: "bf16 runs on the fused encoder's architectures (BERT, DistilBERT, \
                         RoBERTa, XLM-RoBERTa) only; this architecture runs in f32",
            })
        }
    };
    let params = Params::new(weights, kind, device, Matrices::Plain);
    (0..copies.max(1))
        .map(|_| {
            Ok(Network {
                body: Body::Library(Box::new(LibraryNetwork::load(
                    config.architecture(),
                    library,
                    config.labels().len() as i64,
                    &params,
                    device,
                )?)),
                labels: config.labels().len(),
                device,
                pad_id: config.pad_token_id(),
            })
        })
        .collect()
}

fn int8_on_cpu_only() -> Error {
    Error::InvalidOption {
        option: "precision",
        reason: "int8 runs on the CPU only; on a GPU the model runs in f16",
    }
}

/// The fused encoder was asked to build a rust-bert architecture: refused, never expected.
fn unreachable_library(config: &ModelConfig) -> Result<EncoderShape> {
    Err(Error::UnsupportedModelType {
        path: config.path().to_path_buf(),
        model_type: config.architecture().model_type().to_owned(),
    })
}

fn check_label_count(config: &ModelConfig, weights: &Weights) -> Result<()> {
    let tensor = names::classifier_output_weight(config.architecture());
    let outputs = weights.shape(&tensor)?.first().copied().unwrap_or(0);
    let labels = config.labels().len();
    if i64::try_from(labels).ok() != Some(outputs) {
        return Err(Error::LabelCountMismatch {
            path: weights.path().to_path_buf(),
            tensor,
            labels,
            outputs,
        });
    }
    Ok(())
}
