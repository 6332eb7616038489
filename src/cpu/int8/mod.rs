//! Int8 matrix products for [`Precision::Int8`](crate::Precision::Int8): weights quantized per
//! output channel once, activations per row on every call, products summed in int32 and
//! scaled back to f32. Pure Rust on slices, no tensors.
//!
//! - `quantize`: the symmetric quantization both sides use.
//! - `kernels`: the GEMM kernels (AVX-512 VNNI, AVX2, portable), picked at run time.
//! - `matrix`: [`Int8Matrix`], a packed int8 weight matrix and its product.
//!
//! libtorch 2.4's bundled MKL does not export `cblas_gemm_s8u8s32`, and the fbgemm int8
//! linear that tch exposes takes one scale per tensor, so the crate has its own kernels.

mod kernels;
mod matrix;
mod quantize;

pub(crate) use kernels::Kernel;
pub(crate) use matrix::Int8Matrix;
