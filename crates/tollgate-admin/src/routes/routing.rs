//! `/admin/v1/routing`: the live routing state (circuit breakers, provider key
//! health, latency estimates), read from the gateway's own instance.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::state::AdminState;

/// The routing state of this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoutingView {
    /// One circuit breaker per target seen since start: `target` (`provider/model`),
    /// `state` (`closed` | `half_open` | `open`), `open_for_ms`, `cooldown_ms`,
    /// `counters`.
    #[schema(value_type = Vec<Object>)]
    pub breakers: Vec<Value>,
    /// Per configured provider, the health of each of its keys by index (never the
    /// key): `index`, `state` (`healthy` | `dead` | `throttled`), `status`,
    /// `retry_in_ms`, `successes`, `failures`, `last_status`.
    pub providers: Vec<ProviderKeys>,
    /// Latency estimates per target (EWMA), used by the `latency` strategy.
    #[schema(value_type = Vec<Object>)]
    pub latency: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderKeys {
    pub provider: String,
    /// How many keys the provider has.
    pub api_keys: usize,
    /// Keys never used yet are not listed.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<Value>,
}

fn values<T: Serialize>(items: Vec<T>) -> Vec<Value> {
    items
        .into_iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect()
}

#[utoipa::path(get, path = "/admin/v1/routing", tag = "routing",
    responses((status = 200, description = "Circuit breakers, provider key health and latency estimates of this node", body = RoutingView)),
    security(("bearer" = [])))]
pub(crate) async fn routing_state(State(st): State<AdminState>) -> Json<RoutingView> {
    let snapshot = st.live.snapshot.load_full();
    let mut names: Vec<&String> = snapshot.providers.keys().collect();
    names.sort();
    let providers = names
        .into_iter()
        .filter_map(|name| {
            let p = snapshot.providers.get(name)?;
            Some(ProviderKeys {
                provider: name.clone(),
                api_keys: p.api_keys.len(),
                keys: values(st.routing.keys.status(name)),
            })
        })
        .collect();
    Json(RoutingView {
        breakers: values(st.routing.breakers.snapshot()),
        providers,
        latency: values(st.routing.balancer.latency_snapshot()),
    })
}
