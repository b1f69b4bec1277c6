//! tollgate-protocol: wire types of the APIs the gateway speaks and pure translation
//! between them, streams included. No I/O and no async, so every mapping is unit-testable
//! and the gateway decides what to do with bytes and errors.
//!
//! - [`openai`]: Chat Completions and Embeddings types, the canonical (hub) format.
//! - [`anthropic`]: Messages types and stream events.
//! - [`gemini`]: Google Gemini `generateContent` / `batchEmbedContents` types.
//! - [`ollama`]: Ollama `/api/chat` and `/api/embed` types, NDJSON parser.
//! - [`responses`]: OpenAI Responses requests and answers, translated to and from
//!   Chat Completions (whole and streamed).
//! - [`door`]: a chat request in the wire format of the door it came through.
//! - [`sse`]: incremental Server-Sent-Events parser and encoders.
//! - [`translate`]: OpenAI ↔ Anthropic, Gemini and Ollama for requests, answers and
//!   streams, and embeddings.
//! - [`error`]: [`ProtocolError`] (validation) and [`TranslateError`].
//!
//! Every wire object keeps unknown fields (`extra`) so that requests forwarded to a
//! same-format upstream are unchanged.

pub mod anthropic;
pub mod door;
pub mod error;
pub mod gemini;
pub mod ollama;
pub mod openai;
pub mod responses;
mod serde_util;
pub mod sse;
pub mod translate;

pub use door::DoorRequest;
pub use error::{ProtocolError, TranslateError};
pub use serde_util::Extra;
