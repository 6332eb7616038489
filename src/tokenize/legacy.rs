//! The tokenizer of a model directory: `tokenizer.json`, or else the files of a "slow" tokenizer
//! ([`crate::layout`] says which).
//!
//! The conversion follows `transformers`' `convert_slow_tokenizer`: RoBERTa is byte-level BPE
//! with `<s> … </s>` around each text; BERT and DistilBERT are WordPiece with BERT's normalizer
//! and `[CLS] … [SEP]`. Options come from `tokenizer_config.json` when it has them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokenizers::models::bpe::BPE;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{Error, Result};
use crate::layout::{ModelFiles, TokenizerFiles, TOKENIZER_CONFIG};

/// The tokenizer `files` names in `dir`, and the file it was read from (the vocabulary, for a
/// slow tokenizer).
///
/// # Errors
/// [`Error::MissingFile`], [`Error::Io`], [`Error::InvalidConfig`] for a bad
/// `tokenizer_config.json`, or [`Error::TokenizerLoad`].
pub(crate) fn load_tokenizer(dir: &Path, files: &ModelFiles) -> Result<(Tokenizer, PathBuf)> {
    let names = files.tokenizer.files();
    let first = dir.join(names[0]);
    let tokenizer = match files.tokenizer {
        TokenizerFiles::Fast => {
            let bytes = crate::layout::read(&first)?;
            Tokenizer::from_bytes(&bytes)
        }
        TokenizerFiles::ByteLevelBpe => {
            let options = SlowOptions::read(dir, files.tokenizer_config)?;
            byte_level_bpe(&first, &dir.join(names[1]), &options)
        }
        TokenizerFiles::WordPiece => {
            let options = SlowOptions::read(dir, files.tokenizer_config)?;
            wordpiece(&first, &options)
        }
    }
    .map_err(|source| Error::TokenizerLoad {
        path: first.clone(),
        source,
    })?;
    Ok((tokenizer, first))
}

/// The options of `tokenizer_config.json` that change how text is split.
#[derive(Debug, Default, Deserialize)]
struct SlowOptions {
    do_lower_case: Option<bool>,
    strip_accents: Option<bool>,
    tokenize_chinese_chars: Option<bool>,
    add_prefix_space: Option<bool>,
    trim_offsets: Option<bool>,
    unk_token: Option<TokenName>,
    cls_token: Option<TokenName>,
    sep_token: Option<TokenName>,
    pad_token: Option<TokenName>,
    mask_token: Option<TokenName>,
}

/// A special token, written either as a string or as `{"content": ...}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TokenName {
    Plain(String),
    Full { content: String },
}

impl SlowOptions {
    /// The options in `dir`'s `tokenizer_config.json` when `present`, else the defaults.
    fn read(dir: &Path, present: bool) -> Result<Self> {
        if !present {
            return Ok(Self::default());
        }
        let path = dir.join(TOKENIZER_CONFIG);
        let bytes = crate::layout::read(&path)?;
        serde_json::from_slice(&bytes).map_err(|source| Error::InvalidConfig { path, source })
    }

    fn token(name: &Option<TokenName>, default: &str) -> String {
        match name {
            Some(TokenName::Plain(content) | TokenName::Full { content }) => content.clone(),
            None => default.to_owned(),
        }
    }
}

type TokenizerResult = tokenizers::Result<Tokenizer>;

/// The special-token id of `token`, which the vocabulary must hold.
fn id_of(tokenizer: &Tokenizer, token: &str) -> tokenizers::Result<(String, u32)> {
    tokenizer
        .token_to_id(token)
        .map(|id| (token.to_owned(), id))
        .ok_or_else(|| format!("special token {token:?} is not in the vocabulary").into())
}

fn byte_level_bpe(vocab: &Path, merges: &Path, options: &SlowOptions) -> TokenizerResult {
    let bpe = BPE::from_file(&path_str(vocab)?, &path_str(merges)?).build()?;
    let add_prefix_space = options.add_prefix_space.unwrap_or(false);
    let trim_offsets = options.trim_offsets.unwrap_or(true);
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(add_prefix_space, trim_offsets, true)));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    let cls = SlowOptions::token(&options.cls_token, "<s>");
    let sep = SlowOptions::token(&options.sep_token, "</s>");
    let mut specials: Vec<AddedToken> = [
        cls.as_str(),
        SlowOptions::token(&options.pad_token, "<pad>").as_str(),
        sep.as_str(),
        SlowOptions::token(&options.unk_token, "<unk>").as_str(),
    ]
    .iter()
    .map(|token| AddedToken::from(*token, true))
    .collect();
    // RoBERTa's mask token swallows the space before it, as in `transformers`.
    specials.push(
        AddedToken::from(SlowOptions::token(&options.mask_token, "<mask>"), true)
            .lstrip(true)
            .normalized(false),
    );
    tokenizer.add_special_tokens(&specials);
    let processor = RobertaProcessing::new(id_of(&tokenizer, &sep)?, id_of(&tokenizer, &cls)?)
        .trim_offsets(trim_offsets)
        .add_prefix_space(add_prefix_space);
    tokenizer.with_post_processor(Some(processor));
    Ok(tokenizer)
}

fn wordpiece(vocab: &Path, options: &SlowOptions) -> TokenizerResult {
    let unk = SlowOptions::token(&options.unk_token, "[UNK]");
    let model = WordPiece::from_file(&path_str(vocab)?)
        .unk_token(unk.clone())
        .build()?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(Some(BertNormalizer::new(
        true,
        options.tokenize_chinese_chars.unwrap_or(true),
        options.strip_accents,
        options.do_lower_case.unwrap_or(true),
    )));
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    let cls = SlowOptions::token(&options.cls_token, "[CLS]");
    let sep = SlowOptions::token(&options.sep_token, "[SEP]");
    let specials: Vec<AddedToken> = [
        SlowOptions::token(&options.pad_token, "[PAD]"),
        unk,
        cls.clone(),
        sep.clone(),
        SlowOptions::token(&options.mask_token, "[MASK]"),
    ]
    .into_iter()
    .map(|token| AddedToken::from(token, true).normalized(false))
    .collect();
    tokenizer.add_special_tokens(&specials);
    let processor = BertProcessing::new(id_of(&tokenizer, &sep)?, id_of(&tokenizer, &cls)?);
    tokenizer.with_post_processor(Some(processor));
    Ok(tokenizer)
}

fn path_str(path: &Path) -> tokenizers::Result<String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("path {} is not UTF-8", path.display()).into())
}
