//! Parameters fetched from a checkpoint straight into the form the network runs them in, in
//! the style of candle's `VarBuilder`: each tensor is converted to its final dtype and moved to
//! its device as it is fetched, and a layer matrix is packed for MKL right then, so nothing
//! walks the network afterwards to convert, move or pack it.
//!
//! [`Params`] keeps what it fetched, by name. Loading the network a second time from the same
//! `Params` (one network per worker) takes the same tensors again as shallow clones, so every
//! worker runs on one set of weights without a hand-written sharing walk.

use std::cell::RefCell;
use std::collections::HashMap;

use tch::{Device, Kind, Tensor};

use crate::checkpoint::Weights;
use crate::cpu::int8::Int8Matrix;
use crate::cpu::mkl::PackedMatrix;
use crate::error::Result;

/// A linear layer's weight, as [`Params::matrix`] gives it: as loaded, packed for MKL (f32 on
/// the CPU), or int8.
pub(crate) enum Weight {
    Plain(Tensor),
    Packed(PackedMatrix),
    Int8(Int8Matrix),
}

/// A checkpoint's tensors in the dtype and on the device the network runs in.
///
/// Holds libtorch tensors: used on the loading thread only, before the networks it fills go to
/// their workers. Sharing fetched tensors is sound because nothing writes a parameter after
/// loading and libtorch counts tensor references atomically.
pub(crate) struct Params<'a> {
    weights: &'a Weights,
    kind: Kind,
    device: Device,
    /// How layer matrices are held.
    matrices: Matrices,
    tensors: RefCell<HashMap<String, Tensor>>,
    packed: RefCell<HashMap<String, PackedMatrix>>,
    int8: RefCell<HashMap<String, Int8Matrix>>,
}

/// How a [`Params`] holds layer matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matrices {
    /// As tensors, for libtorch's `linear`.
    Plain,
    /// Packed for MKL's f32 GEMM, in this many column blocks.
    Packed(usize),
    /// Quantized to int8 ([`Int8Matrix`]).
    Int8,
}

impl<'a> Params<'a> {
    /// Fetches from `weights` in `kind` on `device`, layer matrices held as `matrices` says
    /// (packed or int8 apply to f32 on the CPU only; otherwise they stay plain).
    pub(crate) fn new(
        weights: &'a Weights,
        kind: Kind,
        device: Device,
        matrices: Matrices,
    ) -> Self {
        let on_cpu_in_f32 = kind == Kind::Float && device == Device::Cpu;
        Self {
            weights,
            kind,
            device,
            matrices: if on_cpu_in_f32 {
                matrices
            } else {
                Matrices::Plain
            },
            tensors: RefCell::default(),
            packed: RefCell::default(),
            int8: RefCell::default(),
        }
    }

    /// The shape of checkpoint tensor `name`.
    pub(crate) fn shape(&self, name: &str) -> Result<Vec<i64>> {
        Ok(self.weights.shape(name)?.to_vec())
    }

    /// Tensor `name`, checked to have shape `shape`.
    pub(crate) fn tensor(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        self.derived(name, |weights| weights.tensor_f32(name, shape))
    }

    /// The tensor `make` computes in f32 on the CPU from the checkpoint, converted and moved;
    /// kept under `key` (a name no checkpoint tensor has, for one that is not stored as such).
    pub(crate) fn derived(
        &self,
        key: &str,
        make: impl FnOnce(&Weights) -> Result<Tensor>,
    ) -> Result<Tensor> {
        if let Some(tensor) = self.tensors.borrow().get(key) {
            return Ok(tensor.shallow_clone());
        }
        let tensor = self.finish(make(self.weights)?)?;
        self.tensors
            .borrow_mut()
            .insert(key.to_owned(), tensor.shallow_clone());
        Ok(tensor)
    }

    /// A layer's weight matrix as `make` computes it, packed for MKL when this `Params` packs
    /// and MKL can, else as a plain tensor; kept under `key`.
    pub(crate) fn matrix(
        &self,
        key: &str,
        make: impl FnOnce(&Weights) -> Result<Tensor>,
    ) -> Result<Weight> {
        let parts = match self.matrices {
            Matrices::Plain => return Ok(Weight::Plain(self.derived(key, make)?)),
            Matrices::Int8 => return self.int8(key, make),
            Matrices::Packed(parts) => parts,
        };
        if let Some(packed) = self.packed.borrow().get(key) {
            return Ok(Weight::Packed(packed.share()));
        }
        if let Some(plain) = self.tensors.borrow().get(key) {
            return Ok(Weight::Plain(plain.shallow_clone()));
        }
        let weight = make(self.weights)?;
        match PackedMatrix::pack(&weight, parts)? {
            Some(packed) => {
                let shared = packed.share();
                self.packed.borrow_mut().insert(key.to_owned(), packed);
                Ok(Weight::Packed(shared))
            }
            // This libtorch has no packed GEMM: the matrix stays plain.
            None => Ok(Weight::Plain(self.derived(key, |_| Ok(weight))?)),
        }
    }

    /// A layer matrix quantized to int8, once per key.
    fn int8(&self, key: &str, make: impl FnOnce(&Weights) -> Result<Tensor>) -> Result<Weight> {
        if let Some(matrix) = self.int8.borrow().get(key) {
            return Ok(Weight::Int8(matrix.clone()));
        }
        let weight = make(self.weights)?.f_contiguous()?;
        let (outputs, inputs) = weight.size2()?;
        let values = Vec::<f32>::try_from(&weight.f_view([-1])?)?;
        let matrix = Int8Matrix::new(
            &values,
            usize::try_from(outputs).unwrap_or(0),
            usize::try_from(inputs).unwrap_or(0),
        );
        self.int8
            .borrow_mut()
            .insert(key.to_owned(), matrix.clone());
        Ok(Weight::Int8(matrix))
    }

    /// The names of every tensor fetched so far.
    #[cfg(test)]
    pub(crate) fn fetched(&self) -> Vec<String> {
        self.tensors.borrow().keys().cloned().collect()
    }

    fn finish(&self, tensor: Tensor) -> Result<Tensor> {
        let tensor = if tensor.kind() == self.kind {
            tensor
        } else {
            tensor.f_to_kind(self.kind)?
        };
        Ok(if self.device == Device::Cpu {
            tensor
        } else {
            tensor.f_to_device(self.device)?
        })
    }
}
