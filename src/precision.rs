//! Numeric precision of the forward pass.

/// The floating-point type weights and activations use on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// 32-bit floats: scores equal Python `transformers` in f32 to about 1e-6.
    #[default]
    F32,
    /// bfloat16 weights and activations, logits converted back to f32. Several times faster on
    /// CPUs with AVX512-BF16 or AMX (see [`Precision::cpu_has_fast_bf16`]); scores move by up to
    /// about 0.01 (see the README for measurements). On other CPUs it is emulated and slow.
    Bf16,
}

impl Precision {
    /// Whether this CPU computes bfloat16 in hardware (AVX512-BF16), which is what makes
    /// [`Precision::Bf16`] fast. On Linux, `grep -o avx512_bf16 /proc/cpuinfo` tells the same.
    pub fn cpu_has_fast_bf16() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512bf16")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}
