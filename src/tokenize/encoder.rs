//! Text to token ids, cut (or split into windows, or refused) to what the model can take.

use std::path::{Path, PathBuf};

use tokenizers::{PostProcessor, Tokenizer};

use crate::error::{Error, Result};
use crate::long_texts::{LongTexts, Truncation};

/// A model's tokenizer set up for classification.
///
/// `tokenizer.json` files may carry their own padding and truncation settings (the MiniLM ones pad
/// and truncate to 128). Python's `transformers` ignores them, so this clears both: the crate pads
/// per batch itself, and cuts at the model's real limit, keeping the special tokens. The cut is
/// made here, per call, as the tokenizer's own truncation would make it (the text's tokens cut
/// to the limit less the special tokens, then the special tokens added to each window), so one
/// tokenizer serves every [`Truncation`].
#[derive(Clone)]
pub(crate) struct TextEncoder {
    tokenizer: Tokenizer,
    /// The most tokens a window has, special tokens included.
    max_tokens: usize,
    /// The special tokens the post-processor adds to one text.
    special: usize,
    path: PathBuf,
}

/// One text's token ids: its windows (one unless chunked), and whether a cut lost tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub(crate) windows: Vec<Vec<u32>>,
    pub(crate) truncated: bool,
}

impl TextEncoder {
    /// Sets up `tokenizer` (read from `path`) for windows of at most `max_tokens`, special
    /// tokens included; `long_texts` is the classifier's own, checked here.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a chunk stride that cannot work.
    pub(crate) fn new(
        mut tokenizer: Tokenizer,
        path: &Path,
        max_tokens: usize,
        long_texts: LongTexts,
    ) -> Result<Self> {
        tokenizer.with_padding(None);
        // Infallible without parameters: only a stride check can fail.
        let _ = tokenizer.with_truncation(None);
        let special = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        long_texts.stride(max_tokens, special)?;
        Ok(Self {
            tokenizer,
            max_tokens,
            special,
            path: path.to_path_buf(),
        })
    }

    /// The token ids of `text`, with the model's special tokens, each window at most
    /// `max_tokens` long: one window when cutting, every window when chunking.
    ///
    /// # Errors
    /// [`Error::Tokenize`] when the tokenizer fails on the text, [`Error::TooLong`] for a long
    /// text under [`LongTexts::Reject`], [`Error::InvalidOption`] for a chunk stride that
    /// leaves no room.
    pub(crate) fn encode(&self, text: &str, how: Truncation) -> Result<Encoded> {
        let tokenize = |source: tokenizers::Error| Error::Tokenize {
            source: source.into(),
        };
        let mut encoding = self.tokenizer.encode(text, false).map_err(tokenize)?;
        let budget = self.max_tokens.saturating_sub(self.special);
        let long = encoding.len() > budget;
        if long {
            let stride = match how.long_texts {
                LongTexts::Reject => {
                    return Err(Error::TooLong {
                        tokens: encoding.len() + self.special,
                        limit: self.max_tokens,
                    })
                }
                LongTexts::Truncate => 0,
                chunk @ LongTexts::Chunk { .. } => {
                    chunk.stride(self.max_tokens, self.special)?.unwrap_or(0)
                }
            };
            encoding.truncate(budget, stride, how.side.into());
        }
        let encoding = self
            .tokenizer
            .post_process(encoding, None, true)
            .map_err(tokenize)?;
        let mut windows = vec![encoding.get_ids().to_vec()];
        let chunked = matches!(how.long_texts, LongTexts::Chunk { .. });
        if chunked {
            windows.extend(
                encoding
                    .get_overflowing()
                    .iter()
                    .map(|o| o.get_ids().to_vec()),
            );
        }
        Ok(Encoded {
            windows,
            truncated: long && !chunked,
        })
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

    /// The tokenizer itself, as set up here (no padding, no truncation of its own).
    #[cfg(feature = "server")]
    pub(crate) fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The file the tokenizer was read from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
