//! One request's life on the gateway listener, whatever kind of route it takes.
//!
//! Every request (chat doors, embeddings, token counting, unknown paths, wrong
//! methods; not health checks or the metadata reads `/v1/models` and
//! `/tollgate/v1/usage`) gets a [`Call`] when it arrives, from [`layer`]. The route
//! fills it in as its phases run:
//!
//! 1. **authenticate**: who is calling ([`Call::set_caller`]); a 401 leaves it empty.
//! 2. **resolve**: the model (or later the service) asked for ([`Call::set_model`]).
//! 3. **admit**: each limit, budget and credit decision with its values
//!    ([`Call::step`]), and what admission holds: concurrency permits, token/min
//!    charges and the budget reservation ([`Call::hold`]).
//! 4. **cache**: hit, miss or bypass ([`Call::set_cache`]).
//! 5. **forward**: every upstream attempt and why it failed ([`Call::attempt`]).
//! 6. **answer**: tokens by class and cost ([`Call::set_usage`]), time to first token.
//! 7. **finish**: runs exactly once, whatever happened (success, error, client gone,
//!    a panic unwinding through the handler). It settles what admission held to the
//!    actual cost, and commits one call record (and the credit charge, if any) to the
//!    journal. A whole answer is finished before it is sent; a stream is finished by
//!    its relay before its last bytes go out; a stream whose client left is finished
//!    when its body is dropped ([`Drop`]).
//!
//! When the model or consumer has `log_bodies` on ([`crate::body_log`]), the bodies go
//! into the record too: the route stores the request body once it knows the flag
//! ([`Call::log_bodies`]); a whole answer is copied by [`layer`] before the call
//! finishes, a stream by its relay as it passes, a service's bodies by its proxy.
//!
//! The state sits behind a `std` mutex that is never held across an `.await`.
//!
//! Monitoring hangs on the same life: each call has a `request` tracing span (its
//! `request_id`, and OpenTelemetry's GenAI attributes as they become known) that its
//! phases' spans and log lines sit under; `tollgate_requests_in_flight` counts calls
//! from their [`Call::new`] to their close, whichever way they close, and the call's
//! metrics and access-log line are written when it closes, so durations cover whole
//! streams and a client gone mid-stream is counted (as 499).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::{HeaderName, HeaderValue};
use serde_json::json;
use tollgate_alerts::{AlertEvent, AlertKind};
use tollgate_core::Door;
use tollgate_core::money::{Micros, micros_to_usd};
use tollgate_core::snapshot::Caller;
use tollgate_limits::{Permit, Reservation, Spend};
use tollgate_store::{CallAttempt, CallRecord, Entry, LedgerEntry};
use tollgate_telemetry::names;
use tracing::Span;
use tracing::field::Empty;

use crate::body_log::{BodyLog, Capture};
use crate::metering::{Metering, consumer_scope};
use crate::reply::ErrorCode;
use crate::request_id::RequestId;
use crate::state::GatewayState;
use crate::steps::{self, Steps};
use crate::usage::Usage;

/// What admission holds for a request until it is settled.
#[derive(Debug, Default)]
pub struct Holds {
    /// Concurrency slots and tokens/min charges (one per model whose limits applied).
    pub permits: Vec<Permit>,
    /// The worst case held on budgets and credits.
    pub reservation: Option<Reservation>,
    /// Prepaid credits falling below this raise a `credits.low` alert.
    pub credits_floor: Option<Micros>,
}

impl Holds {
    fn is_empty(&self) -> bool {
        self.permits.is_empty() && self.reservation.is_none()
    }
}

/// Everything known about one request, for its call record and `explain`.
#[derive(Debug)]
pub struct CallState {
    pub request_id: String,
    pub at: DateTime<Utc>,
    pub started: Instant,
    /// The door's name in call records (`openai`, `anthropic`, ...).
    pub door: &'static str,
    pub consumer: Option<String>,
    pub team: Option<String>,
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub target_model: Option<String>,
    pub attempts: Vec<CallAttempt>,
    /// The explain trail, serialised step by step.
    pub steps: Steps,
    /// The status the client got (0 until known).
    pub status: u16,
    pub error_code: Option<String>,
    pub upstream_latency_ms: Option<u64>,
    pub ttft_ms: Option<u64>,
    /// The time to first token, exactly (for the TTFT histogram).
    pub ttft: Option<Duration>,
    /// The configured model the request resolved to (metric label: never a name the
    /// client made up).
    pub model_label: Option<Arc<str>>,
    pub usage: Usage,
    pub cost: Micros,
    /// What admission reserved on budgets and credits.
    pub reserved: Micros,
    pub cache: Option<&'static str>,
    pub stream: bool,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Headers for the answer, whichever answer it is (rate-limit figures, budget
    /// remaining, cache mark).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body logging, when the model or consumer has `log_bodies` on.
    body_log: Option<Arc<BodyLog>>,
    /// The bodies as stored (capped, redacted), when logged.
    request_body: Option<String>,
    response_body: Option<String>,
    holds: Holds,
    /// The service or prompt-API the call came through (masking rules name them).
    service: Option<Arc<str>>,
    /// The masking rules that apply to this call ([`crate::masking`]).
    masks: crate::masking::Masks,
    /// The provider answered (and billed) but the gateway withheld the answer (a
    /// masking `block` rule): the call is an error that is still charged.
    withheld: bool,
    /// A streamed body owns the end of this call: the layer must not finish it.
    streaming: bool,
    finished: bool,
}

struct CallInner {
    state: Mutex<CallState>,
    metering: Option<Arc<Metering>>,
    /// The request's span: parent of its phases' spans and log lines.
    span: Span,
}

/// A handle on one request's life; cheap to clone. The last handle dropped finishes
/// the call if nothing finished it before.
#[derive(Clone)]
pub struct Call(Arc<CallInner>);

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Call")
            .field(&self.state().request_id)
            .finish()
    }
}

impl Call {
    pub fn new(request_id: &str, door: &'static str, metering: Option<Arc<Metering>>) -> Call {
        Self::with_span(request_id, door, metering, Span::none())
    }

    /// A call whose phases and log lines go under `span` (see [`request_span`]).
    pub fn with_span(
        request_id: &str,
        door: &'static str,
        metering: Option<Arc<Metering>>,
        span: Span,
    ) -> Call {
        // Taken back when the call closes ([`Closing::start`]), however it closes.
        metrics::gauge!(names::IN_FLIGHT).increment(1.0);
        Call(Arc::new(CallInner {
            state: Mutex::new(CallState {
                request_id: request_id.to_string(),
                at: Utc::now(),
                started: Instant::now(),
                door,
                consumer: None,
                team: None,
                key_id: None,
                model: None,
                provider: None,
                target_model: None,
                attempts: Vec::new(),
                steps: Steps::default(),
                status: 0,
                error_code: None,
                upstream_latency_ms: None,
                ttft_ms: None,
                ttft: None,
                model_label: None,
                usage: Usage::default(),
                cost: 0,
                reserved: 0,
                cache: None,
                stream: false,
                client_ip: None,
                user_agent: None,
                headers: Vec::new(),
                body_log: None,
                request_body: None,
                response_body: None,
                holds: Holds::default(),
                service: None,
                masks: crate::masking::Masks::default(),
                withheld: false,
                streaming: false,
                finished: false,
            }),
            metering,
            span,
        }))
    }

    /// The request's span.
    pub fn span(&self) -> &Span {
        &self.0.span
    }

    /// The state, locked. Never hold the guard across an `.await`.
    pub fn state(&self) -> MutexGuard<'_, CallState> {
        self.0
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn request_id(&self) -> String {
        self.state().request_id.clone()
    }

    /// The door of the route kind serving the call (`service`, `prompt_api`). A tool
    /// call made over MCP keeps door `mcp` whatever route kind serves it.
    pub fn set_route_door(&self, door: &'static str) {
        let mut s = self.state();
        if s.door != "mcp" {
            s.door = door;
        }
    }

    /// The answer's status, error code and model label, when the route did not set
    /// them: what the client got.
    pub fn note_answer(&self, res: &Response) {
        let mut s = self.state();
        if s.status == 0 {
            s.status = res.status().as_u16();
        }
        if s.error_code.is_none()
            && let Some(code) = res.extensions().get::<ErrorCode>()
        {
            s.error_code = Some(code.0.to_string());
        }
        if s.model_label.is_none()
            && let Some(m) = res.extensions().get::<crate::pipeline::ModelLabel>()
        {
            s.model_label = Some(m.0.clone());
        }
    }

    /// Phase 1: the caller is known.
    pub fn set_caller(&self, caller: &Caller) {
        let mut s = self.state();
        s.consumer = Some(caller.consumer.name.clone());
        s.team = caller.consumer.team.clone();
        s.key_id = Some(caller.key.id.clone());
        s.steps
            .push(&steps::AuthPass::new(&caller.key.id, &caller.consumer.name));
    }

    /// Phase 2: the model (as asked) and whether the answer streams.
    pub fn set_model(&self, model: &str, stream: bool) {
        self.0.span.record("gen_ai.request.model", model);
        let mut s = self.state();
        s.model = Some(model.to_string());
        s.stream = stream;
    }

    /// Phase 2: the configured model the request resolved to (its metric label).
    pub fn set_model_label(&self, label: Arc<str>) {
        self.state().model_label = Some(label);
    }

    /// A decision for `explain` (`limit`, `budget`, `credits`, `cache`, ...).
    pub fn step(&self, step: impl serde::Serialize) {
        self.state().steps.push(&step);
    }

    /// Phase 3: admission's holds, released or settled when the call finishes.
    pub fn hold(&self, permit: Option<Permit>, reservation: Option<Reservation>) {
        let mut s = self.state();
        if let Some(p) = permit {
            s.holds.permits.push(p);
        }
        if let Some(r) = reservation {
            s.reserved += r.held().cost;
            s.holds.reservation = Some(r);
        }
    }

    pub fn set_credits_floor(&self, floor: Option<Micros>) {
        self.state().holds.credits_floor = floor;
    }

    /// A header for the answer, whichever answer it turns out to be.
    pub fn header(&self, name: HeaderName, value: HeaderValue) {
        let mut s = self.state();
        s.headers.retain(|(n, _)| n != name);
        s.headers.push((name, value));
    }

    /// Phase 4: the cache outcome (`hit`, `miss`, `bypass`).
    pub fn set_cache(&self, mark: &'static str) {
        self.0.span.record("tollgate.cache", mark);
        let mut s = self.state();
        s.cache = Some(mark);
        s.steps.push(&steps::Cache {
            step: "cache",
            outcome: mark,
        });
        drop(s);
        self.header(
            HeaderName::from_static("x-tollgate-cache"),
            HeaderValue::from_static(mark),
        );
    }

    /// Phase 5: one upstream attempt.
    pub fn attempt(&self, a: CallAttempt) {
        // The attempt's span (see `forward`), when it is the current one.
        let span = Span::current();
        if let Some(status) = a.status {
            span.record("http.response.status_code", status);
        }
        if let Some(reason) = a.reason.as_deref() {
            span.record("error.type", reason);
        }
        let mut s = self.state();
        s.steps.push(&steps::Attempt {
            step: "attempt",
            provider: &a.provider,
            target_model: &a.target_model,
            status: a.status,
            outcome: a.reason.as_deref().unwrap_or("ok"),
            error_code: a.error_code.as_deref(),
            latency_ms: a.latency_ms,
        });
        s.attempts.push(a);
    }

    /// Phase 6: the target that answered, and when its answer started.
    pub fn answered_by(&self, provider: &str, target_model: &str, upstream_ms: u64) {
        self.0.span.record("tollgate.provider", provider);
        self.0.span.record("gen_ai.response.model", target_model);
        let mut s = self.state();
        s.provider = Some(provider.to_string());
        s.target_model = Some(target_model.to_string());
        s.upstream_latency_ms = Some(upstream_ms);
    }

    pub fn first_token(&self) {
        let mut s = self.state();
        if s.ttft_ms.is_none() {
            let ttft = s.started.elapsed();
            s.ttft = Some(ttft);
            s.ttft_ms = Some(ttft.as_millis() as u64);
        }
    }

    /// Phase 6: tokens by class and their cost.
    pub fn set_usage(&self, usage: Usage, cost: Micros) {
        let mut s = self.state();
        s.usage = usage;
        s.cost = cost;
    }

    /// The provider's answer, already on the call with [`Call::set_usage`], is not
    /// passed on (a masking `block` rule refused it). It was made and billed
    /// upstream, so the call is charged although it ends in an error.
    pub fn withhold_answer(&self) {
        self.state().withheld = true;
    }

    /// The answer's status and error code (the layer fills them from the response
    /// when a route did not).
    pub fn set_outcome(&self, status: u16, error_code: Option<&str>) {
        let mut s = self.state();
        s.status = status;
        s.error_code = error_code.map(str::to_string);
    }

    /// Turns body logging on (once: the first caller's settings stay) and stores the
    /// request body, rendered by `log` (capped and redacted, off the lock).
    pub fn log_bodies(&self, log: BodyLog, request_body: &[u8]) {
        if self.body_log().is_some() {
            return;
        }
        let text = log.render_bytes(request_body);
        let mut s = self.state();
        if s.body_log.is_none() {
            s.body_log = Some(Arc::new(log));
            s.request_body = Some(text);
        }
    }

    /// Turns body logging on for a request whose body streams through (a service's):
    /// it is captured on its way and stored with [`Call::log_request_body`].
    pub fn log_streamed_bodies(&self, log: BodyLog) {
        let mut s = self.state();
        if s.body_log.is_none() {
            s.body_log = Some(Arc::new(log));
        }
    }

    /// Stores the request body captured on its way through, if bodies are logged.
    pub fn log_request_body(&self, capture: Capture) {
        let Some(log) = self.body_log() else { return };
        let text = log.render(capture);
        self.state().request_body = Some(text);
    }

    /// The service or prompt-API this call came through.
    pub fn set_service(&self, name: &str) {
        self.state().service = Some(Arc::from(name));
    }

    pub fn service(&self) -> Option<Arc<str>> {
        self.state().service.clone()
    }

    /// The masking rules for this call, chosen once its target is known.
    pub fn set_masks(&self, masks: crate::masking::Masks) {
        self.state().masks = masks;
    }

    /// The masking rules for this call (none until [`Call::set_masks`]).
    pub fn masks(&self) -> crate::masking::Masks {
        self.state().masks.clone()
    }

    /// The call's body logging, if it is on.
    pub fn body_log(&self) -> Option<Arc<BodyLog>> {
        self.state().body_log.clone()
    }

    /// Stores the response body as the client got it (rendered off the lock), if
    /// bodies are logged.
    pub fn log_response_body(&self, capture: Capture) {
        let Some(log) = self.body_log() else { return };
        let text = log.render(capture);
        self.state().response_body = Some(text);
    }

    /// A streamed body now owns the end of this call.
    pub fn hand_to_stream(&self) {
        self.state().streaming = true;
    }

    /// Phase 7: settles and commits the call record, once. Returns when the record
    /// (and its charge) is in the journal, so an answer sent after this is never
    /// lost to a crash.
    pub async fn finish(&self) {
        let Some(closing) = self.close() else { return };
        closing.run().await;
    }

    fn close(&self) -> Option<Closing> {
        let mut s = self.state();
        if s.finished {
            return None;
        }
        s.finished = true;
        Some(Closing::of(
            &mut s,
            self.0.metering.clone(),
            self.0.span.clone(),
        ))
    }
}

impl Drop for CallInner {
    fn drop(&mut self) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.finished {
            return;
        }
        s.finished = true;
        // Nothing finished the call: the client went away before its answer ended
        // (a finished answer, a broken stream and a panic all finish explicitly).
        s.status = 499;
        s.error_code = Some("client_closed".into());
        let closing = Closing::of(&mut s, self.metering.clone(), self.span.clone());
        drop(s);
        closing.detach();
    }
}

/// The books of a finished call, ready to settle and commit.
struct Closing {
    metering: Option<Arc<Metering>>,
    settle: Settle,
    record: CallRecord,
    charge: Option<LedgerEntry>,
    /// What metrics and the access log need beyond the record.
    obs: Observed,
}

/// A closing call's figures for metrics, the access log and its span.
struct Observed {
    span: Span,
    door: &'static str,
    label: Option<Arc<str>>,
    duration: Duration,
    ttft: Option<Duration>,
}

/// What settling a call's holds needs to know.
struct Settle {
    holds: Holds,
    consumer: Option<String>,
    tokens: u64,
    cost: Micros,
}

impl Closing {
    fn of(s: &mut CallState, metering: Option<Arc<Metering>>, span: Span) -> Closing {
        let holds = std::mem::take(&mut s.holds);
        // A refused or failed request costs nothing; an answer withheld after the
        // provider made it does.
        let charged = s.status < 400 || s.status == 499 || s.withheld;
        if !charged {
            s.cost = 0;
            s.usage = Usage::default();
        }
        let settled = steps::Settle {
            step: "settle",
            outcome: if charged { "charged" } else { "released" },
            reserved_usd: micros_to_usd(s.reserved),
            charged_usd: micros_to_usd(s.cost),
        };
        s.steps.push(&settled);
        let charge = holds
            .reservation
            .as_ref()
            .filter(|r| r.credits_available().is_some() && s.cost > 0)
            .and(s.consumer.as_ref())
            .map(|c| LedgerEntry::charge(c.clone(), s.request_id.clone(), s.cost));
        let duration = s.started.elapsed();
        let record = CallRecord {
            request_id: s.request_id.clone(),
            at: s.at,
            consumer: s.consumer.clone(),
            team: s.team.clone(),
            key_id: s.key_id.clone(),
            door: s.door.to_string(),
            model: s.model.clone(),
            provider: s.provider.clone(),
            target_model: s.target_model.clone(),
            attempts: std::mem::take(&mut s.attempts),
            status: s.status,
            error_code: s.error_code.clone(),
            latency_ms: duration.as_millis() as u64,
            upstream_latency_ms: s.upstream_latency_ms,
            ttft_ms: s.ttft_ms,
            input_tokens: s.usage.input,
            output_tokens: s.usage.output,
            cache_read_tokens: s.usage.cache_read,
            cache_write_tokens: s.usage.cache_write,
            reasoning_tokens: s.usage.reasoning,
            cost_micros: s.cost,
            reserved_micros: s.reserved,
            cache: s.cache.map(str::to_string),
            stream: s.stream,
            client_ip: s.client_ip.take(),
            user_agent: s.user_agent.take(),
            steps: s.steps.finish(),
            request_body: s.request_body.take(),
            response_body: s.response_body.take(),
        };
        let settle = Settle {
            holds,
            consumer: s.consumer.clone(),
            tokens: s.usage.total(),
            cost: s.cost,
        };
        Closing {
            metering,
            settle,
            record,
            charge,
            obs: Observed {
                span,
                door: s.door,
                label: s.model_label.take(),
                duration,
                ttft: s.ttft,
            },
        }
    }

    /// The call's metrics, its span's closing attributes and its access-log line.
    fn observe(&self) {
        metrics::gauge!(names::IN_FLIGHT).decrement(1.0);
        let r = &self.record;
        let o = &self.obs;
        // Static and shared strings: no label is copied.
        let door = metrics::SharedString::const_str(o.door);
        let model = o
            .label
            .as_ref()
            .map_or(metrics::SharedString::const_str(""), |m| {
                metrics::SharedString::from_shared(m.clone())
            });
        metrics::counter!(names::REQUESTS_TOTAL, "door" => door.clone(), "model" => model.clone(),
            "status" => tollgate_telemetry::status_label(r.status))
        .increment(1);
        metrics::histogram!(names::REQUEST_DURATION_SECONDS, "door" => door.clone(), "model" => model.clone())
            .record(o.duration.as_secs_f64());
        if r.stream
            && let Some(ttft) = o.ttft
        {
            metrics::histogram!(names::TTFT_SECONDS, "door" => door, "model" => model.clone())
                .record(ttft.as_secs_f64());
        }
        if let Some(mark) = r.cache.as_deref() {
            metrics::counter!(names::CACHE_TOTAL, "model" => model.clone(), "result" => cache_label(mark))
                .increment(1);
        }
        let t = |kind: &'static str, n: u64| {
            if n > 0 {
                metrics::counter!(names::TOKENS_TOTAL, "model" => model.clone(), "kind" => kind)
                    .increment(n);
            }
        };
        t("input", r.input_tokens);
        t("output", r.output_tokens);
        t("cache_read", r.cache_read_tokens);
        t("cache_write", r.cache_write_tokens);
        t("reasoning", r.reasoning_tokens);
        if r.cost_micros > 0 {
            tollgate_telemetry::add_cost(&model, r.cost_micros.unsigned_abs());
        }
        let span = &o.span;
        span.record("http.response.status_code", r.status);
        if let Some(code) = &r.error_code {
            span.record("error.type", code.as_str());
        }
        if r.input_tokens > 0 || r.output_tokens > 0 {
            span.record("gen_ai.usage.input_tokens", r.input_tokens);
            span.record("gen_ai.usage.output_tokens", r.output_tokens);
        }
        // One access-log line per call (target `tollgate::access`, level info).
        let _in = span.enter();
        tracing::info!(
            target: "tollgate::access",
            request_id = %r.request_id,
            door = %r.door,
            model = r.model.as_deref(),
            provider = r.provider.as_deref(),
            consumer = r.consumer.as_deref(),
            status = r.status,
            error_code = r.error_code.as_deref(),
            latency_ms = r.latency_ms,
            ttft_ms = r.ttft_ms,
            input_tokens = r.input_tokens,
            output_tokens = r.output_tokens,
            cost_usd = micros_to_usd(r.cost_micros),
            cache = r.cache.as_deref(),
            stream = r.stream,
            "call"
        );
    }

    /// Starts settling the holds in the background (the client never waits on the
    /// limits backend, and a commit cut short cannot skip it) and hands back the
    /// entries to commit, with the journal.
    fn start(self) -> Option<(Arc<Metering>, Vec<Entry>)> {
        self.observe();
        let metering = self.metering?;
        if !self.settle.holds.is_empty() {
            spawn(settle(metering.clone(), self.settle));
        }
        let mut entries = Vec::with_capacity(2);
        entries.extend(self.charge.map(Entry::Charge));
        entries.push(Entry::Call(self.record));
        Some((metering, entries))
    }

    /// Commits the record and charge, waiting until they are in the journal.
    async fn run(self) {
        use tracing::Instrument;
        let request_id = self.record.request_id.clone();
        let settle = tracing::info_span!(parent: &self.obs.span, "settle");
        let Some((metering, entries)) = settle.in_scope(|| self.start()) else {
            return;
        };
        let committed = metering.journal.commit(entries).instrument(settle).await;
        if let Err(e) = committed {
            // The log could not be written: the answer still goes out, and the loss
            // is loud (the operator must look at the data directory's disk).
            tracing::error!(error = %e, %request_id, "call record not journaled");
            metrics::counter!("tollgate_journal_commit_failures_total").increment(1);
        }
    }

    /// Commits without waiting (a dropped call: nobody is waiting for it).
    fn detach(self) {
        if let Some((metering, entries)) = self.start() {
            metering.journal.commit_detached(entries);
        }
    }
}

fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(task);
        }
        // Outside a runtime the holds release themselves on drop.
        Err(_) => tracing::warn!("settlement outside a runtime; holds released on drop"),
    }
}

/// Corrects tokens/min to what was used, frees concurrency, settles the reservation to
/// the actual cost and raises the alerts that crossing thresholds calls for.
async fn settle(metering: Arc<Metering>, mut s: Settle) {
    for p in s.holds.permits.drain(..) {
        metering.limiter.settle_tokens(&p, s.tokens).await;
        metering.limiter.release(p).await;
    }
    let Some(r) = s.holds.reservation.take() else {
        return;
    };
    let settled = metering
        .limiter
        .settle(r, Spend::new(s.cost, s.tokens))
        .await;
    metering.alert_thresholds(&settled.thresholds);
    if let (Some(after), Some(floor), Some(consumer)) =
        (settled.credit_balance, s.holds.credits_floor, &s.consumer)
        && after < floor
        && after + s.cost >= floor
    {
        metering.alerter.raise(AlertEvent {
            kind: AlertKind::CreditsLow,
            scope: consumer_scope(consumer),
            period_key: Utc::now().format("%Y-%m-%dT%H").to_string(),
            threshold_percent: None,
            used_usd: None,
            limit_usd: Some(micros_to_usd(floor)),
            detail: json!({
                "balance_usd": micros_to_usd(after),
                "floor_usd": micros_to_usd(floor),
            }),
        });
    }
}

/// The metric label of a cache outcome.
fn cache_label(mark: &str) -> &'static str {
    match mark {
        "hit" => "hit",
        "miss" => "miss",
        "bypass" => "bypass",
        _ => "other",
    }
}

/// The span of one request: its id, door, and OpenTelemetry's attributes (GenAI
/// semantic conventions) filled in as the phases learn them.
///
/// A span's level decides under which log filters it exists, and a line logged
/// outside an existing span loses its context: at `ERROR` this span is there for every
/// line logged at all (a warning with `log.level: warn` still carries its request id).
/// The phases' spans are at `INFO`.
pub fn request_span(request_id: &str, door: &'static str, operation: Option<&'static str>) -> Span {
    tracing::error_span!(
        "request",
        request_id = %request_id,
        door = door,
        "otel.kind" = "server",
        "gen_ai.operation.name" = operation,
        "gen_ai.provider.name" = Empty,
        "gen_ai.request.model" = Empty,
        "gen_ai.request.max_tokens" = Empty,
        "gen_ai.response.model" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "tollgate.provider" = Empty,
        "tollgate.cache" = Empty,
        "http.response.status_code" = Empty,
        "error.type" = Empty,
    )
}

/// The GenAI operation a path performs.
fn operation_of(path: &str) -> Option<&'static str> {
    match path {
        "/v1/chat/completions" | "/v1/messages" | "/v1/responses" => Some("chat"),
        "/v1/embeddings" => Some("embeddings"),
        _ => None,
    }
}

/// The door a path belongs to, for records and error envelopes.
pub fn door_of_path(path: &str) -> (Door, &'static str) {
    if path.starts_with("/v1/messages") || path.starts_with("/v1/complete") {
        (Door::Anthropic, "anthropic")
    } else if path.starts_with("/v1/responses") {
        (Door::OpenAi, "responses")
    } else {
        (Door::OpenAi, "openai")
    }
}

/// The door of a path outside `/v1/`: a prompt-API's or a service's, so that the
/// request's span says so from its start (its routes set the record's door too).
fn published_door(st: &GatewayState, path: &str) -> Option<&'static str> {
    let snapshot = st.live.snapshot.load_full();
    if snapshot.prompt_paths.contains_key(path) {
        return Some("prompt_api");
    }
    if snapshot.services.is_empty() {
        return None;
    }
    st.services.table(&snapshot).find(path).map(|_| "service")
}

/// Paths that are not calls: health checks and the caller's own metadata reads
/// (stored responses read or deleted by id included). `/mcp` records its own calls:
/// each tool call and each refusal, not the protocol's housekeeping ([`crate::mcp`]).
fn is_unrecorded(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/v1/models" | "/tollgate/v1/usage" | "/mcp"
    ) || path.starts_with("/v1/responses/")
}

/// Middleware: gives every request its [`Call`] and finishes it when the answer is
/// whole (a streamed answer is finished by its relay).
pub async fn layer(
    axum::extract::State(st): axum::extract::State<GatewayState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if is_unrecorded(path) {
        return next.run(req).await;
    }
    let (_, mut door_name) = door_of_path(path);
    if !path.starts_with("/v1/") {
        door_name = published_door(&st, path).unwrap_or(door_name);
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| RequestId::generate().0, |r| r.0.clone());
    let span = request_span(&request_id, door_name, operation_of(path));
    let call = Call::with_span(&request_id, door_name, st.metering.clone(), span.clone());
    {
        let mut s = call.state();
        s.client_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        s.user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
    }
    req.extensions_mut().insert(call.clone());
    let mut res = {
        use tracing::Instrument;
        next.run(req).instrument(span).await
    };

    call.note_answer(&res);
    let streaming = {
        let mut s = call.state();
        let h = res.headers_mut();
        for (name, value) in s.headers.drain(..) {
            h.insert(name, value);
        }
        s.streaming
    };
    if !streaming {
        // An answer not handed to a stream is in memory already: a door's whole
        // answer, an error, a cached stream replayed. (A service's node answer, when
        // bodies are logged, is always handed to a stream that logs it: `proxy`.)
        if let Some(log) = call.body_log() {
            res = log_whole_answer(res, &log, &call).await;
        }
        call.finish().await;
    }
    res
}

/// Logs the body of a whole answer (JSON, an error, a cached stream replayed) and
/// hands the answer back as it was: its chunks are kept by reference, not copied.
async fn log_whole_answer(res: Response, log: &BodyLog, call: &Call) -> Response {
    use futures::StreamExt;
    let (parts, body) = res.into_parts();
    let mut capture = log.capture();
    let mut chunks = Vec::new();
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        if let Ok(c) = &chunk {
            capture.push(c);
        }
        chunks.push(chunk);
    }
    call.log_response_body(capture);
    let body = match <[_; 1]>::try_from(chunks) {
        Ok([Ok(one)]) => Body::from(one),
        Ok([chunk]) => Body::from_stream(futures::stream::iter([chunk])),
        Err(chunks) => Body::from_stream(futures::stream::iter(chunks)),
    };
    Response::from_parts(parts, body)
}
