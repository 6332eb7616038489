//! An f32 GEMM for products of a few rows (a single text's pass), in Rust with AVX-512.
//!
//! A single text's 19 rows against MiniLM's six layers of f32 weights (42 MB, more than the
//! L3) are bound by how fast the weights stream in, not by arithmetic. MKL's kernel for so few
//! rows on its packed matrices took 5.9-6.4 ms for the 24 products of one pass (one thread,
//! Zen 4); this one, reading weights stored `[group of 16 columns][k][16]` in order, 4.3-4.8
//! ms, and at 1-8 rows half of MKL's time. From about 40 rows on the two are even and MKL,
//! tuned for each CPU, keeps the larger products ([`FEW_ROWS`]). Without AVX-512 the MKL path
//! runs for every size (no measurement yet says an AVX2 version would win).
//!
//! Each 4-row by 64-column tile keeps 16 accumulators in registers; a step over `k` loads the
//! four 16-column weight vectors once and broadcasts each row's input. The sum over `k` is in
//! order with fused multiply-adds, the same as MKL's kernel for these shapes gave (bit-equal
//! in the measurements).
//!
//! Weights that are all f16 values (a checkpoint saved in f16, like the crate's emotion
//! models) are stored as f16 and widened in the kernel (`vcvtph2ps`): the same products bit
//! for bit, from half the bytes (MiniLM: 21 MB, which fits a 32 MB L3). At ~20 rows the
//! kernel is then mostly bound by the FMAs themselves (one 16-lane FMA a cycle on Zen 4:
//! about 2.1 ms for a 20-token MiniLM pass on two cores); single-text p50 went 4.2-5.2 ->
//! 3.7-4.0 ms in alternating runs.

use std::sync::Arc;

/// Products with at most this many rows take this kernel (where the CPU has AVX-512).
pub(crate) const FEW_ROWS: usize = 32;

/// Columns per group: one 512-bit register of f32.
const GROUP: usize = 16;

/// A weight matrix `[outputs, inputs]` stored for this kernel: `[group][inputs][16]`, the
/// last group padded with zero columns. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct FewRowsMatrix {
    values: Values,
    outputs: usize,
    inputs: usize,
}

/// The stored weights: as f16 when every one of them is an f16 value exactly (a checkpoint
/// saved in f16, as the crate's emotion models are), else as f32. The products are the same
/// either way (the kernel widens each f16 to the f32 it came from); f16 halves the bytes a
/// single text's pass streams, which is what bounds it (MiniLM: 21 MB, inside a 32 MB L3,
/// instead of 42 MB).
#[derive(Clone)]
enum Values {
    F32(Arc<[f32]>),
    F16(Arc<[u16]>),
}

impl FewRowsMatrix {
    /// `weights` (`[outputs, inputs]`, row-major) in this kernel's layout, or `None` when the
    /// CPU lacks AVX-512 (then nothing is stored).
    pub(crate) fn new(weights: &[f32], outputs: usize, inputs: usize) -> Option<Self> {
        if !available() || weights.len() != outputs * inputs {
            return None;
        }
        let exact_in_f16 = weights
            .iter()
            .all(|&w| half::f16::from_f32(w).to_f32() == w);
        Some(Self::stored(weights, outputs, inputs, exact_in_f16))
    }

    /// `weights` in this kernel's layout, as f16 if `as_f16` (which must then hold them
    /// exactly) else as f32.
    fn stored(weights: &[f32], outputs: usize, inputs: usize, as_f16: bool) -> Self {
        let values = if as_f16 {
            Values::F16(in_kernel_order(weights, outputs, inputs, |w| {
                half::f16::from_f32(w).to_bits()
            }))
        } else {
            Values::F32(in_kernel_order(weights, outputs, inputs, |w| w))
        };
        Self {
            values,
            outputs,
            inputs,
        }
    }

    /// Whether the weights are stored as f16.
    #[cfg(test)]
    fn stored_as_f16(&self) -> bool {
        matches!(self.values, Values::F16(_))
    }

    /// How many 16-column groups: the units [`product`](Self::product) splits over threads.
    pub(crate) fn groups(&self) -> usize {
        self.outputs.div_ceil(GROUP)
    }

    /// `out (+)= x @ weightᵀ` for the columns of groups `first..end`: `x` is `[rows, inputs]`,
    /// `out` points at `[rows, outputs]`; added to `out` when `accumulate`, else stored.
    ///
    /// # Safety
    /// `x` must hold `rows * inputs` floats and `out` point at `rows * outputs` writable
    /// floats of which no other thread writes these groups' columns during the call;
    /// `end <= groups()`.
    pub(crate) unsafe fn product(
        &self,
        x: &[f32],
        rows: usize,
        out: *mut f32,
        accumulate: bool,
        first: usize,
        end: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `new` made this matrix only on a CPU with AVX-512F; the rest is the caller's
        // contract.
        unsafe {
            match &self.values {
                Values::F32(values) => avx512::product(
                    self,
                    avx512::F32Weights(values.as_ptr()),
                    x,
                    rows,
                    out,
                    accumulate,
                    first,
                    end,
                ),
                Values::F16(values) => avx512::product(
                    self,
                    avx512::F16Weights(values.as_ptr()),
                    x,
                    rows,
                    out,
                    accumulate,
                    first,
                    end,
                ),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (x, rows, out, accumulate, first, end);
    }
}

/// `weights` (`[outputs, inputs]`) as `[group][inputs][16]`, each value through `convert`,
/// padding columns zero.
fn in_kernel_order<T: Copy + Default>(
    weights: &[f32],
    outputs: usize,
    inputs: usize,
    convert: impl Fn(f32) -> T,
) -> Arc<[T]> {
    let groups = outputs.div_ceil(GROUP);
    let mut values = vec![T::default(); groups * inputs * GROUP];
    for (column, row) in weights.chunks(inputs.max(1)).enumerate() {
        let (group, lane) = (column / GROUP, column % GROUP);
        for (k, w) in row.iter().enumerate() {
            values[(group * inputs + k) * GROUP + lane] = convert(*w);
        }
    }
    values.into()
}

/// Whether this CPU runs the kernel.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{FewRowsMatrix, GROUP};

    /// Where a 16-column group's weights for one `k` are, and how they load as f32.
    pub(super) trait Weights: Copy {
        /// The 16 weights at `offset` (in values) as f32.
        ///
        /// # Safety
        /// `offset..offset + 16` must be inside the stored values; AVX-512F.
        unsafe fn load(self, offset: usize) -> __m512;
    }

    #[derive(Clone, Copy)]
    pub(super) struct F32Weights(pub(super) *const f32);

    #[derive(Clone, Copy)]
    pub(super) struct F16Weights(pub(super) *const u16);

    impl Weights for F32Weights {
        #[inline(always)]
        unsafe fn load(self, offset: usize) -> __m512 {
            // SAFETY: the caller's contract.
            unsafe { _mm512_loadu_ps(self.0.add(offset)) }
        }
    }

    impl Weights for F16Weights {
        #[inline(always)]
        unsafe fn load(self, offset: usize) -> __m512 {
            // SAFETY: the caller's contract: 16 f16 values (32 bytes) from `offset`.
            unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(self.0.add(offset).cast())) }
        }
    }

    /// Rows and column groups per tile.
    const MR: usize = 4;
    const NR: usize = 4;

    /// # Safety
    /// As [`FewRowsMatrix::product`], on a CPU with AVX-512F.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product<W: Weights>(
        m: &FewRowsMatrix,
        weights: W,
        x: &[f32],
        rows: usize,
        out: *mut f32,
        accumulate: bool,
        first: usize,
        end: usize,
    ) {
        let mut group = first;
        while group < end {
            let groups = if end - group >= NR { NR } else { 1 };
            let mut row = 0;
            while row < rows {
                let count = (rows - row).min(MR);
                let t = Tile {
                    m,
                    weights,
                    x,
                    out,
                    accumulate,
                    row,
                    group,
                };
                // SAFETY: rows `row..row + count` and groups `group..group + groups` are
                // inside the caller's contract.
                unsafe {
                    match (count, groups) {
                        (4, NR) => t.run::<4, NR>(),
                        (3, NR) => t.run::<3, NR>(),
                        (2, NR) => t.run::<2, NR>(),
                        (_, NR) => t.run::<1, NR>(),
                        (4, _) => t.run::<4, 1>(),
                        (3, _) => t.run::<3, 1>(),
                        (2, _) => t.run::<2, 1>(),
                        (_, _) => t.run::<1, 1>(),
                    }
                }
                row += count;
            }
            group += groups;
        }
    }

    struct Tile<'a, W> {
        m: &'a FewRowsMatrix,
        weights: W,
        x: &'a [f32],
        out: *mut f32,
        accumulate: bool,
        row: usize,
        group: usize,
    }

    impl<W: Weights> Tile<'_, W> {
        /// Rows `row..row + R` by groups `group..group + G`.
        ///
        /// # Safety
        /// As [`product`], whose AVX-512F check it relies on: reached only from there.
        #[target_feature(enable = "avx512f")]
        unsafe fn run<const R: usize, const G: usize>(&self) {
            let (inputs, outputs) = (self.m.inputs, self.m.outputs);
            let mut sums = [[_mm512_setzero_ps(); G]; R];
            // SAFETY (all pointer arithmetic below): rows and groups are in range (the
            // caller's contract), so every read is inside `x` or the packed values and every
            // write inside `out`'s rows, masked to the real columns.
            unsafe {
                let x = self.x.as_ptr().add(self.row * inputs);
                let b = self.group * inputs * GROUP;
                for k in 0..inputs {
                    let mut w = [_mm512_setzero_ps(); G];
                    for (g, w) in w.iter_mut().enumerate() {
                        *w = self.weights.load(b + (g * inputs + k) * GROUP);
                    }
                    for (r, sums) in sums.iter_mut().enumerate() {
                        let input = _mm512_set1_ps(*x.add(r * inputs + k));
                        for (sum, w) in sums.iter_mut().zip(&w) {
                            *sum = _mm512_fmadd_ps(input, *w, *sum);
                        }
                    }
                }
                for g in 0..G {
                    let column = (self.group + g) * GROUP;
                    let live = outputs.saturating_sub(column).min(GROUP);
                    let mask: __mmask16 = if live == GROUP {
                        0xffff
                    } else {
                        ((1u32 << live) - 1) as __mmask16
                    };
                    for (r, sums) in sums.iter().enumerate() {
                        let out = self.out.add((self.row + r) * outputs + column);
                        let mut value = sums[g];
                        if self.accumulate {
                            value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, out));
                        }
                        _mm512_mask_storeu_ps(out, mask, value);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_values::{product_f64, seeded as random};

    #[test]
    fn weights_exact_in_f16_are_stored_so_and_give_the_same_products_bit_for_bit() {
        if !available() {
            return;
        }
        let (rows, outputs, inputs) = (19, 70, 384);
        // Weights an f16 checkpoint would give: f32 values rounded to f16.
        let w: Vec<f32> = random(3, outputs * inputs)
            .into_iter()
            .map(|v| half::f16::from_f32(v).to_f32())
            .collect();
        let x = random(4, rows * inputs);
        let half = FewRowsMatrix::new(&w, outputs, inputs).unwrap();
        assert!(half.stored_as_f16());
        let single = FewRowsMatrix::stored(&w, outputs, inputs, false);
        assert!(!single.stored_as_f16());
        let (mut a, mut b) = (vec![0.25f32; rows * outputs], vec![0.25f32; rows * outputs]);
        // SAFETY: sizes as documented; one thread.
        unsafe {
            half.product(&x, rows, a.as_mut_ptr(), true, 0, half.groups());
            single.product(&x, rows, b.as_mut_ptr(), true, 0, single.groups());
        }
        assert_eq!(a, b);
        // Random f32 weights are not f16 values: stored as f32.
        let w = random(5, 16 * 8);
        assert!(!FewRowsMatrix::new(&w, 16, 8).unwrap().stored_as_f16());
    }

    #[test]
    fn products_of_any_shape_match_a_double_precision_reference() {
        if !available() {
            assert!(FewRowsMatrix::new(&[1.0], 1, 1).is_none());
            eprintln!("no AVX-512 here: the kernel is off and MKL runs every product");
            return;
        }
        for (seed, (rows, outputs, inputs)) in [
            (1, 1, 1),
            (19, 384, 1536),
            (5, 1152, 384),
            (7, 37, 29),
            (32, 70, 3),
        ]
        .into_iter()
        .enumerate()
        {
            let x = random(seed as u64 * 2 + 1, rows * inputs);
            let w = random(seed as u64 * 2 + 2, outputs * inputs);
            let m = FewRowsMatrix::new(&w, outputs, inputs).unwrap();
            let mut out = vec![0.5f32; rows * outputs];
            // Two halves of the groups, as two threads would run them, onto 0.5.
            let half = m.groups() / 2;
            // SAFETY: sizes as documented; one thread.
            unsafe {
                m.product(&x, rows, out.as_mut_ptr(), true, 0, half);
                m.product(&x, rows, out.as_mut_ptr(), true, half, m.groups());
            }
            let reference = product_f64(&x, &w, rows, outputs, inputs);
            for (index, (got, product)) in out.iter().zip(&reference).enumerate() {
                let (got, want) = (f64::from(*got), 0.5 + product);
                assert!(
                    (got - want).abs() <= 1e-5 * (1.0 + want.abs()) * (inputs as f64).sqrt(),
                    "[{rows}x{inputs}]x[{outputs}] element {index}: {got} vs {want}"
                );
            }
            // Stored rather than added.
            let mut stored = vec![f32::NAN; rows * outputs];
            // SAFETY: as above.
            unsafe { m.product(&x, rows, stored.as_mut_ptr(), false, 0, m.groups()) };
            for (a, s) in out.iter().zip(&stored) {
                assert!((a - 0.5 - s).abs() <= 1e-5 * (1.0 + s.abs()));
            }
        }
    }
}
