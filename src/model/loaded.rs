//! Loading a model directory.

use std::path::Path;

use super::network::{word_embeddings_tensor, Network, NetworkOptions};
use super::weights::Weights;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::long_texts::LongTexts;
use crate::tokenize::{load_tokenizer, TextEncoder};

/// The files of a model directory in Hugging Face layout.
pub(crate) const CONFIG_FILE: &str = "config.json";
pub(crate) const SAFETENSORS_FILE: &str = "model.safetensors";
pub(crate) const PYTORCH_FILE: &str = "pytorch_model.bin";

/// How many networks to load, one per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copies {
    /// Exactly this many (at least one).
    Exactly(usize),
    /// This many when the architecture lets them share one set of weights (BERT, RoBERTa),
    /// else one: extra workers are then worth no more memory than their activations.
    IfShared(usize),
}

/// A model ready to run: its config, its tokenizer and its network (one per worker; BERT and
/// RoBERTa workers share one set of weights).
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
        copies: Copies,
    ) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::MissingFile {
                path: dir.to_path_buf(),
            });
        }
        let config = ModelConfig::from_file(&dir.join(CONFIG_FILE))?;
        let (tokenizer, tokenizer_path) = load_tokenizer(dir, config.architecture())?;
        let encoder = TextEncoder::new(
            tokenizer,
            &tokenizer_path,
            config.max_input_tokens(),
            long_texts,
        )?;
        let weights = read_weights(dir)?;
        Self::from_parts(config, encoder, &weights, options, copies)
    }

    fn from_parts(
        config: ModelConfig,
        encoder: TextEncoder,
        weights: &Weights,
        options: NetworkOptions,
        copies: Copies,
    ) -> Result<Self> {
        let embedding_rows = weights
            .shape(word_embeddings_tensor(config.architecture()))?
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
        let first = Network::load(&config, weights, options)?;
        let wanted = match copies {
            Copies::Exactly(n) | Copies::IfShared(n) => n.max(1),
        };
        let mut networks = Vec::with_capacity(wanted);
        for _ in 1..wanted {
            networks.push(match (first.share(), copies) {
                (Some(shared), _) => shared,
                (None, Copies::Exactly(_)) => Network::load(&config, weights, options)?,
                (None, Copies::IfShared(_)) => break,
            });
        }
        networks.insert(0, first);
        Ok(Self {
            config,
            encoder,
            networks,
        })
    }
}

/// The weights of `dir`, preferring safetensors; without either file, the missing file named is
/// `model.safetensors`.
fn read_weights(dir: &Path) -> Result<Weights> {
    let safetensors = dir.join(SAFETENSORS_FILE);
    let pytorch = dir.join(PYTORCH_FILE);
    if !safetensors.exists() && pytorch.exists() {
        return super::pickle::read_torch_zip(&pytorch);
    }
    Weights::from_safetensors(&safetensors)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use tch::Device;

    use super::*;
    use crate::batch::PaddedBatch;
    use crate::precision::Precision;

    fn test_model(name: &str) -> PathBuf {
        let models = std::env::var_os("EMOTION_TEST_MODELS")
            .expect("EMOTION_TEST_MODELS names the test models' folder (.cargo/config.toml)");
        PathBuf::from(models).join(name)
    }

    #[test]
    fn bert_and_roberta_workers_share_one_set_of_weights_and_distilbert_workers_do_not() {
        let options = NetworkOptions {
            precision: Precision::F32,
            device: Device::Cpu,
            pack_weights: true,
        };
        for (name, shared) in [
            ("emotion-minilm-ekman", true),
            ("tiny-roberta-emotion", true),
            ("tiny-distilbert-emotion", false),
        ] {
            let dir = test_model(name);
            // Workers by default: extra ones only when they share the weights.
            let by_default =
                LoadedModel::from_dir(&dir, LongTexts::default(), options, Copies::IfShared(3))
                    .unwrap();
            assert_eq!(
                by_default.networks.len(),
                if shared { 3 } else { 1 },
                "{name}"
            );
            let model =
                LoadedModel::from_dir(&dir, LongTexts::default(), options, Copies::Exactly(3))
                    .unwrap();
            assert_eq!(model.networks.len(), 3, "{name}");
            let addresses: Vec<Option<usize>> = model
                .networks
                .iter()
                .map(Network::embeddings_address)
                .collect();
            assert!(addresses.iter().all(Option::is_some), "{name}");
            let distinct = addresses
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len();
            assert_eq!(
                distinct,
                if shared { 1 } else { 3 },
                "{name}: {addresses:?}"
            );
            // Every copy computes the same logits.
            let texts = [
                "I love this!",
                "This is awful and I am scared of what comes next.",
            ];
            let sequences: Vec<Vec<u32>> = texts
                .iter()
                .map(|t| model.encoder.encode(t).unwrap().remove(0))
                .collect();
            let batch = PaddedBatch::new(&sequences, model.config.pad_token_id());
            let first = model.networks[0].batch_logits(&batch).unwrap();
            assert_eq!(first.len(), 2);
            for network in &model.networks[1..] {
                assert_eq!(network.batch_logits(&batch).unwrap(), first, "{name}");
            }
        }
    }
}
