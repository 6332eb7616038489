//! Linear layers on MKL's packed GEMM: each weight matrix is packed once, at load.
//!
//! `F.linear` (libtorch's `addmm`) hands MKL a plain weight matrix on every call. MKL then
//! either re-packs it (6% of a batch's time here) or, for the few rows of a single text, runs a
//! "no-copy" kernel that reads it unpacked, at a third of the packed kernel's rate (68% of a
//! single text's time went to that kernel). `cblas_sgemm_pack` does the packing once;
//! `cblas_sgemm_compute` then multiplies any number of rows by the packed matrix.
//!
//! The three functions live in libtorch's bundled MKL (`libtorch_cpu.so` on x86_64). They are
//! looked up at run time, so a libtorch built without MKL still works: [`PackedMatrix::pack`]
//! returns `None` and the caller keeps the plain matrix.
//!
//! Cost: a few milliseconds per matrix at load, and memory: MKL asks for a buffer of 8-20 MB per
//! matrix whatever its size, of which it writes about twice the matrix. The plain weight is
//! dropped. Measured on MiniLM-L6 (24 matrices, 42 MB in f32): 55 MiB more resident after load.

use std::os::raw::c_int;
use std::sync::OnceLock;

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

// MKL's CBLAS constants (mkl_cblas.h).
const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;
const PACKED: c_int = 151;
const B_MATRIX: c_int = 162;

type PackGetSize = unsafe extern "C" fn(c_int, c_int, c_int, c_int) -> usize;
type Pack = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    f32,
    *const f32,
    c_int,
    *mut f32,
);
type Compute = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    *const f32,
    c_int,
    *const f32,
    c_int,
    f32,
    *mut f32,
    c_int,
);

/// MKL's packed-GEMM entry points, if this process's libtorch has them.
struct PackedGemm {
    get_size: PackGetSize,
    pack: Pack,
    compute: Compute,
}

fn packed_gemm() -> Option<&'static PackedGemm> {
    static API: OnceLock<Option<PackedGemm>> = OnceLock::new();
    API.get_or_init(find_packed_gemm).as_ref()
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn find_packed_gemm() -> Option<PackedGemm> {
    let get_size = super::dynamic_symbol(c"cblas_sgemm_pack_get_size")?;
    let pack = super::dynamic_symbol(c"cblas_sgemm_pack")?;
    let compute = super::dynamic_symbol(c"cblas_sgemm_compute")?;
    // SAFETY: these are MKL's CBLAS functions (LP64 interface: 32-bit ints), whose C
    // signatures the three types spell out.
    unsafe {
        Some(PackedGemm {
            get_size: std::mem::transmute::<*mut libc::c_void, PackGetSize>(get_size),
            pack: std::mem::transmute::<*mut libc::c_void, Pack>(pack),
            compute: std::mem::transmute::<*mut libc::c_void, Compute>(compute),
        })
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn find_packed_gemm() -> Option<PackedGemm> {
    None
}

/// Whether this process's libtorch has MKL's packed GEMM (x86_64 builds do), so that
/// [`pack_weights`](crate::EmotionClassifierBuilder::pack_weights) takes effect. Cheap after the
/// first call (three symbol lookups, once).
pub fn mkl_packed_gemm_available() -> bool {
    packed_gemm().is_some()
}

/// A weight matrix `[outputs, inputs]` packed for `x @ weightᵀ`, on the CPU in f32.
pub(crate) struct PackedMatrix {
    /// MKL's packed buffer. libtorch never moves a tensor's storage, as MKL requires.
    buffer: Tensor,
    outputs: c_int,
    inputs: c_int,
    /// The functions that packed it, and that multiply by it.
    api: &'static PackedGemm,
}

impl PackedMatrix {
    /// Packs `weight` (`[outputs, inputs]`, f32, CPU), or `None` when MKL's packed GEMM is not
    /// in this libtorch or the matrix is not f32 on the CPU.
    pub(crate) fn pack(weight: &Tensor) -> Result<Option<Self>> {
        let Some(api) = packed_gemm() else {
            return Ok(None);
        };
        if weight.kind() != Kind::Float || weight.device() != Device::Cpu {
            return Ok(None);
        }
        let (outputs, inputs) = weight.size2()?;
        let (Ok(outputs), Ok(inputs)) = (c_int::try_from(outputs), c_int::try_from(inputs)) else {
            return Ok(None);
        };
        if outputs == 0 || inputs == 0 {
            return Ok(None);
        }
        let weight = weight.f_contiguous()?;
        // SAFETY: a pure size query.
        let bytes = unsafe { (api.get_size)(B_MATRIX, 1, outputs, inputs) };
        let floats = bytes.div_ceil(std::mem::size_of::<f32>());
        let buffer = Tensor::f_empty([to_i64(floats)?], (Kind::Float, Device::Cpu))?;
        // SAFETY: `weight` is a contiguous f32 `[outputs, inputs]` matrix (row-major, leading
        // dimension `inputs`), read as op(B) = weightᵀ; `buffer` holds the `bytes` MKL asked
        // for. Both live through the call.
        unsafe {
            (api.pack)(
                ROW_MAJOR,
                B_MATRIX,
                TRANS,
                1,
                outputs,
                inputs,
                1.0,
                weight.data_ptr() as *const f32,
                inputs,
                buffer.data_ptr() as *mut f32,
            );
        }
        Ok(Some(Self {
            buffer,
            outputs,
            inputs,
            api,
        }))
    }

    /// Another handle on the same packed buffer, for another worker thread: MKL only reads it.
    pub(crate) fn share(&self) -> Self {
        Self {
            buffer: self.buffer.shallow_clone(),
            outputs: self.outputs,
            inputs: self.inputs,
            api: self.api,
        }
    }

    /// `x @ weightᵀ + bias` for `x` of shape `[..., inputs]` (f32, CPU): what `x.linear(weight,
    /// bias)` computes, with the same summation (bias added to the product once, at the end).
    pub(crate) fn linear(&self, x: &Tensor, bias: &Tensor) -> Result<Tensor> {
        self.product_onto(x, Start::Bias(bias))
    }

    /// `x @ weightᵀ` added to what `start` says, in one GEMM (beta = 1, or 0 for
    /// [`Start::Nothing`]); shaped like `x` with `outputs` last.
    pub(crate) fn product_onto(&self, x: &Tensor, start: Start<'_>) -> Result<Tensor> {
        let mut shape = x.size();
        let inputs = i64::from(self.inputs);
        let outputs = i64::from(self.outputs);
        let bias_fits = |bias: &Tensor| bias.size() == [outputs] && bias.kind() == Kind::Float;
        let start_fits = match start {
            Start::Bias(bias) => bias_fits(bias),
            Start::BiasPlus(bias, residual) => {
                bias_fits(bias)
                    && residual.kind() == Kind::Float
                    && residual.device() == Device::Cpu
                    && residual.size().split_last() == Some((&outputs, &shape[..shape.len() - 1]))
            }
            Start::Nothing => true,
        };
        if x.kind() != Kind::Float
            || x.device() != Device::Cpu
            || shape.last() != Some(&inputs)
            || !start_fits
        {
            let reason = if x.kind() != Kind::Float || x.device() != Device::Cpu {
                "not f32 on the CPU"
            } else if shape.last() != Some(&inputs) {
                "its last dimension is not the layer's inputs"
            } else {
                "the bias or residual does not fit the output"
            };
            return Err(Error::PackedLinearInput {
                outputs,
                inputs,
                input: shape,
                reason,
            });
        }
        let rows = shape[..shape.len() - 1].iter().product::<i64>();
        let rows_c = c_int::try_from(rows).map_err(|_| Error::PackedLinearInput {
            outputs,
            inputs,
            input: shape.clone(),
            reason: "too many rows for one GEMM",
        })?;
        if let Some(last) = shape.last_mut() {
            *last = outputs;
        }
        if rows == 0 {
            return Ok(Tensor::f_zeros(&shape, (Kind::Float, Device::Cpu))?);
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
        // SAFETY: `x` is contiguous f32 `[rows, inputs]` (lda = inputs), `out` contiguous f32
        // `[rows, outputs]` (ldc = outputs) and freshly allocated, so it aliases nothing, and
        // `buffer` was packed for `[inputs, outputs]`. All outlive the call. With beta = 0 MKL
        // does not read C, so `empty`'s contents never matter.
        unsafe {
            (self.api.compute)(
                ROW_MAJOR,
                NO_TRANS,
                PACKED,
                rows_c,
                self.outputs,
                self.inputs,
                x.data_ptr() as *const f32,
                self.inputs,
                self.buffer.data_ptr() as *const f32,
                self.inputs,
                beta,
                out.data_ptr() as *mut f32,
                self.outputs,
            );
        }
        Ok(out.f_view(shape.as_slice())?)
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

fn to_i64(n: usize) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::PackedBufferSize { floats: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest difference from libtorch's result, relative to its largest value. MKL's packed
    /// and unpacked kernels sum in different orders: a few f32 ulps apart, up to about 1e-6
    /// over 384-1536 terms (the inputs vary, since tests share libtorch's global generator).
    /// A wrong row, column or bias is off by far more.
    const TOLERANCE: f64 = 5e-6;

    fn max_relative_difference(a: &Tensor, b: &Tensor) -> f64 {
        let scale = b.abs().max().double_value(&[]).max(1.0);
        (a - b).abs().max().double_value(&[]) / scale
    }

    #[test]
    fn packed_linear_computes_what_linear_does_for_any_row_count() {
        assert!(
            mkl_packed_gemm_available(),
            "libtorch's MKL lacks cblas_sgemm_pack"
        );
        tch::manual_seed(7);
        for (outputs, inputs) in [(1152, 384), (384, 1536), (7, 384), (5, 3)] {
            let weight = Tensor::randn([outputs, inputs], (Kind::Float, Device::Cpu));
            let bias = Tensor::randn([outputs], (Kind::Float, Device::Cpu));
            let packed = PackedMatrix::pack(&weight).unwrap().unwrap();
            for rows in [1, 3, 20, 64, 333] {
                let x = Tensor::randn([rows, inputs], (Kind::Float, Device::Cpu));
                let expected = x.linear(&weight, Some(&bias));
                let got = packed.linear(&x, &bias).unwrap();
                assert_eq!(got.size(), [rows, outputs]);
                let difference = max_relative_difference(&got, &expected);
                assert!(
                    difference < TOLERANCE,
                    "[{outputs}, {inputs}] x {rows} rows: relative difference {difference}"
                );
            }
        }
    }

    #[test]
    fn a_residual_start_adds_it_and_no_start_gives_the_bare_product() {
        tch::manual_seed(11);
        let (outputs, inputs) = (384, 1536);
        let weight = Tensor::randn([outputs, inputs], (Kind::Float, Device::Cpu));
        let bias = Tensor::randn([outputs], (Kind::Float, Device::Cpu));
        let packed = PackedMatrix::pack(&weight).unwrap().unwrap();
        for rows in [1, 20, 333] {
            let x = Tensor::randn([rows, inputs], (Kind::Float, Device::Cpu));
            let residual = Tensor::randn([rows, outputs], (Kind::Float, Device::Cpu));
            let kept = residual.copy();
            let plus = packed
                .product_onto(&x, Start::BiasPlus(&bias, &residual))
                .unwrap();
            let expected = x.linear(&weight, Some(&bias)) + &residual;
            assert!(
                max_relative_difference(&plus, &expected) < TOLERANCE,
                "{rows} rows"
            );
            assert!(residual.equal(&kept), "the GEMM wrote into the residual");
            let bare = packed.product_onto(&x, Start::Nothing).unwrap();
            let expected = x.matmul(&weight.tr());
            assert!(
                max_relative_difference(&bare, &expected) < TOLERANCE,
                "{rows} rows"
            );
        }
        // A residual that does not match the output is refused, not read out of bounds.
        let x = Tensor::randn([3, inputs], (Kind::Float, Device::Cpu));
        for wrong in [[3, outputs - 1], [4, outputs]] {
            let residual = Tensor::zeros(wrong, (Kind::Float, Device::Cpu));
            let refused = packed.product_onto(&x, Start::BiasPlus(&bias, &residual));
            assert!(
                matches!(refused, Err(Error::PackedLinearInput { .. })),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn one_row_gets_its_own_output_and_leaves_the_bias_alone() {
        tch::manual_seed(9);
        let weight = Tensor::randn([8, 4], (Kind::Float, Device::Cpu));
        let bias = Tensor::randn([8], (Kind::Float, Device::Cpu));
        let original = bias.copy();
        let packed = PackedMatrix::pack(&weight).unwrap().unwrap();
        let x = Tensor::randn([1, 4], (Kind::Float, Device::Cpu));
        let first = packed.linear(&x, &bias).unwrap();
        assert!(bias.equal(&original), "the GEMM wrote into the bias");
        let second = packed.linear(&x, &bias).unwrap();
        assert!(first.equal(&second));
        assert!(max_relative_difference(&first, &x.linear(&weight, Some(&original))) < TOLERANCE);
    }

    #[test]
    fn packed_linear_keeps_leading_dimensions_and_reads_strided_input() {
        tch::manual_seed(8);
        let weight = Tensor::randn([48, 32], (Kind::Float, Device::Cpu));
        let bias = Tensor::randn([48], (Kind::Float, Device::Cpu));
        let packed = PackedMatrix::pack(&weight).unwrap().unwrap();
        // A transposed (non-contiguous) [2, 5, 32] input.
        let x = Tensor::randn([2, 32, 5], (Kind::Float, Device::Cpu)).transpose(1, 2);
        let got = packed.linear(&x, &bias).unwrap();
        assert_eq!(got.size(), [2, 5, 48]);
        assert!(max_relative_difference(&got, &x.linear(&weight, Some(&bias))) < TOLERANCE);
        let empty = Tensor::zeros([0, 5, 32], (Kind::Float, Device::Cpu));
        assert_eq!(packed.linear(&empty, &bias).unwrap().size(), [0, 5, 48]);
    }

    #[test]
    fn packed_linear_refuses_inputs_it_was_not_packed_for() {
        let weight = Tensor::ones([4, 3], (Kind::Float, Device::Cpu));
        let bias = Tensor::zeros([4], (Kind::Float, Device::Cpu));
        let packed = PackedMatrix::pack(&weight).unwrap().unwrap();
        let wrong_width = Tensor::ones([2, 5], (Kind::Float, Device::Cpu));
        let wrong_kind = Tensor::ones([2, 3], (Kind::BFloat16, Device::Cpu));
        let wrong_bias = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        for (x, bias) in [
            (&wrong_width, &bias),
            (&wrong_kind, &bias),
            (&weight, &wrong_bias),
        ] {
            assert!(matches!(
                packed.linear(x, bias),
                Err(Error::PackedLinearInput { .. })
            ));
        }
    }

    #[test]
    fn only_f32_cpu_matrices_are_packed() {
        let bf16 = Tensor::ones([4, 3], (Kind::BFloat16, Device::Cpu));
        assert!(PackedMatrix::pack(&bf16).unwrap().is_none());
        let empty = Tensor::ones([0, 3], (Kind::Float, Device::Cpu));
        assert!(PackedMatrix::pack(&empty).unwrap().is_none());
    }
}
