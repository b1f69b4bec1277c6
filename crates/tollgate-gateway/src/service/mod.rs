//! REST services: a route kind of the request lifecycle that publishes an operator's
//! REST API under a path prefix of the gateway listener (PRODUCT.md, "REST services
//! and prompt-APIs").
//!
//! A request whose path is under a service's prefix goes, in order: the consumer's
//! credential as the service's `auth` list allows ([`crate::credentials`], 401), the
//! service's lifecycle (draft 404, retired 410), its route (404, 405 with `Allow`), an
//! approved subscription when the service takes subscriptions (403 `not_subscribed`,
//! from the snapshot), the service's per-consumer rate limit (429, through the same limiter as
//! the LLM doors), then [`proxy`] to a node chosen by weight. Bodies stream both ways;
//! the call record has door `service`, the service as `model`, the node as `provider`
//! and the route as `target_model`.

pub mod proxy;
pub mod table;

use std::sync::{Arc, Weak};

use arc_swap::ArcSwapOption;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::json;
use tollgate_core::snapshot::{Caller, Snapshot};
use tollgate_core::spec::ServiceLifecycle;
use tollgate_core::{Door, GatewayError};
use tollgate_limits::{Admission, AdmitError, RateRule};

use crate::body_log::{BodyLog, Secrets};
use crate::lifecycle::Call;
use crate::metering::rate_header_pairs;
use crate::reply::ApiError;
use crate::request_id::RequestId;
use crate::state::GatewayState;
use table::{Compiled, RouteMatch, ServiceTable};

/// The services' share of the gateway: the upstream client (keep-alive pools) and the
/// routing table of the current snapshot.
pub struct Services {
    pub client: reqwest::Client,
    cached: ArcSwapOption<Cached>,
}

struct Cached {
    snapshot: Weak<Snapshot>,
    table: Arc<ServiceTable>,
}

impl Default for Services {
    fn default() -> Self {
        Self::new()
    }
}

impl Services {
    pub fn new() -> Services {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            // A proxy passes redirects on to its client; it does not follow them.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_default();
        Services {
            client,
            cached: ArcSwapOption::empty(),
        }
    }

    /// The routing table of `snapshot`, built on the first request that sees it.
    pub fn table(&self, snapshot: &Arc<Snapshot>) -> Arc<ServiceTable> {
        if let Some(c) = self.cached.load().as_ref()
            && std::ptr::eq(c.snapshot.as_ptr(), Arc::as_ptr(snapshot))
        {
            return c.table.clone();
        }
        let previous = self.cached.load_full();
        let table = Arc::new(ServiceTable::build(
            snapshot,
            previous.as_ref().map(|c| c.table.as_ref()),
        ));
        self.cached.store(Some(Arc::new(Cached {
            snapshot: Arc::downgrade(snapshot),
            table: table.clone(),
        })));
        table
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// The gateway's fallback: a request under a service's prefix is served here and
/// `Ok(answer)` returned; any other request is handed back.
pub async fn dispatch(
    st: &GatewayState,
    call: Option<&Call>,
    req: Request,
) -> Result<Response, Request> {
    let snapshot = st.live.snapshot.load_full();
    if snapshot.services.is_empty() {
        return Err(req);
    }
    let table = st.services.table(&snapshot);
    let path = req.uri().path().to_string();
    let Some((svc, rest)) = table.find(&path) else {
        return Err(req);
    };
    let owned;
    let call = match call {
        Some(c) => c,
        None => {
            owned = Call::new(&RequestId::generate().0, "service", st.metering.clone());
            &owned
        }
    };
    Ok(serve(st, &snapshot, call, svc, rest, req).await)
}

async fn serve(
    st: &GatewayState,
    snapshot: &Arc<Snapshot>,
    call: &Call,
    svc: &Compiled,
    rest: &str,
    req: Request,
) -> Response {
    let spec = &svc.spec;
    call.set_route_door("service");
    call.set_model(&spec.name, false);
    call.set_model_label(Arc::from(spec.name.as_str()));
    let refuse = |e: GatewayError| ApiError::new(Door::OpenAi, e).into_response();

    // Built in its own statement: a borrow of the whole request (whose body is not
    // `Sync`) must not live across the await.
    let checked = crate::credentials::authenticate_service(
        snapshot,
        spec.auth.as_deref(),
        req.method(),
        req.uri(),
        req.headers(),
        call,
    );
    let caller = match checked.await {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    // (Defined after the credential check's await: it borrows the request.)
    let not_found = || GatewayError::NotFound {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
    };
    if caller.consumer.log_bodies {
        // Both bodies stream through: they are captured on their way (see `proxy`).
        let secrets = Secrets::new(snapshot.clone(), crate::auth::presented_key(req.headers()));
        call.log_streamed_bodies(BodyLog::new(st.log_bodies_max_bytes, secrets));
    }
    match spec.lifecycle {
        ServiceLifecycle::Draft => return refuse(not_found()),
        ServiceLifecycle::Retired => {
            return refuse(GatewayError::ServiceRetired(spec.name.clone()));
        }
        ServiceLifecycle::Published | ServiceLifecycle::Deprecated => {}
    }
    let (route, upstream_path) = match svc.route(req.method().as_str(), rest) {
        RouteMatch::Forward { route, path } => (route, path),
        RouteMatch::NotFound => return refuse(not_found()),
        RouteMatch::WrongMethod(allow) => {
            let mut res = refuse(GatewayError::MethodNotAllowed {
                method: req.method().to_string(),
                path: req.uri().path().to_string(),
            });
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                res.headers_mut().insert(header::ALLOW, v);
            }
            return res;
        }
    };
    if let Err(e) =
        crate::auth::require_subscription(snapshot, &caller, &spec.name, spec.subscription, call)
    {
        return refuse(e);
    }
    if let Err(e) = admit(st, &caller, spec, call).await {
        return refuse(e);
    }

    let route_name = route.unwrap_or_else(|| "*".to_string());
    let mut res = proxy::forward(st, call, svc, &route_name, &upstream_path, req).await;
    if spec.lifecycle == ServiceLifecycle::Deprecated {
        let h = res.headers_mut();
        h.insert("deprecation", HeaderValue::from_static("true"));
        if let Some(at) = spec.sunset_at
            && let Ok(v) =
                HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        {
            h.insert("sunset", v);
        }
    }
    res
}

/// The service's `rate_limit`, per consumer (scope `service:NAME:consumer:NAME`).
async fn admit(
    st: &GatewayState,
    caller: &Caller,
    spec: &tollgate_core::spec::ServiceSpec,
    call: &Call,
) -> Result<(), GatewayError> {
    let (Some(m), Some(rl)) = (&st.metering, &spec.rate_limit) else {
        return Ok(());
    };
    let rule = RateRule::from_spec(
        format!("service:{}:consumer:{}", spec.name, caller.consumer.name),
        rl,
    );
    let request_id = call.request_id();
    let rules = [rule];
    let admitted = m
        .limiter
        .admit(&Admission {
            request_id: &request_id,
            rules: &rules,
            estimated_tokens: 0,
        })
        .await;
    let configured = json!({
        "requests_per_minute": rl.requests_per_minute, "concurrent": rl.concurrent,
    });
    match admitted {
        Ok(a) => {
            tollgate_telemetry::limit_decision(&rules[0].scope, "rate_limit", false);
            call.step(json!({
                "step": "limit", "scope": rules[0].scope, "outcome": "pass",
                "configured": configured,
                "value": a.headers.as_ref().map(|h| json!({
                    "remaining_requests": h.requests.map(|w| w.remaining),
                })),
            }));
            for (n, v) in a
                .headers
                .as_ref()
                .map(rate_header_pairs)
                .unwrap_or_default()
            {
                call.header(n, v);
            }
            call.hold(Some(a.permit), None);
            Ok(())
        }
        Err(AdmitError::Limited(d)) => {
            tollgate_telemetry::limit_decision(&d.scope, "rate_limit", true);
            call.step(json!({
                "step": "limit", "scope": d.scope, "outcome": "refused",
                "configured": configured, "retry_after_secs": d.retry_after_secs(),
            }));
            for (n, v) in d
                .headers
                .as_ref()
                .map(rate_header_pairs)
                .unwrap_or_default()
            {
                call.header(n, v);
            }
            Err(GatewayError::RateLimited {
                message: d.to_string(),
                retry_after_secs: d.retry_after_secs(),
            })
        }
        Err(AdmitError::Backend(e)) => Err(GatewayError::Unavailable(format!(
            "The shared limits backend is unavailable ({e}); retry later"
        ))),
    }
}
