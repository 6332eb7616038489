//! The one seam between a layer's tensors and the crate's products on slices.
//!
//! A weight matrix that multiplies on slices ([`PackedMatrix`](crate::cpu::mkl::PackedMatrix),
//! f32 on MKL's packed GEMM or the few-row kernel; [`Int8Matrix`](crate::cpu::int8::Int8Matrix))
//! implements [`SliceProduct::product_rows`]; [`SliceProduct::product_onto`] is then the same
//! tensor glue for every one of them: it checks the input and the [`Start`], makes the output
//! tensor, runs the slice product on their values and shapes the result.

use tch::{Device, Kind, Tensor};

use crate::cpu::product_error::ProductError;
use crate::cpu::team::Session;
use crate::cpu::tensor_values::{f32_values, fresh_f32_values};
use crate::error::{Error, Result};

/// A weight matrix `[outputs, inputs]` that computes `x @ weightᵀ` on slices.
pub(crate) trait SliceProduct {
    /// The matrix's outputs (rows of the weight).
    fn outputs(&self) -> usize;

    /// The matrix's inputs (columns of the weight).
    fn inputs(&self) -> usize;

    /// `out (+)= x @ weightᵀ` on slices: `x` is `[rows, inputs]`, `out` `[rows, outputs]`,
    /// added to when `accumulate`, else overwritten; with a `team`, split over its threads.
    ///
    /// # Errors
    /// [`ProductError`]: a slice too short for `rows` (nothing written), more rows than the
    /// kernel takes, or a helper's share panicked.
    fn product_rows(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        accumulate: bool,
        team: Option<&Session>,
    ) -> Result<(), ProductError>;

    /// `x @ weightᵀ` added to what `start` says, for `x` of shape `[..., inputs]` (f32, CPU);
    /// shaped like `x` with `outputs` last.
    ///
    /// # Errors
    /// [`Error::PackedLinearInput`] naming what does not fit, or why the product stopped.
    fn product_onto(&self, x: &Tensor, start: Start<'_>, team: Option<&Session>) -> Result<Tensor> {
        let (Ok(outputs), Ok(inputs)) =
            (i64::try_from(self.outputs()), i64::try_from(self.inputs()))
        else {
            return Err(Error::PackedLinearInput {
                outputs: i64::MAX,
                inputs: i64::MAX,
                input: x.size(),
                reason: "the layer is too large",
            });
        };
        Output::product(x, start, outputs, inputs, |x, rows, out, accumulate| {
            self.product_rows(x, rows, out, accumulate, team)
        })
    }
}

/// What a packed GEMM's output starts as before the product is added to it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start<'a> {
    /// The bias (`[outputs]`) on every row: a linear layer.
    Bias(&'a Tensor),
    /// `residual + bias`, the residual shaped like the output: a linear layer and the residual
    /// connection after it in one pass over the output.
    BiasPlus(&'a Tensor, &'a Tensor),
    /// Nothing: the bare product, for a caller that adds the bias in its own next pass.
    Nothing,
}

/// A product's operands, checked, and its output tensor, made from its [`Start`]: the tensor
/// side of every slice-level product (packed f32 and int8, through [`Output::product`]).
struct Output {
    /// The input, contiguous `[rows, inputs]` (f32, CPU).
    x: Tensor,
    /// The output `[rows, outputs]`, contiguous, freshly allocated (it aliases nothing),
    /// holding the start (or undefined values when `beta` is 0).
    out: Tensor,
    /// 1 when the product is to be added to `out`, 0 when it replaces it.
    beta: f32,
    rows: i64,
    /// The result's shape: `x`'s with `outputs` last.
    shape: Vec<i64>,
}

impl Output {
    /// `x @ weightᵀ` onto what `start` says, for a layer of `outputs` by `inputs` whose
    /// product on slices is `product(x, rows, out, accumulate)`: checks the operands, makes
    /// the output tensor, runs the product on their values and shapes the result like `x`
    /// with `outputs` last (zeros for an input without rows).
    ///
    /// # Errors
    /// [`Error::PackedLinearInput`] naming what does not fit, or why the product stopped.
    fn product(
        x: &Tensor,
        start: Start<'_>,
        outputs: i64,
        inputs: i64,
        product: impl FnOnce(&[f32], usize, &mut [f32], bool) -> Result<(), ProductError>,
    ) -> Result<Tensor> {
        let Some(Self {
            x: input,
            mut out,
            beta,
            rows,
            shape,
        }) = Self::for_product(x, start, outputs, inputs)?
        else {
            return Self::no_rows(x, outputs);
        };
        let refused = |reason| Error::PackedLinearInput {
            outputs,
            inputs,
            input: x.size(),
            reason,
        };
        // `for_product` made both contiguous f32 CPU tensors of `rows > 0` rows; `out` is fresh.
        let values = f32_values(&input).ok_or_else(|| refused("not contiguous f32 on the CPU"))?;
        // SAFETY: `out` was made by `for_product` for this product alone and is not shared yet.
        let results = unsafe { fresh_f32_values(&mut out) }
            .ok_or_else(|| refused("not contiguous f32 on the CPU"))?;
        let rows = usize::try_from(rows).unwrap_or(0);
        product(values, rows, results, beta != 0.0).map_err(|error| refused(error.reason()))?;
        Ok(out.f_view(shape.as_slice())?)
    }

    /// Checks `x` (`[..., inputs]`, f32 on the CPU) and `start` against a layer's sizes and
    /// makes the output; `None` for an input without rows.
    ///
    /// # Errors
    /// [`Error::PackedLinearInput`] naming what does not fit.
    fn for_product(
        x: &Tensor,
        start: Start<'_>,
        outputs: i64,
        inputs: i64,
    ) -> Result<Option<Self>> {
        let input = x.size();
        let bias_fits = |bias: &Tensor| bias.size() == [outputs] && bias.kind() == Kind::Float;
        let start_fits = match start {
            Start::Bias(bias) => bias_fits(bias),
            Start::BiasPlus(bias, residual) => {
                bias_fits(bias)
                    && residual.kind() == Kind::Float
                    && residual.device() == Device::Cpu
                    && residual.size().split_last() == Some((&outputs, &input[..input.len() - 1]))
            }
            Start::Nothing => true,
        };
        if x.kind() != Kind::Float
            || x.device() != Device::Cpu
            || input.last() != Some(&inputs)
            || !start_fits
        {
            let reason = if x.kind() != Kind::Float || x.device() != Device::Cpu {
                "not f32 on the CPU"
            } else if input.last() != Some(&inputs) {
                "its last dimension is not the layer's inputs"
            } else {
                "the bias or residual does not fit the output"
            };
            return Err(Error::PackedLinearInput {
                outputs,
                inputs,
                input,
                reason,
            });
        }
        let rows = input[..input.len() - 1].iter().product::<i64>();
        let shape = Self::shape_of(x, outputs);
        if rows == 0 {
            return Ok(None);
        }
        let x = x.f_contiguous()?;
        // C is always a new tensor the GEMM may write: `repeat` and an out-of-place `add`
        // allocate (`expand(..).contiguous()` of one row would be the bias tensor itself, and the
        // GEMM would write into the bias).
        let (out, beta) = match start {
            Start::Bias(bias) => (bias.f_unsqueeze(0)?.f_repeat([rows, 1])?, 1.0),
            Start::BiasPlus(bias, residual) => (
                residual
                    .f_reshape([rows, outputs])?
                    .f_add(bias)?
                    .f_contiguous()?,
                1.0,
            ),
            Start::Nothing => (
                Tensor::f_empty([rows, outputs], (Kind::Float, Device::Cpu))?,
                0.0,
            ),
        };
        Ok(Some(Self {
            x,
            out,
            beta,
            rows,
            shape,
        }))
    }

    /// The product of an input without rows (for which `for_product` gives `None`): zeros
    /// shaped like `x` with `outputs` last.
    fn no_rows(x: &Tensor, outputs: i64) -> Result<Tensor> {
        Ok(Tensor::f_zeros(
            Self::shape_of(x, outputs).as_slice(),
            (Kind::Float, Device::Cpu),
        )?)
    }

    /// `x`'s shape with its last dimension replaced by `outputs`.
    fn shape_of(x: &Tensor, outputs: i64) -> Vec<i64> {
        let mut shape = x.size();
        if let Some(last) = shape.last_mut() {
            *last = outputs;
        }
        shape
    }
}
