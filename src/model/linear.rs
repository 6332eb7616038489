//! The two parameterised building blocks of the encoder: [`Linear`] (a weight matrix, plain or
//! packed for MKL, and a bias) and [`LayerNorm`].
//!
//! A packed [`Linear`] fuses what would otherwise be separate passes over its output into the
//! GEMM or the activation's pass: the residual and bias become the GEMM's starting value, and
//! the intermediate layer's bias is added by the GELU kernel.

use tch::Tensor;

use super::activation::Activation;
use super::params::{Params, Weight};
use crate::cpu::gelu::bias_gelu_in_place;
use crate::cpu::layer_norm::Norm;
use crate::cpu::product::{SliceProduct, Start};
use crate::cpu::team::Session;
use crate::cpu::tensor_values::{f32_values, fresh_f32_values};
use crate::error::{Error, Result};

/// Whether a linear layer's matrix may be packed: the transformer layers' are, the
/// classification head's (one row per text) stay plain.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Packing {
    Packable,
    Plain,
}

pub(super) struct Linear {
    weight: Weight,
    pub(super) bias: Tensor,
}

impl Linear {
    /// The layer `name` (`name.weight`, `[outputs, inputs]`, and `name.bias`).
    pub(super) fn load(
        params: &Params,
        name: &str,
        outputs: i64,
        inputs: i64,
        packing: Packing,
    ) -> Result<Self> {
        let weight_name = format!("{name}.weight");
        let make = |weights: &crate::checkpoint::Weights| {
            weights.tensor_f32(&weight_name, &[outputs, inputs])
        };
        let weight = match packing {
            Packing::Packable => params.matrix(&weight_name, make)?,
            Packing::Plain => Weight::Plain(params.derived(&weight_name, make)?),
        };
        Ok(Self {
            weight,
            bias: params.tensor(&format!("{name}.bias"), &[outputs])?,
        })
    }

    /// Several layers side by side as one (a fused projection): the outputs of each of
    /// `names`, concatenated.
    pub(super) fn load_fused(
        params: &Params,
        names: &[String],
        outputs: i64,
        inputs: i64,
    ) -> Result<Self> {
        let key = format!("{}.weight", names.join("+"));
        let weight = params.matrix(&key, |weights| {
            let parts = names
                .iter()
                .map(|name| weights.tensor_f32(&format!("{name}.weight"), &[outputs, inputs]))
                .collect::<Result<Vec<_>>>()?;
            Ok(Tensor::f_cat(&parts, 0)?)
        })?;
        let bias = params.derived(&format!("{}.bias", names.join("+")), |weights| {
            let parts = names
                .iter()
                .map(|name| weights.tensor_f32(&format!("{name}.bias"), &[outputs]))
                .collect::<Result<Vec<_>>>()?;
            Ok(Tensor::f_cat(&parts, 0)?)
        })?;
        Ok(Self { weight, bias })
    }

    /// Whether its products split into column blocks that a team can run at once (packed f32
    /// or int8).
    pub(super) fn splits(&self) -> bool {
        !matches!(self.weight, Weight::Plain(_))
    }

    /// `x @ weightᵀ` onto what `start` says: the one product of every weight form but plain.
    fn product_onto(&self, x: &Tensor, start: Start<'_>, team: Option<&Session>) -> Result<Tensor> {
        match &self.weight {
            Weight::Plain(weight) => {
                let product = x.f_linear::<&Tensor>(weight, None)?;
                Ok(match start {
                    Start::Nothing => product,
                    Start::Bias(bias) => product.f_add(bias)?,
                    Start::BiasPlus(bias, residual) => product.f_add(bias)?.f_add(residual)?,
                })
            }
            Weight::Packed(packed) => packed.product_onto(x, start, team),
            Weight::Int8(matrix) => matrix.product_onto(x, start, team),
        }
    }

    /// `out (+)= x @ weightᵀ` on slices (`x` `[rows, inputs]`, `out` `[rows, outputs]`, added
    /// to when `accumulate`), for a small pass: packed f32 or int8 weights only.
    ///
    /// # Errors
    /// [`Error::SmallPass`]: plain weights, slices too short for `rows`, or a helper panicked.
    pub(super) fn product_rows(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        accumulate: bool,
        team: Option<&Session>,
    ) -> Result<()> {
        let done = match &self.weight {
            Weight::Packed(matrix) => matrix.product_rows(x, rows, out, accumulate, team),
            Weight::Int8(matrix) => matrix.product_rows(x, rows, out, accumulate, team),
            Weight::Plain(_) => {
                return Err(Error::SmallPass {
                    step: "product",
                    reason: "the layer's weights are neither packed nor int8",
                })
            }
        };
        done.map_err(|error| Error::SmallPass {
            step: "product",
            reason: error.reason(),
        })
    }

    /// The bias's values (f32 on the CPU), for a small pass.
    pub(super) fn bias_values(&self) -> Option<&[f32]> {
        f32_values(&self.bias)
    }

    /// `x @ weightᵀ + bias`; a packed weight's column blocks run at once on `team`'s threads.
    pub(super) fn forward(&self, x: &Tensor, team: Option<&Session>) -> Result<Tensor> {
        match &self.weight {
            Weight::Plain(weight) => Ok(x.f_linear(weight, Some(&self.bias))?),
            _ => self.product_onto(x, Start::Bias(&self.bias), team),
        }
    }

    /// `x` times the weight, without the bias: for a caller that adds it in its own next pass.
    pub(super) fn forward_unbiased(&self, x: &Tensor, team: Option<&Session>) -> Result<Tensor> {
        self.product_onto(x, Start::Nothing, team)
    }

    /// `forward(x) + residual`; packed, the GEMM adds onto `residual + bias`, which saves a
    /// pass over the output.
    pub(super) fn forward_plus(
        &self,
        x: &Tensor,
        residual: &Tensor,
        team: Option<&Session>,
    ) -> Result<Tensor> {
        match &self.weight {
            Weight::Plain(weight) => Ok(x.f_linear(weight, Some(&self.bias))?.f_add(residual)?),
            _ => self.product_onto(x, Start::BiasPlus(&self.bias, residual), team),
        }
    }

    /// `activation` of `forward(x)`. Packed with GELU, the bias is added by the GELU kernel's
    /// pass instead of being copied into the output before the GEMM.
    pub(super) fn forward_activated(
        &self,
        x: &Tensor,
        activation: Activation,
        team: Option<&Session>,
    ) -> Result<Tensor> {
        if let (true, Some(bias), Activation::Gelu) =
            (self.splits(), f32_values(&self.bias), activation)
        {
            let mut out = self.product_onto(x, Start::Nothing, team)?;
            // SAFETY: `out` is the product's result, allocated by it and not yet shared.
            if let Some(values) = unsafe { fresh_f32_values(&mut out) } {
                bias_gelu_in_place(values, bias);
                return Ok(out);
            }
            // SAFETY: the add allocates its result, which nothing else holds.
            return unsafe { Activation::Gelu.apply(out.f_add(&self.bias)?) };
        }
        // SAFETY: `forward` returns a tensor it allocated (a product, or a product plus the
        // bias), which nothing else holds.
        unsafe { activation.apply(self.forward(x, team)?) }
    }
}

pub(super) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// The LayerNorm `name` over `size` features, with the config's epsilon.
    pub(super) fn load(params: &Params, name: &str, size: i64, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: params.tensor(&format!("{name}.weight"), &[size])?,
            bias: params.tensor(&format!("{name}.bias"), &[size])?,
            eps,
        })
    }

    /// Its parameters as slices (f32 on the CPU), for a small pass.
    pub(super) fn norm(&self) -> Option<Norm<'_>> {
        Some(Norm {
            weight: f32_values(&self.weight)?,
            bias: f32_values(&self.bias)?,
            eps: self.eps as f32,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let size = self.weight.size();
        Ok(x.f_layer_norm(size, Some(&self.weight), Some(&self.bias), self.eps, false)?)
    }
}
