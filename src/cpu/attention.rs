//! Scaled dot-product attention of a small pass, on f32 rows: each text attends over its own
//! tokens only, so a pass of texts of different lengths has no padding and no mask.
//!
//! The input is the fused projection's output, one row per real token, `[queries | keys |
//! values]` each `heads * head_size` wide in head order (what `transformers` reshapes to
//! `[batch, heads, length, head_size]`). One unit of work is one (text, head): its keys are
//! copied transposed (`[head_size][length]`), so both the scores (`Σ_d q_d K[d, :]`) and the
//! context (`Σ_j p_j V[j, :]`) are runs of multiply-adds along contiguous rows, which LLVM
//! vectorizes. Units are split among a [`Session`]'s threads.
//!
//! libtorch does the same with ~15 ops a layer (a head-order copy, `baddbmm`, `softmax`,
//! `bmm`, a copy back and the padding gathers), 10-20 us of dispatch each on a single text;
//! here it is one call. The sums run in another order than MKL's, so results differ from
//! libtorch's in the last bits (the parity tests hold the whole model to 1e-5).

use std::ops::Range;

use super::product_error::ProductError;
use super::softmax::softmax_in_place;
use super::team::{split, Session, SplitOut};

/// The attention heads' sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    pub(crate) heads: usize,
    pub(crate) head_size: usize,
}

impl Heads {
    fn hidden(self) -> usize {
        self.heads * self.head_size
    }
}

/// Which tokens' attention to compute: every token's, or each text's first token's only (all
/// a classification head reads of the last layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queries {
    Every,
    First,
}

/// Attention of `texts` (token ranges, in order, over the rows of `qkv`, which is
/// `[tokens, 3 × hidden]`) into `out`: `[tokens, hidden]` for [`Queries::Every`], `[texts,
/// hidden]` for [`Queries::First`], each row the heads' contexts side by side. With a `team`,
/// the (text, head) units are split among its threads.
///
/// # Errors
/// [`ProductError::TooShort`] if `qkv` or `out` is too short for the texts (nothing written),
/// or a range is out of order; [`ProductError::HelperPanicked`] if a helper's share panicked.
pub(crate) fn attend(
    qkv: &[f32],
    texts: &[Range<usize>],
    heads: Heads,
    queries: Queries,
    out: &mut [f32],
    team: Option<&Session>,
) -> Result<(), ProductError> {
    let hidden = heads.hidden();
    let tokens = texts.last().map_or(0, |text| text.end);
    let rows = match queries {
        Queries::Every => tokens,
        Queries::First => texts.len(),
    };
    let ordered = texts
        .iter()
        .zip(texts.iter().skip(1))
        .all(|(a, b)| a.end <= b.start)
        && texts.iter().all(|text| text.start < text.end);
    if !ordered || qkv.len() < tokens * 3 * hidden || out.len() < rows * hidden {
        return Err(ProductError::TooShort);
    }
    let out = SplitOut::new(out);
    let run = |first: usize, end: usize| {
        for unit in first..end {
            let (text, head) = (unit / heads.heads, unit % heads.heads);
            let range = texts[text].clone();
            let row = match queries {
                Queries::Every => range.start,
                Queries::First => text,
            };
            // SAFETY: checked above: `out` holds `rows * hidden` values, and this unit's rows
            // (its text's, or row `text`) are below `rows`; units write disjoint (rows, head)
            // blocks, so no two threads write one value; `out` outlives the split.
            unsafe { unit_of_work(qkv, range, head, heads, queries, out.at(row * hidden)) };
        }
    };
    Ok(split(team, texts.len() * heads.heads, run)?)
}

/// One (text, head): picks the kernel for this CPU.
///
/// # Safety
/// `out` points at the first output row of this text (`hidden` values a row; as many rows as
/// queries), writable, of which only this call writes this head's columns.
unsafe fn unit_of_work(
    qkv: &[f32],
    text: Range<usize>,
    head: usize,
    heads: Heads,
    queries: Queries,
    out: *mut f32,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if super::features::avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA; the rest is the caller's contract.
            unsafe { unit_avx2_fma(qkv, text, head, heads, queries, out) };
            return;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { unit(qkv, text, head, heads, queries, out, |a, b, c| a * b + c) };
}

/// [`unit`] compiled for AVX2 and FMA, so that its loops vectorize 8 wide with fused
/// multiply-adds.
///
/// # Safety
/// As [`unit`], on a CPU with AVX2 and FMA (`features::avx2_fma`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn unit_avx2_fma(
    qkv: &[f32],
    text: Range<usize>,
    head: usize,
    heads: Heads,
    queries: Queries,
    out: *mut f32,
) {
    // SAFETY: the caller's contract.
    unsafe { unit(qkv, text, head, heads, queries, out, f32::mul_add) };
}

/// Attention of one head over one text's tokens; see the module docs.
///
/// # Safety
/// As [`unit_of_work`].
#[inline(always)]
unsafe fn unit(
    qkv: &[f32],
    text: Range<usize>,
    head: usize,
    heads: Heads,
    queries: Queries,
    out: *mut f32,
    fma: impl Fn(f32, f32, f32) -> f32 + Copy,
) {
    let (size, hidden) = (heads.head_size, heads.hidden());
    let stride = 3 * hidden;
    let length = text.len();
    let head_of = |token: usize, part: usize| {
        let at = (text.start + token) * stride + part * hidden + head * size;
        &qkv[at..at + size]
    };
    // Keys transposed, each row padded to whole blocks of LANES with zeros: `keys[d * width +
    // j]` is key `j`'s value `d`.
    let width = length.div_ceil(LANES) * LANES;
    let mut keys = vec![0f32; size * width];
    for j in 0..length {
        for (d, k) in head_of(j, 1).iter().enumerate() {
            keys[d * width + j] = *k;
        }
    }
    let scale = 1.0 / (size as f32).sqrt();
    let mut scores = vec![0f32; width];
    let count = match queries {
        Queries::Every => length,
        Queries::First => 1,
    };
    for i in 0..count {
        let query = head_of(i, 0);
        // Scores a block of LANES keys at a time, the block's sums kept in registers over d.
        for (block, out) in scores.chunks_exact_mut(LANES).enumerate() {
            let mut sums = [0f32; LANES];
            for (q, key) in query.iter().zip(keys.chunks_exact(width)) {
                let key: &[f32; LANES] = key[block * LANES..][..LANES]
                    .try_into()
                    .unwrap_or(&[0.0; LANES]);
                for (sum, k) in sums.iter_mut().zip(key) {
                    *sum = fma(*q, *k, *sum);
                }
            }
            for (o, sum) in out.iter_mut().zip(sums) {
                *o = sum * scale;
            }
        }
        softmax_in_place(&mut scores[..length], fma);
        // The context LANES columns at a time, likewise.
        for first in (0..size).step_by(LANES) {
            let columns = LANES.min(size - first);
            let mut sums = [0f32; LANES];
            let weights = scores[..length].iter().enumerate();
            if columns == LANES {
                // Whole blocks (every head size a multiple of 16): fixed-width, in registers.
                for (j, p) in weights {
                    let value: &[f32; LANES] = head_of(j, 2)[first..first + LANES]
                        .try_into()
                        .unwrap_or(&[0.0; LANES]);
                    for (sum, v) in sums.iter_mut().zip(value) {
                        *sum = fma(*p, *v, *sum);
                    }
                }
            } else {
                for (j, p) in weights {
                    for (sum, v) in sums.iter_mut().zip(&head_of(j, 2)[first..first + columns]) {
                        *sum = fma(*p, *v, *sum);
                    }
                }
            }
            // SAFETY: the caller's contract: row `i` of this text's output, this head's
            // columns `first..first + columns`.
            let row = unsafe {
                std::slice::from_raw_parts_mut(out.add(i * hidden + head * size + first), columns)
            };
            row.copy_from_slice(&sums[..columns]);
        }
    }
}

/// Floats summed side by side in the inner loops: two AVX2 registers.
const LANES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_values::seeded;

    /// Attention in f64 by its formula, every text and head on its own.
    fn reference(qkv: &[f32], texts: &[Range<usize>], heads: Heads, queries: Queries) -> Vec<f64> {
        let (size, hidden) = (heads.head_size, heads.hidden());
        let value = |token: usize, part: usize, head: usize, d: usize| {
            f64::from(qkv[token * 3 * hidden + part * hidden + head * size + d])
        };
        let mut out = Vec::new();
        for text in texts {
            let count = match queries {
                Queries::Every => text.len(),
                Queries::First => 1,
            };
            for i in text.start..text.start + count {
                for head in 0..heads.heads {
                    let scores: Vec<f64> = text
                        .clone()
                        .map(|j| {
                            (0..size)
                                .map(|d| value(i, 0, head, d) * value(j, 1, head, d))
                                .sum::<f64>()
                                / (size as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f64 = weights.iter().sum();
                    for d in 0..size {
                        out.push(
                            text.clone()
                                .zip(&weights)
                                .map(|(j, w)| w / total * value(j, 2, head, d))
                                .sum(),
                        );
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_text_attends_over_its_own_tokens_as_the_formula_says() {
        let heads = Heads {
            heads: 3,
            head_size: 8,
        };
        let texts = [0..5, 5..6, 6..19];
        let qkv: Vec<f32> = seeded(7, 19 * 3 * heads.hidden())
            .into_iter()
            .map(|v| v * 3.0)
            .collect();
        let team = crate::cpu::team::Team::new(1, || ()).expect("a helper thread");
        let passes = std::sync::atomic::AtomicUsize::new(1);
        let session = team.try_begin(&passes).expect("the team is free");
        for queries in [Queries::Every, Queries::First] {
            let want = reference(&qkv, &texts, heads, queries);
            for team in [None, Some(&session)] {
                let mut got = vec![f32::NAN; want.len()];
                attend(&qkv, &texts, heads, queries, &mut got, team).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!((f64::from(*g) - w).abs() < 1e-5, "{queries:?}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn the_portable_kernel_agrees_with_the_one_this_cpu_runs() {
        let heads = Heads {
            heads: 2,
            head_size: 24,
        };
        let texts = [0..7, 7..25];
        let hidden = heads.hidden();
        let qkv = seeded(11, 25 * 3 * hidden);
        let mut fast = vec![0f32; 25 * hidden];
        attend(&qkv, &texts, heads, Queries::Every, &mut fast, None).unwrap();
        let mut portable = vec![0f32; 25 * hidden];
        for text in &texts {
            for head in 0..heads.heads {
                let out = SplitOut::new(&mut portable).at(text.start * hidden);
                // SAFETY: `portable` holds every token's row; one thread.
                unsafe {
                    unit(
                        &qkv,
                        text.clone(),
                        head,
                        heads,
                        Queries::Every,
                        out,
                        |a, b, c| a * b + c,
                    )
                };
            }
        }
        for (a, b) in fast.iter().zip(&portable) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // one text's token range, as `attend` takes
    fn short_buffers_and_ranges_out_of_order_are_refused_untouched() {
        let heads = Heads {
            heads: 2,
            head_size: 4,
        };
        let qkv = seeded(1, 4 * 3 * 8);
        let mut out = vec![7f32; 4 * 8];
        let refused = |texts: &[Range<usize>], qkv: &[f32], out: &mut [f32]| {
            attend(qkv, texts, heads, Queries::Every, out, None)
        };
        assert_eq!(
            refused(&[0..5], &qkv, &mut out),
            Err(ProductError::TooShort)
        );
        assert_eq!(
            refused(&[2..4, 0..2], &qkv, &mut out),
            Err(ProductError::TooShort)
        );
        assert_eq!(
            refused(&[0..0], &qkv, &mut out),
            Err(ProductError::TooShort)
        );
        assert_eq!(
            refused(&[0..4], &qkv, &mut out[..31]),
            Err(ProductError::TooShort)
        );
        assert!(out.iter().all(|&v| v == 7.0));
        // No texts: nothing to do.
        assert_eq!(refused(&[], &qkv, &mut out), Ok(()));
    }
}
