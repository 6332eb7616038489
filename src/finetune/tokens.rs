//! The base model's tokenizer, as inference reads it (`tokenizer.json`, else the slow files:
//! [`ModelFolder::tokenizer`]), truncating at the recipe's length, padding nothing (batches are
//! padded to their longest text when they are made).

use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};
use crate::model_folder::ModelFolder;

/// Token ids of texts, as the peer's `tok.enable_truncation(max_len); tok.no_padding()`.
pub(crate) struct TrainingTokenizer {
    tokenizer: Tokenizer,
}

impl TrainingTokenizer {
    /// The tokenizer of `folder`, truncating at `max_len` tokens.
    ///
    /// # Errors
    /// [`Error::MissingFile`], [`Error::Io`], or [`Error::TokenizerLoad`] for a file the
    /// tokenizers crate refuses.
    pub(crate) fn from_folder(folder: &ModelFolder, max_len: usize) -> Result<Self> {
        let (mut tokenizer, path) = folder.tokenizer()?;
        let load = |source| Error::TokenizerLoad {
            path: path.clone(),
            source,
        };
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(load)?;
        Ok(Self { tokenizer })
    }

    /// The ids of `texts`, special tokens included.
    ///
    /// # Errors
    /// [`Error::Tokenize`].
    pub(crate) fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        texts
            .iter()
            .map(|text| {
                let encoding = self
                    .tokenizer
                    .encode(*text, true)
                    .map_err(|e| Error::Tokenize { source: e.into() })?;
                Ok(encoding.get_ids().iter().map(|&id| i64::from(id)).collect())
            })
            .collect()
    }
}
