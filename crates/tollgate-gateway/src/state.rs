//! What the gateway's handlers share.

use std::sync::Arc;

use tollgate_cache::Cache;
use tollgate_core::live::Live;
use tollgate_providers::UpstreamClient;
use tollgate_routing::Routing;

use crate::metering::Metering;

#[derive(Clone)]
pub struct GatewayState {
    pub live: Arc<Live>,
    pub client: Arc<UpstreamClient>,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// Limits, budgets, credits and the call journal; `None` only in tests of the
    /// bare request path.
    pub metering: Option<Arc<Metering>>,
    /// Balancer, circuit breakers and provider key pools, shared by all requests.
    pub routing: Arc<Routing>,
    /// The response cache (`storage.cache`), for models that have a `cache`.
    pub cache: Option<Arc<Cache>>,
    /// REST services: their upstream client and the current routing table.
    pub services: Arc<crate::service::Services>,
    /// The most of each body a call record keeps when bodies are logged
    /// (`storage.log_bodies_max_bytes`).
    pub log_bodies_max_bytes: usize,
    /// Stored `/v1/responses` still being written on this node.
    pub responses: Arc<crate::responses::Pending>,
    /// MCP sessions of this node and the tool catalogue.
    pub mcp: Arc<crate::mcp::Mcp>,
}

impl GatewayState {
    pub fn new(live: Arc<Live>, max_body_bytes: usize, metering: Option<Arc<Metering>>) -> Self {
        GatewayState {
            live,
            client: Arc::new(UpstreamClient::new()),
            max_body_bytes,
            metering,
            routing: Arc::new(Routing::system()),
            cache: None,
            services: Arc::new(crate::service::Services::new()),
            log_bodies_max_bytes: crate::body_log::DEFAULT_MAX_BYTES,
            responses: Arc::default(),
            mcp: Arc::default(),
        }
    }

    pub fn with_log_bodies_max_bytes(mut self, cap: usize) -> Self {
        self.log_bodies_max_bytes = cap;
        self
    }

    /// Routes with `routing` (shared with the admin API, which shows its state).
    pub fn with_routing(mut self, routing: Arc<Routing>) -> Self {
        self.routing = routing;
        self
    }

    pub fn with_cache(mut self, cache: Option<Arc<Cache>>) -> Self {
        self.cache = cache;
        self
    }
}
