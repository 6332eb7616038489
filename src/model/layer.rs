//! One transformer layer's pass over a batch kept as its real tokens only (`[tokens, hidden]`,
//! see [`TokenLayout`]): fused QKV projection, attention as two batched GEMMs, then the
//! attention output and feed-forward network with their residuals and post-LayerNorms (the
//! BERT/RoBERTa/DistilBERT layout).

use tch::{Kind, Tensor};

use super::activation::Activation;
use super::linear::{LayerNorm, Linear, Packing};
use super::names::Names;
use super::params::Params;
use super::unpadded::TokenLayout;
use crate::cpu::team::Session;
use crate::error::Result;

/// One layer's parameters.
pub(super) struct Layer {
    pub(super) qkv: Linear,
    pub(super) attention_output: Linear,
    pub(super) attention_norm: LayerNorm,
    pub(super) intermediate: Linear,
    pub(super) output: Linear,
    pub(super) output_norm: LayerNorm,
}

/// The sizes of one layer.
#[derive(Clone, Copy)]
pub(super) struct LayerShape {
    pub(super) hidden: i64,
    pub(super) intermediate: i64,
    pub(super) eps: f64,
}

/// What every layer of one forward pass shares: the batch's layout, its shape and its mask.
pub(super) struct Pass<'a> {
    pub(super) layout: TokenLayout,
    /// Additive attention mask `[batch * heads, 1, length]`: 0 on real tokens, -1e9 on padding.
    pub(super) blocked: Tensor,
    pub(super) batch: i64,
    pub(super) length: i64,
    pub(super) heads: i64,
    pub(super) head_size: i64,
    pub(super) hidden: i64,
    pub(super) kind: Kind,
    pub(super) activation: Activation,
    /// Helper threads for the products' column blocks, when this pass has the cores to itself.
    pub(super) team: Option<&'a Session<'a>>,
}

impl Pass<'_> {
    /// Queries, keys and values of the real tokens `x`, each `[batch * heads, length,
    /// head_size]`: views of one tensor in head order. The projection's bias is added by the
    /// pass that copies it into head order, not copied into the GEMM's output first.
    fn heads(&self, qkv: &Linear, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let [batch, length, heads, head_size] =
            [self.batch, self.length, self.heads, self.head_size];
        let projected = self
            .layout
            .unpack(&qkv.forward_unbiased(x, self.team)?)?
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
    /// Layer `index`'s parameters, under `names`.
    pub(super) fn load(
        params: &Params,
        names: &Names,
        index: i64,
        shape: LayerShape,
    ) -> Result<Self> {
        let LayerShape {
            hidden: h,
            intermediate,
            eps,
        } = shape;
        let parts = names.layer;
        let name = |part: &str| names.layer(index, part);
        let linear = |part: &str, outputs, inputs| {
            Linear::load(params, &name(part), outputs, inputs, Packing::Packable)
        };
        Ok(Self {
            qkv: Linear::load_fused(params, &parts.qkv.map(name), h, h)?,
            attention_output: linear(parts.attention_output, h, h)?,
            attention_norm: LayerNorm::load(params, &name(parts.attention_norm), h, eps)?,
            intermediate: linear(parts.intermediate, intermediate, h)?,
            output: linear(parts.output, h, intermediate)?,
            output_norm: LayerNorm::load(params, &name(parts.output_norm), h, eps)?,
        })
    }

    /// Whether its matrices are packed for MKL or int8 (their products split into blocks).
    pub(super) fn has_split_weights(&self) -> bool {
        self.qkv.splits()
    }

    /// The layer's output for every real token (`[tokens, hidden]`, as `x`).
    pub(super) fn forward(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
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
    pub(super) fn forward_firsts(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let (q, k, v) = pass.heads(&self.qkv, x)?;
        let context = pass
            .attend(&q.f_narrow(1, 0, 1)?, &k, &v)?
            .f_reshape([pass.batch, pass.hidden])?;
        self.feed_forward(&context, &pass.layout.firsts(x)?, pass)
    }

    /// Attention output, residual and LayerNorm, then the feed-forward network, residual and
    /// LayerNorm, row by row: `context` and `residual` are `[rows, hidden]`.
    fn feed_forward(&self, context: &Tensor, residual: &Tensor, pass: &Pass) -> Result<Tensor> {
        let attended = self.attention_norm.forward(
            &self
                .attention_output
                .forward_plus(context, residual, pass.team)?,
        )?;
        let inner = self
            .intermediate
            .forward_activated(&attended, pass.activation, pass.team)?;
        self.output_norm
            .forward(&self.output.forward_plus(&inner, &attended, pass.team)?)
    }
}
