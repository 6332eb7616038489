//! A model loaded from disk: config, tokenizer and network, checked against each other once.
//!
//! - [`LoadedModel`] (`loaded`) ties the network to its config and tokenizer.
//! - [`Network`] (`network`) holds the crate's fused [`encoder`]: the embeddings, the stack of
//!   `layer`s and the head, built from `linear` blocks whose parameters `params` fetches from
//!   a checkpoint under the architecture's `names`, in their final dtype and device.
//! - `library` runs the other architectures on parameters fetched the same way: ALBERT,
//!   MobileBERT, Longformer through rust-bert's modules, DeBERTa-v2 on the crate's own.
//! - `small_pass` runs a pass of a few dozen tokens through the layers on f32 rows with the
//!   crate's own kernels (no libtorch op between embeddings and head).
//! - `activation` is the feed-forward activation the config names; `unpadded` keeps a batch as
//!   its real tokens only.

mod activation;
mod encoder;
mod layer;
mod library;
mod linear;
mod loaded;
mod names;
mod network;
mod params;
mod small_pass;
mod unpadded;

pub(crate) use library::{classifier_output_weight, PositionTerms};
pub(crate) use loaded::LoadedModel;
pub(crate) use network::{Network, NetworkOptions};

/// A test model's folder, under `EMOTION_TEST_MODELS` (set by `.cargo/config.toml`).
#[cfg(test)]
pub(crate) fn test_model_dir(name: &str) -> std::path::PathBuf {
    let models = std::env::var_os("EMOTION_TEST_MODELS")
        .expect("EMOTION_TEST_MODELS names the test models' folder (.cargo/config.toml)");
    std::path::PathBuf::from(models).join(name)
}
