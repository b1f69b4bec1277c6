//! What the gateway's handlers share.

use std::sync::Arc;

use tollgate_core::live::Live;
use tollgate_providers::UpstreamClient;

#[derive(Clone)]
pub struct GatewayState {
    pub live: Arc<Live>,
    pub client: Arc<UpstreamClient>,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
}

impl GatewayState {
    pub fn new(live: Arc<Live>, max_body_bytes: usize) -> Self {
        GatewayState {
            live,
            client: Arc::new(UpstreamClient::new()),
            max_body_bytes,
        }
    }
}
