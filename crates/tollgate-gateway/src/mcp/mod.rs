//! MCP on the gateway listener: `POST /mcp` (and `GET` for the server's stream,
//! `DELETE` to end a session) speaks the Model Context Protocol over streamable HTTP,
//! versions 2025-03-26, 2025-06-18 and 2025-11-25 (PRODUCT.md, "MCP").
//!
//! - [`transport`]: the HTTP side. The consumer key is checked first (401 in the
//!   OpenAI envelope, before any MCP), then the body limit (413); sessions
//!   (`Mcp-Session-Id`, [`session`]); answers as JSON, or as an SSE stream when the
//!   client's `Accept` takes only that.
//! - [`protocol`]: JSON-RPC messages and version negotiation, in rmcp's model types.
//! - [`catalogue`]: the tools, one per service route and per prompt-API, with their
//!   input schemas ([`schema`]), per snapshot; each caller sees those it may call.
//! - [`call`]: a tool call taken through the gateway's own service / prompt-API
//!   path, recorded with door `mcp`.
//! - [`notify`]: the `GET` stream, which tells a session its tool list changed.
//!
//! Why not rmcp's own streamable HTTP server: it answers requests only as SSE in
//! session mode (a JSON-only client gets 406), keeps its sessions in a store without
//! a size bound, and runs a worker task per session for server-to-client requests
//! this server never makes. The transport here is the small request/response subset
//! MCP needs for tools, on the gateway's own auth, limits and call records; the
//! messages themselves are rmcp's types.

pub mod call;
pub mod catalogue;
pub mod notify;
pub mod protocol;
pub mod schema;
pub mod session;
pub mod transport;

use std::sync::{Arc, Weak};

use arc_swap::ArcSwapOption;
use tollgate_core::snapshot::Snapshot;

use catalogue::Catalogue;
use session::Sessions;

/// MCP's share of the gateway: the sessions of this node and the tool catalogue of
/// the current snapshot.
#[derive(Debug, Default)]
pub struct Mcp {
    pub sessions: Sessions,
    cached: ArcSwapOption<Cached>,
}

#[derive(Debug)]
struct Cached {
    snapshot: Weak<Snapshot>,
    catalogue: Arc<Catalogue>,
}

impl Mcp {
    /// The catalogue of `snapshot`, built by the first request that sees it.
    pub fn catalogue(&self, snapshot: &Arc<Snapshot>) -> Arc<Catalogue> {
        if let Some(c) = self.cached.load().as_ref()
            && std::ptr::eq(c.snapshot.as_ptr(), Arc::as_ptr(snapshot))
        {
            return c.catalogue.clone();
        }
        let catalogue = Arc::new(Catalogue::build(snapshot));
        self.cached.store(Some(Arc::new(Cached {
            snapshot: Arc::downgrade(snapshot),
            catalogue: catalogue.clone(),
        })));
        catalogue
    }
}
