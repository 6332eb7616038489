//! A model loaded from disk: config, tokenizer and network, checked against each other once.
//!
//! `weights` reads checkpoint tensors and checks them (`pickle` reads PyTorch's `.bin` ones); `network` runs rust-bert's modules on
//! them; [`LoadedModel`] ties both to the tokenizer and answers batches of token ids.

mod loaded;
mod network;
mod pickle;
mod weights;

pub(crate) use loaded::LoadedModel;
pub(crate) use network::Network;
