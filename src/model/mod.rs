//! A model loaded from disk: config, tokenizer and network, checked against each other once.
//!
//! `weights` reads checkpoint tensors and checks them (`pickle` reads PyTorch's `.bin` ones);
//! `network` runs them: BERT and RoBERTa on the crate's fused `encoder`, DistilBERT on
//! rust-bert's module. [`LoadedModel`] ties the network to its config and tokenizer.

mod encoder;
mod loaded;
mod network;
mod pickle;
mod unpadded;
mod weights;

pub(crate) use loaded::{Copies, LoadedModel};
pub(crate) use network::{Network, NetworkOptions};
