//! Seeded inputs and a double-precision reference for the kernels' tests (no tensors).

/// A seeded stream of floats in about -1..1 (xorshift).
pub(crate) fn seeded(seed: u64, count: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// `x @ wᵀ` in f64 for `x` `[rows, inputs]` and `w` `[outputs, inputs]`, row-major.
pub(crate) fn product_f64(
    x: &[f32],
    w: &[f32],
    rows: usize,
    outputs: usize,
    inputs: usize,
) -> Vec<f64> {
    let mut out = vec![0f64; rows * outputs];
    for i in 0..rows {
        for j in 0..outputs {
            out[i * outputs + j] = (0..inputs)
                .map(|k| f64::from(x[i * inputs + k]) * f64::from(w[j * inputs + k]))
                .sum();
        }
    }
    out
}
