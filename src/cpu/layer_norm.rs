//! LayerNorm over rows of f32, in place, for a small pass (one call where libtorch's
//! `layer_norm` costs several ops' dispatch on a single text's few rows).

use super::lanes::lanes_fold;

/// The LayerNorm's parameters: a weight and a bias per feature, and epsilon.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Norm<'a> {
    pub(crate) weight: &'a [f32],
    pub(crate) bias: &'a [f32],
    pub(crate) eps: f32,
}

/// Normalizes each row of `values` (rows of `norm.weight.len()` values; a shorter last row is
/// left as it is): `(x - mean) / √(variance + eps) * weight + bias`, with the biased variance
/// as `torch.nn.LayerNorm` uses.
pub(crate) fn layer_norm_in_place(values: &mut [f32], norm: Norm<'_>) {
    #[cfg(target_arch = "x86_64")]
    {
        if super::features::avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            unsafe { layer_norm_avx2_fma(values, norm) };
            return;
        }
    }
    layer_norm(values, norm, |a, b, c| a * b + c);
}

/// [`layer_norm`] compiled for AVX2 and FMA, so that it vectorizes.
///
/// # Safety
/// The CPU must have AVX2 and FMA (`features::avx2_fma`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn layer_norm_avx2_fma(values: &mut [f32], norm: Norm<'_>) {
    layer_norm(values, norm, f32::mul_add);
}

#[inline(always)]
fn layer_norm(values: &mut [f32], norm: Norm<'_>, fma: impl Fn(f32, f32, f32) -> f32 + Copy) {
    let width = norm.weight.len();
    if width == 0 || norm.bias.len() != width {
        return;
    }
    let count = width as f32;
    for row in values.chunks_exact_mut(width) {
        let mean = lanes_fold(row, 0.0, |lane, v| lane + v)
            .into_iter()
            .sum::<f32>()
            / count;
        let variance = lanes_fold(row, 0.0, |lane, v| {
            let d = v - mean;
            fma(d, d, lane)
        })
        .into_iter()
        .sum::<f32>()
            / count;
        let inverse = 1.0 / (variance + norm.eps).sqrt();
        for ((x, w), b) in row.iter_mut().zip(norm.weight).zip(norm.bias) {
            *x = fma((*x - mean) * inverse, *w, *b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_values::seeded;

    #[test]
    fn each_row_is_normalized_as_the_double_precision_formula_says() {
        let width = 384;
        let weight = seeded(1, width);
        let bias = seeded(2, width);
        let norm = Norm {
            weight: &weight,
            bias: &bias,
            eps: 1e-12,
        };
        // Rows with an offset and a spread, as residual sums have.
        let rows: Vec<f32> = seeded(3, 5 * width)
            .iter()
            .enumerate()
            .map(|(i, v)| v * 4.0 + (i / width) as f32)
            .collect();
        let mut got = rows.clone();
        layer_norm_in_place(&mut got, norm);
        for (row, out) in rows.chunks(width).zip(got.chunks(width)) {
            let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / width as f64;
            let variance = row
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / width as f64;
            for (k, (x, g)) in row.iter().zip(out).enumerate() {
                let want = (f64::from(*x) - mean) / (variance + 1e-12).sqrt()
                    * f64::from(weight[k])
                    + f64::from(bias[k]);
                assert!((f64::from(*g) - want).abs() < 2e-6, "{g} vs {want}");
            }
        }
    }

    #[test]
    fn the_portable_loop_agrees_with_the_one_this_cpu_runs() {
        let (weight, bias) = (seeded(4, 40), seeded(5, 40));
        let norm = Norm {
            weight: &weight,
            bias: &bias,
            eps: 1e-5,
        };
        let mut fast = seeded(6, 3 * 40);
        let mut portable = fast.clone();
        layer_norm_in_place(&mut fast, norm);
        layer_norm(&mut portable, norm, |a, b, c| a * b + c);
        for (a, b) in fast.iter().zip(&portable) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn a_constant_row_gives_the_bias_and_mismatched_parameters_change_nothing() {
        let (weight, bias) = ([2.0f32; 4], [0.5f32, -1.0, 0.0, 3.0]);
        let mut row = [7.0f32; 4];
        layer_norm_in_place(
            &mut row,
            Norm {
                weight: &weight,
                bias: &bias,
                eps: 1e-5,
            },
        );
        assert_eq!(row, bias);
        let mut untouched = [1.0f32, 2.0, 3.0, 4.0];
        layer_norm_in_place(
            &mut untouched,
            Norm {
                weight: &weight,
                bias: &bias[..3],
                eps: 1e-5,
            },
        );
        assert_eq!(untouched, [1.0, 2.0, 3.0, 4.0]);
    }
}
