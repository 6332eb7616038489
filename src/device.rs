//! Where the model runs.

/// The device the forward pass runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// The CPU (the default), in the builder's [`Precision`](crate::Precision).
    #[default]
    Cpu,
    /// A CUDA GPU by index, in f16 (the builder's precision applies to the CPU only).
    Cuda(usize),
    /// The first CUDA GPU if libtorch sees one, else the CPU.
    CudaIfAvailable,
}

impl Device {
    /// The concrete libtorch device.
    pub(crate) fn resolve(self) -> tch::Device {
        match self {
            Device::Cpu => tch::Device::Cpu,
            Device::Cuda(index) => tch::Device::Cuda(index),
            Device::CudaIfAvailable => tch::Device::cuda_if_available(),
        }
    }
}
