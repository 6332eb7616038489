//! Symmetric int8 quantization: weights with one scale per output channel, activations with
//! one scale per row (token), both to `-127..=127` (no -128, so a value and its negation
//! quantize alike).

use crate::cpu::lanes::lanes_fold;

/// A scale for values whose largest magnitude is `max_abs`: it maps that value to 127. All
/// zeros (or no finite value) get 1, which quantizes them to 0.
pub(crate) fn scale_for(max_abs: f32) -> f32 {
    if max_abs.is_finite() && max_abs > 0.0 {
        max_abs / 127.0
    } else {
        1.0
    }
}

/// `value / scale` rounded to the nearest integer (ties to even) in `-127..=127` (NaN gives
/// 0). Written so that loops over it vectorize: one `vroundps`, a clamp, a NaN select and one
/// `vcvttps2dq`, no libm call and no saturating `as` (which LLVM scalarizes, a compare and a
/// branch per value: it made activation quantization an eighth of an int8 single-text pass).
#[inline(always)]
pub(crate) fn quantize(value: f32, inverse_scale: f32) -> i32 {
    let clamped = (value * inverse_scale)
        .round_ties_even()
        .clamp(-127.0, 127.0);
    // NaN survives `clamp`; it compares unequal to itself.
    #[allow(clippy::eq_op)]
    let finite = if clamped == clamped { clamped } else { 0.0 };
    // SAFETY: `finite` is a whole number in -127..=127, which i32 represents exactly.
    unsafe { finite.to_int_unchecked::<i32>() }
}

/// The largest magnitude among `values`, ignoring NaN; in 16 lanes so that it vectorizes.
#[inline(always)]
pub(crate) fn max_abs(values: &[f32]) -> f32 {
    // Not `f32::max`: this form vectorizes; a NaN compares false and is skipped.
    lanes_fold(values, 0.0, |lane, v| {
        let magnitude = v.abs();
        if magnitude > lane {
            magnitude
        } else {
            lane
        }
    })
    .into_iter()
    .fold(0f32, f32::max)
}

/// Weight rows (`[outputs, inputs]`, row-major) quantized per row: the int8 values (same
/// layout) and each row's scale.
pub(crate) fn quantize_weights(weights: &[f32], inputs: usize) -> (Vec<i8>, Vec<f32>) {
    let mut values = Vec::with_capacity(weights.len());
    let mut scales = Vec::with_capacity(weights.len() / inputs.max(1));
    for row in weights.chunks(inputs.max(1)) {
        let scale = scale_for(max_abs(row));
        let inverse = 1.0 / scale;
        values.extend(row.iter().map(|&w| quantize(w, inverse) as i8));
        scales.push(scale);
    }
    (values, scales)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_gets_its_own_scale_and_its_largest_value_maps_to_127() {
        let weights = [0.5, -1.0, 0.25, 0.0, 10.0, -2.5, 0.0, 0.0, 0.0];
        let (values, scales) = quantize_weights(&weights, 3);
        assert_eq!(scales, [1.0 / 127.0, 10.0 / 127.0, 1.0]);
        assert_eq!(values, [64, -127, 32, 0, 127, -32, 0, 0, 0]);
        // Dequantized, every value is within half a step of the original.
        for (row, scale) in weights.chunks(3).zip(&scales) {
            let inverse = 1.0 / scale;
            for w in row {
                let back = quantize(*w, inverse) as f32 * scale;
                assert!((back - w).abs() <= scale / 2.0 + 1e-7, "{w} -> {back}");
            }
        }
    }

    #[test]
    fn out_of_range_and_non_finite_values_saturate_or_vanish() {
        assert_eq!(quantize(1e30, 1.0), 127);
        assert_eq!(quantize(-1e30, 1.0), -127);
        assert_eq!(quantize(f32::NAN, 1.0), 0);
        assert_eq!(scale_for(f32::INFINITY), 1.0);
        assert_eq!(scale_for(0.0), 1.0);
        assert_eq!(max_abs(&[f32::NAN, -3.0, 2.0]), 3.0);
    }
}
