//! The file's shape as deserialized, and its conversion into a [`Config`] with every
//! semantic check that needs more than one resource.
//!
//! The checks run on [`Parts`]: whatever could be read. When the file has type errors,
//! each section field and each resource is read on its own, so the semantic checks
//! still run on everything else and both kinds of error are reported together.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::IgnoredAny;
use tollgate_core::spec::{
    AlertSpec, ConsumerSpec, MaskingRuleSpec, ModelSpec, PromptApiSpec, ProviderSpec, ServiceSpec,
    TeamSpec,
};

use crate::check::{
    Issue, check_alert, check_consumer, check_masking, check_model, check_prompt_api,
    check_provider, check_service, check_team,
};
use crate::tree::join_path;
use crate::{
    CacheBackend, Config, LogConfig, RetentionConfig, ServerConfig, StorageConfig, TelemetryConfig,
};

// No `Debug` on the raw types: they hold the admin token, keys and URLs as written.

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub server: Option<RawServer>,
    #[serde(default)]
    pub storage: Option<RawStorage>,
    #[serde(default)]
    pub providers: Option<Vec<ProviderSpec>>,
    #[serde(default)]
    pub models: Option<Vec<ModelSpec>>,
    #[serde(default)]
    pub teams: Option<Vec<TeamSpec>>,
    #[serde(default)]
    pub consumers: Option<Vec<ConsumerSpec>>,
    #[serde(default)]
    pub alerts: Option<Vec<AlertSpec>>,
    #[serde(default)]
    pub services: Option<Vec<ServiceSpec>>,
    #[serde(default)]
    pub prompt_apis: Option<Vec<PromptApiSpec>>,
    #[serde(default)]
    pub masking: Option<Vec<MaskingRuleSpec>>,
    #[serde(default)]
    pub log: Option<RawLog>,
    #[serde(default)]
    pub telemetry: Option<RawTelemetry>,
}

/// The top level only, to find its errors without stopping at the first bad resource.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde only
pub(crate) struct RawShape {
    #[serde(default)]
    server: Option<IgnoredAny>,
    #[serde(default)]
    storage: Option<IgnoredAny>,
    #[serde(default)]
    providers: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    models: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    teams: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    consumers: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    alerts: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    services: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    prompt_apis: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    masking: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    log: Option<IgnoredAny>,
    #[serde(default)]
    telemetry: Option<IgnoredAny>,
}

/// Only a resource's `name`, read from a resource that has type errors elsewhere, so
/// that references to it are not reported as unknown.
#[derive(Deserialize)]
pub(crate) struct NameOnly {
    #[serde(default)]
    pub name: Option<String>,
}

/// A section (`server`, `storage`) that can be read one field at a time.
pub(crate) trait Section: Default {
    /// Fields set in `other` that are unset here.
    fn merge(&mut self, other: Self);
    /// Record that the field `key` has a type error: checks that depend on it are
    /// skipped rather than run against its default.
    fn mark_unread(&mut self, key: &str);
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub admin_listen: Option<String>,
    #[serde(default)]
    pub admin_token: Option<String>,
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    #[serde(default)]
    pub public_url: Option<String>,
    /// Fields with type errors.
    #[serde(skip)]
    pub unread: Vec<String>,
}

impl Section for RawServer {
    fn merge(&mut self, other: Self) {
        self.listen = self.listen.take().or(other.listen);
        self.admin_listen = self.admin_listen.take().or(other.admin_listen);
        self.admin_token = self.admin_token.take().or(other.admin_token);
        self.max_body_bytes = self.max_body_bytes.or(other.max_body_bytes);
        self.public_url = self.public_url.take().or(other.public_url);
        self.unread.extend(other.unread);
    }

    fn mark_unread(&mut self, key: &str) {
        self.unread.push(key.to_string());
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub redis: Option<String>,
    #[serde(default)]
    pub cache: Option<String>,
    #[serde(default)]
    pub redis_failure_policy: Option<String>,
    #[serde(default)]
    pub redis_prefix: Option<String>,
    #[serde(default)]
    pub retention: Option<RawRetention>,
    #[serde(default)]
    pub log_bodies_max_bytes: Option<u64>,
    /// Fields with type errors.
    #[serde(skip)]
    pub unread: Vec<String>,
}

/// `storage.retention`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetention {
    #[serde(default)]
    pub calls_days: Option<i64>,
    #[serde(default)]
    pub rollups_days: Option<i64>,
}

impl Section for RawStorage {
    fn merge(&mut self, other: Self) {
        self.database = self.database.take().or(other.database);
        self.redis = self.redis.take().or(other.redis);
        self.cache = self.cache.take().or(other.cache);
        self.redis_failure_policy = self
            .redis_failure_policy
            .take()
            .or(other.redis_failure_policy);
        self.redis_prefix = self.redis_prefix.take().or(other.redis_prefix);
        self.retention = self.retention.take().or(other.retention);
        self.log_bodies_max_bytes = self.log_bodies_max_bytes.or(other.log_bodies_max_bytes);
        self.unread.extend(other.unread);
    }

    fn mark_unread(&mut self, key: &str) {
        self.unread.push(key.to_string());
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(skip)]
    pub unread: Vec<String>,
}

impl Section for RawLog {
    fn merge(&mut self, other: Self) {
        self.format = self.format.take().or(other.format);
        self.level = self.level.take().or(other.level);
        self.unread.extend(other.unread);
    }

    fn mark_unread(&mut self, key: &str) {
        self.unread.push(key.to_string());
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTelemetry {
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(skip)]
    pub unread: Vec<String>,
}

impl Section for RawTelemetry {
    fn merge(&mut self, other: Self) {
        self.otlp_endpoint = self.otlp_endpoint.take().or(other.otlp_endpoint);
        self.service_name = self.service_name.take().or(other.service_name);
        self.unread.extend(other.unread);
    }

    fn mark_unread(&mut self, key: &str) {
        self.unread.push(key.to_string());
    }
}

/// One element of a resource list.
pub(crate) enum Entry<T> {
    Read(T),
    /// It has type errors (reported on their own); its name, when readable, still
    /// counts as declared.
    Unread {
        name: Option<String>,
    },
}

impl<T: Named> Entry<T> {
    fn read(&self) -> Option<&T> {
        match self {
            Entry::Read(t) => Some(t),
            Entry::Unread { .. } => None,
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Entry::Read(t) => Some(t.name()),
            Entry::Unread { name } => name.as_deref(),
        }
    }
}

/// Resources have names that others refer to.
pub(crate) trait Named {
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($t:ty),*) => {
        $(impl Named for $t {
            fn name(&self) -> &str {
                &self.name
            }
        })*
    };
}
named!(
    ProviderSpec,
    ModelSpec,
    TeamSpec,
    ConsumerSpec,
    AlertSpec,
    ServiceSpec,
    PromptApiSpec,
    MaskingRuleSpec
);

/// Everything of the file that could be read.
#[derive(Default)]
pub(crate) struct Parts {
    pub server: RawServer,
    pub storage: RawStorage,
    pub providers: Vec<Entry<ProviderSpec>>,
    pub models: Vec<Entry<ModelSpec>>,
    pub teams: Vec<Entry<TeamSpec>>,
    pub consumers: Vec<Entry<ConsumerSpec>>,
    pub alerts: Vec<Entry<AlertSpec>>,
    pub services: Vec<Entry<ServiceSpec>>,
    pub prompt_apis: Vec<Entry<PromptApiSpec>>,
    pub masking: Vec<Entry<MaskingRuleSpec>>,
    pub log: RawLog,
    pub telemetry: RawTelemetry,
}

impl From<RawConfig> for Parts {
    fn from(raw: RawConfig) -> Self {
        fn all<T>(list: Option<Vec<T>>) -> Vec<Entry<T>> {
            list.unwrap_or_default()
                .into_iter()
                .map(Entry::Read)
                .collect()
        }
        Parts {
            server: raw.server.unwrap_or_default(),
            storage: raw.storage.unwrap_or_default(),
            providers: all(raw.providers),
            models: all(raw.models),
            teams: all(raw.teams),
            consumers: all(raw.consumers),
            alerts: all(raw.alerts),
            services: all(raw.services),
            prompt_apis: all(raw.prompt_apis),
            masking: all(raw.masking),
            log: raw.log.unwrap_or_default(),
            telemetry: raw.telemetry.unwrap_or_default(),
        }
    }
}

/// Build the config and report every problem (paths from the file's root).
/// (The config is only meaningful when there are no issues and every part was read.)
pub(crate) fn assemble(parts: Parts) -> (Config, Vec<Issue>) {
    let mut issues = Vec::new();
    let server = server(parts.server, &mut issues);
    let storage = storage(parts.storage, &mut issues);
    let log = log(parts.log, &mut issues);
    let telemetry = telemetry(parts.telemetry, &mut issues);
    let resources = Resources {
        providers: parts.providers,
        models: parts.models,
        teams: parts.teams,
        consumers: parts.consumers,
        alerts: parts.alerts,
        services: parts.services,
        prompt_apis: parts.prompt_apis,
        masking: parts.masking,
    };
    check_resources(&resources, &mut issues);
    fn read<T>(list: Vec<Entry<T>>) -> Vec<T> {
        list.into_iter()
            .filter_map(|e| match e {
                Entry::Read(t) => Some(t),
                Entry::Unread { .. } => None,
            })
            .collect()
    }
    let config = Config {
        server,
        storage,
        providers: read(resources.providers),
        models: read(resources.models),
        teams: read(resources.teams),
        consumers: read(resources.consumers),
        alerts: read(resources.alerts),
        services: read(resources.services),
        prompt_apis: read(resources.prompt_apis),
        masking: read(resources.masking),
        log,
        telemetry,
    };
    (config, issues)
}

/// The resource lists of [`Parts`].
struct Resources {
    providers: Vec<Entry<ProviderSpec>>,
    models: Vec<Entry<ModelSpec>>,
    teams: Vec<Entry<TeamSpec>>,
    consumers: Vec<Entry<ConsumerSpec>>,
    alerts: Vec<Entry<AlertSpec>>,
    services: Vec<Entry<ServiceSpec>>,
    prompt_apis: Vec<Entry<PromptApiSpec>>,
    masking: Vec<Entry<MaskingRuleSpec>>,
}

fn server(raw: RawServer, issues: &mut Vec<Issue>) -> ServerConfig {
    let defaults = ServerConfig::default();
    let unread = |field: &str| raw.unread.iter().any(|u| u == field);
    let mut addr = |field: &str, value: Option<String>, default: SocketAddr| match value {
        None if unread(field) => None,
        None => Some(default),
        // The value is not repeated: it may be a secret pasted into the wrong field.
        Some(v) => match v.trim().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                issues.push(Issue::new(
                    format!("server.{field}"),
                    "invalid address: expected IP:PORT, e.g. 127.0.0.1:8080",
                ));
                None
            }
        },
    };
    let listen = addr("listen", raw.listen, defaults.listen);
    let admin_listen = addr("admin_listen", raw.admin_listen, defaults.admin_listen);
    if let (Some(l), Some(a)) = (listen, admin_listen)
        && l == a
        && l.port() != 0
    {
        issues.push(Issue::new(
            "server.admin_listen",
            format!("must differ from server.listen (both are {l})"),
        ));
    }
    if let Some(token) = &raw.admin_token
        && token.trim().is_empty()
    {
        issues.push(Issue::new(
            "server.admin_token",
            "must not be empty (omit it to have no admin token)",
        ));
    }
    if raw.max_body_bytes == Some(0) {
        issues.push(Issue::new(
            "server.max_body_bytes",
            "must be greater than 0",
        ));
    }
    if let Some(url) = &raw.public_url {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        let host = rest.and_then(|r| r.split('/').next()).unwrap_or("");
        if host.is_empty() || url.contains(['?', '#', ' ']) {
            issues.push(Issue::new(
                "server.public_url",
                "must be an http:// or https:// URL with a host and no query, e.g. https://api.example.com",
            ));
        }
    }
    ServerConfig {
        listen: listen.unwrap_or(defaults.listen),
        admin_listen: admin_listen.unwrap_or(defaults.admin_listen),
        admin_token: raw.admin_token,
        max_body_bytes: raw.max_body_bytes.unwrap_or(defaults.max_body_bytes),
        public_url: raw.public_url,
    }
}

fn storage(raw: RawStorage, issues: &mut Vec<Issue>) -> StorageConfig {
    let defaults = StorageConfig::default();
    if let Some(db) = &raw.database {
        let rest = ["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .find_map(|p| strip_prefix_ci(db, p));
        if rest.is_none_or(|r| r.trim().is_empty()) {
            issues.push(Issue::new(
                "storage.database",
                "must be a sqlite://PATH or postgres://… (postgresql://…) URL",
            ));
        }
    }
    if let Some(redis) = &raw.redis {
        let rest = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .find_map(|p| strip_prefix_ci(redis, p));
        if rest.is_none_or(|r| r.trim().is_empty()) {
            issues.push(Issue::new(
                "storage.redis",
                "must be a redis://HOST:PORT or rediss://HOST:PORT URL",
            ));
        }
    }
    let cache = match raw.cache.as_deref() {
        None => defaults.cache.clone(),
        Some(text) => match parse_cache(text) {
            Ok(c) => c,
            Err(msg) => {
                issues.push(Issue::new("storage.cache", msg));
                defaults.cache.clone()
            }
        },
    };
    if cache == CacheBackend::Redis
        && raw.redis.is_none()
        && !raw.unread.iter().any(|u| u == "redis")
    {
        issues.push(Issue::new(
            "storage.cache",
            "`redis` needs storage.redis to be set",
        ));
    }
    let redis_fail_open = match raw.redis_failure_policy.as_deref() {
        None | Some("open") => true,
        Some("closed") => false,
        Some(_) => {
            issues.push(Issue::new(
                "storage.redis_failure_policy",
                "expected `open` (admit while Redis is unreachable) or `closed` (refuse with 503)",
            ));
            true
        }
    };
    let retention = retention(raw.retention, issues);
    let log_bodies_max_bytes = match raw.log_bodies_max_bytes {
        None => defaults.log_bodies_max_bytes,
        Some(n) if (1..=StorageConfig::MAX_LOG_BODIES_MAX_BYTES as u64).contains(&n) => n as usize,
        Some(_) => {
            issues.push(Issue::new(
                "storage.log_bodies_max_bytes",
                format!(
                    "must be from 1 to {} (bytes kept of each logged body)",
                    StorageConfig::MAX_LOG_BODIES_MAX_BYTES
                ),
            ));
            defaults.log_bodies_max_bytes
        }
    };
    StorageConfig {
        retention,
        log_bodies_max_bytes,
        database: raw.database.unwrap_or(defaults.database),
        redis: raw.redis,
        cache,
        redis_fail_open,
        redis_prefix: raw
            .redis_prefix
            .unwrap_or_else(|| StorageConfig::DEFAULT_REDIS_PREFIX.to_string()),
    }
}

/// Levels a `log.level` directive may name.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

fn log(raw: RawLog, issues: &mut Vec<Issue>) -> LogConfig {
    let defaults = LogConfig::default();
    let json = match raw.format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(_) => {
            issues.push(Issue::new("log.format", "expected `text` or `json`"));
            false
        }
    };
    let level = raw.level.unwrap_or(defaults.level);
    // `RUST_LOG` syntax, checked here so that a typo is a config error rather than a
    // silent fallback: comma-separated `LEVEL` or `TARGET=LEVEL`.
    let valid = !level.trim().is_empty()
        && level.split(',').all(|d| {
            let lvl = d.rsplit_once('=').map_or(
                d,
                |(target, l)| {
                    if target.trim().is_empty() { "" } else { l }
                },
            );
            LEVELS.contains(&lvl.trim().to_ascii_lowercase().as_str())
        });
    if !valid {
        issues.push(Issue::new(
            "log.level",
            "expected a level (trace, debug, info, warn, error, off) or comma-separated TARGET=LEVEL directives",
        ));
    }
    LogConfig { json, level }
}

fn telemetry(raw: RawTelemetry, issues: &mut Vec<Issue>) -> TelemetryConfig {
    if let Some(url) = &raw.otlp_endpoint {
        let rest = ["http://", "https://"]
            .iter()
            .find_map(|p| strip_prefix_ci(url, p));
        if rest.is_none_or(|r| r.trim().is_empty()) {
            issues.push(Issue::new(
                "telemetry.otlp_endpoint",
                "must be an http:// or https:// URL (the OTLP/HTTP collector, e.g. http://localhost:4318)",
            ));
        }
    }
    if raw
        .service_name
        .as_deref()
        .is_some_and(|n| n.trim().is_empty())
    {
        issues.push(Issue::new(
            "telemetry.service_name",
            "must not be empty (omit it for `tollgate`)",
        ));
    }
    TelemetryConfig {
        otlp_endpoint: raw.otlp_endpoint,
        service_name: raw
            .service_name
            .unwrap_or_else(|| TelemetryConfig::DEFAULT_SERVICE_NAME.to_string()),
    }
}

/// `storage.retention`: whole days, at least 1 (at most 100 years), and rollups kept
/// at least as long as the calls (budgets and analytics read rollups).
fn retention(raw: Option<RawRetention>, issues: &mut Vec<Issue>) -> RetentionConfig {
    let defaults = RetentionConfig::default();
    let Some(raw) = raw else {
        return defaults;
    };
    let mut valid = true;
    let mut days = |v: Option<i64>, key: &str, default: u32| match v {
        None => default,
        Some(d) if (1..=36_500).contains(&d) => d as u32,
        Some(_) => {
            valid = false;
            issues.push(Issue::new(
                format!("storage.retention.{key}"),
                "must be a whole number of days from 1 to 36500",
            ));
            default
        }
    };
    let calls_days = days(raw.calls_days, "calls_days", defaults.calls_days);
    let rollups_days = days(raw.rollups_days, "rollups_days", defaults.rollups_days);
    if valid && rollups_days < calls_days {
        issues.push(Issue::new(
            "storage.retention.rollups_days",
            format!(
                "must be at least calls_days ({calls_days}): analytics and budgets read rollups"
            ),
        ));
    }
    RetentionConfig {
        calls_days,
        rollups_days,
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// `memory`, `redis` or `memcached://HOST:PORT`.
pub(crate) fn parse_cache(text: &str) -> Result<CacheBackend, String> {
    const EXPECTED: &str = "expected `memory`, `redis` or `memcached://HOST:PORT`";
    match text {
        "memory" => return Ok(CacheBackend::Memory),
        "redis" => return Ok(CacheBackend::Redis),
        _ => {}
    }
    let Some(addr) = strip_prefix_ci(text, "memcached://") else {
        return Err(format!("unknown cache backend: {EXPECTED}"));
    };
    let addr = addr.strip_suffix('/').unwrap_or(addr);
    let valid = match addr.rsplit_once(':') {
        Some((host, port)) => {
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            !host.is_empty()
                && !host.contains(['/', '@', '?', '#', ' ', '[', ']'])
                && port.parse::<u16>().is_ok_and(|p| p != 0)
        }
        None => false,
    };
    if valid {
        Ok(CacheBackend::Memcached(text.to_string()))
    } else {
        Err(format!("invalid memcached address: {EXPECTED}"))
    }
}

/// Cross-resource checks. Unread entries are not checked, but their names count as
/// declared (a reference to them is not "unknown") and as taken (for duplicates).
fn check_resources(c: &Resources, issues: &mut Vec<Issue>) {
    let provider_names = names(&c.providers);
    let model_names = names(&c.models);
    let team_names = names(&c.teams);
    let provider_exists = |n: &str| provider_names.contains_key(n);
    let model_exists = |n: &str| model_names.contains_key(n);
    let team_exists = |n: &str| team_names.contains_key(n);

    let mut section = |name: &str, found: Vec<Option<Vec<Issue>>>| {
        for (i, list) in found.into_iter().enumerate() {
            let at = format!("{name}[{i}]");
            issues.extend(
                list.into_iter()
                    .flatten()
                    .map(|issue| Issue::new(join_path(&at, &issue.path), issue.message)),
            );
        }
    };
    section(
        "providers",
        c.providers
            .iter()
            .map(|e| e.read().map(check_provider))
            .collect(),
    );
    section(
        "models",
        c.models
            .iter()
            .map(|e| {
                e.read()
                    .map(|m| check_model(m, &provider_exists, &model_exists))
            })
            .collect(),
    );
    section(
        "teams",
        c.teams.iter().map(|e| e.read().map(check_team)).collect(),
    );
    section(
        "consumers",
        c.consumers
            .iter()
            .map(|e| {
                e.read()
                    .map(|x| check_consumer(x, &team_exists, &model_exists))
            })
            .collect(),
    );
    section(
        "alerts",
        c.alerts.iter().map(|e| e.read().map(check_alert)).collect(),
    );

    section(
        "prompt_apis",
        c.prompt_apis
            .iter()
            .map(|e| e.read().map(|p| check_prompt_api(p, &model_exists)))
            .collect(),
    );
    section(
        "services",
        c.services
            .iter()
            .map(|e| e.read().map(check_service))
            .collect(),
    );
    section(
        "masking",
        c.masking
            .iter()
            .map(|e| e.read().map(check_masking))
            .collect(),
    );

    duplicates("provider", "providers", &c.providers, issues);
    duplicates("model", "models", &c.models, issues);
    duplicates("team", "teams", &c.teams, issues);
    duplicates("consumer", "consumers", &c.consumers, issues);
    duplicates("alert", "alerts", &c.alerts, issues);
    duplicates("service", "services", &c.services, issues);
    duplicates("prompt-API", "prompt_apis", &c.prompt_apis, issues);
    duplicates("masking rule", "masking", &c.masking, issues);
    let mut prefixes: HashMap<&str, usize> = HashMap::new();
    for (i, s) in c.services.iter().enumerate() {
        let Some(s) = s.read() else { continue };
        if let Some(f) = prefixes.insert(s.path_prefix.as_str(), i) {
            issues.push(Issue::new(
                format!("services[{i}].path_prefix"),
                format!("already used by services[{f}]"),
            ));
        }
    }

    // Prompt-APIs: names unique across services and prompt-APIs (one namespace for
    // subscriptions), paths unique and not under a service's prefix.
    let service_names = names(&c.services);
    let mut paths: HashMap<&str, usize> = HashMap::new();
    for (i, p) in c.prompt_apis.iter().enumerate() {
        let Some(p) = p.read() else { continue };
        if let Some(f) = service_names.get(p.name.as_str()) {
            issues.push(Issue::new(
                format!("prompt_apis[{i}].name"),
                format!("already used by services[{f}] (names are unique across services and prompt-APIs)"),
            ));
        }
        if let Some(f) = paths.insert(p.path.as_str(), i) {
            issues.push(Issue::new(
                format!("prompt_apis[{i}].path"),
                format!("already used by prompt_apis[{f}]"),
            ));
        }
        for (si, s) in c.services.iter().enumerate() {
            let Some(s) = s.read() else { continue };
            if under_prefix(&p.path, &s.path_prefix) {
                issues.push(Issue::new(
                    format!("prompt_apis[{i}].path"),
                    format!("is under the path prefix of services[{si}]"),
                ));
            }
        }
    }

    // A key identifies one consumer: the same key on two consumers is ambiguous.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (ci, consumer) in c.consumers.iter().enumerate() {
        let Some(consumer) = consumer.read() else {
            continue;
        };
        for (ki, key) in consumer.api_keys.iter().enumerate() {
            if key.is_empty() {
                continue;
            }
            match owner.get(key.as_str()) {
                Some(&first) if first != ci => {
                    issues.push(Issue::new(
                        format!("consumers[{ci}].api_keys[{ki}]"),
                        format!("API key is already used by consumers[{first}]"),
                    ));
                }
                Some(_) => {}
                None => {
                    owner.insert(key, ci);
                }
            }
        }
    }
}

/// Whether `path` is `prefix` or under it.
pub fn under_prefix(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Each declared name and the index of its first declaration.
fn names<T: Named>(list: &[Entry<T>]) -> HashMap<&str, usize> {
    let mut out = HashMap::new();
    for (i, e) in list.iter().enumerate() {
        if let Some(n) = e.name() {
            out.entry(n).or_insert(i);
        }
    }
    out
}

/// A name declared twice. (The name is not repeated in the message: the position
/// points at it, and a value is never quoted back.)
fn duplicates<T: Named>(what: &str, section: &str, list: &[Entry<T>], issues: &mut Vec<Issue>) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, e) in list.iter().enumerate() {
        let Some(name) = e.name() else { continue };
        if name.trim().is_empty() {
            continue;
        }
        match first.get(name) {
            Some(f) => issues.push(Issue::new(
                format!("{section}[{i}].name"),
                format!("duplicate {what} name (first declared at {section}[{f}])"),
            )),
            None => {
                first.insert(name, i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_backends() {
        assert_eq!(parse_cache("memory"), Ok(CacheBackend::Memory));
        assert_eq!(parse_cache("redis"), Ok(CacheBackend::Redis));
        assert_eq!(
            parse_cache("memcached://127.0.0.1:11211"),
            Ok(CacheBackend::Memcached(
                "memcached://127.0.0.1:11211".into()
            ))
        );
        assert!(parse_cache("memcached://[::1]:11211").is_ok());
        for bad in [
            "Memory",
            "memcached://",
            "memcached://host",
            "memcached://:11211",
            "memcached://h:0",
            "memcached://h:x",
            "disk",
        ] {
            assert!(parse_cache(bad).is_err(), "{bad}");
        }
    }
}
