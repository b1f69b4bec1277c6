//! What the admin handlers share.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use tollgate_core::live::Live;
use tollgate_gateway::metering::Metering;
use tollgate_store::Store;

use crate::snapshot;

#[derive(Clone)]
pub struct AdminState {
    pub store: Store,
    pub live: Arc<Live>,
    /// The configured admin bearer token, if any (console sessions also work).
    pub admin_token: Option<Arc<str>>,
    pub metrics: PrometheusHandle,
    /// Limits, budgets and credits (usage documents, credit top-ups, seeding).
    pub metering: Arc<Metering>,
    /// The gateway's balancer, circuit breakers and key pools (the same instance the
    /// gateway routes with), for `/metrics` and `/admin/v1/routing`.
    pub routing: Arc<tollgate_routing::Routing>,
    /// Where consumers reach the gateway (the `servers` of a service's OpenAPI export).
    pub gateway_url: crate::GatewayUrl,
}

impl AdminState {
    /// The store, with the audit row of the one write the caller is about to make
    /// (written in that write's transaction; documents redacted by the store). The
    /// user is the admin request's caller ([`crate::auth::actor`]).
    pub fn audited(
        &self,
        action: &str,
        resource: &str,
        name: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Store {
        self.store.audited(tollgate_store::AuditEntry {
            user: crate::auth::actor(),
            action: action.to_string(),
            resource: resource.to_string(),
            name: Some(name.to_string()),
            before,
            after,
        })
    }

    /// Rebuilds the snapshot after a write. A failure is logged: the write itself
    /// succeeded and the background poller will retry the reload.
    pub async fn reload(&self) {
        if let Err(e) = snapshot::refresh(&self.store, &self.live, &self.metering).await {
            tracing::error!(error = %e, "reloading the configuration snapshot failed");
        }
    }
}

/// A document for the audit log (`None` if it does not serialize, which derived
/// `Serialize`s do not do).
pub fn doc<T: serde::Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}
