//! The values of a contiguous f32 CPU tensor as a slice, for the crate's own kernels (GELU,
//! the few-row GEMM, int8) to read or, on a tensor just made, write in place.

use tch::{Device, Kind, Tensor};

/// The element count of a non-empty contiguous f32 CPU tensor, whose values can be read (or,
/// if fresh, written) as a slice; `None` for any other tensor.
fn f32_slice_len(x: &Tensor) -> Option<usize> {
    let len = x.numel();
    (x.kind() == Kind::Float && x.device() == Device::Cpu && x.is_contiguous() && len > 0)
        .then_some(len)
}

/// The values of a non-empty contiguous f32 CPU tensor that the caller just created, for the
/// crate's own kernels to write in place; `None` for any other tensor.
///
/// # Safety
/// `x` must own its storage alone: no other tensor (a view, a shallow clone, a tensor that
/// shares it through autograd or libtorch's caching) may read or write that storage while the
/// returned slice lives. A tensor the caller has just made with an op that allocates its result
/// (a product, an add) and has not yet shared qualifies; a parameter, an input or any view does
/// not. The checks here (dtype, device, contiguity) cannot see sharing.
pub(crate) unsafe fn fresh_f32_values(x: &mut Tensor) -> Option<&mut [f32]> {
    let len = f32_slice_len(x)?;
    // SAFETY: `x` is a contiguous f32 tensor in CPU memory holding `len > 0` elements from
    // `data_ptr` on, and the caller promises that nothing else reads or writes this storage
    // while the slice lives.
    Some(unsafe { std::slice::from_raw_parts_mut(x.data_ptr().cast::<f32>(), len) })
}

/// The values of a contiguous f32 CPU tensor that nothing writes while the slice lives (a
/// parameter, or a product's input), read-only; `None` for any other.
pub(crate) fn f32_values(x: &Tensor) -> Option<&[f32]> {
    let len = f32_slice_len(x)?;
    // SAFETY: `x` is a contiguous f32 tensor in CPU memory holding `len > 0` elements from
    // `data_ptr` on. Callers pass parameters (never written after loading; workers share them
    // only to read) or a product's input, which nothing writes during the product, so shared
    // reads are sound for as long as `x` lives.
    Some(unsafe { std::slice::from_raw_parts(x.data_ptr().cast::<f32>(), len) })
}
