//! CPU kernels and process-level CPU settings the forward pass leans on. Tensor-free where it
//! can be: the kernels work on `f32` slices and are tested against their formulas.
//!
//! - [`gelu`]: exact GELU (and bias + GELU) over a slice, vectorized with AVX2+FMA where the
//!   CPU has them.
//! - [`mkl`]: the Intel MKL inside libtorch: weight matrices packed once for its packed GEMM,
//!   and its vendor check answered "Intel" so AMD CPUs get the same kernels.
//! - [`few_rows`]: an AVX-512 f32 GEMM that beats MKL's on products of a few rows (a single
//!   text), which the packed matrices use for those.
//! - [`int8`]: int8 matrix products (weights per channel, activations per row) with AVX-512
//!   VNNI, AVX2 or portable kernels.
//! - [`attention`], [`layer_norm`], [`softmax`]: a small pass's attention (each text over its
//!   own tokens, no padding), LayerNorm and softmax on f32 rows, in one call each where
//!   libtorch's ops cost more in dispatch than in arithmetic on a single text's rows.
//! - [`features`]: whether the CPU has AVX2 and FMA, which the vectorized kernels need.
//! - [`lanes`]: 16-lane reductions over f32 that vectorize (softmax, LayerNorm, int8).
//! - [`product`]: the seam between tensors and the products on slices ([`mkl`]'s packed f32
//!   and [`int8`]): one trait, one tensor glue.
//! - [`product_error`]: why one of these kernels or a product did not run to the end.
//! - [`tensor_values`]: a contiguous f32 CPU tensor's values as a slice, for those kernels.
//! - [`allocator`]: glibc malloc settings for libtorch's allocation pattern (opt-in).
//! - [`team`]: helper threads that run a pass's column blocks of a product at once, handed
//!   work by spinning (a single text's pass splits its GEMMs across the cores this way).

pub(crate) mod allocator;
pub(crate) mod attention;
pub(crate) mod features;
pub(crate) mod few_rows;
pub(crate) mod gelu;
pub(crate) mod int8;
pub(crate) mod lanes;
pub(crate) mod layer_norm;
pub(crate) mod mkl;
pub(crate) mod product;
pub(crate) mod product_error;
pub(crate) mod softmax;
pub(crate) mod team;
pub(crate) mod tensor_values;
#[cfg(test)]
pub(crate) mod test_values;
