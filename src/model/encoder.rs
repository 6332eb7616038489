//! The crate's fused BERT/RoBERTa/DistilBERT sequence classifier: embeddings, the stack of
//! [`Layer`]s and the classification head, on libtorch ops and the crate's CPU kernels.
//!
//! It computes the same function as `transformers`' modules (parity is tested on the reference
//! files) with fewer, cheaper passes: one fused QKV projection per layer, attention as two
//! batched GEMMs, GELU from the crate's own vectorized kernel ([`crate::cpu::gelu`]), layer
//! matrices packed once for MKL, only real tokens through the linear layers
//! ([`TokenLayout`]), and a last layer that computes only each text's first token, the one the
//! head reads. LayerNorm's epsilon and the feed-forward activation come from the config.
//! DistilBERT is the same post-LayerNorm transformer under other parameter names
//! ([`Names`]), without token types, with a ReLU head.
//!
//! Every call is a fallible `f_` op: no panics.

use std::ops::Range;

use tch::{Device, Kind, Tensor};

use super::activation::Activation;
use super::layer::{Layer, LayerShape, Pass};
use super::linear::{LayerNorm, Linear, Packing};
use super::names::Names;
use super::params::Params;
use super::small_pass::{RowsPass, SMALL_PASS_TOKENS};
use super::unpadded::TokenLayout;
use crate::batch::TokenBatch;
use crate::config::{Architecture, ModelConfig};
use crate::cpu::attention::{Heads, Queries};
use crate::cpu::team::Session;
use crate::cpu::tensor_values::f32_values;
use crate::error::{Error, Result};

/// The classification head on each text's first token: a dense layer, its activation, then
/// the output layer (one logit per label).
struct Head {
    dense: Linear,
    /// BERT's pooler and RoBERTa's head use tanh; DistilBERT's pre-classifier ReLU.
    relu: bool,
    output: Linear,
}

impl Head {
    fn forward(&self, first: &Tensor) -> Result<Tensor> {
        let hidden = self.dense.forward(first, None)?;
        let hidden = if self.relu {
            hidden.f_relu()?
        } else {
            hidden.f_tanh()?
        };
        self.output.forward(&hidden, None)
    }
}

/// The BERT-family sequence classifier: BERT, RoBERTa or DistilBERT.
pub(crate) struct Encoder {
    word_embeddings: Tensor,
    /// Position embeddings with token type 0's embedding added (see `load`).
    position_embeddings: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    head: Head,
    heads: i64,
    hidden: i64,
    activation: Activation,
    /// RoBERTa numbers positions from `pad_token_id + 1`; BERT and DistilBERT from 0.
    roberta_padding: Option<i64>,
    /// Whether passes of up to [`SMALL_PASS_TOKENS`] tokens take the small path.
    small_passes: bool,
}

/// The sizes the encoder needs from `config.json`.
pub(crate) struct EncoderShape {
    pub(crate) hidden: i64,
    pub(crate) intermediate: i64,
    pub(crate) heads: i64,
    pub(crate) layers: i64,
    /// Token types in the embeddings (0 for DistilBERT, which has none).
    pub(crate) type_vocab: i64,
    pub(crate) eps: f64,
    pub(crate) activation: Activation,
}

impl Encoder {
    /// Fetches every parameter from `params`, checking names and shapes. A second encoder
    /// loaded from the same `params` shares the first one's tensors.
    pub(crate) fn load(
        config: &ModelConfig,
        shape: &EncoderShape,
        params: &Params,
        small_passes: bool,
    ) -> Result<Self> {
        let architecture = config.architecture();
        let names = Names::of(architecture).ok_or_else(|| Error::UnsupportedModelType {
            path: config.path().to_path_buf(),
            model_type: architecture.model_type().to_owned(),
        })?;
        let h = shape.hidden;
        let labels = config.labels().len() as i64;
        let word_embeddings = params.tensor(&names.word_embeddings(), &[config.vocab_size(), h])?;
        // Single texts have token type 0 everywhere, so its embedding is the same for every
        // token: it is added to the position table once, here, not to every token of every pass.
        // DistilBERT has no token types.
        let positions = names.embeddings("position_embeddings.weight");
        let position_embeddings = params.derived(&format!("{positions}+type0"), |weights| {
            let table = weights.tensor_f32(&positions, &[config.max_position_embeddings(), h])?;
            if shape.type_vocab == 0 {
                return Ok(table);
            }
            let token_types = weights.tensor_f32(
                &names.embeddings("token_type_embeddings.weight"),
                &[shape.type_vocab, h],
            )?;
            Ok(table.f_add(&token_types.f_get(0)?)?)
        })?;
        let embedding_norm = LayerNorm::load(params, &names.embeddings("LayerNorm"), h, shape.eps)?;
        let layer_shape = LayerShape {
            hidden: h,
            intermediate: shape.intermediate,
            eps: shape.eps,
        };
        let layers = (0..shape.layers)
            .map(|index| Layer::load(params, &names, index, layer_shape))
            .collect::<Result<Vec<_>>>()?;
        let head = Head {
            dense: Linear::load(params, names.head_dense, h, h, Packing::Plain)?,
            relu: architecture == Architecture::DistilBert,
            output: Linear::load(params, names.classifier_output, labels, h, Packing::Plain)?,
        };
        Ok(Self {
            word_embeddings,
            position_embeddings,
            embedding_norm,
            layers,
            head,
            heads: shape.heads,
            hidden: h,
            activation: shape.activation,
            roberta_padding: architecture
                .is_roberta_family()
                .then(|| config.pad_token_id()),
            small_passes,
        })
    }

    /// Whether its layers' matrices are packed for MKL or int8 (then its products split into
    /// column blocks).
    pub(crate) fn has_split_weights(&self) -> bool {
        self.layers.first().is_some_and(Layer::has_split_weights)
    }

    /// Each text's token rows, if this pass takes the small path ([`small_pass`]): at most
    /// [`SMALL_PASS_TOKENS`] real tokens, weights that split, GELU, f32 on the CPU, every text
    /// at least one token; `None` for the tensor path.
    ///
    /// [`small_pass`]: super::small_pass
    fn small_pass_texts(&self, batch: &TokenBatch, x: &Tensor) -> Option<Vec<Range<usize>>> {
        let fits = batch.ids().len() <= SMALL_PASS_TOKENS
            && self.small_passes
            && self.has_split_weights()
            && self.activation == Activation::Gelu
            && x.kind() == Kind::Float
            && x.device() == Device::Cpu
            && batch.lengths().all(|length| length > 0);
        fits.then(|| batch.offsets().windows(2).map(|w| w[0]..w[1]).collect())
    }

    /// The layers and head on rows, for a small pass (see [`small_pass`](super::small_pass)).
    fn forward_small(
        &self,
        x: &Tensor,
        texts: Vec<Range<usize>>,
        team: Option<&Session>,
    ) -> Result<Tensor> {
        let x = x.f_contiguous()?;
        let values = f32_values(&x).ok_or(Error::SmallPass {
            step: "embeddings",
            reason: "not f32 on the CPU",
        })?;
        let batch = texts.len() as i64;
        let pass = RowsPass {
            texts,
            heads: Heads {
                heads: usize::try_from(self.heads).unwrap_or(1),
                head_size: usize::try_from(self.hidden / self.heads.max(1)).unwrap_or(0),
            },
            team,
        };
        let Some((last, layers)) = self.layers.split_last() else {
            return Err(Error::SmallPass {
                step: "layers",
                reason: "the model has no layers",
            });
        };
        let mut rows: Option<Vec<f32>> = None;
        for layer in layers {
            let next =
                layer.forward_rows(rows.as_deref().unwrap_or(values), &pass, Queries::Every)?;
            rows = Some(next);
        }
        let firsts = last.forward_rows(rows.as_deref().unwrap_or(values), &pass, Queries::First)?;
        let first = Tensor::f_from_slice(&firsts)?.f_view([batch, self.hidden])?;
        self.head.forward(&first)
    }

    #[cfg(test)]
    pub(crate) fn word_embeddings(&self) -> &Tensor {
        &self.word_embeddings
    }

    /// Logits `[batch, labels]` for `batch`'s texts (token ids with offsets). Only real tokens
    /// go through the linear layers; attention spreads them out to the longest text (see
    /// [`TokenLayout`]). With a `team`, the layers' products run their column blocks on its
    /// threads at once.
    pub(crate) fn forward(&self, batch: &TokenBatch, team: Option<&Session>) -> Result<Tensor> {
        let device = self.word_embeddings.device();
        let ids: Vec<i64> = batch.ids().iter().map(|&id| i64::from(id)).collect();
        // Each real token's position: RoBERTa counts from `pad_token_id + 1`, the others from 0.
        let first_position = self.roberta_padding.map_or(0, |pad| pad + 1);
        let positions: Vec<i64> = batch
            .lengths()
            .flat_map(|len| (0..len as i64).map(move |p| first_position + p))
            .collect();
        let embedded = Tensor::f_embedding(
            &self.word_embeddings,
            &Tensor::f_from_slice(&ids)?.f_to_device(device)?,
            -1,
            false,
            false,
        )?
        .f_add(&Tensor::f_embedding(
            &self.position_embeddings,
            &Tensor::f_from_slice(&positions)?.f_to_device(device)?,
            -1,
            false,
            false,
        )?)?;
        // `[tokens, hidden]`: the real tokens of every text, one after the other.
        let mut x = self.embedding_norm.forward(&embedded)?;
        if let Some(texts) = self.small_pass_texts(batch, &x) {
            return self.forward_small(&x, texts, team);
        }
        // Only the tensor path spreads tokens out for attention, so only it needs the layout.
        let layout = TokenLayout::new(batch, device)?;
        let (rows, length) = (layout.batch(), layout.length());
        // Additive mask, one row per (text, head): 0 on real tokens, -1e9 on padding (exp
        // underflows to exactly 0).
        let kind = self.word_embeddings.kind();
        let blocked: Vec<f32> = batch
            .lengths()
            .flat_map(|len| (0..length as usize).map(move |c| if c < len { 0.0 } else { -1e9 }))
            .collect();
        let blocked = Tensor::f_from_slice(&blocked)?
            .f_to_device(device)?
            .f_to_kind(kind)?
            .f_view([rows, 1, 1, length])?
            .f_expand([rows, self.heads, 1, length], false)?
            .f_reshape([rows * self.heads, 1, length])?;
        let pass = Pass {
            layout,
            blocked,
            batch: rows,
            length,
            heads: self.heads,
            head_size: self.hidden / self.heads,
            hidden: self.hidden,
            kind,
            activation: self.activation,
            team,
        };
        // The head reads only each text's first token: the last layer computes just those.
        let first = match self.layers.split_last() {
            Some((last, layers)) => {
                for layer in layers {
                    x = layer.forward(&x, &pass)?;
                }
                last.forward_firsts(&x, &pass)?
            }
            None => pass.layout.firsts(&x)?,
        };
        self.head.forward(&first)
    }
}
