//! The file's shape as deserialized, and its conversion into a [`Config`] with every
//! semantic check that needs more than one resource.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::IgnoredAny;
use tollgate_core::spec::{AlertSpec, ConsumerSpec, ModelSpec, ProviderSpec, TeamSpec};

use crate::check::{Issue, check_alert, check_consumer, check_model, check_provider, check_team};
use crate::tree::join_path;
use crate::{CacheBackend, Config, ServerConfig, StorageConfig};

#[derive(Debug, Default, Deserialize)]
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
}

/// The top level only, to find its errors without stopping at the first bad resource.
#[derive(Debug, Deserialize)]
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
}

#[derive(Debug, Default, Deserialize)]
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
}

#[derive(Debug, Default, Deserialize)]
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
}

/// Build the config and report every problem (paths from the file's root).
pub(crate) fn assemble(raw: RawConfig) -> (Config, Vec<Issue>) {
    let mut issues = Vec::new();
    let server = server(raw.server.unwrap_or_default(), &mut issues);
    let storage = storage(raw.storage.unwrap_or_default(), &mut issues);
    let config = Config {
        server,
        storage,
        providers: raw.providers.unwrap_or_default(),
        models: raw.models.unwrap_or_default(),
        teams: raw.teams.unwrap_or_default(),
        consumers: raw.consumers.unwrap_or_default(),
        alerts: raw.alerts.unwrap_or_default(),
    };
    check_resources(&config, &mut issues);
    (config, issues)
}

fn server(raw: RawServer, issues: &mut Vec<Issue>) -> ServerConfig {
    let defaults = ServerConfig::default();
    let mut addr = |field: &str, value: Option<String>, default: SocketAddr| match value {
        None => Some(default),
        Some(v) => match v.trim().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                issues.push(Issue::new(
                    format!("server.{field}"),
                    format!("invalid address `{v}`: expected IP:PORT, e.g. 127.0.0.1:8080"),
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
    ServerConfig {
        listen: listen.unwrap_or(defaults.listen),
        admin_listen: admin_listen.unwrap_or(defaults.admin_listen),
        admin_token: raw.admin_token,
        max_body_bytes: raw.max_body_bytes.unwrap_or(defaults.max_body_bytes),
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
    if cache == CacheBackend::Redis && raw.redis.is_none() {
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
    StorageConfig {
        database: raw.database.unwrap_or(defaults.database),
        redis: raw.redis,
        cache,
        redis_fail_open,
        redis_prefix: raw
            .redis_prefix
            .unwrap_or_else(|| StorageConfig::DEFAULT_REDIS_PREFIX.to_string()),
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
        return Err(format!("unknown cache `{text}`: {EXPECTED}"));
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
        Err(format!("invalid memcached address `{text}`: {EXPECTED}"))
    }
}

fn check_resources(c: &Config, issues: &mut Vec<Issue>) {
    let provider_names = names(c.providers.iter().map(|p| p.name.as_str()));
    let model_names = names(c.models.iter().map(|m| m.name.as_str()));
    let team_names = names(c.teams.iter().map(|t| t.name.as_str()));
    let provider_exists = |n: &str| provider_names.contains_key(n);
    let model_exists = |n: &str| model_names.contains_key(n);
    let team_exists = |n: &str| team_names.contains_key(n);

    let mut section = |name: &str, found: Vec<Vec<Issue>>| {
        for (i, list) in found.into_iter().enumerate() {
            let at = format!("{name}[{i}]");
            issues.extend(
                list.into_iter()
                    .map(|issue| Issue::new(join_path(&at, &issue.path), issue.message)),
            );
        }
    };
    section(
        "providers",
        c.providers.iter().map(check_provider).collect(),
    );
    section(
        "models",
        c.models
            .iter()
            .map(|m| check_model(m, &provider_exists, &model_exists))
            .collect(),
    );
    section("teams", c.teams.iter().map(check_team).collect());
    section(
        "consumers",
        c.consumers
            .iter()
            .map(|x| check_consumer(x, &team_exists, &model_exists))
            .collect(),
    );
    section("alerts", c.alerts.iter().map(check_alert).collect());

    duplicates(
        "provider",
        "providers",
        c.providers.iter().map(|p| &p.name),
        issues,
    );
    duplicates("model", "models", c.models.iter().map(|m| &m.name), issues);
    duplicates("team", "teams", c.teams.iter().map(|t| &t.name), issues);
    duplicates(
        "consumer",
        "consumers",
        c.consumers.iter().map(|x| &x.name),
        issues,
    );
    duplicates("alert", "alerts", c.alerts.iter().map(|a| &a.name), issues);

    // A key identifies one consumer: the same key on two consumers is ambiguous.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (ci, consumer) in c.consumers.iter().enumerate() {
        for (ki, key) in consumer.api_keys.iter().enumerate() {
            if key.is_empty() {
                continue;
            }
            match owner.get(key.as_str()) {
                Some(&first) if first != ci => {
                    let other = c.consumers.get(first).map_or("", |x| x.name.as_str());
                    issues.push(Issue::new(
                        format!("consumers[{ci}].api_keys[{ki}]"),
                        format!(
                            "API key is already used by consumer `{other}` (consumers[{first}])"
                        ),
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

fn names<'a>(it: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut out = HashMap::new();
    for (i, n) in it.enumerate() {
        out.entry(n).or_insert(i);
    }
    out
}

fn duplicates<'a>(
    what: &str,
    section: &str,
    names: impl Iterator<Item = &'a String>,
    issues: &mut Vec<Issue>,
) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        if name.trim().is_empty() {
            continue;
        }
        match first.get(name.as_str()) {
            Some(f) => issues.push(Issue::new(
                format!("{section}[{i}].name"),
                format!("duplicate {what} name `{name}` (first declared at {section}[{f}])"),
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
