//! Softmax over a row of f32 scores, in place, with an `exp` that vectorizes (no libm call):
//! the attention of a small pass ([`crate::cpu::attention`]) runs it on each query's scores.
//!
//! `exp` is Cephes' `expf` (Moshier): `x = n ln 2 + r` with `|r| <= ln 2 / 2`, `e^r` from a
//! degree-6 polynomial, `2^n` put straight into the exponent bits. Within 2 ulp of the exact
//! value on the range softmax feeds it (`x - max <= 0`), tested against `f64::exp`; libtorch's
//! softmax uses SLEEF's `expf` (1 ulp), so the two agree to a few parts in 10^7.

use super::lanes::lanes_fold;

/// `e^x` for `x` in about `-87..=88` (beyond, the bounds' values: softmax feeds it `x - max`,
/// so only the lower side is reached, where the result is below 1e-37 either way). NaN gives
/// NaN. `fma(a, b, c)` is `a * b + c`, fused where the CPU has it.
// The coefficients as Cephes publishes them; the compiler rounds them to f32.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub(crate) fn exp(x: f32, fma: impl Fn(f32, f32, f32) -> f32 + Copy) -> f32 {
    // ln 2 in two parts, so that `n ln 2` is exact in the first.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    // NaN survives `clamp` and `round`; it compares unequal to itself.
    #[allow(clippy::eq_op)]
    let n = if n == n { n } else { 0.0 };
    let r = fma(n, -LN2_LO, fma(n, -LN2_HI, x));
    let mut p = fma(1.987_569_1e-4, r, 1.398_199_9e-3);
    p = fma(p, r, 8.333_452e-3);
    p = fma(p, r, 4.166_579_6e-2);
    p = fma(p, r, 1.666_666_5e-1);
    p = fma(p, r, 5.000_000_1e-1);
    let e_r = fma(p, r * r, r) + 1.0;
    // SAFETY: `n` is a whole number in -126..=127 (from the clamp), exact as an i32.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    // 2^n as a normal f32: the biased exponent 1..=254.
    let two_n = f32::from_bits(((n + 127) as u32) << 23);
    e_r * two_n
}

/// Replaces `row` with its softmax: `e^(x - max) / Σ e^(x - max)`. An empty row stays empty.
#[inline(always)]
pub(crate) fn softmax_in_place(row: &mut [f32], fma: impl Fn(f32, f32, f32) -> f32 + Copy) {
    let max = lanes_fold(
        row,
        f32::NEG_INFINITY,
        |lane, v| if v > lane { v } else { lane },
    );
    let max = max.into_iter().fold(f32::NEG_INFINITY, f32::max);
    for v in row.iter_mut() {
        *v = exp(*v - max, fma);
    }
    let sum: f32 = lanes_fold(row, 0.0, |lane, v| lane + v).into_iter().sum();
    let inverse = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inverse;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relative_error(got: f32, want: f64) -> f64 {
        (f64::from(got) - want).abs() / want.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn exp_is_within_two_ulp_where_softmax_uses_it() {
        let fused = |a: f32, b: f32, c: f32| a.mul_add(b, c);
        let plain = |a: f32, b: f32, c: f32| a * b + c;
        let mut worst = 0f64;
        let mut x = -80.0f32;
        while x <= 10.0 {
            let want = f64::from(x).exp();
            worst = worst
                .max(relative_error(exp(x, fused), want))
                .max(relative_error(exp(x, plain), want));
            x += 0.001_3;
        }
        // 2 ulp of an f32 is 2^-22 relative, about 2.4e-7.
        assert!(worst < 2.4e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0, fused), 1.0);
        assert!(exp(f32::NAN, fused).is_nan());
        assert!(exp(-1e30, fused) < 1e-37);
        assert!(exp(f32::NEG_INFINITY, fused) < 1e-37);
    }

    #[test]
    fn softmax_matches_the_double_precision_formula_and_sums_to_one() {
        let fma = |a: f32, b: f32, c: f32| a.mul_add(b, c);
        for len in [1usize, 3, 16, 19, 40] {
            let scores: Vec<f32> = (0..len).map(|i| (i as f32 * 0.77).sin() * 6.0).collect();
            let mut row = scores.clone();
            softmax_in_place(&mut row, fma);
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = scores.iter().map(|&s| f64::from(s - max).exp()).sum();
            for (got, s) in row.iter().zip(&scores) {
                let want = f64::from(s - max).exp() / sum;
                assert!((f64::from(*got) - want).abs() < 1e-7, "{got} vs {want}");
            }
            let total: f32 = row.iter().sum();
            assert!((total - 1.0).abs() < 1e-6, "sums to {total}");
        }
        let mut empty: [f32; 0] = [];
        softmax_in_place(&mut empty, fma);
    }
}
