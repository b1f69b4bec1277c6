//! `tollgate check` reports type and semantic errors of one file together, in file
//! order; no message repeats a value that may be a secret; `Debug` of the config
//! redacts secrets.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use tollgate_config::{ConfigError, ServerConfig, StorageConfig, parse_str};

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn errors_of(text: &str, env: &[(&str, &str)]) -> Vec<ConfigError> {
    match parse_str(text, "t.yaml", &env_of(env)) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0,
    }
}

fn lines(errors: &[ConfigError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

const MIXED: &str = "\
server:
  listen: 127.0.0.1:9000
  admin_listen: 127.0.0.1:9000
  max_body_bytes: lots
providers:
  - name: openai
    kind: openai
  - name: broken
    kind: [openai]
models:
  - name: m
    targets: [{provider: openai, model: gpt}]
    fallbacks: [ghost, n]
  - name: n
    targets: [{provider: broken, model: x, weight: heavy}]
  - name: o
    targets: [{provider: nowhere, model: x}]
consumers:
  - name: c
    models: [m, n, missing]
";

#[test]
fn type_and_semantic_errors_are_reported_together_in_file_order() {
    assert_eq!(
        lines(&errors_of(MIXED, &[])),
        [
            // Semantic: server fields that did read are still checked.
            "t.yaml:3:17: server.admin_listen: must differ from server.listen (both are 127.0.0.1:9000)",
            // Type: the one bad field of `server`.
            "t.yaml:4:19: server.max_body_bytes: expected a non-negative integer",
            // Type: one bad provider does not hide the others.
            "t.yaml:9:11: providers[1].kind: expected a single value, not a list or mapping",
            // Semantic: a fallback naming no model; `n` has a type error but is declared.
            "t.yaml:13:17: models[0].fallbacks[0]: names no declared model",
            // Type.
            "t.yaml:15:52: models[1].targets[0].weight: expected a non-negative integer",
            // Semantic, after the type errors before it.
            "t.yaml:17:26: models[2].targets[0].provider: names no declared provider",
            "t.yaml:20:20: consumers[0].models[2]: names no declared model",
        ]
    );
}

#[test]
fn the_order_is_stable_and_by_position() {
    let first = errors_of(MIXED, &[]);
    for _ in 0..5 {
        assert_eq!(errors_of(MIXED, &[]), first);
    }
    let positions: Vec<(usize, usize)> = first.iter().map(|e| (e.line, e.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted);
}

#[test]
fn every_bad_field_of_a_section_is_reported() {
    assert_eq!(
        lines(&errors_of(
            "storage:\n  database: [x]\n  cache: redis\n  redis: {a: b}\n  redis_failure_policy: sometimes\n",
            &[]
        )),
        [
            "t.yaml:2:13: storage.database: expected a single value, not a list or mapping",
            // `redis` is unreadable, not unset: no "needs storage.redis" on top.
            "t.yaml:4:10: storage.redis: expected a single value, not a list or mapping",
            "t.yaml:5:25: storage.redis_failure_policy: expected `open` (admit while Redis is unreachable) or `closed` (refuse with 503)",
        ]
    );
}

#[test]
fn a_semantic_error_is_reported_next_to_an_unknown_field() {
    assert_eq!(
        lines(&errors_of(
            "providers:\n  - {name: p, kind: openai, bogus: 1}\nmodels:\n  - name: m\n    targets: [{provider: p, model: x}]\n    fallbacks: [nope]\n",
            &[]
        )),
        [
            "t.yaml:2:29: providers[0].bogus: unknown field `bogus`, expected one of name, kind, base_url, api_keys, api_version",
            "t.yaml:6:17: models[0].fallbacks[0]: names no declared model",
        ]
    );
}

const SECRET: &str = "sk-abc123SECRETvalue";

#[test]
fn a_secret_in_an_enum_field_is_not_echoed() {
    let errs = errors_of(
        &format!("providers:\n  - name: p\n    kind: {SECRET}\n"),
        &[],
    );
    assert_eq!(
        lines(&errs),
        [
            "t.yaml:3:11: providers[0].kind: unknown value, expected one of openai, anthropic, gemini, mistral, ollama, azure_openai, openai_compatible"
        ]
    );
}

#[test]
fn no_message_repeats_a_value_that_may_be_a_secret() {
    // A secret pasted (or interpolated) into every kind of field that can be wrong.
    let text = format!(
        "\
server:
  listen: {SECRET}
  admin_listen: ${{KEY}}
  max_body_bytes: {SECRET}
  admin_token: \"${{TOKEN?{SECRET}}}\"
storage:
  database: {SECRET}
  redis: {SECRET}
  cache: {SECRET}
  redis_failure_policy: {SECRET}
providers:
  - name: a
    kind: ${{KEY}}
  - name: b
    kind: openai
    base_url: https://{SECRET}:x
    api_keys: {SECRET}
models:
  - name: m
    targets: [{{provider: {SECRET}, model: x}}]
    fallbacks: [{SECRET}]
  - name: m2
    targets: [{{provider: b, model: x, weight: {SECRET}}}]
  - name: m3
    targets: [{{provider: b, model: x}}]
    strategy: {SECRET}
  - name: m4
    targets: [{{provider: b, model: x}}]
    cache: {{ttl_seconds: 5, scope: {SECRET}}}
  - name: m5
    targets: [{{provider: b, model: x}}]
    price: {{input_per_mtok: {SECRET}}}
teams:
  - name: t
    budget: {{usd: 1, period: {SECRET}}}
consumers:
  - name: c
    team: {SECRET}
    models: [{SECRET}]
  - name: c2
    credits_usd: {SECRET}
  - name: c3
    rate_limit: {{concurrent: {SECRET}}}
alerts:
  - name: x
    webhook: {SECRET}
  - name: y
    webhook: https://h/
    secret: [{SECRET}]
  - name: {SECRET}
  - {SECRET}
"
    );
    let errs = errors_of(&text, &[("KEY", SECRET)]);
    assert!(errs.len() >= 25, "{:#?}", lines(&errs));
    for e in &errs {
        let line = e.to_string();
        assert!(!line.contains("sk-abc"), "secret echoed: {line}");
        assert!(!line.contains("SECRET"), "secret echoed: {line}");
    }
    // The enum fields still list what they accept.
    let all = lines(&errs).join("\n");
    assert!(all.contains("providers[0].kind: unknown value, expected one of openai,"));
    assert!(all.contains("models[2].strategy: unknown value, expected one of weighted, latency"));
    assert!(all.contains("server.admin_token: invalid variable reference to `TOKEN`"));
}

#[test]
fn a_secret_in_a_key_position_of_a_mapping_is_not_echoed_as_a_value() {
    // `api_keys` written as a mapping: the key is reported, the value never.
    let errs = errors_of(
        &format!("providers:\n  - name: p\n    kind: openai\n    api_keys: {{k: {SECRET}}}\n"),
        &[],
    );
    assert_eq!(
        lines(&errs),
        ["t.yaml:4:15: providers[0].api_keys: expected a list"]
    );
}

#[test]
fn debug_of_server_redacts_the_admin_token() {
    let c = parse_str(
        "server:\n  admin_token: ${T}\n",
        "t.yaml",
        &env_of(&[("T", "tok-very-secret")]),
    )
    .unwrap();
    let text = format!("{:?}", c.server);
    assert!(!text.contains("tok-very-secret"), "{text}");
    assert!(text.contains("admin_token: Some(\"<redacted>\")"), "{text}");
    assert!(text.contains("listen: 127.0.0.1:8080"), "{text}");
    let text = format!("{:#?}", c);
    assert!(!text.contains("tok-very-secret"), "{text}");
    // No token: nothing to hide.
    let text = format!("{:?}", ServerConfig::default());
    assert!(text.contains("admin_token: None"), "{text}");
}

#[test]
fn debug_of_storage_masks_url_passwords() {
    let c = parse_str(
        "storage:\n  database: postgres://tollgate:pg-pass-1@db:5432/t?sslmode=require&password=pg-pass-2\n  redis: redis://:redis-pass-1@r:6379/0\n",
        "t.yaml",
        &env_of(&[]),
    )
    .unwrap();
    let text = format!("{:?}", c.storage);
    for secret in ["pg-pass-1", "pg-pass-2", "redis-pass-1"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(
        text.contains(
            "database: \"postgres://tollgate:***@db:5432/t?sslmode=require&password=***\""
        ),
        "{text}"
    );
    assert!(
        text.contains("redis: Some(\"redis://:***@r:6379/0\")"),
        "{text}"
    );
    let text = format!("{:?}", StorageConfig::default());
    assert!(
        text.contains("sqlite://tollgate-data/tollgate.db"),
        "{text}"
    );
}

#[test]
fn debug_of_the_whole_config_shows_no_secret() {
    let text = "\
server:
  admin_token: admin-secret-1
storage:
  database: postgresql://u:db-secret-1@h/d
providers:
  - {name: p, kind: openai, api_keys: [provider-secret-1]}
consumers:
  - {name: c, api_keys: [consumer-secret-1]}
alerts:
  - {name: a, webhook: 'https://h/', secret: alert-secret-1}
";
    let c = parse_str(text, "t.yaml", &env_of(&[])).unwrap();
    let debug = format!("{c:?} {c:#?}");
    for secret in [
        "admin-secret-1",
        "db-secret-1",
        "provider-secret-1",
        "consumer-secret-1",
        "alert-secret-1",
    ] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[test]
fn flow_style_sections_and_lists_are_read_part_by_part_too() {
    assert_eq!(
        lines(&errors_of(
            "server: {listen: 127.0.0.1:1,\n  admin_listen: 127.0.0.1:1, max_body_bytes: lots}\n",
            &[]
        )),
        [
            "t.yaml:2:17: server.admin_listen: must differ from server.listen (both are 127.0.0.1:1)",
            "t.yaml:2:46: server.max_body_bytes: expected a non-negative integer",
        ]
    );
    assert_eq!(
        lines(&errors_of(
            "providers: [{name: a,\n  kind: x}, {name: b,\n kind: openai, api_keys: 5}]\nmodels: [{name: m, targets: [{provider: b, model: x}], fallbacks: [zz, a]}]\n",
            &[]
        )),
        [
            "t.yaml:2:9: providers[0].kind: unknown value, expected one of openai, anthropic, gemini, mistral, ollama, azure_openai, openai_compatible",
            "t.yaml:3:26: providers[1].api_keys: expected a list",
            "t.yaml:4:68: models[0].fallbacks[0]: names no declared model",
            "t.yaml:4:72: models[0].fallbacks[1]: names no declared model",
        ]
    );
}

#[test]
fn storage_retention_is_checked_at_its_position() {
    assert_eq!(
        lines(&errors_of(
            "storage:\n  retention:\n    calls_days: 0\n    rollups_days: 10\n",
            &[]
        )),
        [
            "t.yaml:3:17: storage.retention.calls_days: must be a whole number of days from 1 to 36500"
        ]
    );
    assert_eq!(
        lines(&errors_of(
            "storage:\n  retention: {calls_days: 30, rollups_days: 7}\n",
            &[]
        )),
        [
            "t.yaml:2:45: storage.retention.rollups_days: must be at least calls_days (30): analytics and budgets read rollups"
        ]
    );
    assert_eq!(
        lines(&errors_of(
            "storage:\n  retention: {calls_days: 3, keep: 1}\n",
            &[]
        ))
        .len(),
        1
    );
    let env = |_: &str| None;
    let c = tollgate_config::parse_str("storage:\n  retention: {calls_days: 7}\n", "t.yaml", &env)
        .expect("valid");
    assert_eq!(
        (
            c.storage.retention.calls_days,
            c.storage.retention.rollups_days
        ),
        (7, 400)
    );
    let c = tollgate_config::parse_str("{}\n", "t.yaml", &env).expect("valid");
    assert_eq!(
        c.storage.retention,
        tollgate_config::RetentionConfig::default()
    );
}
