//! AdamW as PyTorch 2.4 computes it (`torch.optim.AdamW`, single-tensor path), with the
//! recipe's decay groups, and global-norm gradient clipping as `clip_grad_norm_` computes it.
//!
//! Written out rather than tch's `nn::AdamW`: the recipe needs weight decay on matrices only
//! (tch sets decay per variable group, and rust-bert builds every variable in one group), and a
//! resumable run needs the moments, which tch's optimizer does not expose.

use tch::{Kind, Tensor};

use crate::error::Result;

/// AdamW's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AdamWConfig {
    pub(crate) beta1: f64,
    pub(crate) beta2: f64,
    pub(crate) eps: f64,
    /// Applied to parameters of 2 or more dimensions; biases and norm weights get none.
    pub(crate) weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// The optimizer's state: each parameter's moments, and the number of updates made.
pub(crate) struct AdamW {
    config: AdamWConfig,
    /// First and second moments, one pair per parameter, in the parameters' order.
    moments: Vec<(Tensor, Tensor)>,
    updates: u64,
}

impl AdamW {
    /// Zero moments for `parameters`.
    pub(crate) fn new(config: AdamWConfig, parameters: &[(String, Tensor)]) -> Result<Self> {
        let moments = parameters
            .iter()
            .map(|(_, p)| Ok((p.f_zeros_like()?, p.f_zeros_like()?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config,
            moments,
            updates: 0,
        })
    }

    /// One update of every parameter with a gradient, at learning rate `lr`.
    pub(crate) fn update(&mut self, parameters: &[(String, Tensor)], lr: f64) -> Result<()> {
        let c = self.config;
        self.updates += 1;
        let t = self.updates as f64;
        let bias_correction1 = 1.0 - c.beta1.powf(t);
        let bias_correction2_sqrt = (1.0 - c.beta2.powf(t)).sqrt();
        let step_size = lr / bias_correction1;
        tch::no_grad(|| -> Result<()> {
            for ((_, parameter), (m, v)) in parameters.iter().zip(&mut self.moments) {
                let grad = parameter.grad();
                if !grad.defined() {
                    continue;
                }
                let mut parameter = parameter.shallow_clone();
                let decay = if parameter.dim() >= 2 {
                    c.weight_decay
                } else {
                    0.0
                };
                if decay != 0.0 {
                    let _ = parameter.f_mul_scalar_(1.0 - lr * decay)?;
                }
                // In place where PyTorch is (`lerp_`, `mul_().addcmul_()`, `addcdiv_`): two
                // temporaries per parameter instead of six.
                let _ = m.f_lerp_(&grad, 1.0 - c.beta1)?;
                let _ = v.f_mul_scalar_(c.beta2)?;
                let _ = v.f_addcmul_(&grad.f_mul_scalar(1.0 - c.beta2)?, &grad)?;
                let mut denom = v.f_sqrt()?;
                let _ = denom.f_div_scalar_(bias_correction2_sqrt)?;
                let _ = denom.f_add_scalar_(c.eps)?;
                // p -= step_size * m / denom, as p += m / (denom / -step_size).
                let _ = denom.f_div_scalar_(-step_size)?;
                let _ = parameter.f_addcdiv_(m, &denom)?;
            }
            Ok(())
        })
    }

    /// The updates made so far.
    pub(crate) fn updates(&self) -> u64 {
        self.updates
    }

    /// Each parameter's first and second moments, in the parameters' order.
    pub(crate) fn moments(&self) -> &[(Tensor, Tensor)] {
        &self.moments
    }

    /// Continues from a saved state: the moments' values are copied in, in the parameters'
    /// order, and the update count is set.
    pub(crate) fn restore(&mut self, moments: &[(Tensor, Tensor)], updates: u64) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for ((m, v), (saved_m, saved_v)) in self.moments.iter_mut().zip(moments) {
                m.f_copy_(saved_m)?;
                v.f_copy_(saved_v)?;
            }
            Ok(())
        })?;
        self.updates = updates;
        Ok(())
    }
}

/// Scales every gradient so that their global L2 norm is at most `max_norm`, and returns the
/// norm before clipping (`torch.nn.utils.clip_grad_norm_`: the norm of the per-tensor norms,
/// each gradient times `min(1, max_norm / (norm + 1e-6))`).
pub(crate) fn clip_grad_norm(parameters: &[(String, Tensor)], max_norm: f64) -> Result<f64> {
    tch::no_grad(|| -> Result<f64> {
        let grads: Vec<Tensor> = parameters
            .iter()
            .map(|(_, p)| p.grad())
            .filter(Tensor::defined)
            .collect();
        if grads.is_empty() {
            return Ok(0.0);
        }
        let norms = grads
            .iter()
            .map(|g| Ok(g.f_norm()?))
            .collect::<Result<Vec<_>>>()?;
        let total = Tensor::f_stack(&norms, 0)?.f_norm()?;
        let coefficient = total
            .f_add_scalar(1e-6)?
            .f_reciprocal()?
            .f_mul_scalar(max_norm)?
            .f_clamp_max(1.0)?;
        for mut g in grads {
            let _ = g.f_mul_(&coefficient)?;
        }
        Ok(total.f_to_kind(Kind::Double)?.f_double_value(&[])?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values)
            .reshape(shape)
            .set_requires_grad(true)
    }

    #[test]
    fn one_update_matches_the_formula() {
        // Two parameters, a matrix (decayed) and a bias (not), with gradients from a loss.
        let w = parameter(&[0.5, -1.0, 2.0, 0.25], &[2, 2]);
        let b = parameter(&[0.1, -0.2], &[2]);
        let params = vec![
            ("w".to_owned(), w.shallow_clone()),
            ("b".to_owned(), b.shallow_clone()),
        ];
        let loss = (w.sum(Kind::Float) * 3.0) + (b.square().sum(Kind::Float));
        loss.backward();
        let mut adam = AdamW::new(AdamWConfig::default(), &params).expect("adamw");
        adam.update(&params, 0.1).expect("update");
        // Step 1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2: p -= lr * g / (|g| + eps).
        let expected_w =
            [0.5f64, -1.0, 2.0, 0.25].map(|p| p * (1.0 - 0.1 * 0.01) - 0.1 * 3.0 / (3.0 + 1e-8));
        let got: Vec<f32> = w.flatten(0, -1).try_into().expect("values");
        for (g, e) in got.iter().zip(expected_w) {
            assert!((f64::from(*g) - e).abs() < 1e-6, "{g} vs {e}");
        }
        let expected_b = [0.1f64, -0.2].map(|p| p - 0.1 * (2.0 * p) / ((2.0 * p).abs() + 1e-8));
        let got: Vec<f32> = b.shallow_clone().try_into().expect("values");
        for (g, e) in got.iter().zip(expected_b) {
            assert!((f64::from(*g) - e).abs() < 1e-6, "{g} vs {e}");
        }
        assert_eq!(adam.updates(), 1);
    }

    #[test]
    fn clipping_scales_to_the_max_norm_and_returns_the_norm_before() {
        let w = parameter(&[1.0, 1.0], &[2]);
        let b = parameter(&[1.0], &[1]);
        let params = vec![
            ("w".to_owned(), w.shallow_clone()),
            ("b".to_owned(), b.shallow_clone()),
        ];
        (w.sum(Kind::Float) * 3.0 + b.sum(Kind::Float) * 4.0).backward();
        // Gradients [3, 3] and [4]: norm sqrt(34).
        let norm = clip_grad_norm(&params, 1.0).expect("clip");
        assert!((norm - 34f64.sqrt()).abs() < 1e-5);
        let after =
            (w.grad().square().sum(Kind::Float) + b.grad().square().sum(Kind::Float)).sqrt();
        assert!((after.double_value(&[]) - 1.0).abs() < 1e-5);
        // Under the max: left as is.
        let norm = clip_grad_norm(&params, 10.0).expect("clip");
        assert!((norm - 1.0).abs() < 1e-5);
        assert!((w.grad().double_value(&[0]) - 3.0 / 34f64.sqrt()).abs() < 1e-5);
    }
}
