//! A small pass (a single text, or a few texts from concurrent callers) through the layers on
//! plain f32 rows, with the crate's own kernels and no libtorch op between embeddings and head.
//!
//! On a single text's ~20 rows the arithmetic between the products is tiny, and libtorch's
//! ~35 ops a layer cost more in dispatch, allocation and view bookkeeping than they compute:
//! they were half the worker's time in an int8 single-text pass, while the team's helper sat
//! idle. Here each layer is four products (fused QKV, attention output, intermediate, output)
//! and four row kernels ([`attend`], LayerNorm, bias + GELU, LayerNorm), every one split
//! among the pass's team. Each text attends over its own tokens, so a pass of several texts
//! carries no padding at all. The function is the same as [`Layer::forward`]'s (the parity
//! tests run both); only the order of float sums differs.
//!
//! Larger passes keep the tensor path: MKL's batched GEMMs beat these loops on long
//! sequences, and dispatch is a small share of a batch's time.

use std::ops::Range;

use super::layer::Layer;
use super::linear::{LayerNorm, Linear};
use crate::cpu::attention::{attend, Heads, Queries};
use crate::cpu::gelu::bias_gelu_in_place;
use crate::cpu::layer_norm::layer_norm_in_place;
use crate::cpu::team::{split_rows, Session};
use crate::error::{Error, Result};

/// Passes of at most this many real tokens take the small path (when the layers' weights
/// split and the activation is GELU).
pub(super) const SMALL_PASS_TOKENS: usize = 64;

/// What every layer of one small pass shares.
pub(super) struct RowsPass<'a> {
    /// Each text's tokens among the rows, in order.
    pub(super) texts: Vec<Range<usize>>,
    pub(super) heads: Heads,
    pub(super) team: Option<&'a Session<'a>>,
}

impl RowsPass<'_> {
    fn hidden(&self) -> usize {
        self.heads.heads * self.heads.head_size
    }

    fn tokens(&self) -> usize {
        self.texts.last().map_or(0, |text| text.end)
    }
}

impl Layer {
    /// The layer on rows `x` (`[tokens, hidden]`): every token's output, or with
    /// [`Queries::First`] each text's first token's only (`[texts, hidden]`).
    pub(super) fn forward_rows(
        &self,
        x: &[f32],
        pass: &RowsPass,
        queries: Queries,
    ) -> Result<Vec<f32>> {
        let (hidden, tokens, team) = (pass.hidden(), pass.tokens(), pass.team);
        let mut qkv = biased(&self.qkv, tokens, None)?;
        self.qkv.product_rows(x, tokens, &mut qkv, true, team)?;
        let rows = match queries {
            Queries::Every => tokens,
            Queries::First => pass.texts.len(),
        };
        let mut context = vec![0f32; rows * hidden];
        attend(&qkv, &pass.texts, pass.heads, queries, &mut context, team).map_err(|error| {
            Error::SmallPass {
                step: "attention",
                reason: error.reason(),
            }
        })?;
        let firsts: Vec<f32>;
        let residual = match queries {
            Queries::Every => x,
            Queries::First => {
                firsts = pass
                    .texts
                    .iter()
                    .filter_map(|text| x.get(text.start * hidden..(text.start + 1) * hidden))
                    .flatten()
                    .copied()
                    .collect();
                &firsts
            }
        };
        let mut attended = biased(&self.attention_output, rows, Some(residual))?;
        self.attention_output
            .product_rows(&context, rows, &mut attended, true, team)?;
        normalize(&self.attention_norm, &mut attended, team)?;
        let bias = bias_of(&self.intermediate)?;
        let intermediate = bias.len();
        let mut inner = vec![0f32; rows * intermediate];
        self.intermediate
            .product_rows(&attended, rows, &mut inner, false, team)?;
        split_rows(team, &mut inner, intermediate, |run| {
            bias_gelu_in_place(run, bias);
        })
        .map_err(|_| Error::SmallPass {
            step: "GELU",
            reason: "a helper thread panicked",
        })?;
        let mut out = biased(&self.output, rows, Some(&attended))?;
        self.output
            .product_rows(&inner, rows, &mut out, true, team)?;
        normalize(&self.output_norm, &mut out, team)?;
        Ok(out)
    }
}

/// `rows` rows of `linear`'s bias, each plus its row of `residual` (`[rows, outputs]`) if
/// given: the start its product is added onto.
fn biased(linear: &Linear, rows: usize, residual: Option<&[f32]>) -> Result<Vec<f32>> {
    let bias = bias_of(linear)?;
    let width = bias.len();
    match residual {
        None => Ok(bias.repeat(rows)),
        Some(residual) if residual.len() == rows * width => {
            let mut start = residual.to_vec();
            for row in start.chunks_exact_mut(width.max(1)) {
                for (value, b) in row.iter_mut().zip(bias) {
                    *value += b;
                }
            }
            Ok(start)
        }
        Some(_) => Err(Error::SmallPass {
            step: "product",
            reason: "the residual does not fit the output",
        }),
    }
}

/// `linear`'s bias as a slice.
fn bias_of(linear: &Linear) -> Result<&[f32]> {
    linear.bias_values().ok_or(Error::SmallPass {
        step: "product",
        reason: "the bias is not f32 on the CPU",
    })
}

/// `values` (rows of the norm's width) through `norm`, in place, rows split among `team`.
fn normalize(norm: &LayerNorm, values: &mut [f32], team: Option<&Session>) -> Result<()> {
    let norm = norm.norm().ok_or(Error::SmallPass {
        step: "LayerNorm",
        reason: "its parameters are not f32 on the CPU",
    })?;
    split_rows(team, values, norm.weight.len(), |run| {
        layer_norm_in_place(run, norm);
    })
    .map_err(|_| Error::SmallPass {
        step: "LayerNorm",
        reason: "a helper thread panicked",
    })
}
