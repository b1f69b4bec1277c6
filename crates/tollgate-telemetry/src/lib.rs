//! Logging and metrics: every metric name in one place, the Prometheus recorder, and
//! the tracing subscriber.
//!
//! Histograms are exported as buckets (not summaries) so that several nodes can be
//! aggregated by Prometheus.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Metric names of PRODUCT.md. Renaming one breaks users' dashboards.
pub mod names {
    /// Counter; labels `door`, `model`, `status`.
    pub const REQUESTS_TOTAL: &str = "tollgate_requests_total";
    /// Histogram of the time to the response headers (for streams: to the first
    /// byte; whole streams are in the call records); labels `door`, `model`.
    pub const REQUEST_DURATION_SECONDS: &str = "tollgate_request_duration_seconds";
    /// Histogram of time to the upstream's response headers; labels `provider`, `outcome`.
    pub const UPSTREAM_DURATION_SECONDS: &str = "tollgate_upstream_duration_seconds";
    /// Counter; labels `model`, `kind` (`input` | `output`).
    pub const TOKENS_TOTAL: &str = "tollgate_tokens_total";
    /// Cost in USD; labels `model`. Exported as a gauge that only increases because
    /// the exporter's counters are integers.
    pub const COST_USD_TOTAL: &str = "tollgate_cost_usd_total";
    /// Counter of upstream attempts that failed; labels `provider`, `cause`.
    pub const UPSTREAM_FAILURES_TOTAL: &str = "tollgate_upstream_failures_total";
    /// Gauge of requests in flight on the gateway listener.
    pub const IN_FLIGHT: &str = "tollgate_requests_in_flight";
    /// Gauge: the configuration revision served from memory.
    pub const CONFIG_REVISION: &str = "tollgate_config_revision";
    /// Gauge of each target's circuit breaker: 0 closed, 1 half-open, 2 open; label
    /// `target` (`provider/model`).
    pub const CIRCUIT_STATE: &str = "tollgate_circuit_state";
}

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global Prometheus recorder once and returns its handle (renders
/// `/metrics`). Later calls return the same handle.
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed (tests in one process);
            // the handle still renders what this recorder holds.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        names::REQUESTS_TOTAL,
        "Gateway requests by door, model and status"
    );
    describe_histogram!(
        names::REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Whole-request latency on the gateway listener"
    );
    describe_histogram!(
        names::UPSTREAM_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time to the upstream's response headers"
    );
    describe_counter!(names::TOKENS_TOTAL, "Tokens metered, by model and kind");
    describe_gauge!(names::COST_USD_TOTAL, "Cost charged in USD, by model");
    describe_counter!(
        names::UPSTREAM_FAILURES_TOTAL,
        "Failed upstream attempts by cause"
    );
    describe_gauge!(names::IN_FLIGHT, "Requests in flight");
    describe_gauge!(names::CONFIG_REVISION, "Configuration revision served");
    describe_gauge!(
        names::CIRCUIT_STATE,
        "Circuit breaker per target: 0 closed, 1 half-open, 2 open"
    );
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), as JSON when
/// `TOLLGATE_LOG_FORMAT=json`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("TOLLGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
