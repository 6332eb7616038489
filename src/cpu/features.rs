//! The CPU features the crate's vectorized kernels pick their code by.

/// Whether this CPU has AVX2 and FMA, which the GELU, LayerNorm, attention and int8 AVX2
/// kernels are compiled for (false off x86_64). Cheap: the standard library caches the answer.
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
