//! Checkpoint files: named tensors read from disk and checked before they reach libtorch.
//!
//! - [`weights`]: [`Weights`], every tensor of one file by name, each fetched as a libtorch
//!   tensor of the shape the network expects, in the dtype and on the device it will run in.
//! - [`pickle`]: a strict reader for PyTorch's zip checkpoints (`pytorch_model.bin`) that runs
//!   no code.
//!
//! Nothing here knows an architecture: the network asks for tensors by name.

mod pickle;
mod weights;

pub(crate) use pickle::{parse_archive_bytes, read_torch_zip, run_pickle};
pub(crate) use weights::{safetensors_views, Weights};
