//! The Intel MKL inside libtorch: two levers on its f32 GEMM, where this model spends 75-80% of
//! its time.
//!
//! - `vendor`: MKL's vendor check answered "Intel", so AMD CPUs get the same kernels.
//! - `packed`: weight matrices packed once at load for MKL's packed GEMM, instead of on every
//!   call (or not at all, for the slow kernel MKL uses on a single text's few rows).

mod packed;
mod vendor;

pub use packed::mkl_packed_gemm_available;
pub(crate) use packed::PackedMatrix;
pub use vendor::{mkl_vendor_override_active, MKL_OVERRIDE_ENV};

/// The address the dynamic linker binds `name` to in this process (the first definition in
/// load order, as libtorch's own calls see it), if any.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn dynamic_symbol(name: &std::ffi::CStr) -> Option<*mut libc::c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks the symbol up.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!found.is_null()).then_some(found)
}
