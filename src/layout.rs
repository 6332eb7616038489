//! What a model folder in Hugging Face layout holds, in one place: the file names, which
//! tokenizer and weights file is used when several are there, and reading them with errors
//! that name them. The loader and the hub client both ask this module, so what the hub
//! downloads is what the loader reads.
//!
//! Preference, as `transformers` loads them:
//! - tokenizer: `tokenizer.json` (the "fast" tokenizer); else the architecture's "slow"
//!   tokenizer files, `vocab.json` + `merges.txt` (RoBERTa's byte-level BPE) or `vocab.txt`
//!   (BERT's and DistilBERT's WordPiece), with `tokenizer_config.json` for their options when
//!   it is there;
//! - weights: `model.safetensors` (no pickle), else `pytorch_model.bin`.

use std::path::Path;

use crate::config::Architecture;
use crate::error::{Error, Result};

/// The model's configuration.
pub(crate) const CONFIG: &str = "config.json";
/// The fast tokenizer.
pub(crate) const TOKENIZER: &str = "tokenizer.json";
/// The slow tokenizer's options.
pub(crate) const TOKENIZER_CONFIG: &str = "tokenizer_config.json";
/// Weights in safetensors.
pub(crate) const SAFETENSORS: &str = "model.safetensors";
/// Weights in PyTorch's zip checkpoint.
pub(crate) const PYTORCH: &str = "pytorch_model.bin";

/// Every tokenizer file a model folder may carry: what an exported folder copies from its base.
pub(crate) const TOKENIZER_FILES: &[&str] = &[
    TOKENIZER,
    TOKENIZER_CONFIG,
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spm.model",
    "added_tokens.json",
];

/// Which tokenizer a model folder provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenizerFiles {
    /// `tokenizer.json`.
    Fast,
    /// `vocab.json` + `merges.txt`: byte-level BPE (RoBERTa).
    ByteLevelBpe,
    /// `vocab.txt`: WordPiece (BERT, DistilBERT).
    WordPiece,
}

impl TokenizerFiles {
    /// The files, the vocabulary first.
    pub(crate) fn files(self) -> &'static [&'static str] {
        match self {
            Self::Fast => &[TOKENIZER],
            Self::ByteLevelBpe => &["vocab.json", "merges.txt"],
            Self::WordPiece => &["vocab.txt"],
        }
    }

    /// The slow tokenizer `architecture` can use without `tokenizer.json`, if any. The
    /// SentencePiece models of XLM-RoBERTa, ALBERT and DeBERTa-v2 (`*.model`) are not read:
    /// they need `tokenizer.json`.
    fn slow(architecture: Architecture) -> Option<Self> {
        match architecture {
            Architecture::Roberta | Architecture::Longformer => Some(Self::ByteLevelBpe),
            Architecture::Bert | Architecture::DistilBert | Architecture::MobileBert => {
                Some(Self::WordPiece)
            }
            Architecture::XlmRoberta | Architecture::Albert | Architecture::DebertaV2 => None,
        }
    }
}

/// Which weights file a model folder provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WeightsFile {
    /// `model.safetensors`.
    Safetensors,
    /// `pytorch_model.bin`.
    Pytorch,
}

impl WeightsFile {
    /// The file's name.
    pub(crate) fn file(self) -> &'static str {
        match self {
            Self::Safetensors => SAFETENSORS,
            Self::Pytorch => PYTORCH,
        }
    }
}

/// The files a model of one architecture is loaded from, chosen among those present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelFiles {
    pub(crate) tokenizer: TokenizerFiles,
    /// Whether `tokenizer_config.json` is there for a slow tokenizer's options.
    pub(crate) tokenizer_config: bool,
    pub(crate) weights: WeightsFile,
}

impl ModelFiles {
    /// The files to read for `architecture`, given which files exist (`has`).
    ///
    /// # Errors
    /// The name of the first kind of file that is missing: `tokenizer.json` (neither it nor the
    /// architecture's slow tokenizer) or `model.safetensors` (no weights of either format).
    pub(crate) fn choose(
        architecture: Architecture,
        has: impl Fn(&str) -> bool,
    ) -> Result<Self, &'static str> {
        let tokenizer = std::iter::once(TokenizerFiles::Fast)
            .chain(TokenizerFiles::slow(architecture))
            .find(|kind| kind.files().iter().all(|file| has(file)))
            .ok_or(TOKENIZER)?;
        let weights = [WeightsFile::Safetensors, WeightsFile::Pytorch]
            .into_iter()
            .find(|kind| has(kind.file()))
            .ok_or(SAFETENSORS)?;
        Ok(Self {
            tokenizer,
            tokenizer_config: tokenizer != TokenizerFiles::Fast && has(TOKENIZER_CONFIG),
            weights,
        })
    }

    /// The files of a model folder `dir` for `architecture`.
    ///
    /// # Errors
    /// [`Error::MissingFile`] naming the first kind of file missing (as [`choose`](Self::choose)).
    pub(crate) fn in_dir(dir: &Path, architecture: Architecture) -> Result<Self> {
        Self::choose(architecture, |file| dir.join(file).is_file()).map_err(|file| {
            Error::MissingFile {
                path: dir.join(file),
            }
        })
    }

    /// Every file to fetch, `config.json` first.
    pub(crate) fn all(&self) -> Vec<&'static str> {
        let mut files = vec![CONFIG];
        files.extend_from_slice(self.tokenizer.files());
        if self.tokenizer_config {
            files.push(TOKENIZER_CONFIG);
        }
        files.push(self.weights.file());
        files
    }
}

/// Reads a whole file; a missing file is [`Error::MissingFile`], anything else [`Error::Io`].
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile {
            path: path.to_path_buf(),
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(
        architecture: Architecture,
        listed: &[&str],
    ) -> Result<Vec<&'static str>, &'static str> {
        ModelFiles::choose(architecture, |file| listed.contains(&file)).map(|f| f.all())
    }

    #[test]
    fn prefers_fast_tokenizer_and_safetensors() {
        let listed = [
            "README.md",
            "config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "vocab.json",
            "merges.txt",
            "pytorch_model.bin",
            "model.safetensors",
            "tf_model.h5",
        ];
        assert_eq!(
            files(Architecture::Roberta, &listed),
            Ok(vec!["config.json", "tokenizer.json", "model.safetensors"])
        );
    }

    #[test]
    fn slow_tokenizers_and_pickle_weights_when_that_is_all() {
        let roberta = [
            "config.json",
            "vocab.json",
            "merges.txt",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "pytorch_model.bin",
        ];
        assert_eq!(
            files(Architecture::Roberta, &roberta),
            Ok(vec![
                "config.json",
                "vocab.json",
                "merges.txt",
                "tokenizer_config.json",
                "pytorch_model.bin"
            ])
        );
        let bert = ["config.json", "vocab.txt", "model.safetensors"];
        assert_eq!(
            files(Architecture::Bert, &bert),
            Ok(vec!["config.json", "vocab.txt", "model.safetensors"])
        );
    }

    #[test]
    fn both_slow_tokenizers_shipped_the_architecture_decides() {
        let both = [
            "config.json",
            "vocab.txt",
            "vocab.json",
            "merges.txt",
            "model.safetensors",
        ];
        assert_eq!(
            files(Architecture::Bert, &both),
            Ok(vec!["config.json", "vocab.txt", "model.safetensors"])
        );
        assert_eq!(
            files(Architecture::DistilBert, &both),
            Ok(vec!["config.json", "vocab.txt", "model.safetensors"])
        );
        assert_eq!(
            files(Architecture::Roberta, &both),
            Ok(vec![
                "config.json",
                "vocab.json",
                "merges.txt",
                "model.safetensors"
            ])
        );
    }

    #[test]
    fn another_architectures_slow_tokenizer_is_no_tokenizer() {
        // A BERT model whose folder has only RoBERTa's tokenizer files has no tokenizer.
        assert_eq!(
            files(
                Architecture::Bert,
                &[
                    "config.json",
                    "vocab.json",
                    "merges.txt",
                    "model.safetensors"
                ]
            ),
            Err("tokenizer.json")
        );
        assert_eq!(
            files(
                Architecture::Roberta,
                &["config.json", "vocab.txt", "model.safetensors"]
            ),
            Err("tokenizer.json")
        );
    }

    #[test]
    fn xlm_roberta_needs_tokenizer_json() {
        assert_eq!(
            files(
                Architecture::XlmRoberta,
                &["config.json", "tokenizer.json", "model.safetensors"]
            ),
            Ok(vec!["config.json", "tokenizer.json", "model.safetensors"])
        );
        assert_eq!(
            files(
                Architecture::XlmRoberta,
                &[
                    "config.json",
                    "vocab.json",
                    "merges.txt",
                    "vocab.txt",
                    "model.safetensors"
                ]
            ),
            Err("tokenizer.json")
        );
    }

    #[test]
    fn names_what_is_missing() {
        assert_eq!(
            files(
                Architecture::Bert,
                &["config.json", "tokenizer.json", "tf_model.h5"]
            ),
            Err("model.safetensors")
        );
        assert_eq!(files(Architecture::Bert, &[]), Err("tokenizer.json"));
    }
}
