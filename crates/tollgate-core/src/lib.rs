//! Domain types shared by every Tollgate crate, with no I/O.
//!
//! - [`spec`]: the resources an operator declares (providers, models, teams,
//!   consumers, alerts), in the exact shape of PRODUCT.md's config contract. The
//!   config file, the database and the admin API all speak these types, so a resource
//!   means the same thing wherever it comes from.
//! - [`error`]: the error contract (PRODUCT.md's table) in one place.
//! - [`keys`]: consumer API keys: generation and hashing.
//! - [`money`]: integer micro-USD and prices, so sums never drift.
//! - [`service_docs`]: what a service route does and takes (OpenAPI import/export).

pub mod error;
pub mod keys;
pub mod live;
pub mod money;
pub mod prompt;
pub mod service_docs;
pub mod snapshot;
pub mod spec;

pub use error::{Door, GatewayError, QuotaKind, UpstreamCode};
