//! The integration tests, in one binary: every test binary links libtorch, rust-bert and
//! tokenizers, so one binary instead of ten saves minutes of linking on a fresh build. Tests that
//! set process-wide variables (`hub_env`, `default_classifier`) keep binaries of their own.

#[path = "../support/mod.rs"]
mod support;

mod async_api;
mod bad_input;
mod broken_models;
mod cache_and_worker;
mod crash_finetune;
mod explain;
mod hub;
mod journey;
mod long_texts;
mod parity;
mod scoring;
mod slow_tokenizer;
mod soak;
mod threads;
