//! The integer GEMM kernels: `out[i, j] (+)= sx[i] · sw[j] · Σ_k x[i, k] · w[j, k]`, with int32
//! accumulation, over a range of 16-column groups.
//!
//! - [`Kernel::Vnni512`] (AVX-512 VNNI): `vpdpbusd` multiplies unsigned activation bytes by
//!   signed weight bytes, four at a time, into int32. Activations are stored as `q + 128`
//!   (unsigned); the `128 · Σ_k w[j, k]` this adds is subtracted per column at the end.
//!   Weights are laid out `[group][k / 4][16 columns][4]`, so one 64-byte load holds 16
//!   columns' next four weights and each row's next four activations are one broadcast dword:
//!   no horizontal sums.
//! - [`Kernel::Avx2`] (AVX2 without VNNI): `vpmaddwd` on int16 (`vpmaddubsw` on bytes would
//!   saturate at 32,767 for the 8-bit activations used here), weights `[group][k / 2][16][2]`.
//! - [`Kernel::Portable`]: the same sums in plain Rust on the VNNI layout; the reference the
//!   others are tested against, and the path on other CPUs.
//!
//! Every kernel computes exactly the same integer sums, so all three give the same outputs up
//! to f32 rounding of the final scaling.

/// Which kernel this CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    Vnni512,
    Avx2,
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU has.
    pub(crate) fn detect() -> Self {
        [Self::Vnni512, Self::Avx2]
            .into_iter()
            .find(|kernel| kernel.available())
            .unwrap_or(Self::Portable)
    }

    /// Whether this kernel can run on this CPU.
    pub(crate) fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                // Every feature any function of this kernel is compiled for: the product's
                // (`avx512f,avx512vnni`) and the activations' quantizer's
                // (`avx512f,avx512bw,avx2,fma`). A VM may report VNNI without BW.
                Self::Vnni512 => {
                    std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("avx512bw")
                        && std::arch::is_x86_feature_detected!("avx512vnni")
                        && crate::cpu::features::avx2_fma()
                }
                Self::Avx2 => crate::cpu::features::avx2_fma(),
                Self::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Self::Portable
        }
    }

    /// Inputs per weight step: 4 bytes for the byte kernels, 2 int16 for AVX2.
    pub(crate) fn step(self) -> usize {
        match self {
            Self::Vnni512 | Self::Portable => 4,
            Self::Avx2 => 2,
        }
    }
}

/// Columns per group: one 512-bit register of int32 sums.
pub(crate) const GROUP: usize = 16;

/// One product over column groups `groups` of a packed matrix; all pointers are into buffers
/// the caller keeps alive and does not otherwise touch during the call.
pub(crate) struct Product<'a> {
    pub(crate) rows: usize,
    /// Quantized activations, `rows` rows of `depth` values each (`depth` = inputs padded to
    /// the kernel's step), in the kernel's format (see [`Activations`]).
    pub(crate) activations: &'a Activations,
    pub(crate) row_scales: &'a [f32],
    pub(crate) weights: &'a PackedWeights,
    /// Per output column, padded to whole groups.
    pub(crate) column_scales: &'a [f32],
    /// `Σ_k w[j, k]` per column (for the unsigned activations' offset), padded likewise.
    pub(crate) column_sums: &'a [i32],
    pub(crate) outputs: usize,
    /// Output `[rows, outputs]`, row-major: the kernel writes (or adds to) columns of
    /// `groups` only.
    pub(crate) out: *mut f32,
    pub(crate) accumulate: bool,
}

// SAFETY: `out` is the only field that is not `Sync`; threads sharing a `Product` write only
// their own column groups of it (the contract of `run`), and read everything else.
unsafe impl Sync for Product<'_> {}

/// Quantized activations in a kernel's format.
pub(crate) enum Activations {
    /// `q + 128` (VNNI).
    Offset(Vec<u8>),
    /// `q` as int16 (AVX2).
    Wide(Vec<i16>),
    /// `q` (portable).
    Plain(Vec<i8>),
}

/// Packed weights in a kernel's layout.
pub(crate) enum PackedWeights {
    /// `[group][depth / 4][16][4]` bytes (VNNI and portable).
    Bytes(Vec<i8>),
    /// `[group][depth / 2][16][2]` int16 (AVX2).
    Wide(Vec<i16>),
}

impl Product<'_> {
    /// Runs the product for column groups `first..end`.
    ///
    /// # Safety
    /// `out` must point at `rows * outputs` writable floats that no other thread writes in
    /// these groups' columns during the call; `activations` must hold `rows * depth` values,
    /// `weights` the packed matrix for `depth` and at least `end` groups, and the scale and
    /// sum slices `end * GROUP` values; `kernel` must be available on this CPU and match the
    /// formats.
    pub(crate) unsafe fn run(&self, kernel: Kernel, depth: usize, first: usize, end: usize) {
        match (kernel, self.activations, self.weights) {
            #[cfg(target_arch = "x86_64")]
            (Kernel::Vnni512, Activations::Offset(a), PackedWeights::Bytes(b)) => {
                // SAFETY: the caller's contract.
                unsafe { vnni512::product(self, a, b, depth, first, end) }
            }
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx2, Activations::Wide(a), PackedWeights::Wide(b)) => {
                // SAFETY: the caller's contract.
                unsafe { avx2::product(self, a, b, depth, first, end) }
            }
            (_, Activations::Plain(a), PackedWeights::Bytes(b)) => {
                portable_product(self, a, b, depth, first, end);
            }
            // Formats that do not match the kernel: never built (Int8Matrix picks both).
            _ => {}
        }
    }

    /// `out[i, j]` for column `j` < outputs: the scaled sum, added or stored.
    #[inline(always)]
    fn write(&self, row: usize, column: usize, sum: i32) {
        let value = self.row_scales[row] * self.column_scales[column] * sum as f32;
        // SAFETY: `row < rows`, `column < outputs`, inside the `[rows, outputs]` output.
        unsafe {
            let slot = self.out.add(row * self.outputs + column);
            *slot = if self.accumulate {
                *slot + value
            } else {
                value
            };
        }
    }
}

fn portable_product(
    product: &Product<'_>,
    a: &[i8],
    b: &[i8],
    depth: usize,
    first: usize,
    end: usize,
) {
    let steps = depth / 4;
    for group in first..end {
        let block = &b[group * depth * GROUP..(group + 1) * depth * GROUP];
        for row in 0..product.rows {
            let x = &a[row * depth..(row + 1) * depth];
            let mut sums = [0i32; GROUP];
            for step in 0..steps {
                let w = &block[step * 4 * GROUP..(step + 1) * 4 * GROUP];
                let xs = &x[step * 4..step * 4 + 4];
                for (column, sum) in sums.iter_mut().enumerate() {
                    for t in 0..4 {
                        *sum += i32::from(xs[t]) * i32::from(w[column * 4 + t]);
                    }
                }
            }
            for (c, sum) in sums.iter().enumerate() {
                let column = group * GROUP + c;
                if column < product.outputs {
                    product.write(row, column, *sum);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni512 {
    use std::arch::x86_64::*;

    use super::{Product, GROUP};

    /// Rows at a time.
    const MR: usize = 4;
    /// Column groups at a time.
    const NR: usize = 4;

    /// # Safety
    /// As [`Product::run`], on a CPU with AVX-512F and AVX-512 VNNI.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn product(
        p: &Product<'_>,
        a: &[u8],
        b: &[i8],
        depth: usize,
        first: usize,
        end: usize,
    ) {
        let mut group = first;
        while group < end {
            let groups = (end - group).min(NR);
            let mut row = 0;
            while row < p.rows {
                let rows = (p.rows - row).min(MR);
                // SAFETY: the caller's contract covers rows `row..row + rows` and groups
                // `group..group + groups`.
                unsafe {
                    match (rows, groups) {
                        (4, 4) => tile::<4, 4>(p, a, b, depth, row, group),
                        (4, 3) => tile::<4, 3>(p, a, b, depth, row, group),
                        (4, 2) => tile::<4, 2>(p, a, b, depth, row, group),
                        (4, _) => tile::<4, 1>(p, a, b, depth, row, group),
                        (3, 4) => tile::<3, 4>(p, a, b, depth, row, group),
                        (3, 3) => tile::<3, 3>(p, a, b, depth, row, group),
                        (3, 2) => tile::<3, 2>(p, a, b, depth, row, group),
                        (3, _) => tile::<3, 1>(p, a, b, depth, row, group),
                        (2, 4) => tile::<2, 4>(p, a, b, depth, row, group),
                        (2, 3) => tile::<2, 3>(p, a, b, depth, row, group),
                        (2, 2) => tile::<2, 2>(p, a, b, depth, row, group),
                        (2, _) => tile::<2, 1>(p, a, b, depth, row, group),
                        (_, 4) => tile::<1, 4>(p, a, b, depth, row, group),
                        (_, 3) => tile::<1, 3>(p, a, b, depth, row, group),
                        (_, 2) => tile::<1, 2>(p, a, b, depth, row, group),
                        (_, _) => tile::<1, 1>(p, a, b, depth, row, group),
                    }
                }
                row += rows;
            }
            group += groups;
        }
    }

    /// Rows `row..row + R` by groups `group..group + G`.
    ///
    /// # Safety
    /// As [`product`], whose checks it relies on: reached only from there.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn tile<const R: usize, const G: usize>(
        p: &Product<'_>,
        a: &[u8],
        b: &[i8],
        depth: usize,
        row: usize,
        group: usize,
    ) {
        let steps = depth / 4;
        let mut sums = [[_mm512_setzero_si512(); G]; R];
        let a = a.as_ptr().add(row * depth);
        let b = b.as_ptr().add(group * depth * GROUP);
        for step in 0..steps {
            let mut w = [_mm512_setzero_si512(); G];
            for (g, w) in w.iter_mut().enumerate() {
                // 16 columns x 4 weights: 64 bytes at (group g, step).
                *w = _mm512_loadu_si512(b.add((g * steps + step) * 4 * GROUP).cast());
            }
            for (r, sums) in sums.iter_mut().enumerate() {
                let x =
                    _mm512_set1_epi32(a.add(r * depth + step * 4).cast::<i32>().read_unaligned());
                for (sum, w) in sums.iter_mut().zip(&w) {
                    *sum = _mm512_dpbusd_epi32(*sum, x, *w);
                }
            }
        }
        for g in 0..G {
            let column = (group + g) * GROUP;
            let offsets = _mm512_mullo_epi32(
                _mm512_loadu_si512(p.column_sums.as_ptr().add(column).cast()),
                _mm512_set1_epi32(128),
            );
            let column_scales = _mm512_loadu_ps(p.column_scales.as_ptr().add(column));
            let live = p.outputs.saturating_sub(column).min(GROUP);
            let mask: __mmask16 = if live == GROUP {
                0xffff
            } else {
                ((1u32 << live) - 1) as __mmask16
            };
            for (r, sums) in sums.iter().enumerate() {
                let exact = _mm512_sub_epi32(sums[g], offsets);
                let scale = _mm512_mul_ps(column_scales, _mm512_set1_ps(p.row_scales[row + r]));
                let mut value = _mm512_mul_ps(_mm512_cvtepi32_ps(exact), scale);
                let out = p.out.add((row + r) * p.outputs + column);
                if p.accumulate {
                    value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, out));
                }
                _mm512_mask_storeu_ps(out, mask, value);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Product, GROUP};

    const MR: usize = 4;

    /// # Safety
    /// As [`Product::run`], on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product(
        p: &Product<'_>,
        a: &[i16],
        b: &[i16],
        depth: usize,
        first: usize,
        end: usize,
    ) {
        for group in first..end {
            let mut row = 0;
            while row < p.rows {
                let rows = (p.rows - row).min(MR);
                // SAFETY: the caller's contract covers these rows and this group.
                unsafe {
                    match rows {
                        4 => tile::<4>(p, a, b, depth, row, group),
                        3 => tile::<3>(p, a, b, depth, row, group),
                        2 => tile::<2>(p, a, b, depth, row, group),
                        _ => tile::<1>(p, a, b, depth, row, group),
                    }
                }
                row += rows;
            }
        }
    }

    /// Rows `row..row + R` by one group of 16 columns (two 8-wide halves).
    ///
    /// # Safety
    /// As [`product`], whose checks it relies on: reached only from there.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const R: usize>(
        p: &Product<'_>,
        a: &[i16],
        b: &[i16],
        depth: usize,
        row: usize,
        group: usize,
    ) {
        let steps = depth / 2;
        let mut sums = [[_mm256_setzero_si256(); 2]; R];
        let a = a.as_ptr().add(row * depth);
        let b = b.as_ptr().add(group * depth * GROUP);
        for step in 0..steps {
            let w = b.add(step * 2 * GROUP);
            let low = _mm256_loadu_si256(w.cast());
            let high = _mm256_loadu_si256(w.add(GROUP).cast());
            for (r, sums) in sums.iter_mut().enumerate() {
                let x =
                    _mm256_set1_epi32(a.add(r * depth + step * 2).cast::<i32>().read_unaligned());
                sums[0] = _mm256_add_epi32(sums[0], _mm256_madd_epi16(x, low));
                sums[1] = _mm256_add_epi32(sums[1], _mm256_madd_epi16(x, high));
            }
        }
        for half in 0..2 {
            let column = group * GROUP + half * 8;
            let live = p.outputs.saturating_sub(column).min(8);
            if live == 0 {
                continue;
            }
            let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(live as i32), lanes);
            let column_scales = _mm256_loadu_ps(p.column_scales.as_ptr().add(column));
            for (r, sums) in sums.iter().enumerate() {
                let scale = _mm256_mul_ps(column_scales, _mm256_set1_ps(p.row_scales[row + r]));
                let mut value = _mm256_mul_ps(_mm256_cvtepi32_ps(sums[half]), scale);
                let out = p.out.add((row + r) * p.outputs + column);
                if p.accumulate {
                    value = _mm256_add_ps(value, _mm256_maskload_ps(out, mask));
                }
                _mm256_maskstore_ps(out, mask, value);
            }
        }
    }
}
