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
    /// Int8 layer matrices: the transformer layers' weights quantized once at load (one
    /// symmetric scale per output channel), their inputs quantized per token on every pass,
    /// products summed in int32 by the crate's own kernels (AVX-512 VNNI where the CPU has it,
    /// see [`Precision::cpu_has_fast_int8`]; AVX2 otherwise). Embeddings, LayerNorm, softmax,
    /// attention and the classification head stay f32. Opt-in: scores move (see the README
    /// for the measured quality change). Runs on the CPU, for the fused encoder's
    /// architectures (BERT, DistilBERT, RoBERTa, XLM-RoBERTa).
    Int8,
}

impl Precision {
    /// Whether this CPU has AVX-512 VNNI, which [`Precision::Int8`]'s fast kernel needs (four
    /// int8 products per lane per instruction). Without it, int8 runs on an AVX2 kernel at
    /// about half the rate. On Linux, `grep -o avx512_vnni /proc/cpuinfo` tells the same.
    pub fn cpu_has_fast_int8() -> bool {
        crate::cpu::int8::Kernel::detect() == crate::cpu::int8::Kernel::Vnni512
    }

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
