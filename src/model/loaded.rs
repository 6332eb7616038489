//! Loading a model directory.

use std::path::Path;

use super::names;
use super::network::{Network, NetworkOptions};
use crate::checkpoint::Weights;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::long_texts::LongTexts;
use crate::model_folder::ModelFolder;
use crate::tokenize::TextEncoder;

/// A model ready to run: its config, its tokenizer and its network (one per worker, all on
/// one set of weights).
pub(crate) struct LoadedModel {
    pub(crate) config: ModelConfig,
    pub(crate) encoder: TextEncoder,
    pub(crate) networks: Vec<Network>,
}

impl LoadedModel {
    /// Loads `config.json`, the tokenizer (`tokenizer.json`, or else a slow tokenizer's files)
    /// and the weights from `dir`: `model.safetensors`, or else `pytorch_model.bin`.
    ///
    /// Checks, once: the config is valid, the architecture supported, `id2label` matches the
    /// classifier's outputs, every weight tensor is present with the right shape, and the
    /// tokenizer never produces an id the embedding matrix lacks.
    pub(crate) fn from_dir(
        dir: &Path,
        long_texts: LongTexts,
        options: NetworkOptions,
        copies: usize,
    ) -> Result<Self> {
        let folder = ModelFolder::open(dir)?;
        let config = folder.config()?;
        let (tokenizer, tokenizer_path) = folder.tokenizer()?;
        let encoder = TextEncoder::new(
            tokenizer,
            &tokenizer_path,
            config.max_input_tokens(),
            long_texts,
        )?;
        let weights = folder.weights()?;
        Self::from_parts(config, encoder, &weights, options, copies)
    }

    fn from_parts(
        config: ModelConfig,
        encoder: TextEncoder,
        weights: &Weights,
        options: NetworkOptions,
        copies: usize,
    ) -> Result<Self> {
        let embedding_rows = weights
            .shape(&names::word_embeddings(config.architecture()))?
            .first()
            .copied()
            .unwrap_or(0);
        let tokenizer_vocab = encoder.id_space();
        if i64::try_from(tokenizer_vocab).map_or(true, |v| v > embedding_rows) {
            return Err(Error::VocabularyMismatch {
                path: encoder.path().to_path_buf(),
                tokenizer_vocab,
                embedding_rows,
            });
        }
        let networks = Network::load(&config, weights, options, copies)?;
        Ok(Self {
            config,
            encoder,
            networks,
        })
    }
}

#[cfg(test)]
mod tests {

    use tch::Device;

    use super::*;
    use crate::batch::TokenBatch;
    use crate::precision::Precision;

    #[test]
    fn every_architectures_workers_share_one_set_of_weights() {
        // Building rust-bert's modules draws their initial weights from libtorch's generator.
        let _generator = crate::torch_rng::hold();
        let options = NetworkOptions {
            precision: Precision::F32,
            device: Device::Cpu,
            pack_weights: true,
            gemm_parts: 2,
            small_passes: true,
        };
        for name in [
            "emotion-minilm-ekman",
            "tiny-roberta-emotion",
            "tiny-distilbert-emotion",
            "tiny-albert-emotion",
            "tiny-deberta-v2-emotion",
            "tiny-mobilebert-emotion",
            "tiny-longformer-emotion",
        ] {
            let model = LoadedModel::from_dir(
                &crate::model::test_model_dir(name),
                LongTexts::default(),
                options,
                3,
            )
            .unwrap();
            assert_eq!(model.networks.len(), 3, "{name}");
            let addresses: Vec<usize> = model
                .networks
                .iter()
                .map(Network::embeddings_address)
                .collect();
            assert!(
                addresses.iter().all(|&a| a == addresses[0]),
                "{name}: {addresses:?}"
            );
            // Every copy computes the same logits.
            let texts = [
                "I love this!",
                "This is awful and I am scared of what comes next.",
            ];
            let sequences: Vec<Vec<u32>> = texts
                .iter()
                .map(|t| {
                    model
                        .encoder
                        .encode(t, crate::long_texts::Truncation::default())
                        .unwrap()
                        .windows
                        .remove(0)
                })
                .collect();
            let batch = TokenBatch::new(&sequences);
            let first = model.networks[0].batch_logits(&batch, None).unwrap();
            assert_eq!(first.len(), 2);
            for network in &model.networks[1..] {
                assert_eq!(network.batch_logits(&batch, None).unwrap(), first, "{name}");
            }
        }
    }
}
