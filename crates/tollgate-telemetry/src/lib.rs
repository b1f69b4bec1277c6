//! Logging and metrics: every metric name in one place, the Prometheus recorder, the
//! cost counter, and the tracing subscriber.
//!
//! Histograms are exported as buckets (not summaries) so that several nodes can be
//! aggregated by Prometheus.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Metric names of PRODUCT.md and docs/monitoring.md. Renaming one breaks users'
/// dashboards (deploy/grafana/tollgate-dashboard.json reads them).
pub mod names {
    /// Counter of finished calls; labels `door`, `model`, `status`.
    pub const REQUESTS_TOTAL: &str = "tollgate_requests_total";
    /// Histogram of a call's whole duration: from arrival to the end of its answer's
    /// body (for a stream: its last event, or the moment the client left); labels
    /// `door`, `model`.
    pub const REQUEST_DURATION_SECONDS: &str = "tollgate_request_duration_seconds";
    /// Histogram of a stream's time to its first token (a cache hit's too); labels
    /// `door`, `model`.
    pub const TTFT_SECONDS: &str = "tollgate_ttft_seconds";
    /// Histogram of time to the upstream's response headers; labels `provider`, `outcome`.
    pub const UPSTREAM_DURATION_SECONDS: &str = "tollgate_upstream_duration_seconds";
    /// Counter; labels `model`, `kind` (`input` | `output` | `cache_read` |
    /// `cache_write` | `reasoning`).
    pub const TOKENS_TOTAL: &str = "tollgate_tokens_total";
    /// Counter of the cost charged in USD; label `model`. Kept exactly in micro-USD
    /// and rendered by [`super::render`] (the exporter's counters are integers).
    pub const COST_USD_TOTAL: &str = "tollgate_cost_usd_total";
    /// Counter of response-cache outcomes of calls to models with a cache; labels
    /// `model`, `result` (`hit` | `miss` | `bypass`).
    pub const CACHE_TOTAL: &str = "tollgate_cache_total";
    /// Counter of rate-limit, budget and credit decisions; labels `scope_kind`
    /// (`key` | `consumer` | `team` | `model`), `kind` (`rate_limit` | `budget` |
    /// `token_quota` | `credits`), `outcome` (`pass` | `refused`).
    pub const LIMIT_DECISIONS_TOTAL: &str = "tollgate_limit_decisions_total";
    /// Counter of upstream attempts that failed; labels `provider`, `cause`.
    pub const UPSTREAM_FAILURES_TOTAL: &str = "tollgate_upstream_failures_total";
    /// Gauge of calls in flight on the gateway listener (streams until their end).
    pub const IN_FLIGHT: &str = "tollgate_requests_in_flight";
    /// Gauge: the configuration revision served from memory.
    pub const CONFIG_REVISION: &str = "tollgate_config_revision";
    /// Gauge of each target's circuit breaker: 0 closed, 1 half-open, 2 open; label
    /// `target` (`provider/model`).
    pub const CIRCUIT_STATE: &str = "tollgate_circuit_state";
    /// Gauge: call-log entries accepted but not yet in the database.
    pub const JOURNAL_QUEUE_DEPTH: &str = "tollgate_journal_queue_depth";
    /// Gauge: bytes of the journal's on-disk log not yet in the database (the spool).
    pub const JOURNAL_SPOOL_BYTES: &str = "tollgate_journal_spool_bytes";
    /// Counter of values masked or blocked by masking rules; labels `rule`,
    /// `detector` (`email` | `phone` | `credit_card` | `iban` | `ip_address` |
    /// `api_key` | `keyword` | `regex` | `json_path`). The values themselves are never
    /// recorded anywhere.
    pub const MASKING_MATCHES_TOTAL: &str = "tollgate_masking_matches_total";
    /// Histogram of one database batch write of the journal.
    pub const JOURNAL_BATCH_SECONDS: &str = "tollgate_journal_batch_seconds";
}

/// The buckets of every `_seconds` histogram: 1 ms to 5 min, roughly 2.5× apart.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global Prometheus recorder once and returns its handle. Render
/// `/metrics` with [`render`], which adds the cost counter. Later calls return the
/// same handle.
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            spawn_upkeep(handle.clone());
            // Fails only if another recorder is installed (tests in one process);
            // the handle still renders what this recorder holds.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            // The gauge exists (at 0) before the first request.
            metrics::gauge!(names::IN_FLIGHT).set(0.0);
            handle
        })
        .clone()
}

/// How often the recorder's histograms are drained without a scrape.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Drains the recorder's histograms every [`UPKEEP_EVERY`]. The exporter keeps every
/// histogram sample in a growing bucket until `/metrics` is rendered or upkeep runs,
/// and a recorder built with `build_recorder` has no upkeep of its own: a gateway
/// nobody scraped grew by about 3.4 MiB a minute at 1,700 requests/s (BENCHMARKS.md,
/// issue 15). A thread rather than a task: the handle is made before any runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("tg-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the metrics upkeep thread");
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        names::REQUESTS_TOTAL,
        "Finished gateway calls by door, model and status"
    );
    describe_histogram!(
        names::REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Whole-call duration on the gateway listener, to the end of the body (streams included)"
    );
    describe_histogram!(
        names::TTFT_SECONDS,
        metrics::Unit::Seconds,
        "Time to the first token of streamed answers"
    );
    describe_histogram!(
        names::UPSTREAM_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time to the upstream's response headers"
    );
    describe_counter!(names::TOKENS_TOTAL, "Tokens metered, by model and kind");
    describe_counter!(
        names::MASKING_MATCHES_TOTAL,
        "Values masked or blocked by masking rules, by rule and detector"
    );
    describe_counter!(
        names::CACHE_TOTAL,
        "Response-cache outcomes by model and result"
    );
    describe_counter!(
        names::LIMIT_DECISIONS_TOTAL,
        "Rate-limit, budget and credit decisions by scope kind, kind and outcome"
    );
    describe_counter!(
        names::UPSTREAM_FAILURES_TOTAL,
        "Failed upstream attempts by cause"
    );
    describe_gauge!(
        names::IN_FLIGHT,
        "Calls in flight (streams until their end)"
    );
    describe_gauge!(names::CONFIG_REVISION, "Configuration revision served");
    describe_gauge!(
        names::CIRCUIT_STATE,
        "Circuit breaker per target: 0 closed, 1 half-open, 2 open"
    );
    describe_gauge!(
        names::JOURNAL_QUEUE_DEPTH,
        "Call-log entries not yet in the database"
    );
    describe_gauge!(
        names::JOURNAL_SPOOL_BYTES,
        "Bytes of the journal's disk log not yet in the database"
    );
    describe_histogram!(
        names::JOURNAL_BATCH_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one journal batch write to the database"
    );
}

/// Micro-USD charged per model since the process started. Models come from the
/// configuration, so the map stays small; each lookup after a model's first is a read
/// lock and an atomic add.
fn costs() -> &'static RwLock<HashMap<Box<str>, Arc<AtomicU64>>> {
    static COSTS: OnceLock<RwLock<HashMap<Box<str>, Arc<AtomicU64>>>> = OnceLock::new();
    COSTS.get_or_init(RwLock::default)
}

/// Adds `micros` (micro-USD) to `tollgate_cost_usd_total{model}`.
pub fn add_cost(model: &str, micros: u64) {
    if micros == 0 {
        return;
    }
    let cell = {
        let map = costs()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(model).cloned()
    };
    let cell = cell.unwrap_or_else(|| {
        let mut map = costs()
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(Box::from(model)).or_default().clone()
    });
    cell.fetch_add(micros, Ordering::Relaxed);
}

/// The cost counter in Prometheus' text format: exact decimal USD per model.
fn render_costs(out: &mut String) {
    let map = costs()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut rows: Vec<(&str, u64)> = map
        .iter()
        .map(|(m, v)| (m.as_ref(), v.load(Ordering::Relaxed)))
        .collect();
    rows.sort_unstable();
    let _ = writeln!(
        out,
        "# HELP {} Cost charged in USD, by model",
        names::COST_USD_TOTAL
    );
    let _ = writeln!(out, "# TYPE {} counter", names::COST_USD_TOTAL);
    for (model, micros) in rows {
        let _ = writeln!(
            out,
            "{}{{model=\"{}\"}} {}.{:06}",
            names::COST_USD_TOTAL,
            escape_label(model),
            micros / 1_000_000,
            micros % 1_000_000
        );
    }
}

/// A label value as Prometheus' text format writes it.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// `/metrics`: the recorder's metrics, then the cost counter.
pub fn render(handle: &PrometheusHandle) -> String {
    let mut out = handle.render();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    render_costs(&mut out);
    out
}

/// The label of a rate-limit or budget scope's kind (`consumer:x` → `consumer`).
pub fn scope_kind(scope: &str) -> &'static str {
    match scope.split_once(':').map_or(scope, |(k, _)| k) {
        "key" => "key",
        "consumer" => "consumer",
        "team" => "team",
        "model" => "model",
        "global" => "global",
        _ => "other",
    }
}

/// Counts one limiter decision in `tollgate_limit_decisions_total`.
pub fn limit_decision(scope: &str, kind: &'static str, refused: bool) {
    let outcome = if refused { "refused" } else { "pass" };
    metrics::counter!(names::LIMIT_DECISIONS_TOTAL,
        "scope_kind" => scope_kind(scope), "kind" => kind, "outcome" => outcome)
    .increment(1);
}

/// An HTTP status as a label, without allocating for the usual ones.
pub fn status_label(status: u16) -> metrics::SharedString {
    let s: &'static str = match status {
        200 => "200",
        400 => "400",
        401 => "401",
        402 => "402",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        429 => "429",
        499 => "499",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return metrics::SharedString::from(other.to_string()),
    };
    metrics::SharedString::const_str(s)
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What the `log` key of the config says (before the environment overrides it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter: `info`, `warn,tollgate::access=info`, ...
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// An extra tracing layer (the OpenTelemetry exporter of the `otel` build).
pub type ExtraLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static>;

/// Logs to stderr. The filter is `RUST_LOG` when set, else `settings.level`; the
/// format is `TOLLGATE_LOG_FORMAT` (`json` | `text`) when set, else
/// `settings.format`. `extra` (OpenTelemetry) sees every span whatever the log filter
/// says; the filter applies to log output only.
pub fn init_tracing(settings: &LogSettings, extra: Option<ExtraLayer>) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let format = match std::env::var("TOLLGATE_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("text") => LogFormat::Text,
        _ => settings.format,
    };
    match extra {
        // The extra layer goes first: it is typed for the bare registry. The filter is
        // the log output's own (a per-layer filter), so that the extra layer still sees
        // every span.
        Some(extra) => {
            let _ = tracing_subscriber::registry()
                .with(extra)
                .with(fmt_layer(format).with_filter(filter))
                .try_init();
        }
        // Log output alone: the filter is the whole subscriber's. Same lines, but a
        // per-layer filter keeps a little state for every span entered, exited or
        // recorded (a streamed request enters and leaves its spans on every poll of its
        // body: about 54k of its instructions went there), which a global filter does
        // not.
        None => {
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(fmt_layer(format))
                .try_init();
        }
    }
}

/// The log output layer, text or JSON, to stderr.
fn fmt_layer<S>(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    // Colours only for a terminal: escape codes in a log file or a pipe are noise to
    // its reader, and writing them was a tenth of a small request's instructions.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => fmt
            .json()
            // Every enclosing span, outermost first: the `request` span (with the
            // request id) is in the list whichever phase logged the line.
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
        LogFormat::Text => fmt.boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_renders_exact_decimals_as_a_counter() {
        add_cost("render-test-model", 1_234_567);
        add_cost("render-test-model", 3);
        add_cost("render-test-model", 0);
        let mut out = String::new();
        render_costs(&mut out);
        assert!(out.contains("# TYPE tollgate_cost_usd_total counter\n"));
        assert!(
            out.contains("tollgate_cost_usd_total{model=\"render-test-model\"} 1.234570\n"),
            "{out}"
        );
    }

    /// The recorder's upkeep thread runs from the first handle on (without it the
    /// histograms grow with every request until someone scrapes `/metrics`).
    #[cfg(target_os = "linux")]
    #[test]
    fn histograms_have_an_upkeep_thread() {
        let _ = metrics_handle();
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        };
        // A new thread names itself once it runs.
        for _ in 0..100 {
            if names().iter().any(|n| n == "tg-metrics") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no tg-metrics thread among {:?}", names());
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn scope_kinds() {
        assert_eq!(scope_kind("consumer:a:b"), "consumer");
        assert_eq!(scope_kind("key:k1"), "key");
        assert_eq!(scope_kind("weird"), "other");
    }

    #[test]
    fn status_labels() {
        assert_eq!(status_label(429).as_ref(), "429");
        assert_eq!(status_label(418).as_ref(), "418");
    }
}
