//! The recipe's settings, with its defaults (those of `peers/hf_finetune.py train`).

use serde::{Deserialize, Serialize};

/// What a run trains with. Two runs with the same settings, data and seed make the same
/// model (on the same thread count, up to float rounding).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// The peak learning rate (default 8e-5).
    pub learning_rate: f64,
    /// Texts a batch (default 32).
    pub batch_size: usize,
    /// Tokens a text is cut to, special tokens included (default 64).
    pub max_length: usize,
    /// Passes over the training texts (default 3).
    pub epochs: usize,
    /// The share of the steps the learning rate warms up over (default 0.06), then decays
    /// linearly to 0.
    pub warmup_ratio: f64,
    /// AdamW's decoupled weight decay on matrices (default 0.01; biases and norms get none).
    pub weight_decay: f64,
    /// Gradients are clipped to this global L2 norm (default 1.0).
    pub max_grad_norm: f64,
    /// Seeds the batch order (per epoch) and dropout (per step) (default 13).
    pub seed: u64,
    /// The dev set's score threshold for macro-F1 of a multi-label model (default 0.3).
    pub eval_threshold: f32,
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Self {
            learning_rate: 8e-5,
            batch_size: 32,
            max_length: 64,
            epochs: 3,
            warmup_ratio: 0.06,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            seed: 13,
            eval_threshold: 0.3,
        }
    }
}

impl Hyperparameters {
    /// The first setting that cannot work, as [`crate::Error::InvalidOption`].
    pub(crate) fn validate(&self) -> crate::Result<()> {
        let fail = |option, reason| Err(crate::Error::InvalidOption { option, reason });
        let finite_positive = |x: f64| x.is_finite() && x > 0.0;
        if !finite_positive(self.learning_rate) {
            return fail("learning_rate", "must be a finite number above 0");
        }
        if self.batch_size == 0 {
            return fail("batch_size", "must be at least 1");
        }
        if self.max_length < 2 {
            return fail("max_length", "must be at least 2 (the special tokens)");
        }
        if self.epochs == 0 {
            return fail("epochs", "must be at least 1");
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return fail("warmup_ratio", "must be in 0..1");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return fail("weight_decay", "must be a finite number, 0 or above");
        }
        if !finite_positive(self.max_grad_norm) {
            return fail("max_grad_norm", "must be a finite number above 0");
        }
        if !(0.0..=1.0).contains(&self.eval_threshold) {
            return fail("eval_threshold", "must be in 0..=1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_recipe_and_bad_values_name_the_option() {
        let d = Hyperparameters::default();
        assert!(d.validate().is_ok());
        assert_eq!((d.learning_rate, d.batch_size, d.epochs), (8e-5, 32, 3));
        let bad = |h: Hyperparameters| match h.validate() {
            Err(crate::Error::InvalidOption { option, .. }) => option,
            other => panic!("expected InvalidOption, got {other:?}"),
        };
        assert_eq!(
            bad(Hyperparameters {
                learning_rate: f64::NAN,
                ..d
            }),
            "learning_rate"
        );
        assert_eq!(bad(Hyperparameters { batch_size: 0, ..d }), "batch_size");
        assert_eq!(bad(Hyperparameters { epochs: 0, ..d }), "epochs");
        assert_eq!(
            bad(Hyperparameters {
                warmup_ratio: 1.0,
                ..d
            }),
            "warmup_ratio"
        );
        assert_eq!(
            bad(Hyperparameters {
                max_grad_norm: 0.0,
                ..d
            }),
            "max_grad_norm"
        );
    }
}
