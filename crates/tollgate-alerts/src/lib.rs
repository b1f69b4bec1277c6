//! tollgate-alerts: webhook delivery of operator alerts.
//!
//! An alert is a JSON POST to each configured channel (PRODUCT.md, "Config file"):
//!
//! ```json
//! {"id": "alt_…", "type": "budget.threshold", "at": "2026-11-03T10:15:00.123Z",
//!  "scope": "consumer:team-a", "threshold_percent": 80, "used_usd": 20.1,
//!  "limit_usd": 25.0, "detail": {…}}
//! ```
//!
//! with `x-tollgate-signature: sha256=<hex HMAC-SHA256 of the body>` when the channel
//! has a secret. [`Alerter::raise`] never blocks: the event is queued, and a background
//! task claims it per channel in the store (so the same crossing is delivered once,
//! even when several nodes raise it) and delivers it with retries and exponential
//! backoff, recording every attempt. Pending deliveries are resumed at start and by a
//! periodic sweep, so a restart or a dead node does not lose them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc};
use tollgate_core::spec::AlertSpec;
use tollgate_store::{NewAlertEvent, Store};

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "x-tollgate-signature";
/// The header carrying the event id (the same as the body's `id`), for deduplication.
pub const EVENT_ID_HEADER: &str = "x-tollgate-event-id";

/// Raised events waiting to be claimed; beyond this, [`Alerter::raise`] drops (and logs).
const QUEUE_CAPACITY: usize = 4096;
/// Deliveries in flight at once.
const MAX_CONCURRENT_DELIVERIES: usize = 32;
/// Crossings remembered as already claimed, to skip the database on repeats.
const RECENT_CAPACITY: usize = 10_000;
/// Pending deliveries looked at per sweep.
const SWEEP_BATCH: u32 = 100;
/// Added to a delivery lease beyond the attempt's timeout and the following backoff.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A budget reached 50, 80 or 100% of its limit.
    BudgetThreshold,
    /// A prepaid credit balance fell below its floor.
    CreditsLow,
    /// A provider answered 401/402/403 for one of the operator's keys.
    ProviderKeyDead,
}

impl AlertKind {
    /// The `type` in the delivered JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BudgetThreshold => "budget.threshold",
            AlertKind::CreditsLow => "credits.low",
            AlertKind::ProviderKeyDead => "provider_key.dead",
        }
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One occurrence to report. Two events with the same kind, scope, period_key and
/// threshold_percent are the same crossing: delivered once per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub kind: AlertKind,
    /// Whose budget or credit, or which provider (`consumer:team-a`, `team:platform`,
    /// `provider:openai`...).
    pub scope: String,
    /// Which occurrence: the budget window (`2026-11`, `2026-W45`, `total`); for a dead
    /// key the provider, key index and cause.
    pub period_key: String,
    pub threshold_percent: Option<u8>,
    pub used_usd: Option<f64>,
    pub limit_usd: Option<f64>,
    /// Anything else worth telling (`null` is sent as `{}`).
    pub detail: serde_json::Value,
}

/// How deliveries are attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per delivery, the first included.
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// Limit for one attempt (connecting, sending, and the response headers).
    pub timeout: Duration,
    /// How often pending deliveries whose lease ran out (their node died, or the
    /// database was unreachable) are looked for and resumed.
    pub sweep_interval: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 0.5 s backoff doubling up to 30 s, 5 s per attempt, a sweep a minute.
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            sweep_interval: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failed` failed attempts (`failed >= 1`).
    pub fn backoff(&self, failed: u32) -> Duration {
        let shift = failed.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(1u32 << shift)
            .min(self.max_backoff)
    }

    /// How long a node holds a delivery before attempt number `done + 1`: the attempt
    /// itself, the backoff after it, and a margin.
    fn lease(&self, done: u32) -> Duration {
        self.timeout
            .saturating_add(self.backoff(done.saturating_add(1)))
            .saturating_add(LEASE_MARGIN)
    }
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`, the value of
/// [`SIGNATURE_HEADER`].
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return "sha256=".to_string();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The id of a crossing's delivery to one channel: derived from what identifies the
/// crossing, so every node computes the same id for it.
pub fn event_id(channel: &str, event: &AlertEvent) -> String {
    let mut h = Sha256::new();
    h.update(b"tollgate/alert-event\0");
    for part in [
        channel,
        event.kind.as_str(),
        event.scope.as_str(),
        event.period_key.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    h.update([event.threshold_percent.unwrap_or(0)]);
    let mut digest = hex::encode(h.finalize());
    digest.truncate(32);
    format!("alt_{digest}")
}

/// The JSON body delivered for `event` under `id`, raised at `at`.
pub fn payload(id: &str, event: &AlertEvent, at: DateTime<Utc>) -> String {
    let detail = match &event.detail {
        serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
        other => other.clone(),
    };
    serde_json::json!({
        "id": id,
        "type": event.kind.as_str(),
        "at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "scope": event.scope,
        "threshold_percent": event.threshold_percent,
        "used_usd": event.used_usd,
        "limit_usd": event.limit_usd,
        "detail": detail,
    })
    .to_string()
}

/// Sends alerts to the configured webhook channels. Cheap to clone; the background
/// task stops once every clone is dropped (deliveries in flight still finish).
#[derive(Clone)]
pub struct Alerter {
    shared: Arc<Shared>,
    queue: mpsc::Sender<Raised>,
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter")
            .field("node", &self.shared.node)
            .field("channels", &self.shared.channels.load().len())
            .finish_non_exhaustive()
    }
}

struct Raised {
    event: AlertEvent,
    at: DateTime<Utc>,
}

struct Shared {
    store: Store,
    channels: ArcSwap<Vec<AlertSpec>>,
    /// `Err` only if the HTTP client could not be built (TLS set-up); every attempt
    /// then fails with this message.
    client: Result<reqwest::Client, String>,
    policy: RetryPolicy,
    /// This process's lease owner id.
    node: String,
    /// Deliveries this node is running, by event id.
    inflight: Mutex<HashSet<String>>,
    permits: Arc<Semaphore>,
}

impl Alerter {
    /// Starts the background sender with the default [`RetryPolicy`]; pending
    /// deliveries left in the store (by a previous run, or a node that died) are
    /// resumed. Must be called within a Tokio runtime (otherwise nothing is sent, and
    /// an error is logged).
    pub fn start(store: Store, channels: Vec<AlertSpec>) -> Alerter {
        Alerter::start_with(store, channels, RetryPolicy::default())
    }

    /// [`Alerter::start`] with a chosen retry policy.
    pub fn start_with(store: Store, channels: Vec<AlertSpec>, policy: RetryPolicy) -> Alerter {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.timeout)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client unavailable: {e}"));
        if let Err(e) = &client {
            tracing::error!(error = %e, "alert deliveries will fail");
        }
        let shared = Arc::new(Shared {
            store,
            channels: ArcSwap::from_pointee(channels),
            client,
            policy,
            node: format!("node_{}", uuid::Uuid::new_v4().simple()),
            inflight: Mutex::new(HashSet::new()),
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_DELIVERIES)),
        });
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(worker(shared.clone(), rx));
            }
            Err(e) => {
                tracing::error!(error = %e, "alerts need a Tokio runtime: none will be sent");
            }
        }
        Alerter { shared, queue: tx }
    }

    /// Replaces the channels (on a configuration reload). Deliveries in progress use
    /// the new URL and secret from their next attempt; those of a removed channel are
    /// marked failed.
    pub fn set_channels(&self, channels: Vec<AlertSpec>) {
        self.shared.channels.store(Arc::new(channels));
    }

    /// The channels in use.
    pub fn channels(&self) -> Arc<Vec<AlertSpec>> {
        self.shared.channels.load_full()
    }

    /// Reports `event` to every channel, once per crossing; returns at once. The
    /// event is dropped (and a warning logged) only if the queue is full.
    pub fn raise(&self, event: AlertEvent) {
        if self.shared.channels.load().is_empty() {
            return;
        }
        let raised = Raised {
            event,
            at: Utc::now(),
        };
        if let Err(e) = self.queue.try_send(raised) {
            let (reason, raised) = match e {
                mpsc::error::TrySendError::Full(r) => ("queue full", r),
                mpsc::error::TrySendError::Closed(r) => ("sender stopped", r),
            };
            tracing::warn!(
                kind = %raised.event.kind,
                scope = %raised.event.scope,
                reason,
                "alert dropped"
            );
        }
    }
}

/// Claims raised events and resumes pending ones, until every [`Alerter`] is dropped.
async fn worker(shared: Arc<Shared>, mut rx: mpsc::Receiver<Raised>) {
    let mut recent: HashSet<String> = HashSet::new();
    let mut sweep =
        tokio::time::interval(shared.policy.sweep_interval.max(Duration::from_millis(10)));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            raised = rx.recv() => match raised {
                Some(raised) => claim(&shared, &mut recent, raised).await,
                None => return,
            },
            // The first tick is immediate: resume what a previous run left pending.
            _ = sweep.tick() => resume_pending(&shared).await,
        }
    }
}

async fn claim(shared: &Arc<Shared>, recent: &mut HashSet<String>, raised: Raised) {
    let channels = shared.channels.load_full();
    let ev = &raised.event;
    for channel in channels.iter() {
        let id = event_id(&channel.name, ev);
        if recent.contains(&id) {
            continue;
        }
        let body = payload(&id, ev, raised.at);
        let now = Utc::now();
        let new = NewAlertEvent {
            id: id.clone(),
            alert: channel.name.clone(),
            kind: ev.kind.as_str().to_string(),
            scope: ev.scope.clone(),
            period_key: ev.period_key.clone(),
            threshold_percent: ev.threshold_percent,
            payload: body.clone(),
            created_at: now,
            lease_owner: shared.node.clone(),
            lease_until: now + to_chrono(shared.policy.lease(0)),
        };
        match shared.store.claim_alert_event(&new).await {
            Ok(won) => {
                if recent.len() >= RECENT_CAPACITY {
                    recent.clear();
                }
                recent.insert(id.clone());
                if won {
                    tracing::info!(id = %id, alert = %channel.name, kind = %ev.kind, scope = %ev.scope, "alert raised");
                    spawn_delivery(shared, id, channel.name.clone(), body, 0);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, alert = %channel.name, kind = %ev.kind, scope = %ev.scope,
                    "could not record alert; it will be claimed when raised again");
            }
        }
    }
}

/// Takes over pending deliveries whose lease ran out (or that this node holds but is
/// not running).
async fn resume_pending(shared: &Arc<Shared>) {
    let pending = match shared.store.pending_alert_events(SWEEP_BATCH).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "could not list pending alert deliveries");
            return;
        }
    };
    let now = Utc::now();
    for ev in pending {
        if is_inflight(shared, &ev.id) {
            continue;
        }
        if ev.lease_until > now && ev.lease_owner.as_deref() != Some(shared.node.as_str()) {
            continue;
        }
        let until = now + to_chrono(shared.policy.lease(ev.attempts));
        match shared
            .store
            .lease_alert_event(&ev.id, &shared.node, until)
            .await
        {
            Ok(true) => {
                tracing::info!(id = %ev.id, alert = %ev.alert, attempts = ev.attempts, "resuming alert delivery");
                spawn_delivery(shared, ev.id, ev.alert, ev.payload, ev.attempts);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, id = %ev.id, "could not lease alert delivery");
            }
        }
    }
}

fn is_inflight(shared: &Shared, id: &str) -> bool {
    shared
        .inflight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(id)
}

/// Removes a delivery from the in-flight set when its task ends, however it ends.
struct InflightGuard {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.shared
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

fn spawn_delivery(shared: &Arc<Shared>, id: String, channel: String, body: String, done: u32) {
    let inserted = shared
        .inflight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.clone());
    if !inserted {
        return;
    }
    let guard = InflightGuard {
        shared: shared.clone(),
        id,
    };
    tokio::spawn(async move {
        let permit = guard.shared.permits.clone().acquire_owned().await;
        if permit.is_err() {
            return;
        }
        deliver(&guard.shared, &guard.id, &channel, &body, done).await;
        drop(permit);
    });
}

/// Attempts delivery until it succeeds or the attempts run out, recording each one.
/// Stops early (leaving the event to a sweep) when the store cannot be reached or
/// another node has taken the delivery over.
async fn deliver(shared: &Shared, id: &str, channel_name: &str, body: &str, mut done: u32) {
    let store = &shared.store;
    let policy = &shared.policy;
    loop {
        if done >= policy.attempts {
            if let Err(e) = store.mark_alert_failed(id, None).await {
                tracing::warn!(error = %e, id, "could not record alert failure");
            }
            tracing::warn!(
                id,
                alert = channel_name,
                attempts = done,
                "alert delivery failed"
            );
            return;
        }
        let until = Utc::now() + to_chrono(policy.lease(done));
        match store.lease_alert_event(id, &shared.node, until).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, id, "could not renew alert lease; a sweep will resume it");
                return;
            }
        }
        let channel = shared
            .channels
            .load()
            .iter()
            .find(|c| c.name == channel_name)
            .cloned();
        let Some(channel) = channel else {
            if let Err(e) = store
                .mark_alert_failed(id, Some("alert channel removed"))
                .await
            {
                tracing::warn!(error = %e, id, "could not record alert failure");
            }
            return;
        };
        let outcome = attempt(shared, &channel, id, body).await;
        done = done.saturating_add(1);
        let recorded = store
            .mark_alert_attempt(
                id,
                outcome.is_ok(),
                outcome.as_ref().err().map(String::as_str),
            )
            .await;
        match (&outcome, recorded) {
            (_, Err(e)) => {
                tracing::warn!(error = %e, id, "could not record alert attempt");
                return;
            }
            (_, Ok(false)) => return,
            (Ok(()), Ok(true)) => {
                tracing::info!(id, alert = channel_name, attempts = done, "alert delivered");
                return;
            }
            (Err(err), Ok(true)) => {
                tracing::debug!(id, alert = channel_name, attempt = done, error = %err, "alert attempt failed");
            }
        }
        if done < policy.attempts {
            tokio::time::sleep(policy.backoff(done)).await;
        }
    }
}

/// One POST; `Err` describes why it did not count as delivered.
async fn attempt(shared: &Shared, channel: &AlertSpec, id: &str, body: &str) -> Result<(), String> {
    let client = shared.client.as_ref().map_err(Clone::clone)?;
    let mut req = client
        .post(&channel.webhook)
        .timeout(shared.policy.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_ID_HEADER, id)
        .body(body.to_string());
    if let Some(secret) = channel.secret.as_deref().filter(|s| !s.is_empty()) {
        req = req.header(SIGNATURE_HEADER, signature(secret, body.as_bytes()));
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            if text.trim().is_empty() {
                Err(format!("HTTP {}", status.as_u16()))
            } else {
                Err(format!("HTTP {}: {}", status.as_u16(), text.trim()))
            }
        }
        Err(e) if e.is_timeout() => Err(format!(
            "timed out after {} ms",
            shared.policy.timeout.as_millis()
        )),
        Err(e) => Err(error_chain(&e)),
    }
}

/// An error with its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(4), Duration::from_secs(4));
        assert_eq!(p.backoff(10), Duration::from_secs(30));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn ids_identify_the_crossing_and_channel() {
        let ev = AlertEvent {
            kind: AlertKind::BudgetThreshold,
            scope: "consumer:a".into(),
            period_key: "2026-11".into(),
            threshold_percent: Some(80),
            used_usd: Some(20.0),
            limit_usd: Some(25.0),
            detail: serde_json::Value::Null,
        };
        let id = event_id("ops", &ev);
        assert!(id.starts_with("alt_") && id.len() == 36, "{id}");
        let mut other = ev.clone();
        other.used_usd = Some(21.0);
        assert_eq!(event_id("ops", &other), id, "amounts are not identity");
        other.threshold_percent = Some(100);
        assert_ne!(event_id("ops", &other), id);
        assert_ne!(event_id("audit", &ev), id);

        let body: serde_json::Value =
            serde_json::from_str(&payload(&id, &ev, Utc::now())).expect("json");
        assert_eq!(body["detail"], serde_json::json!({}));
        let keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "id",
                "type",
                "at",
                "scope",
                "threshold_percent",
                "used_usd",
                "limit_usd",
                "detail"
            ]
        );
    }
}
