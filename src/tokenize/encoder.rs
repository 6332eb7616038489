//! Text to token ids, truncated (or split into windows) to what the model can take.

use std::path::{Path, PathBuf};

use tokenizers::{
    PostProcessor, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::error::{Error, Result};
use crate::long_texts::LongTexts;

/// A model's tokenizer set up for classification.
///
/// `tokenizer.json` files may carry their own padding and truncation settings (the MiniLM ones pad
/// and truncate to 128). Python's `transformers` ignores them, so this clears both: the crate pads
/// per batch itself, and truncates at the model's real limit, keeping the special tokens.
#[derive(Clone)]
pub(crate) struct TextEncoder {
    tokenizer: Tokenizer,
    /// Return every window of a long text, not only the first.
    chunked: bool,
    path: PathBuf,
}

impl TextEncoder {
    /// Sets up `tokenizer` (read from `path`) to truncate every text to `max_tokens`, special
    /// tokens included, or to split it into windows of that length.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a chunk stride that cannot work, [`Error::TokenizerLoad`].
    pub(crate) fn new(
        mut tokenizer: Tokenizer,
        path: &Path,
        max_tokens: usize,
        long_texts: LongTexts,
    ) -> Result<Self> {
        let load_error = |source| Error::TokenizerLoad {
            path: path.to_path_buf(),
            source,
        };
        tokenizer.with_padding(None);
        let special = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        let stride = long_texts.stride(max_tokens, special)?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: stride.unwrap_or(0),
                direction: TruncationDirection::Right,
            }))
            .map_err(load_error)?;
        Ok(Self {
            tokenizer,
            path: path.to_path_buf(),
            chunked: stride.is_some(),
        })
    }

    /// The token ids of `text`, with the model's special tokens, each window at most
    /// `max_tokens` long: one window when truncating, every window when chunking.
    ///
    /// # Errors
    /// [`Error::Tokenize`] when the tokenizer fails on the text.
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<Vec<u32>>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|source| Error::Tokenize {
                source: source.into(),
            })?;
        let mut windows = vec![encoding.get_ids().to_vec()];
        if self.chunked {
            windows.extend(
                encoding
                    .get_overflowing()
                    .iter()
                    .map(|o| o.get_ids().to_vec()),
            );
        }
        Ok(windows)
    }

    /// One more than the largest id the tokenizer can produce, added tokens included: the
    /// number of embedding rows the model needs.
    pub(crate) fn id_space(&self) -> usize {
        self.tokenizer
            .get_vocab(true)
            .values()
            .max()
            .map_or(0, |&id| id as usize + 1)
    }

    /// The file the tokenizer was read from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
