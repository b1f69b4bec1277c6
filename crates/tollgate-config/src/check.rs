//! Semantic checks of single resources, shared by the config loader and the admin API.
//!
//! Paths in an [`Issue`] are relative to the resource (`targets[0].provider`); an empty
//! path means the resource itself. Messages never quote a value from the resource (a
//! secret pasted into the wrong field would be repeated into logs and terminals): the
//! path says which value, and for a file the position points at it.

use std::collections::HashMap;

use tollgate_core::spec::{
    AlertSpec, BudgetSpec, ConsumerSpec, ModelSpec, Price, PromptApiSpec, ProviderKind,
    ProviderSpec, RateLimitSpec, ServiceSpec, TeamSpec, Timeouts,
};

/// One problem found in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Field path relative to the resource, e.g. `targets[0].provider`; empty for the
    /// resource as a whole.
    pub path: String,
    pub message: String,
}

impl Issue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

const EMPTY: &str = "must not be empty";

/// Checks of a provider on its own.
pub fn check_provider(p: &ProviderSpec) -> Vec<Issue> {
    let mut out = Vec::new();
    check_name(&p.name, &mut out);
    match &p.base_url {
        Some(url) => {
            if let Err(msg) = check_http_url(url, false) {
                out.push(Issue::new("base_url", msg));
            }
        }
        None if p.kind.default_base_url().is_none() => out.push(Issue::new(
            "base_url",
            format!("is required for kind `{}`", p.kind),
        )),
        None => {}
    }
    match (&p.api_version, p.kind == ProviderKind::AzureOpenai) {
        (None, true) => out.push(Issue::new(
            "api_version",
            "is required for kind `azure_openai` (e.g. \"2024-10-21\")",
        )),
        (Some(v), true) if v.trim().is_empty() => out.push(Issue::new("api_version", EMPTY)),
        (Some(_), false) => out.push(Issue::new(
            "api_version",
            format!("is only valid for kind `azure_openai`, not `{}`", p.kind),
        )),
        _ => {}
    }
    check_keys("api_keys", &p.api_keys, &mut out);
    out
}

/// Checks of a model; `provider_exists` and `model_exists` tell which names its
/// targets and fallbacks may refer to.
pub fn check_model(
    m: &ModelSpec,
    provider_exists: &dyn Fn(&str) -> bool,
    model_exists: &dyn Fn(&str) -> bool,
) -> Vec<Issue> {
    let mut out = Vec::new();
    check_name(&m.name, &mut out);
    if m.targets.is_empty() {
        out.push(Issue::new("targets", "must list at least one target"));
    } else if m.targets.iter().all(|t| t.weight == 0) {
        out.push(Issue::new(
            "targets",
            "every target has weight 0; at least one must have a weight above 0",
        ));
    }
    for (i, t) in m.targets.iter().enumerate() {
        let at = format!("targets[{i}]");
        if t.provider.is_empty() {
            out.push(Issue::new(format!("{at}.provider"), EMPTY));
        } else if !provider_exists(&t.provider) {
            out.push(Issue::new(
                format!("{at}.provider"),
                "names no declared provider",
            ));
        }
        check_int32(&format!("{at}.weight"), Some(t.weight), &mut out);
        if t.model.trim().is_empty() {
            out.push(Issue::new(format!("{at}.model"), EMPTY));
        }
        if let Some(timeouts) = &t.timeouts {
            check_timeouts(&format!("{at}.timeouts"), timeouts, &mut out);
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, f) in m.fallbacks.iter().enumerate() {
        let at = format!("fallbacks[{i}]");
        if f == &m.name {
            out.push(Issue::new(at, "a model cannot fall back to itself"));
        } else if !model_exists(f) {
            out.push(Issue::new(at, "names no declared model"));
        } else if let Some(first) = seen.get(f.as_str()) {
            out.push(Issue::new(
                at,
                format!("is already listed at fallbacks[{first}]"),
            ));
        }
        seen.entry(f.as_str()).or_insert(i);
    }
    if let Some(timeouts) = &m.timeouts {
        check_timeouts("timeouts", timeouts, &mut out);
    }
    if let Some(cache) = &m.cache
        && cache.ttl_seconds == 0
    {
        out.push(Issue::new(
            "cache.ttl_seconds",
            "must be greater than 0 (omit `cache` for no caching)",
        ));
    }
    if m.max_output_tokens == Some(0) {
        out.push(Issue::new("max_output_tokens", "must be greater than 0"));
    }
    check_int32("max_output_tokens", m.max_output_tokens, &mut out);
    if let Some(r) = &m.retries {
        check_int32("retries.attempts", Some(r.attempts), &mut out);
        check_int64("retries.backoff_ms", Some(r.backoff_ms), &mut out);
    }
    if let Some(cache) = &m.cache {
        check_int64("cache.ttl_seconds", Some(cache.ttl_seconds), &mut out);
    }
    if let Some(r) = &m.rate_limit {
        check_rate_limit("rate_limit", r, &mut out);
    }
    if let Some(price) = &m.price {
        check_price(price, &mut out);
    }
    out
}

/// Checks of a service on its own (its routes must also build one router: two routes
/// whose paths overlap ambiguously are refused here, not at the first request).
pub fn check_service(s: &ServiceSpec) -> Vec<Issue> {
    let mut out = Vec::new();
    check_name(&s.name, &mut out);
    // The name is a path segment of the admin API (`/admin/v1/services/{name}`), where
    // `import` is taken by `POST /admin/v1/services/import`.
    if check_segment_name(&s.name, &mut out) && s.name == "import" {
        out.push(Issue::new(
            "name",
            "`import` is reserved (POST /admin/v1/services/import imports an OpenAPI document)",
        ));
    }
    check_gateway_path("path_prefix", &s.path_prefix, &mut out);
    if s.upstream.nodes.is_empty() {
        out.push(Issue::new("upstream.nodes", "at least one node is needed"));
    }
    for (i, n) in s.upstream.nodes.iter().enumerate() {
        let ok = n
            .url
            .strip_prefix("http://")
            .or_else(|| n.url.strip_prefix("https://"))
            .is_some_and(|rest| {
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                !host.is_empty() && !rest.contains(['?', '#'])
            });
        if !ok {
            out.push(Issue::new(
                format!("upstream.nodes[{i}].url"),
                "must be an http:// or https:// URL with a host and no query",
            ));
        }
        if n.weight == 0 {
            out.push(Issue::new(
                format!("upstream.nodes[{i}].weight"),
                "must be at least 1",
            ));
        }
    }
    if s.upstream.timeout_ms == Some(0) {
        out.push(Issue::new("upstream.timeout_ms", "must be at least 1"));
    }
    if let Some(h) = &s.upstream.pass_host
        && (h.is_empty() || h.contains(['/', ' ', '@', '?', '#']))
    {
        out.push(Issue::new(
            "upstream.pass_host",
            "must be `pass`, `node` or a host name",
        ));
    }
    let mut router: matchit::Router<()> = matchit::Router::new();
    let mut paths: HashMap<&str, usize> = HashMap::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, r) in s.routes.iter().enumerate() {
        if r.name.trim().is_empty() {
            out.push(Issue::new(format!("routes[{i}].name"), "must not be empty"));
        } else if let Some(f) = names.insert(&r.name, i) {
            out.push(Issue::new(
                format!("routes[{i}].name"),
                format!("duplicate route name (first declared at routes[{f}])"),
            ));
        }
        for (j, m) in r.methods.iter().enumerate() {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                out.push(Issue::new(
                    format!("routes[{i}].methods[{j}]"),
                    "must be an upper-case HTTP method such as GET",
                ));
            }
        }
        if !r.path.starts_with('/') || r.path.contains(['*', '?', '#']) {
            out.push(Issue::new(
                format!("routes[{i}].path"),
                "must start with `/` and hold no `*`, `?` or `#`",
            ));
            continue;
        }
        // Routes sharing a path (with different methods) are one router entry.
        if paths.insert(&r.path, i).is_none()
            && let Err(e) = router.insert(r.path.as_str(), ())
        {
            out.push(Issue::new(
                format!("routes[{i}].path"),
                format!("conflicts with another route: {e}"),
            ));
        }
        let params = route_params(&r.path);
        if let Some(docs) = &r.docs {
            check_route_docs(&format!("routes[{i}].docs"), docs, &params, &mut out);
        }
        if let Some(rw) = &r.rewrite {
            if !rw.starts_with('/') {
                out.push(Issue::new(
                    format!("routes[{i}].rewrite"),
                    "must start with `/`",
                ));
            }
            for used in route_params(rw) {
                if !params.contains(&used) {
                    out.push(Issue::new(
                        format!("routes[{i}].rewrite"),
                        format!("uses `{{{used}}}`, which the route's path does not have"),
                    ));
                }
            }
        }
    }
    if let Some(auth) = &s.auth {
        if auth.is_empty() {
            out.push(Issue::new("auth", "must list at least one credential type"));
        }
        for (i, a) in auth.iter().enumerate() {
            if auth[..i].contains(a) {
                out.push(Issue::new(format!("auth[{i}]"), "is listed twice"));
            }
        }
    }
    if let Some(r) = &s.rate_limit {
        check_rate_limit("rate_limit", r, &mut out);
        if r.tokens_per_minute.is_some() {
            out.push(Issue::new(
                "rate_limit.tokens_per_minute",
                "services count requests, not tokens: use requests_per_minute or concurrent",
            ));
        }
    }
    out
}

/// Checks of a masking rule on its own: its name, that it looks for something, and
/// that every keyword, regex and JSON path compiles (a regex that is invalid, matches
/// the empty text or compiles too large is refused here, never at request time).
pub fn check_masking(rule: &tollgate_core::spec::MaskingRuleSpec) -> Vec<Issue> {
    match tollgate_masking::compile_rule(rule) {
        Ok(_) => Vec::new(),
        Err(issues) => issues
            .into_iter()
            .map(|i| Issue::new(i.path, i.message))
            .collect(),
    }
}

/// Checks of a prompt-API on its own, with `model_exists` for its model: its name and
/// path, its variables, and its templates (each syntax error, and each name a template
/// uses that is not a declared variable).
pub fn check_prompt_api(p: &PromptApiSpec, model_exists: &dyn Fn(&str) -> bool) -> Vec<Issue> {
    let mut out = Vec::new();
    check_name(&p.name, &mut out);
    // The name is a path segment of `/admin/v1/prompt-apis/{name}` and shares the
    // services' namespace (subscriptions name either).
    check_segment_name(&p.name, &mut out);
    check_gateway_path("path", &p.path, &mut out);
    if p.model.trim().is_empty() {
        out.push(Issue::new("model", EMPTY));
    } else if !model_exists(&p.model) {
        out.push(Issue::new("model", "unknown model"));
    }
    if p.messages.is_empty() {
        out.push(Issue::new("messages", "at least one message is needed"));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, v) in p.variables.iter().enumerate() {
        let valid = v.name.len() <= 64
            && v.name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && v.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            out.push(Issue::new(
                format!("variables[{i}].name"),
                "must be an identifier: letters, digits and `_`, not starting with a digit",
            ));
        } else if let Some(f) = seen.insert(&v.name, i) {
            out.push(Issue::new(
                format!("variables[{i}].name"),
                format!("duplicate variable (first declared at variables[{f}])"),
            ));
        }
    }
    if p.max_tokens == 0 {
        out.push(Issue::new("max_tokens", "must be at least 1"));
    }
    if let Some(t) = p.temperature
        && !(0.0..=2.0).contains(&t)
    {
        out.push(Issue::new("temperature", "must be between 0 and 2"));
    }
    if let Err(issues) = tollgate_core::prompt::PromptTemplate::compile(p) {
        out.extend(issues.into_iter().map(|i| Issue::new(i.path, i.message)));
    }
    out
}

/// A route's docs must agree with its path, so that the OpenAPI export is a valid
/// document: a `path` parameter names one of the path's `{params}` and is required; a
/// parameter is declared once; responses are keyed by status (`200`, `4XX`) or
/// `default`.
fn check_route_docs(
    at: &str,
    docs: &tollgate_core::service_docs::RouteDocs,
    params: &[String],
    out: &mut Vec<Issue>,
) {
    use tollgate_core::service_docs::ParameterLocation;
    let mut seen = std::collections::HashSet::new();
    for (j, p) in docs.parameters.iter().enumerate() {
        let here = format!("{at}.parameters[{j}]");
        if p.name.is_empty() {
            out.push(Issue::new(format!("{here}.name"), "must not be empty"));
        }
        if !seen.insert((p.location, p.name.as_str())) {
            out.push(Issue::new(
                format!("{here}.name"),
                "declared twice in the same place (`in`)",
            ));
        }
        if p.location == ParameterLocation::Path {
            if !params.contains(&p.name) {
                out.push(Issue::new(
                    format!("{here}.name"),
                    "is a `path` parameter the route's path does not have",
                ));
            }
            if !p.required {
                out.push(Issue::new(
                    format!("{here}.required"),
                    "must be true for a `path` parameter",
                ));
            }
        }
    }
    for code in docs.responses.keys() {
        if !is_response_key(code) {
            out.push(Issue::new(
                format!("{at}.responses"),
                "keys must be a status code (`200`), a range (`4XX`) or `default`",
            ));
        }
    }
}

fn is_response_key(code: &str) -> bool {
    let b = code.as_bytes();
    code == "default"
        || (b.len() == 3
            && (b'1'..=b'5').contains(&b[0])
            && ((b[1].is_ascii_digit() && b[2].is_ascii_digit()) || &b[1..] == b"XX"))
}

/// Path prefixes the gateway serves itself.
const RESERVED_PREFIXES: [&str; 5] = ["/v1", "/tollgate", "/mcp", "/healthz", "/readyz"];

/// A name that is also a segment of an admin path (`/admin/v1/services/{name}`): 1 to
/// 128 letters, digits, `.`, `_` or `-`. False (with an issue) when it is not; an empty
/// name is [`check_name`]'s to report.
fn check_segment_name(n: &str, out: &mut Vec<Issue>) -> bool {
    if n.is_empty() {
        return false;
    }
    let fits = n.len() <= 128
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !fits {
        out.push(Issue::new(
            "name",
            "must be 1 to 128 letters, digits, `.`, `_` or `-`",
        ));
    }
    fits
}

/// A path a service or prompt-API takes on the gateway listener (`field` names it):
/// absolute, no trailing `/`, no pattern characters, and clear of the gateway's own
/// paths.
fn check_gateway_path(field: &str, path: &str, out: &mut Vec<Issue>) {
    if !path.starts_with('/')
        || path.len() < 2
        || path.ends_with('/')
        || path.contains(['{', '}', '*', '?', '#'])
    {
        out.push(Issue::new(
            field,
            "must start with `/`, not end with `/`, and hold no `{`, `}`, `*`, `?` or `#`",
        ));
    } else if RESERVED_PREFIXES
        .iter()
        .any(|r| path == *r || path.starts_with(&format!("{r}/")))
    {
        out.push(Issue::new(
            field,
            "is taken by the gateway itself (/v1, /tollgate, /mcp, /healthz, /readyz)",
        ));
    }
}

/// The `{name}`s of a route path or rewrite.
pub fn route_params(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(after[..close].to_string());
        rest = &after[close + 1..];
    }
    out
}

/// Checks of a team on its own.
pub fn check_team(t: &TeamSpec) -> Vec<Issue> {
    let mut out = Vec::new();
    check_name(&t.name, &mut out);
    if let Some(b) = &t.budget {
        check_budget("budget", b, &mut out);
    }
    if let Some(r) = &t.rate_limit {
        check_rate_limit("rate_limit", r, &mut out);
    }
    out
}

/// Checks of a consumer; `team_exists` and `model_exists` tell which names its team
/// and allowed models may refer to. (Keys that other consumers already use are the
/// caller's to check.)
pub fn check_consumer(
    c: &ConsumerSpec,
    team_exists: &dyn Fn(&str) -> bool,
    model_exists: &dyn Fn(&str) -> bool,
) -> Vec<Issue> {
    let mut out = Vec::new();
    check_name(&c.name, &mut out);
    if let Some(team) = &c.team {
        if team.is_empty() {
            out.push(Issue::new("team", EMPTY));
        } else if !team_exists(team) {
            out.push(Issue::new("team", "names no declared team"));
        }
    }
    check_keys("api_keys", &c.api_keys, &mut out);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, key) in c.api_keys.iter().enumerate() {
        if key.is_empty() {
            continue;
        }
        if let Some(first) = seen.get(key.as_str()) {
            out.push(Issue::new(
                format!("api_keys[{i}]"),
                format!("duplicate API key (same as api_keys[{first}])"),
            ));
        } else {
            seen.insert(key, i);
        }
    }
    if let Some(models) = &c.models {
        for (i, m) in models.iter().enumerate() {
            if !model_exists(m) {
                out.push(Issue::new(
                    format!("models[{i}]"),
                    "names no declared model",
                ));
            }
        }
    }
    if let Some(r) = &c.rate_limit {
        check_rate_limit("rate_limit", r, &mut out);
    }
    if let Some(b) = &c.budget {
        check_budget("budget", b, &mut out);
    }
    if let Some(credits) = c.credits_usd {
        check_amount("credits_usd", credits, &mut out);
    }
    out
}

/// Checks of an alert on its own.
pub fn check_alert(a: &AlertSpec) -> Vec<Issue> {
    let mut out = Vec::new();
    check_name(&a.name, &mut out);
    if let Err(msg) = check_http_url(&a.webhook, true) {
        out.push(Issue::new("webhook", msg));
    }
    if let Some(secret) = &a.secret
        && secret.is_empty()
    {
        out.push(Issue::new(
            "secret",
            "must not be empty (omit it to send unsigned deliveries)",
        ));
    }
    out
}

fn check_name(name: &str, out: &mut Vec<Issue>) {
    if name.trim().is_empty() {
        out.push(Issue::new("name", EMPTY));
    } else if name.chars().any(|c| c.is_control()) {
        out.push(Issue::new("name", "must not contain control characters"));
    }
}

fn check_keys(field: &str, keys: &[String], out: &mut Vec<Issue>) {
    for (i, key) in keys.iter().enumerate() {
        if key.is_empty() {
            out.push(Issue::new(format!("{field}[{i}]"), EMPTY));
        } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            out.push(Issue::new(
                format!("{field}[{i}]"),
                "must not contain whitespace or control characters (a trailing newline from a secret file?)",
            ));
        }
    }
}

fn check_timeouts(at: &str, t: &Timeouts, out: &mut Vec<Issue>) {
    for (name, value) in [
        ("connect_ms", t.connect_ms),
        ("first_byte_ms", t.first_byte_ms),
        ("idle_ms", t.idle_ms),
        ("total_ms", t.total_ms),
    ] {
        if value == Some(0) {
            out.push(Issue::new(
                format!("{at}.{name}"),
                "must be greater than 0 (omit it for the default)",
            ));
        }
        check_int64(&format!("{at}.{name}"), value, out);
    }
}

fn check_price(p: &Price, out: &mut Vec<Issue>) {
    check_amount("price.input_per_mtok", p.input_per_mtok, out);
    check_amount("price.output_per_mtok", p.output_per_mtok, out);
    if let Some(v) = p.cache_read_per_mtok {
        check_amount("price.cache_read_per_mtok", v, out);
    }
    if let Some(v) = p.cache_write_per_mtok {
        check_amount("price.cache_write_per_mtok", v, out);
    }
}

/// The largest USD amount anywhere (a price, budget or balance): far above any real
/// one, and small enough that sums in micro-dollars cannot overflow an `i64`.
pub const MAX_USD: f64 = 1_000_000_000.0;

fn check_amount(at: &str, value: f64, out: &mut Vec<Issue>) {
    if !value.is_finite() {
        out.push(Issue::new(at, "must be a finite number"));
    } else if value < 0.0 {
        out.push(Issue::new(at, "must not be negative"));
    } else if value > MAX_USD {
        out.push(Issue::new(at, "must be at most 1000000000"));
    }
}

/// Counts are stored and computed as signed 64-bit (and 32-bit) integers, as the OpenAPI
/// document says (`int64`, `int32`): larger values are refused, not wrapped.
fn check_int64(at: &str, value: Option<u64>, out: &mut Vec<Issue>) {
    if value.is_some_and(|v| i64::try_from(v).is_err()) {
        out.push(Issue::new(at, "must be at most 9223372036854775807"));
    }
}

fn check_int32(at: &str, value: Option<u32>, out: &mut Vec<Issue>) {
    if value.is_some_and(|v| i32::try_from(v).is_err()) {
        out.push(Issue::new(at, "must be at most 2147483647"));
    }
}

fn check_budget(at: &str, b: &BudgetSpec, out: &mut Vec<Issue>) {
    match (b.usd, b.tokens) {
        (None, None) => out.push(Issue::new(at, "must set one of `usd` or `tokens`")),
        (Some(_), Some(_)) => out.push(Issue::new(
            at,
            "must set only one of `usd` or `tokens`, not both",
        )),
        _ => {}
    }
    if let Some(usd) = b.usd {
        check_amount(&format!("{at}.usd"), usd, out);
    }
    check_int64(&format!("{at}.tokens"), b.tokens, out);
}

fn check_rate_limit(at: &str, r: &RateLimitSpec, out: &mut Vec<Issue>) {
    for (name, value) in [
        ("requests_per_minute", r.requests_per_minute),
        ("tokens_per_minute", r.tokens_per_minute),
        ("concurrent", r.concurrent.map(u64::from)),
    ] {
        if value == Some(0) {
            out.push(Issue::new(
                format!("{at}.{name}"),
                "must be greater than 0 (omit it for no limit)",
            ));
        }
        check_int64(&format!("{at}.{name}"), value, out);
    }
    check_int32(&format!("{at}.concurrent"), r.concurrent, out);
}

/// An absolute `http://` or `https://` URL with a host. `allow_query` permits a query
/// and fragment (a base URL gets paths appended, so it may not have them).
pub(crate) fn check_http_url(url: &str, allow_query: bool) -> Result<(), String> {
    const NOT_URL: &str = "must be an http:// or https:// URL";
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{NOT_URL} (it contains whitespace)"));
    }
    let lower = url.to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return Err(NOT_URL.to_string());
    };
    let rest = url.get(scheme_len..).unwrap_or("");
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(after) = host_port.strip_prefix('[') {
        let Some((v6, tail)) = after.split_once(']') else {
            return Err(format!("{NOT_URL} (unclosed `[` in the host)"));
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{NOT_URL} (invalid IPv6 address)"));
        }
        match tail {
            "" => ("v6", None),
            t => match t.strip_prefix(':') {
                Some(p) => ("v6", Some(p)),
                None => return Err(format!("{NOT_URL} (unexpected text after the host)")),
            },
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{NOT_URL} (it has no host)"));
    }
    if !host
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '%'))
    {
        return Err(format!("{NOT_URL} (invalid host)"));
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(format!("{NOT_URL} (invalid port)"));
    }
    if !allow_query
        && rest
            .get(authority_end..)
            .is_some_and(|p| p.contains(['?', '#']))
    {
        return Err("must not contain a query string or fragment".to_string());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tollgate_core::spec::{CacheScope, CacheSpec, Period, Strategy, TargetSpec};

    fn provider(kind: ProviderKind) -> ProviderSpec {
        ProviderSpec {
            name: "p".into(),
            kind,
            base_url: None,
            api_keys: vec![],
            api_version: None,
        }
    }

    fn paths(issues: &[Issue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn urls() {
        for ok in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:11434",
            "https://[::1]:8443/x",
            "https://user:pw@host.example/",
            "HTTPS://Host.example",
        ] {
            assert_eq!(check_http_url(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "ftp://x",
            "https://",
            "https:///path",
            "https://host:99999",
            "https://host:port",
            "api.openai.com",
            "https://ho st",
            "https://[zz]/",
            "",
        ] {
            assert!(check_http_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_http_url("https://h/x?y=1", false).is_err());
        assert!(check_http_url("https://h/x?y=1", true).is_ok());
    }

    #[test]
    fn provider_rules() {
        assert!(check_provider(&provider(ProviderKind::Openai)).is_empty());
        assert_eq!(
            paths(&check_provider(&provider(ProviderKind::OpenaiCompatible))),
            ["base_url"]
        );
        assert_eq!(
            paths(&check_provider(&provider(ProviderKind::AzureOpenai))),
            ["base_url", "api_version"]
        );
        let mut p = provider(ProviderKind::Anthropic);
        p.api_version = Some("x".into());
        p.api_keys = vec!["ok".into(), "".into(), "k\n".into()];
        p.base_url = Some("localhost:1".into());
        assert_eq!(
            paths(&check_provider(&p)),
            ["base_url", "api_version", "api_keys[1]", "api_keys[2]"]
        );
        let issues = check_provider(&p);
        assert!(!issues.iter().any(|i| i.message.contains("k\n")));
    }

    #[test]
    fn model_rules() {
        let target = |p: &str, w: u32| TargetSpec {
            provider: p.into(),
            model: "m".into(),
            weight: w,
            timeouts: None,
        };
        let mut m = ModelSpec {
            name: "a".into(),
            targets: vec![target("known", 0), target("ghost", 0)],
            fallbacks: vec!["a".into(), "b".into(), "zzz".into(), "b".into()],
            strategy: Strategy::Weighted,
            timeouts: Some(Timeouts {
                connect_ms: Some(0),
                ..Timeouts::default()
            }),
            retries: None,
            cache: Some(CacheSpec {
                ttl_seconds: 0,
                scope: CacheScope::Shared,
                charge_hits: false,
            }),
            max_output_tokens: Some(0),
            price: Some(Price {
                input_per_mtok: -1.0,
                output_per_mtok: f64::NAN,
                ..Price::default()
            }),
            rate_limit: None,
            log_bodies: false,
        };
        let issues = check_model(&m, &|p| p == "known", &|n| n == "b");
        assert_eq!(
            paths(&issues),
            [
                "targets",
                "targets[1].provider",
                "fallbacks[0]",
                "fallbacks[2]",
                "fallbacks[3]",
                "timeouts.connect_ms",
                "cache.ttl_seconds",
                "max_output_tokens",
                "price.input_per_mtok",
                "price.output_per_mtok",
            ]
        );
        m.targets.clear();
        assert_eq!(
            check_model(&m, &|_| true, &|_| true)[0].message,
            "must list at least one target"
        );
    }

    #[test]
    fn consumer_team_alert_rules() {
        let c = ConsumerSpec {
            name: "c".into(),
            team: Some("nope".into()),
            api_keys: vec!["k1".into(), "k1".into()],
            models: Some(vec!["m".into(), "x".into()]),
            rate_limit: Some(RateLimitSpec {
                requests_per_minute: Some(0),
                tokens_per_minute: Some(5),
                concurrent: Some(0),
            }),
            budget: Some(BudgetSpec {
                usd: Some(-1.0),
                tokens: None,
                period: Period::Monthly,
            }),
            credits_usd: Some(-0.5),
            log_bodies: false,
        };
        assert_eq!(
            paths(&check_consumer(&c, &|_| false, &|m| m == "m")),
            [
                "team",
                "api_keys[1]",
                "models[1]",
                "rate_limit.requests_per_minute",
                "rate_limit.concurrent",
                "budget.usd",
                "credits_usd",
            ]
        );
        let t = TeamSpec {
            name: " ".into(),
            budget: Some(BudgetSpec {
                usd: Some(1.0),
                tokens: Some(1),
                period: Period::Total,
            }),
            rate_limit: None,
        };
        assert_eq!(paths(&check_team(&t)), ["name", "budget"]);
        let a = AlertSpec {
            name: "a".into(),
            webhook: "mailto:x@y".into(),
            secret: Some(String::new()),
        };
        assert_eq!(paths(&check_alert(&a)), ["webhook", "secret"]);
    }
}
