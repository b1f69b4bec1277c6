//! Integration tests: start the mock and talk to it over HTTP.
#![allow(clippy::unwrap_used)]

mod anthropic;
mod common;
mod embeddings;
mod log;
mod native;
mod openai;
mod robust;
