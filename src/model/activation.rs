//! The feed-forward network's activation, as `config.json` names it (`hidden_act` for BERT and
//! RoBERTa, `activation` for DistilBERT).
//!
//! Nearly every emotion model uses exact GELU, which runs on the crate's own kernel
//! ([`crate::cpu::gelu`]); the others run on libtorch's ops, with `transformers`' definitions.

use tch::Tensor;

use crate::cpu::gelu::gelu_in_place;
use crate::cpu::tensor_values::fresh_f32_values;
use crate::error::Result;

/// An activation `transformers` and rust-bert both know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    /// `gelu`: `x Φ(x)`, with erf.
    Gelu,
    /// `gelu_new`: GELU's tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
    /// `swish` (SiLU): `x σ(x)`.
    Swish,
    /// `mish`: `x tanh(softplus(x))`.
    Mish,
    /// `tanh`.
    Tanh,
    /// `identity`/`linear`: no activation.
    Identity,
}

impl From<rust_bert::Activation> for Activation {
    fn from(activation: rust_bert::Activation) -> Self {
        use rust_bert::Activation as A;
        match activation {
            A::gelu => Self::Gelu,
            A::gelu_new => Self::GeluTanh,
            A::relu => Self::Relu,
            A::swish => Self::Swish,
            A::mish => Self::Mish,
            A::tanh => Self::Tanh,
            A::identity => Self::Identity,
        }
    }
}

impl Activation {
    /// The activation of `x`, a linear layer's fresh output: in place with the crate's kernel
    /// for GELU on a contiguous f32 CPU tensor, otherwise libtorch's op.
    ///
    /// # Safety
    /// `x` must own its storage alone, as [`fresh_f32_values`] requires: GELU may overwrite it.
    pub(crate) unsafe fn apply(self, x: Tensor) -> Result<Tensor> {
        Ok(match self {
            // SAFETY: the caller promises `x` owns its storage alone.
            Self::Gelu => return unsafe { gelu(x) },
            Self::GeluTanh => x.f_gelu("tanh")?,
            Self::Relu => x.f_relu()?,
            Self::Swish => x.f_silu()?,
            Self::Mish => x.f_mish()?,
            Self::Tanh => x.f_tanh()?,
            Self::Identity => x,
        })
    }
}

/// GELU of a linear layer's fresh output: in place with the crate's vectorized kernel
/// ([`gelu_in_place`], a tenth of libtorch's time) when it is a contiguous f32 CPU tensor,
/// otherwise libtorch's `gelu`.
///
/// # Safety
/// `x` must own its storage alone, as [`fresh_f32_values`] requires.
unsafe fn gelu(mut x: Tensor) -> Result<Tensor> {
    // SAFETY: the caller promises `x` owns its storage alone.
    if let Some(values) = unsafe { fresh_f32_values(&mut x) } {
        gelu_in_place(values);
        return Ok(x);
    }
    Ok(x.f_gelu("none")?)
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    #[test]
    fn each_activation_computes_transformers_formula() {
        let values: Vec<f32> = (-40..=40).map(|i| i as f32 * 0.15).collect();
        let x = || Tensor::from_slice(&values);
        let x64: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        let tanh_gelu = |v: f64| {
            0.5 * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
        };
        type Formula = fn(f64) -> f64;
        let cases: [(Activation, Formula); 7] = [
            (Activation::Gelu, |v| {
                0.5 * v * (1.0 + libm::erf(v / 2f64.sqrt()))
            }),
            (Activation::GeluTanh, tanh_gelu),
            (Activation::Relu, |v| v.max(0.0)),
            (Activation::Swish, |v| v / (1.0 + (-v).exp())),
            (Activation::Mish, |v| v * (1.0 + v.exp()).ln().tanh()),
            (Activation::Tanh, f64::tanh),
            (Activation::Identity, |v| v),
        ];
        for (activation, formula) in cases {
            // SAFETY: `x()` makes a new tensor that nothing else holds.
            let got = unsafe { activation.apply(x()) }.unwrap();
            assert_eq!(got.kind(), Kind::Float);
            assert_eq!(got.device(), Device::Cpu);
            let got = Vec::<f32>::try_from(&got).unwrap();
            for (v, g) in x64.iter().zip(&got) {
                let want = formula(*v);
                assert!(
                    (f64::from(*g) - want).abs() < 2e-6 * want.abs().max(1.0),
                    "{activation:?}({v}) = {g}, want {want}"
                );
            }
        }
    }

    #[test]
    fn every_rust_bert_activation_maps_to_its_namesake() {
        use rust_bert::Activation as A;
        for (from, to) in [
            (A::gelu, Activation::Gelu),
            (A::gelu_new, Activation::GeluTanh),
            (A::relu, Activation::Relu),
            (A::swish, Activation::Swish),
            (A::mish, Activation::Mish),
            (A::tanh, Activation::Tanh),
            (A::identity, Activation::Identity),
        ] {
            assert_eq!(Activation::from(from), to);
        }
    }
}
