//! Reductions over a slice of f32 in 16 lanes, a form LLVM vectorizes: one running float would
//! be a chain of dependent operations. Used by softmax, LayerNorm and int8 quantization.

/// `values` folded into 16 lanes (lane `i` takes values `i, i + 16, ...`), each lane starting
/// at `start`; the caller combines the lanes.
#[inline(always)]
pub(crate) fn lanes_fold(values: &[f32], start: f32, fold: impl Fn(f32, f32) -> f32) -> [f32; 16] {
    let mut lanes = [start; 16];
    let mut chunks = values.chunks_exact(16);
    for chunk in &mut chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane = fold(*lane, *v);
        }
    }
    for (lane, v) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane = fold(*lane, *v);
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_its_lane_once() {
        let values: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let lanes = lanes_fold(&values, 0.0, |lane, v| lane + v);
        // Lane 0 takes 0, 16, 32; lane 5 takes 5, 21; lane 15 takes 15, 31.
        assert_eq!(lanes[0], 48.0);
        assert_eq!(lanes[5], 26.0);
        assert_eq!(lanes[15], 46.0);
        assert_eq!(lanes.iter().sum::<f32>(), (0..37).sum::<i32>() as f32);
        assert_eq!(lanes_fold(&[], 7.0, |lane, v| lane + v), [7.0; 16]);
    }
}
