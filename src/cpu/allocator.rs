//! glibc malloc settings for libtorch's allocation pattern.
//!
//! libtorch has no caching allocator on the CPU: every forward pass mallocs and frees its
//! activations, tens of MB each. glibc serves blocks above its mmap threshold with fresh `mmap`s
//! (zeroed by the kernel page by page on first touch) and trims freed heap back to the kernel, so
//! each pass pays page faults again. Raising the mmap threshold to its 32 MiB maximum and
//! keeping freed memory (trim threshold 1 GiB, top pad 256 MiB) lets passes reuse warm pages.
//! Measured here: 5-30% more texts/s on MiniLM (noisy 2-core VM). The same settings can be
//! given without code as `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824
//! MALLOC_TOP_PAD_=268435456`.

/// Applies the settings once per process; returns whether glibc accepted them all.
/// A no-op returning `false` off glibc.
pub(crate) fn tune_glibc_malloc() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static APPLIED: once_cell::sync::OnceCell<bool> = once_cell::sync::OnceCell::new();
        *APPLIED.get_or_init(|| {
            // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
                    && libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30) == 1
                    && libc::mallopt(libc::M_TOP_PAD, 256 << 20) == 1
            }
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
