//! tollgate-config: loads, interpolates and validates the YAML config file.
//!
//! ```text
//! text ──granit-parser──▶ outline (paths, positions, scalars with `${`)
//!      ──interpolation──▶ text' (each interpolated scalar rewritten as one quoted scalar)
//!      ──serde-saphyr───▶ raw config ──checks──▶ Config
//! ```
//! Every error is reported against the original text as `FILE:LINE:COLUMN: path: message`.
//! Interpolation happens on parsed scalar values, so comments are never interpolated and a
//! value can never change the document's structure. (The flip side: inside a flow
//! collection, `[...]` or `{...}`, a reference must be quoted, `"${VAR}"`, because `{`
//! and `}` are YAML indicators there; the syntax error says so.) An interpolated value is
//! always a string, which typed fields parse: `max_body_bytes: ${MAX}` is a number.
//!
//! Every error is reported at once, in file order: when deserialization fails, each field
//! of `server` and `storage` and each resource is deserialized on its own, so that one bad
//! value does not hide the others, and the semantic checks still run on everything that
//! could be read (a file with anchors/aliases can only be read whole: there, type errors
//! stop at the first one).
//!
//! No message quotes a value of the file (a secret pasted into the wrong field,
//! `kind: sk-…`, would be repeated into terminals and logs): the position and path say
//! which value, enum fields list what they accept, and `${VAR}` errors name the variable.
//! The config types redact their secrets in `Debug`.

mod assemble;
pub use assemble::under_prefix;
mod check;
mod interp;
mod load;
mod redact;
mod text;
mod tree;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;

use tollgate_core::spec::{
    AlertSpec, ConsumerSpec, MaskingRuleSpec, ModelSpec, PromptApiSpec, ProviderSpec, ServiceSpec,
    TeamSpec,
};

pub use check::{
    Issue, MAX_USD, check_alert, check_consumer, check_masking, check_model, check_prompt_api,
    check_provider, check_service, check_team, route_params,
};

/// The whole configuration: the embedded defaults, overridden by the file.
/// `Config::default()` is what `tollgate serve` runs with when there is no config file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub providers: Vec<ProviderSpec>,
    pub models: Vec<ModelSpec>,
    pub teams: Vec<TeamSpec>,
    pub consumers: Vec<ConsumerSpec>,
    pub alerts: Vec<AlertSpec>,
    /// `services`: REST APIs published under path prefixes.
    pub services: Vec<ServiceSpec>,
    /// `prompt_apis`: a model and a message template published as a REST endpoint.
    pub prompt_apis: Vec<PromptApiSpec>,
    /// `masking`: rules that mask or block sensitive values in prompts and answers.
    pub masking: Vec<MaskingRuleSpec>,
    /// `log`: how log lines are written.
    pub log: LogConfig,
    /// `telemetry`: OpenTelemetry traces (used by builds with the `otel` feature).
    pub telemetry: TelemetryConfig,
}

/// `log: {format: text|json, level: info}`. `TOLLGATE_LOG_FORMAT` and `RUST_LOG`
/// override them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `true` for `json` (one JSON object per line), `false` for `text`.
    pub json: bool,
    /// A filter in `RUST_LOG`'s syntax: `info`, `warn,tollgate::access=info`, ...
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            json: false,
            level: "info".into(),
        }
    }
}

/// `telemetry: {otlp_endpoint, service_name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// The OTLP/HTTP collector's base URL (`http://collector:4318`); traces go to
    /// `/v1/traces` under it. `None`: `OTEL_EXPORTER_OTLP_ENDPOINT`, else no export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl TelemetryConfig {
    pub const DEFAULT_SERVICE_NAME: &'static str = "tollgate";
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            service_name: Self::DEFAULT_SERVICE_NAME.into(),
        }
    }
}

/// `Debug` is written by hand: it prints `admin_token` as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The gateway listener.
    pub listen: SocketAddr,
    /// Admin API, console and portal.
    pub admin_listen: SocketAddr,
    /// Bearer token for the admin API; `None`: console sessions only.
    pub admin_token: Option<String>,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// The gateway's URL as consumers reach it (behind a proxy or TLS terminator), for
    /// the `servers` of exported OpenAPI documents; without it the admin request's host
    /// name and the gateway's port are used.
    pub public_url: Option<String>,
}

impl ServerConfig {
    pub const DEFAULT_LISTEN: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 8080));
    pub const DEFAULT_ADMIN_LISTEN: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 8081));
    /// 16 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: Self::DEFAULT_LISTEN,
            admin_listen: Self::DEFAULT_ADMIN_LISTEN,
            admin_token: None,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            public_url: None,
        }
    }
}

/// `Debug` is written by hand: URL passwords print as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// `sqlite://PATH` or `postgres://…` / `postgresql://…`.
    pub database: String,
    /// `redis://…` / `rediss://…`: counters, cache and change feed shared by several nodes.
    pub redis: Option<String>,
    pub cache: CacheBackend,
    /// `storage.redis_failure_policy`: when Redis (shared limits and budgets) is
    /// unreachable, admit requests (`open`, the default: availability first, counted
    /// in `tollgate_limits_backend_errors_total`) or refuse them with 503 (`closed`).
    pub redis_fail_open: bool,
    /// `storage.redis_prefix`: namespace of every Redis key (several deployments, or
    /// test runs, can share one Redis).
    pub redis_prefix: String,
    /// `storage.retention`: how long call records and rollups are kept.
    pub retention: RetentionConfig,
    /// `storage.log_bodies_max_bytes`: the most of each request or response body a
    /// call record keeps when bodies are logged (`log_bodies` on a model or consumer);
    /// the rest is cut and marked. It bounds the memory a logged call holds too.
    pub log_bodies_max_bytes: usize,
}

/// `storage.retention: {calls_days, rollups_days}`: raw call records (and minute
/// rollups) expire after `calls_days`, hour and day rollups after `rollups_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    pub calls_days: u32,
    pub rollups_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            calls_days: 30,
            rollups_days: 400,
        }
    }
}

impl StorageConfig {
    pub const DEFAULT_DATABASE: &'static str = "sqlite://tollgate-data/tollgate.db";
    pub const DEFAULT_REDIS_PREFIX: &'static str = "tollgate:";
    /// 32 KiB.
    pub const DEFAULT_LOG_BODIES_MAX_BYTES: usize = 32 * 1024;
    /// 16 MiB (the default `server.max_body_bytes`): beyond it a body is not a log line.
    pub const MAX_LOG_BODIES_MAX_BYTES: usize = 16 * 1024 * 1024;
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            database: Self::DEFAULT_DATABASE.to_string(),
            redis: None,
            cache: CacheBackend::Memory,
            redis_fail_open: true,
            redis_prefix: Self::DEFAULT_REDIS_PREFIX.to_string(),
            retention: RetentionConfig::default(),
            log_bodies_max_bytes: Self::DEFAULT_LOG_BODIES_MAX_BYTES,
        }
    }
}

/// Where cached responses live (`storage.cache`). `Debug` masks a URL password.
#[derive(Clone, PartialEq, Eq)]
pub enum CacheBackend {
    /// `memory` (the default).
    Memory,
    /// `redis`: the server of `storage.redis`.
    Redis,
    /// `memcached://HOST:PORT`: the URL as written.
    Memcached(String),
}

/// One problem in a config file, at the position of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// Field path such as `models[2].targets[0].provider`; empty for the whole file.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.path, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Load a config file, taking `${VAR}` values from the process environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let label = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: label.clone(),
            line: 1,
            column: 1,
            path: String::new(),
            message: format!("cannot read file: {e}"),
        }])
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e
                .as_bytes()
                .get(..e.utf8_error().valid_up_to())
                .unwrap_or(&[]);
            let prefix = String::from_utf8_lossy(valid);
            let (line, column) = text::LineIndex::new(&prefix).position(prefix.len());
            return Err(ConfigErrors(vec![ConfigError {
                file: label,
                line,
                column,
                path: String::new(),
                message: "the file is not valid UTF-8".to_string(),
            }]));
        }
    };
    parse_str(&text, &label, &|name| std::env::var(name).ok())
}

/// Parse config text. `file_label` names the file in errors; `env` answers `${VAR}`
/// (`None`: not set).
pub fn parse_str(
    text: &str,
    file_label: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    load::parse(text, file_label, env)
}
