//! libtorch's bundled Intel MKL on non-Intel CPUs.
//!
//! MKL chooses its fast f32 GEMM kernels only after asking its internal function
//! `mkl_serv_intel_cpu_true` whether the CPU is a genuine Intel; on AMD it answers no and MKL
//! takes slower kernels, although the CPU has the instructions (AVX2, or AVX-512 on Zen 4/5).
//! This module defines that function answering yes. When the final binary exports it
//! dynamically, the dynamic linker binds libtorch's calls to it instead of MKL's own.
//!
//! Measured on this repository's machine (AMD EPYC, Zen 3, AVX2), f32 2048x384 @ 384x1536 on one
//! thread: 50-53 GFLOP/s stock, 73-79 GFLOP/s with the override, bit-identical results.
//!
//! - It takes effect only if the binary exports the symbol: this crate's `build.rs` does so for its
//!   own tests, examples and benches; a dependent adds the same link argument (README, "Using it
//!   as a dependency"). [`mkl_vendor_override_active`] tells whether it did.
//! - `EMOTION_MKL_OVERRIDE=0` switches it off: the function then answers truthfully (Intel or not).
//!   The variable is read once, at MKL's first question (the first GEMM of the process), so set
//!   it before any classifier runs.
//! - Fragility: it relies on a private MKL symbol; if a libtorch release renames or hides it,
//!   the override silently does nothing (MKL behaves as stock). Kernels are chosen by CPU features
//!   after the vendor check, so no instruction the CPU lacks is used.

use std::os::raw::c_int;

/// The environment variable that switches the override off with `0`.
pub const MKL_OVERRIDE_ENV: &str = "EMOTION_MKL_OVERRIDE";

/// MKL's vendor check, answered "genuine Intel" unless `EMOTION_MKL_OVERRIDE=0`.
///
/// Not for calling: it exists to be found by the dynamic linker in place of MKL's own.
#[doc(hidden)]
#[no_mangle]
pub extern "C" fn mkl_serv_intel_cpu_true() -> c_int {
    // Decided once: MKL may ask on every call, and the answer must not change mid-process.
    static ANSWER: std::sync::OnceLock<c_int> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| {
        let switched_off = std::env::var_os(MKL_OVERRIDE_ENV).is_some_and(|v| v == "0");
        c_int::from(!switched_off || cpu_is_intel())
    })
}

fn cpu_is_intel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // CPUID leaf 0: the vendor string, on every x86_64 CPU.
        let leaf = std::arch::x86_64::__cpuid(0);
        let vendor: Vec<u8> = [leaf.ebx, leaf.edx, leaf.ecx]
            .iter()
            .flat_map(|r| r.to_le_bytes())
            .collect();
        vendor == b"GenuineIntel"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether libtorch's MKL will see this crate's vendor check (the binary exports it, so the
/// dynamic linker finds it first) and the override is not switched off. Cheap: one symbol lookup.
pub fn mkl_vendor_override_active() -> bool {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let ours = mkl_serv_intel_cpu_true as extern "C" fn() -> c_int as *mut libc::c_void;
        super::dynamic_symbol(c"mkl_serv_intel_cpu_true") == Some(ours)
            && mkl_serv_intel_cpu_true() == 1
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_crates_binaries_export_the_override() {
        // build.rs passes --export-dynamic-symbol; without it the lookup finds libtorch's.
        if std::env::var_os(MKL_OVERRIDE_ENV).is_some_and(|v| v == "0") {
            return;
        }
        assert!(mkl_vendor_override_active());
        assert_eq!(mkl_serv_intel_cpu_true(), 1);
    }
}
