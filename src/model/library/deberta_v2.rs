//! DeBERTa-v2 (and v3) for sequence classification, written for the crate in tch after
//! `transformers` 4.46's `modeling_deberta_v2.py`.
//!
//! rust-bert 0.23 has a DeBERTa-v2, but its disentangled attention computes other scores than
//! `transformers` (the c2p gather lacks the `att_span` offset, the c2p and p2c terms are
//! divided by `d * scale_factor` instead of its square root, and the log buckets divide as
//! integers), and its layer and attention types are private, so the attention cannot be
//! swapped in. This module is the whole model, built under `transformers`' parameter names on
//! a `VarStore` like rust-bert's modules, so the loader fills it the same way.
//!
//! What it runs: word (+ optional absolute position and token type) embeddings, LayerNorm and
//! the input mask; layers of disentangled self-attention (c2p and/or p2c, shared or separate
//! position projections, log-bucketed relative positions, LayerNorm'd relative embeddings);
//! the context pooler on the first token; the classifier. The convolution layer and an
//! embedding size other than the hidden size are refused at config time.

use std::borrow::Borrow;

use rust_bert::deberta_v2::DebertaV2Config;
use rust_bert::Activation;
use tch::nn;
use tch::{Kind, Tensor};

use crate::error::Result;

/// Which disentangled attention terms a DeBERTa-v2 config uses (`pos_att_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PositionTerms {
    /// Content to position.
    pub(crate) c2p: bool,
    /// Position to content.
    pub(crate) p2c: bool,
}

impl PositionTerms {
    fn count(self) -> i64 {
        i64::from(self.c2p) + i64::from(self.p2c)
    }
}

/// Relative-position settings shared by every layer.
#[derive(Debug, Clone, Copy)]
struct Relative {
    /// Rows on each side of the relative embedding table (`position_buckets`, else
    /// `max_relative_positions`).
    span: i64,
    /// `position_buckets` (no log buckets when not positive).
    buckets: i64,
    max_position: i64,
    share_key: bool,
    terms: PositionTerms,
}

fn activation(function: Activation) -> impl Fn(&Tensor) -> Tensor {
    move |x| function.get_function().get_fn()(x)
}

struct SelfAttention {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    pos_query: Option<nn::Linear>,
    pos_key: Option<nn::Linear>,
    heads: i64,
}

struct Layer {
    attention: SelfAttention,
    attention_dense: nn::Linear,
    attention_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    output: nn::Linear,
    output_norm: nn::LayerNorm,
    activation: Activation,
}

/// `DebertaV2ForSequenceClassification` at inference.
pub(crate) struct DebertaV2Classifier {
    word_embeddings: nn::Embedding,
    position_embeddings: Option<nn::Embedding>,
    token_type_embeddings: Option<nn::Embedding>,
    embeddings_norm: nn::LayerNorm,
    layers: Vec<Layer>,
    relative: Option<Relative>,
    rel_embeddings: Option<nn::Embedding>,
    rel_norm: Option<nn::LayerNorm>,
    pooler: nn::Linear,
    pooler_activation: Activation,
    classifier: nn::Linear,
}

fn linear(p: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    nn::linear(p, inputs, outputs, Default::default())
}

fn layer_norm(p: nn::Path, size: i64, eps: f64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![size],
        nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}

impl DebertaV2Classifier {
    /// The network for `config` with `labels` outputs, its variables under `p` with
    /// `transformers`' names (`deberta.…`, `pooler.dense`, `classifier`).
    pub(crate) fn new<'p>(
        p: impl Borrow<nn::Path<'p>>,
        config: &DebertaV2Config,
        terms: PositionTerms,
        labels: i64,
    ) -> Self {
        let p = p.borrow();
        let h = config.hidden_size;
        let eps = config.layer_norm_eps.unwrap_or(1e-7);
        let embeddings = p / "deberta" / "embeddings";
        let encoder = p / "deberta" / "encoder";
        let relative = config.relative_attention.unwrap_or(false).then(|| {
            let mut max_position = config.max_relative_positions.unwrap_or(-1);
            if max_position < 1 {
                max_position = config.max_position_embeddings;
            }
            let buckets = config.position_buckets.unwrap_or(-1);
            Relative {
                span: if buckets > 0 { buckets } else { max_position },
                buckets,
                max_position,
                share_key: config.share_att_key.unwrap_or(false),
                terms,
            }
        });
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let layer = &encoder / "layer" / i;
                let attention = &layer / "attention";
                let own = &attention / "self";
                let separate = relative.filter(|r| !r.share_key);
                Layer {
                    attention: SelfAttention {
                        query: linear(&own / "query_proj", h, h),
                        key: linear(&own / "key_proj", h, h),
                        value: linear(&own / "value_proj", h, h),
                        pos_query: separate
                            .filter(|r| r.terms.p2c)
                            .map(|_| linear(&own / "pos_query_proj", h, h)),
                        pos_key: separate
                            .filter(|r| r.terms.c2p)
                            .map(|_| linear(&own / "pos_key_proj", h, h)),
                        heads: config.num_attention_heads,
                    },
                    attention_dense: linear(&attention / "output" / "dense", h, h),
                    attention_norm: layer_norm(&attention / "output" / "LayerNorm", h, eps),
                    intermediate: linear(
                        &layer / "intermediate" / "dense",
                        h,
                        config.intermediate_size,
                    ),
                    output: linear(&layer / "output" / "dense", config.intermediate_size, h),
                    output_norm: layer_norm(&layer / "output" / "LayerNorm", h, eps),
                    activation: config.hidden_act,
                }
            })
            .collect();
        let rel_norm = config
            .norm_rel_ebd
            .is_some()
            .then(|| layer_norm(&encoder / "LayerNorm", h, eps));
        let embedding =
            |name: &str, rows: i64| nn::embedding(&embeddings / name, rows, h, Default::default());
        Self {
            word_embeddings: embedding("word_embeddings", config.vocab_size),
            position_embeddings: config
                .position_biased_input
                .unwrap_or(true)
                .then(|| embedding("position_embeddings", config.max_position_embeddings)),
            token_type_embeddings: (config.type_vocab_size > 0)
                .then(|| embedding("token_type_embeddings", config.type_vocab_size)),
            embeddings_norm: layer_norm(&embeddings / "LayerNorm", h, eps),
            layers,
            rel_embeddings: relative.map(|r| {
                nn::embedding(
                    &encoder / "rel_embeddings",
                    2 * r.span,
                    h,
                    Default::default(),
                )
            }),
            relative,
            rel_norm,
            pooler: linear(p / "pooler" / "dense", h, h),
            pooler_activation: config.pooler_hidden_act.unwrap_or(Activation::gelu),
            classifier: linear(p / "classifier", h, labels),
        }
    }

    /// Logits `[batch, labels]` for padded ids, mask and token types, all `[batch, length]`.
    pub(crate) fn forward(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        token_types: Option<&Tensor>,
    ) -> Result<Tensor> {
        let length = ids.size().get(1).copied().unwrap_or(0);
        let mut x = ids.apply(&self.word_embeddings);
        if let Some(table) = &self.position_embeddings {
            let positions = Tensor::f_arange(length, (Kind::Int64, ids.device()))?;
            x = x.f_add(&positions.apply(table).f_unsqueeze(0)?)?;
        }
        if let (Some(table), Some(types)) = (&self.token_type_embeddings, token_types) {
            x = x.f_add(&types.apply(table))?;
        }
        let float_mask = mask.f_to_kind(x.kind())?;
        x = x
            .apply(&self.embeddings_norm)
            .f_mul(&float_mask.f_unsqueeze(-1)?)?;
        // [batch, 1, length, length]: 1 where both the query and the key are tokens.
        let pair = mask.f_unsqueeze(1)?.f_unsqueeze(2)?;
        let pair = pair.f_mul(&pair.f_squeeze_dim(-2)?.f_unsqueeze(-1)?)?;
        let blocked = pair.f_eq(0)?;
        let (relative_pos, rel) = match (&self.relative, &self.rel_embeddings) {
            (Some(r), Some(table)) => {
                let positions =
                    relative_positions(length, r.buckets, r.max_position, ids.device())?;
                let rel = match &self.rel_norm {
                    Some(norm) => table.ws.apply(norm),
                    None => table.ws.shallow_clone(),
                };
                (Some(positions), Some((*r, rel)))
            }
            _ => (None, None),
        };
        for layer in &self.layers {
            let context = layer.attention.forward(
                &x,
                &blocked,
                relative_pos
                    .as_ref()
                    .zip(rel.as_ref())
                    .map(|(p, (r, e))| (*r, p, e)),
            )?;
            let attended = context
                .apply(&layer.attention_dense)
                .f_add(&x)?
                .apply(&layer.attention_norm);
            let inner = activation(layer.activation)(&attended.apply(&layer.intermediate));
            x = inner
                .apply(&layer.output)
                .f_add(&attended)?
                .apply(&layer.output_norm);
        }
        let first = x.f_select(1, 0)?.apply(&self.pooler);
        Ok(activation(self.pooler_activation)(&first).apply(&self.classifier))
    }
}

impl SelfAttention {
    /// `[batch, length, hidden]` to `[batch * heads, length, head size]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let size = x.size();
        let (batch, length) = (size[0], size[1]);
        Ok(x.f_view([batch, length, self.heads, -1])?
            .f_permute([0, 2, 1, 3])?
            .f_contiguous()?
            .f_view([batch * self.heads, length, -1])?)
    }

    fn forward(
        &self,
        x: &Tensor,
        blocked: &Tensor,
        relative: Option<(Relative, &Tensor, &Tensor)>,
    ) -> Result<Tensor> {
        let size = x.size();
        let (batch, length) = (size[0], size[1]);
        let query = self.split_heads(&x.apply(&self.query))?;
        let key = self.split_heads(&x.apply(&self.key))?;
        let value = self.split_heads(&x.apply(&self.value))?;
        let head_size = query.size()[2];
        let factor = 1 + relative.map_or(0, |(r, _, _)| r.terms.count());
        let scale = f64::from(((head_size * factor) as f32).sqrt());
        let mut scores = query.f_bmm(&key.f_transpose(-1, -2)?.f_div_scalar(scale)?)?;
        if let Some((r, positions, table)) = relative {
            scores = scores
                .f_add(&self.position_bias(&query, &key, r, positions, table, scale, batch)?)?;
        }
        // XSoftmax: padding gets f32::MIN before the softmax and exactly 0 after it.
        let scores = scores.f_view([-1, self.heads, length, length])?;
        let probabilities = scores
            .f_masked_fill(blocked, f64::from(f32::MIN))?
            .f_softmax(-1, scores.kind())?
            .f_masked_fill(blocked, 0.0)?;
        Ok(probabilities
            .f_view([-1, length, length])?
            .f_bmm(&value)?
            .f_view([batch, self.heads, length, head_size])?
            .f_permute([0, 2, 1, 3])?
            .f_contiguous()?
            .f_view([batch, length, -1])?)
    }

    /// The c2p and p2c terms (`disentangled_attention_bias`).
    #[allow(clippy::too_many_arguments)]
    fn position_bias(
        &self,
        query: &Tensor,
        key: &Tensor,
        r: Relative,
        positions: &Tensor,
        table: &Tensor,
        scale: f64,
        batch: i64,
    ) -> Result<Tensor> {
        let span = r.span;
        let rows = table.f_slice(0, 0, 2 * span, 1)?.f_unsqueeze(0)?;
        let project = |own: &nn::Linear, separate: &Option<nn::Linear>| -> Result<Tensor> {
            let projection = separate.as_ref().unwrap_or(own);
            Ok(self
                .split_heads(&rows.apply(projection))?
                .f_repeat([batch, 1, 1])?)
        };
        let [rows_total, length] = [query.size()[0], query.size()[1]];
        let index_shape = [rows_total, length, length];
        let mut bias = Tensor::f_zeros([1], (query.kind(), query.device()))?;
        if r.terms.c2p {
            let pos_key = project(&self.key, &self.pos_key)?;
            let index = positions
                .f_add_scalar(span)?
                .f_clamp(0, 2 * span - 1)?
                .f_expand(index_shape, true)?;
            let c2p = query
                .f_bmm(&pos_key.f_transpose(-1, -2)?)?
                .f_gather(-1, &index, false)?;
            bias = bias.f_add(&c2p.f_div_scalar(scale)?)?;
        }
        if r.terms.p2c {
            let pos_query = project(&self.query, &self.pos_query)?;
            let index = positions
                .f_neg()?
                .f_add_scalar(span)?
                .f_clamp(0, 2 * span - 1)?
                .f_expand(index_shape, true)?;
            let p2c = key
                .f_bmm(&pos_query.f_transpose(-1, -2)?)?
                .f_gather(-1, &index, false)?
                .f_transpose(-1, -2)?;
            bias = bias.f_add(&p2c.f_div_scalar(scale)?)?;
        }
        Ok(bias)
    }
}

/// Query-minus-key positions `[1, length, length]`, log-bucketed past `buckets / 2` when
/// `buckets` and `max_position` are positive (`build_relative_position`), computed in f32 as
/// `transformers` does.
pub(crate) fn relative_positions(
    length: i64,
    buckets: i64,
    max_position: i64,
    device: tch::Device,
) -> Result<Tensor> {
    let ids = Tensor::f_arange(length, (Kind::Int64, device))?;
    let relative = ids.f_unsqueeze(1)?.f_sub(&ids.f_unsqueeze(0)?)?;
    let relative = if buckets > 0 && max_position > 0 {
        log_buckets(&relative, buckets, max_position)?
    } else {
        relative
    };
    Ok(relative.f_unsqueeze(0)?)
}

/// `make_log_bucket_position`: distances under `buckets / 2` stay, longer ones are mapped onto
/// a log scale up to `max_position`.
fn log_buckets(relative: &Tensor, buckets: i64, max_position: i64) -> Result<Tensor> {
    let mid = buckets / 2;
    let sign = relative.f_sign()?.f_to_kind(Kind::Float)?;
    let near = relative.f_lt(mid)?.f_logical_and(&relative.f_gt(-mid)?)?;
    let distance = relative
        .f_abs()?
        .f_masked_fill(&near, mid - 1)?
        .f_to_kind(Kind::Float)?;
    let denominator = Tensor::from(((max_position - 1) as f64 / mid as f64) as f32).f_log()?;
    let log_position = distance
        .f_div_scalar(mid as f64)?
        .f_log()?
        .f_div(&denominator)?
        .f_mul_scalar((mid - 1) as f64)?
        .f_ceil()?
        .f_add_scalar(mid as f64)?;
    let bucketed = relative
        .f_to_kind(Kind::Float)?
        .f_where_self(&distance.f_le(mid as f64)?, &log_position.f_mul(&sign)?)?;
    Ok(bucketed.f_to_kind(Kind::Int64)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buckets_match_transformers() {
        // transformers 4.46: build_relative_position(1, 80, bucket_size=32, max_position=128)
        // for query 0, keys 0..80 (printed from torch 2.4).
        let positions = relative_positions(80, 32, 128, tch::Device::Cpu).unwrap();
        let row = Vec::<i64>::try_from(positions.get(0).get(0)).unwrap();
        assert_eq!(row, EXPECTED_ROW0);
        // The last query sees the same buckets with the sign turned.
        let last = Vec::<i64>::try_from(positions.get(0).get(79)).unwrap();
        let mirrored: Vec<i64> = EXPECTED_ROW0.iter().rev().map(|p| -p).collect();
        assert_eq!(last, mirrored);
        // Without buckets the positions are plain differences.
        let plain = relative_positions(3, -1, 128, tch::Device::Cpu).unwrap();
        assert_eq!(
            Vec::<i64>::try_from(plain.flatten(0, -1)).unwrap(),
            [0, -1, -2, 1, 0, -1, 2, 1, 0]
        );
    }

    #[rustfmt::skip]
    const EXPECTED_ROW0: [i64; 80] = [0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16, -17, -17, -18, -18, -18, -19, -19, -19, -20, -20, -20, -21, -21, -21, -21, -22, -22, -22, -22, -22, -23, -23, -23, -23, -23, -23, -24, -24, -24, -24, -24, -24, -25, -25, -25, -25, -25, -25, -25, -26, -26, -26, -26, -26, -26, -26, -26, -27, -27, -27, -27, -27, -27, -27, -27, -27, -27, -28, -28, -28, -28, -28, -28];
}
