//! The gateway listener: the request path, in reading order.
//!
//! 1. [`request_id`]: every answer carries `x-request-id`.
//! 2. [`auth`]: the key (Bearer, `x-api-key` or `api-key`) is hashed and looked up in
//!    the in-memory snapshot; no database round trip.
//! 3. [`body`]: the body is read up to `max_body_bytes` (413), parsed and validated
//!    in the door's format (400).
//! 4. [`pipeline`]: the model is resolved (404) and the caller's scope checked (403).
//! 5. [`forward`]: targets are tried in order; each failure is classified before the
//!    next target is tried; a provider's own rejection goes back to the client.
//! 6. [`transcode`]: the answer is translated to the door's format, streams chunk
//!    by chunk as they arrive.
//! 7. [`meter`]: tokens and cost are counted when the answer (or stream) ends.
//!
//! Errors are [`tollgate_core::GatewayError`]s rendered in the door's envelope by
//! [`reply`].

pub mod auth;
pub mod body;
pub mod chat;
pub mod embeddings;
pub mod forward;
pub mod journal;
pub mod meter;
pub mod metering;
pub mod pipeline;
pub mod relay;
pub mod reply;
pub mod request_id;
pub mod routes;
pub mod state;
pub mod tokens;
pub mod transcode;

pub use routes::router;
pub use state::GatewayState;

/// Largest non-stream upstream answer accepted.
pub const MAX_ANSWER_BODY: usize = 64 * 1024 * 1024;
