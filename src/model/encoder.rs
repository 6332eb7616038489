//! A fused BERT/RoBERTa/DistilBERT encoder on libtorch's native kernels.
//!
//! rust-bert's BERT computes GELU as five elementwise ops (`x * 0.5 * (1 + erf(x / √2))`) and
//! attention as separate matmuls and a softmax. On a 2-core CPU the composite GELU alone costs
//! 15x the native kernel (26 ms against 1.7 ms on a 2048x1536 activation, more than the FFN's
//! GEMMs). This encoder computes exactly the same function with the native `gelu` and one fused
//! QKV projection, reads LayerNorm's epsilon from the config (rust-bert fixes it at 1e-12) and
//! the feed-forward activation too ([`Activation`]). DistilBERT is the same post-LayerNorm
//! transformer under other parameter names, without token types, with a ReLU head. Three more
//! savings: its layer matrices can be packed once for MKL ([`PackedMatrix`]), only real tokens
//! go through the linear layers ([`TokenLayout`]), and the last layer computes only each text's
//! first token, the one the classification head reads.
//! Every call is a fallible `f_` op: no panics. Parity with Python `transformers` is tested on
//! the reference files.

use tch::{Kind, Tensor};

use super::activation::{f32_values, fresh_f32_values, Activation};
use super::unpadded::TokenLayout;
use super::weights::Weights;
use crate::config::{Architecture, ModelConfig};
use crate::error::Result;
use crate::gelu::bias_gelu_in_place;
use crate::mkl::{PackedMatrix, Start};

/// A linear layer's weight: as loaded, or packed for MKL once the model is on the CPU in f32.
enum Weight {
    Plain(Tensor),
    Packed(PackedMatrix),
}

struct Linear {
    weight: Weight,
    bias: Tensor,
}

impl Linear {
    fn load(weights: &Weights, name: &str, outputs: i64, inputs: i64) -> Result<Self> {
        let (weight, bias) = Self::load_tensors(weights, name, outputs, inputs)?;
        Ok(Self {
            weight: Weight::Plain(weight),
            bias,
        })
    }

    /// One layer as several side by side: the outputs of each of `names`, concatenated.
    fn load_fused(weights: &Weights, names: &[String], outputs: i64, inputs: i64) -> Result<Self> {
        let mut parts = Vec::with_capacity(names.len());
        for name in names {
            parts.push(Self::load_tensors(weights, name, outputs, inputs)?);
        }
        let (matrices, biases): (Vec<Tensor>, Vec<Tensor>) = parts.into_iter().unzip();
        Ok(Self {
            weight: Weight::Plain(Tensor::f_cat(&matrices, 0)?),
            bias: Tensor::f_cat(&biases, 0)?,
        })
    }

    fn load_tensors(
        weights: &Weights,
        name: &str,
        outputs: i64,
        inputs: i64,
    ) -> Result<(Tensor, Tensor)> {
        Ok((
            weights.tensor_f32(&format!("{name}.weight"), &[outputs, inputs])?,
            weights.tensor_f32(&format!("{name}.bias"), &[outputs])?,
        ))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.weight {
            Weight::Plain(weight) => Ok(x.f_linear(weight, Some(&self.bias))?),
            Weight::Packed(packed) => packed.linear(x, &self.bias),
        }
    }

    /// `x` times the weight, without the bias: for a caller that adds it in its own next pass.
    fn forward_unbiased(&self, x: &Tensor) -> Result<Tensor> {
        match &self.weight {
            Weight::Plain(weight) => Ok(x.f_linear::<&Tensor>(weight, None)?),
            Weight::Packed(packed) => packed.product_onto(x, Start::Nothing),
        }
    }

    /// `forward(x) + residual`; packed, the GEMM adds onto `residual + bias`, which saves a
    /// pass over the output.
    fn forward_plus(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        match &self.weight {
            Weight::Plain(weight) => Ok(x.f_linear(weight, Some(&self.bias))?.f_add(residual)?),
            Weight::Packed(packed) => packed.product_onto(x, Start::BiasPlus(&self.bias, residual)),
        }
    }

    /// `activation` of `forward(x)`. Packed with GELU, the bias is added by the GELU kernel's
    /// pass instead of being copied into the output before the GEMM.
    fn forward_activated(&self, x: &Tensor, activation: Activation) -> Result<Tensor> {
        if let (Weight::Packed(packed), Some(bias), Activation::Gelu) =
            (&self.weight, f32_values(&self.bias), activation)
        {
            let mut out = packed.product_onto(x, Start::Nothing)?;
            if let Some(values) = fresh_f32_values(&mut out) {
                bias_gelu_in_place(values, bias);
                return Ok(out);
            }
            return Activation::Gelu.apply(out.f_add(&self.bias)?);
        }
        activation.apply(self.forward(x)?)
    }

    /// Packs the weight for MKL if it is f32 on the CPU and MKL's packed GEMM exists; the plain
    /// copy is then dropped.
    fn pack(&mut self) -> Result<()> {
        if let Weight::Plain(weight) = &self.weight {
            if let Some(packed) = PackedMatrix::pack(weight)? {
                self.weight = Weight::Packed(packed);
            }
        }
        Ok(())
    }

    fn share(&self) -> Self {
        Self {
            weight: match &self.weight {
                Weight::Plain(weight) => Weight::Plain(weight.shallow_clone()),
                Weight::Packed(packed) => Weight::Packed(packed.share()),
            },
            bias: self.bias.shallow_clone(),
        }
    }

    /// The tensors a change of kind or device applies to (a packed weight stays as it is).
    fn tensors_mut(&mut self) -> Vec<&mut Tensor> {
        match &mut self.weight {
            Weight::Plain(weight) => vec![weight, &mut self.bias],
            Weight::Packed(_) => vec![&mut self.bias],
        }
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    fn load(weights: &Weights, name: &str, size: i64) -> Result<Self> {
        Ok(Self {
            weight: weights.tensor_f32(&format!("{name}.weight"), &[size])?,
            bias: weights.tensor_f32(&format!("{name}.bias"), &[size])?,
        })
    }

    fn forward(&self, x: &Tensor, eps: f64) -> Result<Tensor> {
        let size = self.weight.size();
        Ok(x.f_layer_norm(size, Some(&self.weight), Some(&self.bias), eps, false)?)
    }

    fn share(&self) -> Self {
        Self {
            weight: self.weight.shallow_clone(),
            bias: self.bias.shallow_clone(),
        }
    }

    fn tensors_mut(&mut self) -> [&mut Tensor; 2] {
        [&mut self.weight, &mut self.bias]
    }
}

struct Layer {
    qkv: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// What every layer of one forward pass shares: the batch's layout, its shape and its mask.
struct Pass {
    layout: TokenLayout,
    /// Additive attention mask `[batch * heads, 1, length]`: 0 on real tokens, -1e9 on padding.
    blocked: Tensor,
    batch: i64,
    length: i64,
    heads: i64,
    head_size: i64,
    hidden: i64,
    eps: f64,
    kind: Kind,
    activation: Activation,
}

impl Pass {
    /// Queries, keys and values of the real tokens `x`, each `[batch * heads, length,
    /// head_size]`: views of one tensor in head order. The projection's bias is added by the
    /// pass that copies it into head order, not copied into the GEMM's output first.
    fn heads(&self, qkv: &Linear, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let [batch, length, heads, head_size] =
            [self.batch, self.length, self.heads, self.head_size];
        let projected = self
            .layout
            .unpack(&qkv.forward_unbiased(x)?)?
            .f_view([batch, length, 3, heads, head_size])?
            .f_permute([2, 0, 3, 1, 4])?;
        let bias = qkv.bias.f_view([3, 1, heads, 1, head_size])?;
        let out = Tensor::f_empty(
            [3, batch, heads, length, head_size],
            (projected.kind(), projected.device()),
        )?;
        let ordered = projected.f_add_out(&out, &bias)?;
        let qkv = ordered.f_view([3, batch * heads, length, head_size])?;
        Ok((qkv.f_get(0)?, qkv.f_get(1)?, qkv.f_get(2)?))
    }

    /// Attention of queries `q` (`[batch * heads, queries, head_size]`) over every token's keys
    /// and values, as two batched GEMMs with the scale and mask folded into the first
    /// (`baddbmm`): 20-35% faster than `matmul` on 4-D views, and on CPU libtorch 2.4's fused
    /// attention kernel is no faster at these short lengths.
    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
        let scale = 1.0 / (self.head_size as f64).sqrt();
        Ok(self
            .blocked
            .f_baddbmm(q, &k.f_transpose(1, 2)?, 1.0, scale)?
            .f_softmax(-1, self.kind)?
            .f_bmm(v)?)
    }
}

impl Layer {
    /// The layer's output for every real token (`[tokens, hidden]`, as `x`).
    fn forward(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let (q, k, v) = pass.heads(&self.qkv, x)?;
        let context = pass
            .attend(&q, &k, &v)?
            .f_view([pass.batch, pass.heads, pass.length, pass.head_size])?
            .f_transpose(1, 2)?
            .f_reshape([pass.batch, pass.length, pass.hidden])?;
        self.feed_forward(&pass.layout.pack(&context)?, x, pass)
    }

    /// The layer's output for each text's first token only (`[batch, hidden]`), which is all
    /// the classification head reads of the last layer. Keys and values still come from every
    /// token, so this is the same function for those rows; what it skips is the attention
    /// output, the feed-forward network and their LayerNorms for every other token: three
    /// quarters of the last layer's GEMM work (an eighth of a 6-layer model's).
    fn forward_firsts(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let (q, k, v) = pass.heads(&self.qkv, x)?;
        let context = pass
            .attend(&q.f_narrow(1, 0, 1)?, &k, &v)?
            .f_reshape([pass.batch, pass.hidden])?;
        self.feed_forward(&context, &pass.layout.firsts(x)?, pass)
    }

    /// Attention output, residual and LayerNorm, then the feed-forward network, residual and
    /// LayerNorm, row by row: `context` and `residual` are `[rows, hidden]`.
    fn feed_forward(&self, context: &Tensor, residual: &Tensor, pass: &Pass) -> Result<Tensor> {
        let eps = pass.eps;
        let attended = self
            .attention_norm
            .forward(&self.attention_output.forward_plus(context, residual)?, eps)?;
        let inner = self
            .intermediate
            .forward_activated(&attended, pass.activation)?;
        self.output_norm
            .forward(&self.output.forward_plus(&inner, &attended)?, eps)
    }

    fn share(&self) -> Self {
        Self {
            qkv: self.qkv.share(),
            attention_output: self.attention_output.share(),
            attention_norm: self.attention_norm.share(),
            intermediate: self.intermediate.share(),
            output: self.output.share(),
            output_norm: self.output_norm.share(),
        }
    }
}

enum Head {
    /// BERT: pooler (dense + tanh on [CLS]) then the classifier.
    Pooled { pooler: Linear, classifier: Linear },
    /// RoBERTa: dense + tanh on <s>, then out_proj.
    Roberta { dense: Linear, out_proj: Linear },
    /// DistilBERT: pre_classifier + ReLU on [CLS], then the classifier.
    Distil {
        pre_classifier: Linear,
        classifier: Linear,
    },
}

impl Head {
    fn share(&self) -> Self {
        match self {
            Self::Pooled { pooler, classifier } => Self::Pooled {
                pooler: pooler.share(),
                classifier: classifier.share(),
            },
            Self::Roberta { dense, out_proj } => Self::Roberta {
                dense: dense.share(),
                out_proj: out_proj.share(),
            },
            Self::Distil {
                pre_classifier,
                classifier,
            } => Self::Distil {
                pre_classifier: pre_classifier.share(),
                classifier: classifier.share(),
            },
        }
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
    eps: f64,
    activation: Activation,
    /// RoBERTa numbers positions from `pad_token_id + 1`; BERT and DistilBERT from 0.
    roberta_padding: Option<i64>,
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

/// Where one transformer layer's parameters are, under its prefix.
struct LayerNames {
    qkv: [&'static str; 3],
    attention_output: &'static str,
    attention_norm: &'static str,
    intermediate: &'static str,
    output: &'static str,
    output_norm: &'static str,
}

const BERT_LAYER: LayerNames = LayerNames {
    qkv: [
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
    ],
    attention_output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

const DISTILBERT_LAYER: LayerNames = LayerNames {
    qkv: ["attention.q_lin", "attention.k_lin", "attention.v_lin"],
    attention_output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    intermediate: "ffn.lin1",
    output: "ffn.lin2",
    output_norm: "output_layer_norm",
};

/// The base model's prefix of `architecture`'s parameter names, where its layers are under
/// it, and their names.
fn base_names(architecture: Architecture) -> (&'static str, &'static str, &'static LayerNames) {
    match architecture {
        Architecture::Bert => ("bert", "encoder.layer", &BERT_LAYER),
        Architecture::Roberta => ("roberta", "encoder.layer", &BERT_LAYER),
        Architecture::DistilBert => ("distilbert", "transformer.layer", &DISTILBERT_LAYER),
    }
}

/// The name of `architecture`'s word embedding matrix (one row per token id).
pub(crate) fn word_embeddings_name(architecture: Architecture) -> String {
    format!(
        "{}.embeddings.word_embeddings.weight",
        base_names(architecture).0
    )
}

/// The name of `architecture`'s output layer, whose weight has one row per label.
pub(crate) fn classifier_output_name(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Bert | Architecture::DistilBert => "classifier",
        Architecture::Roberta => "classifier.out_proj",
    }
}

impl Encoder {
    /// Reads every parameter from `weights`, checking names and shapes.
    pub(crate) fn load(
        config: &ModelConfig,
        shape: &EncoderShape,
        weights: &Weights,
    ) -> Result<Self> {
        let architecture = config.architecture();
        let (base, layers_at, names) = base_names(architecture);
        let h = shape.hidden;
        let labels = config.labels().len() as i64;
        let embeddings = format!("{base}.embeddings");
        let word_embeddings = weights.tensor_f32(
            &word_embeddings_name(architecture),
            &[config.vocab_size(), h],
        )?;
        // Single texts have token type 0 everywhere, so its embedding is the same for every
        // token: it is added to the position table once, here, not to every token of every pass.
        // DistilBERT has no token types.
        let positions = weights.tensor_f32(
            &format!("{embeddings}.position_embeddings.weight"),
            &[config.max_position_embeddings(), h],
        )?;
        let position_embeddings = if shape.type_vocab > 0 {
            let token_types = weights.tensor_f32(
                &format!("{embeddings}.token_type_embeddings.weight"),
                &[shape.type_vocab, h],
            )?;
            positions.f_add(&token_types.f_get(0)?)?
        } else {
            positions
        };
        let embedding_norm = LayerNorm::load(weights, &format!("{embeddings}.LayerNorm"), h)?;
        let mut layers = Vec::new();
        for i in 0..shape.layers {
            let p = format!("{base}.{layers_at}.{i}");
            let qkv_names = names.qkv.map(|n| format!("{p}.{n}"));
            layers.push(Layer {
                qkv: Linear::load_fused(weights, &qkv_names, h, h)?,
                attention_output: Linear::load(
                    weights,
                    &format!("{p}.{}", names.attention_output),
                    h,
                    h,
                )?,
                attention_norm: LayerNorm::load(
                    weights,
                    &format!("{p}.{}", names.attention_norm),
                    h,
                )?,
                intermediate: Linear::load(
                    weights,
                    &format!("{p}.{}", names.intermediate),
                    shape.intermediate,
                    h,
                )?,
                output: Linear::load(
                    weights,
                    &format!("{p}.{}", names.output),
                    h,
                    shape.intermediate,
                )?,
                output_norm: LayerNorm::load(weights, &format!("{p}.{}", names.output_norm), h)?,
            });
        }
        let output = Linear::load(weights, classifier_output_name(architecture), labels, h)?;
        let head = match architecture {
            Architecture::Roberta => Head::Roberta {
                dense: Linear::load(weights, "classifier.dense", h, h)?,
                out_proj: output,
            },
            Architecture::Bert => Head::Pooled {
                pooler: Linear::load(weights, "bert.pooler.dense", h, h)?,
                classifier: output,
            },
            Architecture::DistilBert => Head::Distil {
                pre_classifier: Linear::load(weights, "pre_classifier", h, h)?,
                classifier: output,
            },
        };
        let roberta = architecture == Architecture::Roberta;
        Ok(Self {
            word_embeddings,
            position_embeddings,
            embedding_norm,
            layers,
            head,
            heads: shape.heads,
            hidden: h,
            eps: shape.eps,
            activation: shape.activation,
            roberta_padding: roberta.then(|| config.pad_token_id()),
        })
    }

    /// Converts every parameter to `kind` (bf16 for the fast path on CPUs that have it).
    pub(crate) fn set_kind(&mut self, kind: Kind) -> Result<()> {
        for tensor in self.tensors_mut() {
            *tensor = tensor.f_to_kind(kind)?;
        }
        Ok(())
    }

    /// Packs the transformer layers' weight matrices for MKL's packed GEMM (f32 on the CPU
    /// only; other matrices stay as they are). The classification head runs on one row per
    /// text and is left plain.
    pub(crate) fn pack_weights(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            layer.qkv.pack()?;
            layer.attention_output.pack()?;
            layer.intermediate.pack()?;
            layer.output.pack()?;
        }
        Ok(())
    }

    /// Another encoder on the same parameters (shallow clones: no copy), for another worker
    /// thread. Safe because the forward pass only reads parameters: nothing writes them after
    /// loading, and libtorch's tensor handles count references atomically.
    pub(crate) fn share(&self) -> Self {
        Self {
            word_embeddings: self.word_embeddings.shallow_clone(),
            position_embeddings: self.position_embeddings.shallow_clone(),
            embedding_norm: self.embedding_norm.share(),
            layers: self.layers.iter().map(Layer::share).collect(),
            head: self.head.share(),
            heads: self.heads,
            hidden: self.hidden,
            eps: self.eps,
            activation: self.activation,
            roberta_padding: self.roberta_padding,
        }
    }

    #[cfg(test)]
    pub(crate) fn word_embeddings(&self) -> &Tensor {
        &self.word_embeddings
    }

    /// Moves every parameter to `device`.
    pub(crate) fn set_device(&mut self, device: tch::Device) -> Result<()> {
        for tensor in self.tensors_mut() {
            *tensor = tensor.f_to_device(device)?;
        }
        Ok(())
    }

    fn tensors_mut(&mut self) -> Vec<&mut Tensor> {
        let mut all = vec![&mut self.word_embeddings, &mut self.position_embeddings];
        all.extend(self.embedding_norm.tensors_mut());
        for layer in &mut self.layers {
            all.extend(layer.qkv.tensors_mut());
            all.extend(layer.attention_output.tensors_mut());
            all.extend(layer.attention_norm.tensors_mut());
            all.extend(layer.intermediate.tensors_mut());
            all.extend(layer.output.tensors_mut());
            all.extend(layer.output_norm.tensors_mut());
        }
        match &mut self.head {
            Head::Pooled { pooler, classifier } => {
                all.extend(pooler.tensors_mut());
                all.extend(classifier.tensors_mut());
            }
            Head::Roberta { dense, out_proj } => {
                all.extend(dense.tensors_mut());
                all.extend(out_proj.tensors_mut());
            }
            Head::Distil {
                pre_classifier,
                classifier,
            } => {
                all.extend(pre_classifier.tensors_mut());
                all.extend(classifier.tensors_mut());
            }
        }
        all
    }

    /// Logits `[batch, labels]` for int64 `ids` and `mask` of shape `[batch, length]`, padded on
    /// the right. Only real tokens go through the linear layers (see [`TokenLayout`]).
    pub(crate) fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, length) = ids.size2()?;
        let layout = TokenLayout::new(mask)?;
        let positions = match self.roberta_padding {
            Some(pad) => mask
                .f_cumsum(1, Kind::Int64)?
                .f_mul(mask)?
                .f_add_scalar(pad)?,
            None => Tensor::f_arange(length, (Kind::Int64, ids.device()))?
                .f_unsqueeze(0)?
                .f_expand([batch, length], false)?,
        };
        let embedded =
            Tensor::f_embedding(&self.word_embeddings, &layout.pack(ids)?, -1, false, false)?
                .f_add(&Tensor::f_embedding(
                    &self.position_embeddings,
                    &layout.pack(&positions)?,
                    -1,
                    false,
                    false,
                )?)?;
        // `[tokens, hidden]`: the real tokens of every text, one after the other.
        let mut x = self.embedding_norm.forward(&embedded, self.eps)?;
        // Additive mask, one row per (text, head): 0 on real tokens, -1e9 on padding (exp
        // underflows to exactly 0).
        let kind = self.word_embeddings.kind();
        let blocked = mask
            .f_to_kind(kind)?
            .f_neg()?
            .f_add_scalar(1.0)?
            .f_mul_scalar(-1e9)?
            .f_view([batch, 1, 1, length])?
            .f_expand([batch, self.heads, 1, length], false)?
            .f_reshape([batch * self.heads, 1, length])?;
        let pass = Pass {
            layout,
            blocked,
            batch,
            length,
            heads: self.heads,
            head_size: self.hidden / self.heads,
            hidden: self.hidden,
            eps: self.eps,
            kind,
            activation: self.activation,
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
        match &self.head {
            Head::Pooled { pooler, classifier } => {
                classifier.forward(&pooler.forward(&first)?.f_tanh()?)
            }
            Head::Roberta { dense, out_proj } => {
                out_proj.forward(&dense.forward(&first)?.f_tanh()?)
            }
            Head::Distil {
                pre_classifier,
                classifier,
            } => classifier.forward(&pre_classifier.forward(&first)?.f_relu()?),
        }
    }
}
