//! A weight matrix quantized to int8 once, at load, and multiplied by f32 activations that are
//! quantized per row on every call.

use std::sync::Arc;

use super::kernels::{Activations, Kernel, PackedWeights, Product, GROUP};
use super::quantize::{max_abs, quantize, quantize_weights, scale_for};
use crate::cpu::product::SliceProduct;
use crate::cpu::product_error::ProductError;
use crate::cpu::team::{split, Session};

/// `[outputs, inputs]` int8 weights with one scale per output, packed for this CPU's kernel.
/// Cheap to clone (the packed data is shared).
#[derive(Clone)]
pub(crate) struct Int8Matrix {
    kernel: Kernel,
    outputs: usize,
    inputs: usize,
    /// Inputs padded to the kernel's step.
    depth: usize,
    weights: Arc<PackedWeights>,
    /// Per output, padded to whole groups (padding scales are 0).
    column_scales: Arc<[f32]>,
    /// `Σ_k q[j, k]` per output, padded likewise.
    column_sums: Arc<[i32]>,
}

impl Int8Matrix {
    /// Quantizes `weights` (`[outputs, inputs]`, row-major f32) per output row for this CPU's
    /// kernel.
    pub(crate) fn new(weights: &[f32], outputs: usize, inputs: usize) -> Self {
        Self::with_kernel(weights, outputs, inputs, Kernel::detect())
    }

    /// The same for a given kernel (tests compare kernels). A kernel this CPU lacks falls
    /// back to the portable one, so no unchecked `#[target_feature]` code can be reached.
    pub(crate) fn with_kernel(
        weights: &[f32],
        outputs: usize,
        inputs: usize,
        kernel: Kernel,
    ) -> Self {
        let kernel = if kernel.available() {
            kernel
        } else {
            Kernel::Portable
        };
        let (values, scales) = quantize_weights(weights, inputs);
        let step = kernel.step();
        let depth = inputs.div_ceil(step) * step;
        let groups = outputs.div_ceil(GROUP);
        let at = |column: usize, k: usize| -> i8 {
            if column < outputs && k < inputs {
                values[column * inputs + k]
            } else {
                0
            }
        };
        // `[group][depth / step][16][step]`.
        let order = (0..groups).flat_map(|group| {
            (0..depth / step).flat_map(move |s| {
                (0..GROUP)
                    .flat_map(move |c| (0..step).map(move |t| (group * GROUP + c, s * step + t)))
            })
        });
        let packed = match kernel {
            Kernel::Vnni512 | Kernel::Portable => {
                PackedWeights::Bytes(order.map(|(column, k)| at(column, k)).collect())
            }
            Kernel::Avx2 => {
                PackedWeights::Wide(order.map(|(column, k)| i16::from(at(column, k))).collect())
            }
        };
        let mut column_scales = scales;
        column_scales.resize(groups * GROUP, 0.0);
        let mut column_sums: Vec<i32> = values
            .chunks(inputs.max(1))
            .map(|row| row.iter().map(|&q| i32::from(q)).sum())
            .collect();
        column_sums.resize(groups * GROUP, 0);
        Self {
            kernel,
            outputs,
            inputs,
            depth,
            weights: Arc::new(packed),
            column_scales: column_scales.into(),
            column_sums: column_sums.into(),
        }
    }

    /// Each row of `x` quantized with its own scale, in the kernel's format, padded to the
    /// depth.
    fn quantize_rows(&self, x: &[f32], rows: usize) -> (Activations, Vec<f32>) {
        let (inputs, depth) = (self.inputs, self.depth);
        let mut scales = Vec::with_capacity(rows);
        let activations = match self.kernel {
            Kernel::Vnni512 => {
                let mut values = vec![128u8; rows * depth];
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `kernel` is only ever an available one (`with_kernel`), and
                // `Kernel::Vnni512` is available only with AVX-512F/BW, AVX2 and FMA.
                unsafe {
                    quantize_offset_avx512(x, inputs, depth, &mut values, &mut scales);
                }
                #[cfg(not(target_arch = "x86_64"))]
                quantize_into(x, inputs, depth, &mut values, &mut scales, |q| {
                    (q + 128) as u8
                });
                Activations::Offset(values)
            }
            Kernel::Avx2 => {
                let mut values = vec![0i16; rows * depth];
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `kernel` is only ever an available one (`with_kernel`), and
                // `Kernel::Avx2` is available only with AVX2 and FMA.
                unsafe {
                    quantize_wide_avx2(x, inputs, depth, &mut values, &mut scales);
                }
                #[cfg(not(target_arch = "x86_64"))]
                quantize_into(x, inputs, depth, &mut values, &mut scales, |q| q as i16);
                Activations::Wide(values)
            }
            Kernel::Portable => {
                let mut values = vec![0i8; rows * depth];
                quantize_into(x, inputs, depth, &mut values, &mut scales, |q| q as i8);
                Activations::Plain(values)
            }
        };
        (activations, scales)
    }
}

impl SliceProduct for Int8Matrix {
    fn outputs(&self) -> usize {
        self.outputs
    }

    fn inputs(&self) -> usize {
        self.inputs
    }

    /// `out (+)= x @ weightᵀ` for `rows` rows of `x` (`[rows, inputs]`) into `out`
    /// (`[rows, outputs]`): added to `out` when `accumulate`, else stored. With a `team`, the
    /// column groups are split among its threads.
    ///
    /// # Errors
    /// [`ProductError`]: `x` or `out` too short for `rows` (nothing written), or a helper's
    /// share panicked.
    fn product_rows(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        accumulate: bool,
        team: Option<&Session>,
    ) -> Result<(), ProductError> {
        ProductError::check_lengths(x, out, rows, self.inputs, self.outputs)?;
        if rows == 0 || self.outputs == 0 {
            return Ok(());
        }
        let (activations, row_scales) = self.quantize_rows(x, rows);
        let product = Product {
            rows,
            activations: &activations,
            row_scales: &row_scales,
            weights: &self.weights,
            column_scales: &self.column_scales,
            column_sums: &self.column_sums,
            outputs: self.outputs,
            out: out.as_mut_ptr(),
            accumulate,
        };
        // SAFETY: `out` and `x` hold `rows` rows (checked); `activations` were made for this
        // matrix's depth and kernel; `split` gives threads disjoint groups, so no two write
        // one column; `product` outlives the split.
        let run = |first, end| unsafe { product.run(self.kernel, self.depth, first, end) };
        Ok(split(team, self.outputs.div_ceil(GROUP), run)?)
    }
}

/// Quantizes each `inputs`-wide row of `x` into the `depth`-wide rows of `out` (as many as
/// `out` has), converting each value with `convert`, and pushes each row's scale.
#[inline(always)]
fn quantize_into<T>(
    x: &[f32],
    inputs: usize,
    depth: usize,
    out: &mut [T],
    scales: &mut Vec<f32>,
    convert: impl Fn(i32) -> T,
) {
    for (row, out) in x.chunks(inputs.max(1)).zip(out.chunks_mut(depth.max(1))) {
        let scale = scale_for(max_abs(row));
        let inverse = 1.0 / scale;
        for (v, q) in row.iter().zip(out.iter_mut()) {
            *q = convert(quantize(*v, inverse));
        }
        scales.push(scale);
    }
}

/// [`quantize_into`] as `q + 128` bytes, vectorized for AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F, AVX-512BW, AVX2 and FMA ([`Kernel::Vnni512`]'s `available`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
unsafe fn quantize_offset_avx512(
    x: &[f32],
    inputs: usize,
    depth: usize,
    out: &mut [u8],
    scales: &mut Vec<f32>,
) {
    quantize_into(x, inputs, depth, out, scales, |q| (q + 128) as u8);
}

/// [`quantize_into`] as int16, vectorized for AVX2.
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`Kernel::Avx2`]'s `available`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_wide_avx2(
    x: &[f32],
    inputs: usize,
    depth: usize,
    out: &mut [i16],
    scales: &mut Vec<f32>,
) {
    quantize_into(x, inputs, depth, out, scales, |q| q as i16);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_values::{product_f64, seeded as random};

    fn reference(x: &[f32], w: &[f32], rows: usize, outputs: usize, inputs: usize) -> Vec<f32> {
        let product = product_f64(x, w, rows, outputs, inputs);
        product.into_iter().map(|v| v as f32).collect()
    }

    const KERNELS: [Kernel; 3] = [Kernel::Vnni512, Kernel::Avx2, Kernel::Portable];

    #[test]
    fn every_kernel_is_close_to_the_f32_product_and_all_agree() {
        let available: Vec<Kernel> = KERNELS.into_iter().filter(|k| k.available()).collect();
        assert!(available.contains(&Kernel::Portable));
        let team = crate::cpu::team::Team::new(1, || ()).expect("a helper thread");
        let passes = std::sync::atomic::AtomicUsize::new(1);
        let session = team.try_begin(&passes).expect("the team is free");
        for (seed, (rows, outputs, inputs)) in [
            (1, 1, 1),
            (19, 384, 1536),
            (5, 1152, 384),
            (7, 37, 29),
            (64, 50, 3),
        ]
        .into_iter()
        .enumerate()
        {
            let x = random(seed as u64 * 2 + 1, rows * inputs);
            let w = random(seed as u64 * 2 + 2, outputs * inputs);
            let want = reference(&x, &w, rows, outputs, inputs);
            // Each product's error is bounded by its terms: half a step of x times |w| plus
            // half a step of w times |x|, summed over the inputs (inputs here are within 1).
            let bound = inputs as f32 * (1.0 / 127.0) * 1.01 + 1e-5;
            let mut results = Vec::new();
            for &kernel in &available {
                let matrix = Int8Matrix::with_kernel(&w, outputs, inputs, kernel);
                for team in [None, Some(&session)] {
                    let mut got = vec![f32::NAN; rows * outputs];
                    matrix
                        .product_rows(&x, rows, &mut got, false, team)
                        .unwrap();
                    let worst = got
                        .iter()
                        .zip(&want)
                        .map(|(g, w)| (g - w).abs())
                        .fold(0f32, f32::max);
                    assert!(
                        worst <= bound,
                        "{kernel:?} [{rows}x{inputs}] x [{outputs}]: off by {worst} > {bound}"
                    );
                    // Added onto what `out` held.
                    let mut added = vec![1f32; rows * outputs];
                    matrix
                        .product_rows(&x, rows, &mut added, true, team)
                        .unwrap();
                    for (a, g) in added.iter().zip(&got) {
                        assert!((a - (g + 1.0)).abs() <= 1e-5 * (1.0 + g.abs()));
                    }
                    results.push((kernel, got));
                }
            }
            // The integer sums are exact, so kernels differ only in the last float bits.
            let (first_kernel, first) = &results[0];
            for (kernel, got) in &results[1..] {
                for (a, b) in first.iter().zip(got) {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
                        "{first_kernel:?} {a} vs {kernel:?} {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_detected_kernel_is_available_and_non_finite_rows_do_not_spread() {
        assert!(Kernel::detect().available());
        let w = random(9, 4 * 8);
        let matrix = Int8Matrix::new(&w, 4, 8);
        let mut x = random(10, 2 * 8);
        x[3] = f32::NAN;
        let mut out = vec![0f32; 8];
        matrix.product_rows(&x, 2, &mut out, false, None).unwrap();
        // NaN quantizes to 0; every output stays finite.
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
        // Buffers shorter than the rows asked for are refused, untouched.
        let mut short = vec![7f32; 7];
        assert_eq!(
            matrix.product_rows(&x, 2, &mut short, false, None),
            Err(ProductError::TooShort)
        );
        assert_eq!(
            matrix.product_rows(&x[..15], 2, &mut out, false, None),
            Err(ProductError::TooShort)
        );
        assert!(short.iter().all(|&v| v == 7.0));
    }
}
