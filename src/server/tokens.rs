//! `POST /tokenize` and `POST /decode`, as TEI 1.9.3 answers them, run on the tokenizer pool
//! (never on the async executor) under the same admission as classification.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{Body, ErrorResponse, ErrorType, Refusal};
use super::state::Served;
use super::types::{
    DecodeRequest, DecodeResponse, InputIds, SimpleToken, TokenizeInput, TokenizeRequest,
    TokenizeResponse,
};
use crate::error::Error;

/// TEI's `into_tokens`: special tokens with their token text and no span; others with the
/// input's bytes at their offsets.
fn into_tokens(encoding: &tokenizers::Encoding, input: &str) -> Vec<SimpleToken> {
    encoding
        .get_ids()
        .iter()
        .zip(encoding.get_offsets())
        .zip(encoding.get_special_tokens_mask())
        .zip(encoding.get_tokens())
        .map(|(((&id, &(start, stop)), &special), token)| {
            if special == 1 {
                SimpleToken {
                    id,
                    text: token.clone(),
                    special: true,
                    start: None,
                    stop: None,
                }
            } else {
                let bytes = input.as_bytes().get(start..stop).unwrap_or_default();
                SimpleToken {
                    id,
                    text: String::from_utf8_lossy(bytes).into_owned(),
                    special: false,
                    start: Some(start),
                    stop: Some(stop),
                }
            }
        })
        .collect()
}

/// Checks a batch of `size` items against TEI's limits.
fn check_batch(served: &Served, size: usize, what: &str) -> Result<(), Refusal> {
    if size == 0 {
        return Err(Refusal::empty(what));
    }
    let limit = served.config.max_client_batch_size;
    if size > limit {
        return Err(Refusal::batch_size(size, limit));
    }
    Ok(())
}

fn tokenizer_error(source: tokenizers::Error) -> Refusal {
    Refusal::from_error(&Error::Tokenize {
        source: source.into(),
    })
}

/// Each input's tokens, with their ids and spans.
#[utoipa::path(
    post,
    path = "/tokenize",
    tag = "Text Embeddings Inference",
    request_body = TokenizeRequest,
    responses(
        (status = 200, description = "Tokenized ids", body = TokenizeResponse),
        (status = 400, description = "Batch is empty", body = ErrorResponse),
        (status = 422, description = "Tokenization or validation error", body = ErrorResponse),
        (status = 429, description = "Model is overloaded", body = ErrorResponse),
    )
)]
pub(crate) async fn tokenize(
    State(served): State<Arc<Served>>,
    Body(request): Body<TokenizeRequest>,
) -> Result<Response, Refusal> {
    if let Some(name) = request.prompt_name {
        return Err(Refusal::new(
            ErrorType::Validation,
            "validation",
            format!("prompt_name {name:?}: the model has no prompts"),
        ));
    }
    let inputs = match request.inputs {
        TokenizeInput::Single(text) => vec![text],
        TokenizeInput::Batch(texts) => {
            check_batch(&served, texts.len(), "inputs")?;
            texts
        }
    };
    let _permit = served.admit(0)?;
    let special = request.add_special_tokens;
    let tokens = served
        .pool
        .run(move |encoder| {
            inputs
                .iter()
                .map(|text| {
                    let encoding = encoder.tokenizer().encode(text.as_str(), special)?;
                    Ok(into_tokens(&encoding, text))
                })
                .collect::<Result<Vec<_>, tokenizers::Error>>()
        })
        .await
        .map_err(|e| Refusal::from_error(&e))?
        .map_err(tokenizer_error)?;
    Ok(Json(TokenizeResponse(tokens)).into_response())
}

/// The text of each list of ids.
#[utoipa::path(
    post,
    path = "/decode",
    tag = "Text Embeddings Inference",
    request_body = DecodeRequest,
    responses(
        (status = 200, description = "Decoded ids", body = DecodeResponse),
        (status = 400, description = "Batch is empty", body = ErrorResponse),
        (status = 422, description = "Tokenization or validation error", body = ErrorResponse),
        (status = 429, description = "Model is overloaded", body = ErrorResponse),
    )
)]
pub(crate) async fn decode(
    State(served): State<Arc<Served>>,
    Body(request): Body<DecodeRequest>,
) -> Result<Response, Refusal> {
    let ids = match request.ids {
        InputIds::Single(ids) => vec![ids],
        InputIds::Batch(ids) => {
            check_batch(&served, ids.len(), "ids")?;
            ids
        }
    };
    let _permit = served.admit(0)?;
    let skip = request.skip_special_tokens;
    let texts = served
        .pool
        .run(move |encoder| {
            ids.iter()
                .map(|ids| encoder.tokenizer().decode(ids, skip))
                .collect::<Result<Vec<_>, tokenizers::Error>>()
        })
        .await
        .map_err(|e| Refusal::from_error(&e))?
        .map_err(tokenizer_error)?;
    Ok(Json(DecodeResponse(texts)).into_response())
}
