//! A model loaded from disk: config, tokenizer and network, checked against each other once.
//!
//! `weights` reads checkpoint tensors and checks them (`pickle` reads PyTorch's `.bin` ones);
//! `network` runs them on the crate's fused `encoder` (BERT, RoBERTa and DistilBERT, with the
//! feed-forward `activation` their config names). [`LoadedModel`] ties the network to its
//! config and tokenizer.

mod activation;
mod encoder;
mod loaded;
mod network;
mod pickle;
mod unpadded;
mod weights;

pub(crate) use loaded::LoadedModel;
pub(crate) use network::{Network, NetworkOptions};
