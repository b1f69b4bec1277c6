//! The gateway listener: the request path, in reading order.
//!
//! 1. [`request_id`]: every answer carries `x-request-id`.
//! 2. [`lifecycle`]: every request gets one [`lifecycle::Call`], its per-request
//!    context: decisions, attempts, timings, tokens and money, finished exactly once
//!    into one call record and settled holds.
//! 3. [`auth`]: the key (Bearer, `x-api-key` or `api-key`) is hashed and looked up in
//!    the in-memory snapshot; no database round trip.
//! 4. [`body`]: the body is read up to `max_body_bytes` (413), parsed and validated
//!    in the door's format (400) ([`pipeline`] for the chat doors, [`embeddings`]).
//! 5. [`pipeline`]: the model is resolved (404) and the caller's scope checked (403).
//! 6. [`admission`]: the plan of models the request may end on; rate limits (429);
//!    the worst case over the plan reserved on budgets and credits (402).
//! 7. [`chat`]: the response cache, then [`forward`]: targets are tried in order;
//!    each failure is classified before the next target is tried; a provider's own
//!    rejection goes back to the client.
//! 8. [`wire`] and [`relay`]: the answer is translated to the door's format,
//!    streams chunk by chunk as they arrive.
//! 9. [`usage`]: tokens by class from the provider's usage, or the tokenizer's count;
//!    cost at the answering model's price; the call is finished ([`lifecycle`]).
//!
//! `/v1/responses` ([`responses`]) is a third chat door: its request becomes a chat
//! request for the same phases, and the answer is turned back into its format.
//!
//! Paths under a REST service's prefix take the [`service`] route kind instead
//! (same lifecycle: key, limits, call record; the bodies stream through), and a
//! prompt-API's path the [`prompt_api`] route kind (its template rendered into a chat
//! request that takes steps 5 to 9).
//!
//! `/mcp` ([`mcp`]) offers the services' routes and the prompt-APIs as MCP tools; a
//! tool call takes the service or prompt-API route kind above.
//!
//! Masking ([`masking`]) is a body filter of every route kind: the rules for a call
//! are chosen once its model or service is known, requests are masked before they
//! are estimated, cached or sent, answers before the client sees them.
//!
//! Errors are [`tollgate_core::GatewayError`]s rendered in the door's envelope by
//! [`reply`].

pub mod admission;
pub mod auth;
pub mod body;
pub mod body_log;
pub mod chat;
pub mod credentials;
pub mod door;
pub mod embeddings;
pub mod forward;
pub mod lifecycle;
pub mod masking;
pub mod mcp;
pub mod metering;
pub mod pipeline;
pub mod prompt_api;
pub mod relay;
pub mod reply;
pub mod request_id;
pub mod responses;
pub mod routes;
pub mod service;
pub mod state;
pub mod steps;
pub mod tokens;
pub mod usage;
pub mod wire;

pub use routes::router;
pub use state::GatewayState;

/// Largest non-stream upstream answer accepted.
pub const MAX_ANSWER_BODY: usize = 64 * 1024 * 1024;
