//! The admin listener: `/admin/v1/*` resources, health, metrics and the OpenAPI
//! document.
//!
//! The admin API writes to the store and then rebuilds the in-memory snapshot the
//! gateway serves from, so a change (a new or revoked key) is live at once on this
//! node, and within a poll interval on every other node sharing the database.

pub mod auth;
mod console;
pub mod error;
mod oas;
pub mod openapi;
pub mod portal;
pub mod roles;
pub mod routes;
pub mod snapshot;
pub mod state;

pub use oas::GatewayUrl;
pub use routes::router;
pub use state::AdminState;
