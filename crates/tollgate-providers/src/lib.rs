//! Talking to upstream providers: where each kind's endpoints are, how it
//! authenticates, the HTTP client, and how a failed answer is classified before
//! anything is retried.
//!
//! Body translation between wire formats lives in `tollgate-protocol`; this crate only
//! knows which format a provider kind speaks natively ([`WireFormat`]).

pub mod client;
pub mod endpoint;
pub mod failure;

pub use client::{SendError, UpstreamClient};
pub use endpoint::{
    UpstreamCall, WireFormat, chat_call, embeddings_call, embeddings_format, native_format,
    prepare_openai_body, prepare_openai_embeddings,
};
pub use failure::{Failure, classify};
