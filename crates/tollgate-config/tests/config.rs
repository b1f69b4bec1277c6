#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;

use tollgate_config::{
    CacheBackend, Config, ConfigErrors, ServerConfig, StorageConfig, check_consumer, check_model,
    load_file, parse_str,
};
use tollgate_core::spec::{
    BudgetSpec, CacheScope, CacheSpec, Period, Price, ProviderKind, RateLimitSpec, Retries,
    Strategy, TargetSpec, Timeouts,
};

const FULL: &str = include_str!("fixtures/full.yaml");
const PRODUCT_EXAMPLE: &str = include_str!("fixtures/product_example.yaml");
const SEMANTIC_ERRORS: &str = include_str!("fixtures/semantic_errors.yaml");

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    parse_str(text, "t.yaml", &env_of(env))
}

fn ok(text: &str, env: &[(&str, &str)]) -> Config {
    match parse(text, env) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// The errors, one `FILE:LINE:COLUMN: path: message` line each.
fn errors(text: &str, env: &[(&str, &str)]) -> Vec<String> {
    match parse(text, env) {
        Ok(c) => panic!("expected errors, got {c:#?}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

const FULL_ENV: &[(&str, &str)] = &[
    ("TOLLGATE_ADMIN_TOKEN", "admin-token-1"),
    ("OPENAI_API_KEY", "sk-openai-1"),
    ("AZURE_OPENAI_KEY", "azure-key-1"),
    ("ANTHROPIC_API_KEY", "sk-ant-1"),
    ("ALERT_SECRET", "hook-secret-1"),
];

#[test]
fn full_example_parses_to_expected_values() {
    let c = ok(FULL, FULL_ENV);

    assert_eq!(
        c.server,
        ServerConfig {
            listen: "127.0.0.1:8080".parse().unwrap(),
            admin_listen: "127.0.0.1:8081".parse().unwrap(),
            admin_token: Some("admin-token-1".into()),
            max_body_bytes: 16_777_216,
            public_url: None,
        }
    );
    assert_eq!(
        c.storage,
        StorageConfig {
            database: "sqlite://tollgate-data/tollgate.db".into(),
            redis: Some("redis://127.0.0.1:6379".into()),
            cache: CacheBackend::Memory,
            redis_fail_open: true,
            redis_prefix: "tollgate:".into(),
            retention: tollgate_config::RetentionConfig::default(),
            log_bodies_max_bytes: StorageConfig::DEFAULT_LOG_BODIES_MAX_BYTES,
        }
    );

    assert_eq!(c.providers.len(), 3);
    let openai = &c.providers[0];
    assert_eq!(openai.name, "openai");
    assert_eq!(openai.kind, ProviderKind::Openai);
    assert_eq!(
        openai.base_url.as_deref(),
        Some("https://api.openai.com/v1")
    );
    assert_eq!(openai.api_keys, ["sk-openai-1"]);
    assert_eq!(openai.api_version, None);
    let azure = &c.providers[1];
    assert_eq!(azure.kind, ProviderKind::AzureOpenai);
    assert_eq!(
        azure.base_url.as_deref(),
        Some("https://myresource.openai.azure.com")
    );
    assert_eq!(azure.api_version.as_deref(), Some("2024-10-21"));
    assert_eq!(azure.api_keys, ["azure-key-1"]);
    assert_eq!(c.providers[2].kind, ProviderKind::Anthropic);
    assert_eq!(c.providers[2].base_url, None);

    assert_eq!(c.models.len(), 2);
    let m = &c.models[0];
    assert_eq!(m.name, "gpt-4o-mini");
    assert_eq!(
        m.targets,
        [TargetSpec {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            weight: 1,
            timeouts: None,
        }]
    );
    assert_eq!(m.fallbacks, ["claude-haiku"]);
    assert_eq!(m.strategy, Strategy::Weighted);
    assert_eq!(
        m.timeouts,
        Some(Timeouts {
            connect_ms: Some(2000),
            first_byte_ms: Some(30000),
            idle_ms: Some(30000),
            total_ms: Some(600_000),
        })
    );
    assert_eq!(
        m.retries,
        Some(Retries {
            attempts: 2,
            backoff_ms: 100
        })
    );
    assert_eq!(
        m.cache,
        Some(CacheSpec {
            ttl_seconds: 300,
            scope: CacheScope::Consumer,
            charge_hits: false,
        })
    );
    assert_eq!(m.max_output_tokens, Some(4096));
    assert_eq!(
        m.price,
        Some(Price {
            input_per_mtok: 0.15,
            output_per_mtok: 0.60,
            ..Price::default()
        })
    );
    let haiku = &c.models[1];
    assert_eq!(haiku.name, "claude-haiku");
    assert_eq!(haiku.targets[0].weight, 1, "weight defaults to 1");
    assert_eq!(haiku.cache, None);
    assert_eq!(haiku.price, None);

    assert_eq!(c.teams.len(), 1);
    assert_eq!(c.teams[0].name, "platform");
    assert_eq!(
        c.teams[0].budget,
        Some(BudgetSpec {
            usd: Some(500.0),
            tokens: None,
            period: Period::Monthly,
        })
    );
    assert_eq!(c.teams[0].rate_limit, None);

    assert_eq!(c.consumers.len(), 1);
    let a = &c.consumers[0];
    assert_eq!(a.name, "team-a");
    assert_eq!(a.team.as_deref(), Some("platform"));
    assert_eq!(a.api_keys, ["tg-team-a-key"]);
    assert_eq!(a.models.as_deref(), Some(&["gpt-4o-mini".to_string()][..]));
    assert_eq!(
        a.rate_limit,
        Some(RateLimitSpec {
            requests_per_minute: Some(600),
            tokens_per_minute: Some(200_000),
            concurrent: Some(50),
        })
    );
    assert_eq!(
        a.budget,
        Some(BudgetSpec {
            usd: Some(25.0),
            tokens: None,
            period: Period::Monthly,
        })
    );
    assert_eq!(a.credits_usd, Some(10.0));

    assert_eq!(c.alerts.len(), 1);
    assert_eq!(c.alerts[0].name, "ops");
    assert_eq!(c.alerts[0].webhook, "https://hooks.example.com/tollgate");
    assert_eq!(c.alerts[0].secret.as_deref(), Some("hook-secret-1"));
}

#[test]
fn product_example_verbatim_only_misses_the_model_its_fallback_names() {
    let env = env_of(FULL_ENV);
    let err = parse_str(PRODUCT_EXAMPLE, "tollgate.yaml", &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tollgate.yaml:24:17: models[0].fallbacks[0]: names no declared model"
    );
}

#[test]
fn full_example_without_environment_names_every_unset_variable() {
    assert_eq!(
        errors(FULL, &[]),
        [
            "t.yaml:4:16: server.admin_token: environment variable `TOLLGATE_ADMIN_TOKEN` is not set (write `${TOLLGATE_ADMIN_TOKEN:-default}` to give a default)",
            "t.yaml:14:17: providers[0].api_keys[0]: environment variable `OPENAI_API_KEY` is not set (write `${OPENAI_API_KEY:-default}` to give a default)",
            "t.yaml:19:17: providers[1].api_keys[0]: environment variable `AZURE_OPENAI_KEY` is not set (write `${AZURE_OPENAI_KEY:-default}` to give a default)",
            "t.yaml:23:17: providers[2].api_keys[0]: environment variable `ANTHROPIC_API_KEY` is not set (write `${ANTHROPIC_API_KEY:-default}` to give a default)",
            "t.yaml:54:13: alerts[0].secret: environment variable `ALERT_SECRET` is not set (write `${ALERT_SECRET:-default}` to give a default)",
        ]
    );
}

#[test]
fn defaults() {
    let d = Config::default();
    assert_eq!(
        d.server.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        d.server.admin_listen,
        "127.0.0.1:8081".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(d.server.admin_token, None);
    assert_eq!(d.server.max_body_bytes, 16 * 1024 * 1024);
    assert_eq!(d.storage.database, "sqlite://tollgate-data/tollgate.db");
    assert_eq!(d.storage.redis, None);
    assert_eq!(d.storage.cache, CacheBackend::Memory);
    assert!(d.providers.is_empty() && d.models.is_empty() && d.teams.is_empty());
    assert!(d.consumers.is_empty() && d.alerts.is_empty());

    for empty in [
        "",
        "\n\n",
        "# nothing but a comment\n",
        "---\n",
        "---\n...\n",
        "server:\nstorage:\nproviders:\nmodels: []\n",
        "\u{feff}# BOM first\n",
    ] {
        assert_eq!(ok(empty, &[]), d, "{empty:?}");
    }

    // A partial section keeps the other defaults.
    let c = ok(
        "server:\n  listen: 0.0.0.0:9000\nstorage:\n  cache: memcached://10.0.0.5:11211\n",
        &[],
    );
    assert_eq!(
        c.server.listen,
        "0.0.0.0:9000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.server.admin_listen, d.server.admin_listen);
    assert_eq!(c.server.max_body_bytes, d.server.max_body_bytes);
    assert_eq!(
        c.storage.cache,
        CacheBackend::Memcached("memcached://10.0.0.5:11211".into())
    );
    assert_eq!(c.storage.database, d.storage.database);
}

#[test]
fn minimal_resources_need_only_their_required_keys() {
    let c = ok(
        "providers:\n  - {name: local, kind: ollama}\nmodels:\n  - name: llama\n    targets: [{provider: local, model: llama3.1}]\nteams: [{name: t}]\nconsumers: [{name: c}]\n",
        &[],
    );
    assert_eq!(c.providers[0].api_keys, Vec::<String>::new());
    assert_eq!(c.models[0].fallbacks, Vec::<String>::new());
    assert_eq!(c.models[0].retries, None);
    assert_eq!(c.consumers[0].models, None);
    assert_eq!(c.consumers[0].team, None);
}

#[test]
fn every_semantic_error_is_reported_with_path_and_position() {
    assert_eq!(
        errors(SEMANTIC_ERRORS, &[]),
        [
            "t.yaml:2:11: server.listen: invalid address: expected IP:PORT, e.g. 127.0.0.1:8080",
            "t.yaml:4:19: server.max_body_bytes: must be greater than 0",
            "t.yaml:6:13: storage.database: must be a sqlite://PATH or postgres://… (postgresql://…) URL",
            "t.yaml:7:10: storage.cache: `redis` needs storage.redis to be set",
            "t.yaml:11:18: providers[0].api_version: is only valid for kind `azure_openai`, not `openai`",
            "t.yaml:12:16: providers[0].api_keys[0]: must not be empty",
            "t.yaml:13:5: providers[1].base_url: is required for kind `azure_openai`",
            "t.yaml:13:5: providers[1].api_version: is required for kind `azure_openai` (e.g. \"2024-10-21\")",
            "t.yaml:17:15: providers[2].base_url: must be an http:// or https:// URL",
            "t.yaml:18:11: providers[3].name: duplicate provider name (first declared at providers[0])",
            "t.yaml:23:7: models[0].targets: every target has weight 0; at least one must have a weight above 0",
            "t.yaml:24:20: models[0].targets[1].provider: names no declared provider",
            "t.yaml:24:73: models[0].targets[1].timeouts.total_ms: must be greater than 0 (omit it for the default)",
            "t.yaml:25:17: models[0].fallbacks[0]: a model cannot fall back to itself",
            "t.yaml:25:21: models[0].fallbacks[1]: names no declared model",
            "t.yaml:26:28: models[0].timeouts.connect_ms: must be greater than 0 (omit it for the default)",
            "t.yaml:27:26: models[0].cache.ttl_seconds: must be greater than 0 (omit `cache` for no caching)",
            "t.yaml:28:29: models[0].price.input_per_mtok: must not be negative",
            "t.yaml:30:14: models[1].targets: must list at least one target",
            "t.yaml:31:11: models[2].name: duplicate model name (first declared at models[0])",
            "t.yaml:36:13: teams[0].budget: must set one of `usd` or `tokens`",
            "t.yaml:37:39: teams[0].rate_limit.requests_per_minute: must be greater than 0 (omit it for no limit)",
            "t.yaml:39:13: teams[1].budget: must set only one of `usd` or `tokens`, not both",
            "t.yaml:39:19: teams[1].budget.usd: must not be negative",
            "t.yaml:42:11: consumers[0].team: names no declared team",
            "t.yaml:43:20: consumers[0].api_keys[1]: duplicate API key (same as api_keys[0])",
            "t.yaml:44:18: consumers[0].models[1]: names no declared model",
            "t.yaml:45:18: consumers[0].credits_usd: must not be negative",
            "t.yaml:48:16: consumers[1].api_keys[0]: API key is already used by consumers[0]",
            "t.yaml:49:30: consumers[1].rate_limit.concurrent: must be greater than 0 (omit it for no limit)",
            "t.yaml:52:14: alerts[0].webhook: must be an http:// or https:// URL",
            "t.yaml:53:11: alerts[1].name: duplicate alert name (first declared at alerts[0])",
        ]
    );
}

#[test]
fn single_semantic_errors() {
    let base = "providers:\n  - {name: p, kind: openai}\nmodels:\n  - name: m\n    targets:\n      - provider: p\n        model: x\n";
    ok(base, &[]);

    // Target naming an undeclared provider: the brief's `models[2].targets[0].provider`.
    let text = "providers:\n  - {name: p, kind: openai}\nmodels:\n  - {name: a, targets: [{provider: p, model: x}]}\n  - {name: b, targets: [{provider: p, model: x}]}\n  - name: c\n    targets:\n      - provider: q\n        model: x\n";
    assert_eq!(
        errors(text, &[]),
        ["t.yaml:8:19: models[2].targets[0].provider: names no declared provider"]
    );

    // A consumer's unknown team; a provider's kind that needs a base_url.
    assert_eq!(
        errors(
            "teams: [{name: t}]\nconsumers:\n  - name: c\n    team: tt\n",
            &[]
        ),
        ["t.yaml:4:11: consumers[0].team: names no declared team"]
    );
    assert_eq!(
        errors(
            "providers:\n  - name: a\n    kind: openai\n  - name: vllm\n    kind: openai_compatible\n",
            &[]
        ),
        ["t.yaml:4:5: providers[1].base_url: is required for kind `openai_compatible`"]
    );
    assert_eq!(
        errors("server:\n  admin_listen: '127.0.0.1:99999'\n", &[]),
        [
            "t.yaml:2:17: server.admin_listen: invalid address: expected IP:PORT, e.g. 127.0.0.1:8080"
        ]
    );
    assert_eq!(
        errors("server:\n  admin_listen: 127.0.0.1:8080\n", &[]),
        [
            "t.yaml:2:17: server.admin_listen: must differ from server.listen (both are 127.0.0.1:8080)"
        ]
    );
    assert_eq!(
        errors("storage:\n  cache: memcached://localhost\n", &[]),
        [
            "t.yaml:2:10: storage.cache: invalid memcached address: expected `memory`, `redis` or `memcached://HOST:PORT`"
        ]
    );
    assert_eq!(
        errors("storage:\n  cache: disk\n", &[]),
        [
            "t.yaml:2:10: storage.cache: unknown cache backend: expected `memory`, `redis` or `memcached://HOST:PORT`"
        ]
    );
    ok(
        "storage:\n  database: postgresql://u@db/tollgate\n  redis: redis://r:6379\n  cache: redis\n",
        &[],
    );
    assert_eq!(
        errors("storage:\n  redis: localhost:6379\n", &[]),
        ["t.yaml:2:10: storage.redis: must be a redis://HOST:PORT or rediss://HOST:PORT URL"]
    );
}

#[test]
fn interpolation_defaults_numbers_comments_and_special_characters() {
    let text = "\
# ${IN_A_COMMENT} is never looked up
server:
  listen: ${HOST:-127.0.0.1}:${PORT:-9090}   # ${NOR_HERE}
  admin_token: ${TOKEN}
  max_body_bytes: ${MAX}
providers:
  - name: ${NAME}
    kind: ${KIND:-openai}
    api_keys: ['${KEY}', \"${KEY}-2\", \"$${NOT_A_VAR}\"]
alerts:
  - name: ops
    webhook: https://hooks.example/${HOOK_PATH}?a=b
    secret: ${EMPTY_IS_DEFAULTED:-fallback}
";
    let token = "a: b # c \"d' \\ {e} [f], g\n  - h: i\n";
    let name = "evil}, kind: gemini, base_url: 'ftp://x' # [";
    let c = ok(
        text,
        &[
            ("TOKEN", token),
            ("MAX", "1024"),
            ("NAME", name),
            ("KEY", "k'ey\"1"),
            ("HOOK_PATH", "x/${NOT_EXPANDED}"),
            ("EMPTY_IS_DEFAULTED", ""),
            ("PORT", ""),
        ],
    );
    assert_eq!(
        c.server.listen,
        "127.0.0.1:9090".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.server.admin_token.as_deref(), Some(token));
    assert_eq!(c.server.max_body_bytes, 1024);
    assert_eq!(c.providers.len(), 1);
    assert_eq!(c.providers[0].name, name);
    assert_eq!(c.providers[0].kind, ProviderKind::Openai);
    assert_eq!(c.providers[0].base_url, None);
    assert_eq!(
        c.providers[0].api_keys,
        ["k'ey\"1", "k'ey\"1-2", "${NOT_A_VAR}"]
    );
    assert_eq!(
        c.alerts[0].webhook,
        "https://hooks.example/x/${NOT_EXPANDED}?a=b"
    );
    assert_eq!(c.alerts[0].secret.as_deref(), Some("fallback"));
}

#[test]
fn interpolation_in_block_scalars_and_numbers_of_every_kind() {
    let text = "\
models:
  - name: m
    targets:
      - provider: p
        model: x
        weight: ${W}
    price: {input_per_mtok: \"${IN}\", output_per_mtok: 2}
    cache:
      ttl_seconds: ${TTL:-60}
      charge_hits: ${CHARGE:-true}
    max_output_tokens: ${MOT}
providers: [{name: p, kind: openai}]
alerts:
  - name: a
    webhook: https://h.example/
    secret: |
      line1 ${A}
      line2 $${B}
  - name: b
    webhook: https://h.example/
    secret: >-
      folded ${A}
      more
";
    let c = ok(
        text,
        &[
            ("W", "3"),
            ("IN", "0.25"),
            ("A", "x: \"y\""),
            ("MOT", "512"),
        ],
    );
    assert_eq!(c.models[0].targets[0].weight, 3);
    assert_eq!(c.models[0].max_output_tokens, Some(512));
    assert_eq!(c.models[0].price.map(|p| p.input_per_mtok), Some(0.25));
    let cache = c.models[0].cache.unwrap();
    assert_eq!((cache.ttl_seconds, cache.charge_hits), (60, true));
    assert_eq!(
        c.alerts[0].secret.as_deref(),
        Some("line1 x: \"y\"\nline2 ${B}\n")
    );
    assert_eq!(c.alerts[1].secret.as_deref(), Some("folded x: \"y\" more"));
    assert_eq!(c.alerts[1].name, "b");
}

#[test]
fn unset_variables_are_errors_at_their_dollar() {
    let text = "\
server:
  admin_token: Bearer-${TOKEN}
alerts:
  - name: ops
    webhook: https://h.example
    secret: \"${A:-x}${MISSING}\"
";
    assert_eq!(
        errors(text, &[]),
        [
            "t.yaml:2:23: server.admin_token: environment variable `TOKEN` is not set (write `${TOKEN:-default}` to give a default)",
            "t.yaml:6:21: alerts[0].secret: environment variable `MISSING` is not set (write `${MISSING:-default}` to give a default)",
        ]
    );

    // The type error the literal `${MAX}` would cause is not reported on top.
    assert_eq!(
        errors("server:\n  max_body_bytes: ${MAX}\n", &[]),
        [
            "t.yaml:2:19: server.max_body_bytes: environment variable `MAX` is not set (write `${MAX:-default}` to give a default)"
        ]
    );

    // Other errors are still reported alongside.
    assert_eq!(
        errors("server:\n  admin_token: ${T}\n  max_body_bytes: 0\n", &[]),
        [
            "t.yaml:2:16: server.admin_token: environment variable `T` is not set (write `${T:-default}` to give a default)",
            "t.yaml:3:19: server.max_body_bytes: must be greater than 0",
        ]
    );

    // A variable only needed by an unused default is not needed.
    ok("server:\n  admin_token: ${T:-${UNSET}}\n", &[("T", "set")]);
    assert_eq!(
        errors("server:\n  admin_token: ${T:-${UNSET}}\n", &[]),
        [
            "t.yaml:2:21: server.admin_token: environment variable `UNSET` is not set (write `${UNSET:-default}` to give a default)"
        ]
    );

    assert_eq!(
        errors("server:\n  admin_token: x${T\n", &[]),
        ["t.yaml:2:17: server.admin_token: unterminated `${` (write `$${` for a literal `${`)"]
    );
    assert_eq!(
        errors("server:\n  admin_token: \"${T?required}\"\n", &[]),
        [
            "t.yaml:2:17: server.admin_token: invalid variable reference to `T`: expected `${NAME}` or `${NAME:-default}`"
        ]
    );
}

#[test]
fn unknown_keys_are_errors_with_their_path() {
    assert_eq!(
        errors(
            "providers:\n  - name: openai\n    kind: openai\n    bogus: 1\n",
            &[]
        ),
        [
            "t.yaml:4:5: providers[0].bogus: unknown field `bogus`, expected one of name, kind, base_url, api_keys, api_version"
        ]
    );
    assert_eq!(
        errors("serverr:\n  listen: 127.0.0.1:1\n", &[]),
        [
            "t.yaml:1:1: serverr: unknown field `serverr`, expected one of server, storage, providers, models, teams, consumers, alerts, services, prompt_apis, masking, log, telemetry"
        ]
    );
    assert_eq!(
        errors("server:\n  listen: 127.0.0.1:1\n  max_body: 5\n", &[]),
        [
            "t.yaml:3:3: server.max_body: unknown field `max_body`, expected one of listen, admin_listen, admin_token, max_body_bytes, public_url"
        ]
    );
    assert_eq!(
        errors(
            "models:\n  - name: m\n    targets:\n      - {provider: p, model: x, timeouts: {connect: 5}}\n",
            &[]
        ),
        [
            "t.yaml:4:44: models[0].targets[0].timeouts.connect: unknown field `connect`, expected one of connect_ms, first_byte_ms, idle_ms, total_ms"
        ]
    );
}

#[test]
fn wrong_types_and_missing_fields() {
    assert_eq!(
        errors("server:\n  max_body_bytes: lots\n", &[]),
        ["t.yaml:2:19: server.max_body_bytes: expected a non-negative integer"]
    );
    assert_eq!(
        errors(
            "providers:\n  - name: p\n    kind: openai\n    api_keys: sk-1\n",
            &[]
        ),
        ["t.yaml:4:15: providers[0].api_keys: expected a list"]
    );
    assert_eq!(
        errors("providers:\n  - name: p\n", &[]),
        ["t.yaml:2:5: providers[0].kind: missing required field `kind`"]
    );
    assert_eq!(
        errors("providers: {name: p}\n", &[]),
        ["t.yaml:1:12: providers: expected a list"]
    );
    assert_eq!(
        errors("- just\n- a list\n", &[]),
        ["t.yaml:1:1: : expected a mapping (`key: value` pairs)"]
    );
}

#[test]
fn several_deserialization_errors_are_reported_at_once() {
    let text = "\
providers:
  - name: a
    kind: opnai
  - name: b
models:
  - name: m
    targets: [{provider: a, model: x, weight: heavy}]
  - name: n
    targets: [{provider: a, model: x}]
    strategy: fastest
server:
  listen: [1]
  listen: 127.0.0.1:1
";
    assert_eq!(
        errors(text, &[]),
        [
            "t.yaml:3:11: providers[0].kind: unknown value, expected one of openai, anthropic, gemini, mistral, ollama, azure_openai, openai_compatible",
            "t.yaml:4:5: providers[1].kind: missing required field `kind`",
            "t.yaml:7:47: models[0].targets[0].weight: expected a non-negative integer",
            "t.yaml:10:15: models[1].strategy: unknown value, expected one of weighted, latency",
            "t.yaml:12:11: server.listen: expected a single value, not a list or mapping",
            "t.yaml:13:3: server.listen: duplicate mapping key `listen` is not allowed here",
        ]
    );
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    assert_eq!(
        errors("server:\n  listen: [127.0.0.1:8080\nstorage: {}\n", &[]),
        ["t.yaml:3:8: server.listen: invalid YAML: illegal placement of ':' indicator"]
    );
    assert_eq!(
        errors("server:\n  listen: a: b\n", &[]),
        ["t.yaml:2:12: server: invalid YAML: mapping values are not allowed in this context"]
    );
    // `{` and `}` are flow indicators: an unquoted `${VAR}` cannot stand in a flow
    // collection, and the error says so.
    assert_eq!(
        errors(
            "models:\n  - {name: m, targets: [{provider: p, model: ${M}}]}\n",
            &[("M", "x")]
        ),
        [
            "t.yaml:2:47: models[0].targets[0]: invalid YAML: while parsing a flow mapping, did not find expected ',' or '}' (inside [ ] or { }, write a `${VAR}` value in quotes: \"${VAR}\")"
        ]
    );
    ok(
        "models:\n  - {name: m, targets: [{provider: p, model: \"${M}\"}]}\nproviders: [{name: p, kind: openai}]\n",
        &[("M", "x")],
    );
}

#[test]
fn positions_count_characters_and_all_line_breaks() {
    assert_eq!(
        errors(
            "alerts:\r\n  - name: \"héllo wörld\"\r\n    webhook: nope\r\n",
            &[]
        ),
        ["t.yaml:3:14: alerts[0].webhook: must be an http:// or https:// URL"]
    );
    assert_eq!(
        errors("alerts: [{name: \"ü\", webhook: x}]\n", &[]),
        ["t.yaml:1:31: alerts[0].webhook: must be an http:// or https:// URL"]
    );
}

#[test]
fn display_is_one_error_per_line() {
    let err = parse("server:\n  listen: x\n  admin_listen: y\n", &[]).unwrap_err();
    assert_eq!(err.0.len(), 2);
    assert_eq!(err.0[0].line, 2);
    assert_eq!(err.0[0].column, 11);
    assert_eq!(err.0[0].path, "server.listen");
    assert_eq!(err.0[0].file, "t.yaml");
    assert_eq!(
        err.to_string(),
        "t.yaml:2:11: server.listen: invalid address: expected IP:PORT, e.g. 127.0.0.1:8080\n\
         t.yaml:3:17: server.admin_listen: invalid address: expected IP:PORT, e.g. 127.0.0.1:8080"
    );
}

#[test]
fn keys_quoted_in_messages_cannot_break_lines() {
    // Values are never quoted; keys are, with control characters escaped.
    assert_eq!(
        errors("server:\n  \"a\\nb\\r\": 1\n  ${X}: 2\n", &[("X", "c\nd")]),
        [
            "t.yaml:2:3: server.a\\nb\\r: unknown field `a\\nb\\r`, expected one of listen, admin_listen, admin_token, max_body_bytes, public_url",
            "t.yaml:3:3: server.c\\nd: unknown field `c\\nd`, expected one of listen, admin_listen, admin_token, max_body_bytes, public_url",
        ]
    );
}

#[test]
fn load_file_reads_missing_empty_and_invalid_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let err = load_file(&missing).unwrap_err();
    assert_eq!(err.0.len(), 1);
    let line = err.to_string();
    let prefix = format!("{}:1:1: : cannot read file: ", missing.display());
    assert!(line.starts_with(&prefix), "{line}");

    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(load_file(&empty).unwrap(), Config::default());

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "server:\n  listen: 127.0.0.1:7000\n").unwrap();
    assert_eq!(
        load_file(&good).unwrap().server.listen,
        "127.0.0.1:7000".parse::<SocketAddr>().unwrap()
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, b"server:\n  admin_token: ab\xff\n").unwrap();
    assert_eq!(
        load_file(&bad).unwrap_err().to_string(),
        format!("{}:2:18: : the file is not valid UTF-8", bad.display())
    );

    let wrong = dir.path().join("wrong.yaml");
    std::fs::write(&wrong, "server:\n  listen: nope\n").unwrap();
    assert_eq!(
        load_file(&wrong).unwrap_err().to_string(),
        format!(
            "{}:2:11: server.listen: invalid address: expected IP:PORT, e.g. 127.0.0.1:8080",
            wrong.display()
        )
    );
}

#[test]
fn checks_are_usable_against_existing_resources() {
    let model = tollgate_core::spec::ModelSpec {
        name: "m".into(),
        targets: vec![TargetSpec {
            provider: "stored".into(),
            model: "x".into(),
            weight: 1,
            timeouts: None,
        }],
        fallbacks: vec!["other".into()],
        strategy: Strategy::Latency,
        timeouts: None,
        retries: None,
        cache: None,
        max_output_tokens: None,
        price: None,
        rate_limit: None,
        log_bodies: false,
    };
    assert!(check_model(&model, &|p| p == "stored", &|m| m == "other").is_empty());
    let issues = check_model(&model, &|_| false, &|_| false);
    let found: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| (i.path.as_str(), i.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("targets[0].provider", "names no declared provider"),
            ("fallbacks[0]", "names no declared model"),
        ]
    );

    let consumer = tollgate_core::spec::ConsumerSpec {
        name: "c".into(),
        team: None,
        api_keys: vec![],
        models: None,
        rate_limit: None,
        budget: Some(BudgetSpec {
            usd: None,
            tokens: Some(5_000_000),
            period: Period::Total,
        }),
        credits_usd: Some(0.0),
        log_bodies: false,
    };
    assert!(check_consumer(&consumer, &|_| false, &|_| false).is_empty());
}

#[test]
fn large_files_report_every_bad_resource() {
    let mut text = String::from("teams: [{name: t}]\nconsumers:\n");
    for i in 0..3000 {
        if i % 2 == 0 {
            text.push_str(&format!(
                "  - name: c{i}\n    team: t\n    api_keys: [\"key-{i}\"]\n    credits_usd: lots\n"
            ));
        } else {
            text.push_str(&format!(
                "  - name: c{i}\n    rate_limit: {{concurrent: 5}}\n"
            ));
        }
    }
    let errs = errors(&text, &[]);
    assert_eq!(errs.len(), 1500);
    assert_eq!(
        errs[1],
        "t.yaml:12:18: consumers[2].credits_usd: expected a number"
    );
}

#[test]
fn anchors_and_merge_keys() {
    let text = "\
providers:
  - &base {name: a, kind: openai, api_keys: [\"${KEY}\"]}
  - <<: *base
    name: b
models:
  - name: m
    targets: &targets [{provider: a, model: x}]
  - name: n
    targets: *targets
";
    let c = ok(text, &[("KEY", "k-1")]);
    assert_eq!(c.providers[1].name, "b");
    assert_eq!(c.providers[1].api_keys, ["k-1"]);
    assert_eq!(c.models[1].targets, c.models[0].targets);

    // With aliases only the first deserialization error can be reported.
    let text = "\
providers:
  - &base {name: a, kind: openai}
  - <<: *base
    name: b
    kind: nope
  - {name: c, kind: nope2}
";
    assert_eq!(
        errors(text, &[]),
        [
            "t.yaml:5:11: providers[1].kind: unknown value, expected one of openai, anthropic, gemini, mistral, ollama, azure_openai, openai_compatible"
        ]
    );

    // A semantic error in an aliased node points at the alias.
    let text = "\
providers: [{name: a, kind: openai}]
models:
  - name: m
    targets: &t [{provider: ghost, model: x}]
  - name: n
    targets: *t
";
    assert_eq!(
        errors(text, &[]),
        [
            "t.yaml:4:29: models[0].targets[0].provider: names no declared provider",
            "t.yaml:6:14: models[1].targets[0].provider: names no declared provider",
        ]
    );
}

#[test]
fn keys_are_interpolated_too() {
    let c = ok(
        "server:\n  ${FIELD}: 127.0.0.1:7001\n",
        &[("FIELD", "listen")],
    );
    assert_eq!(
        c.server.listen,
        "127.0.0.1:7001".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        errors("server:\n  ${FIELD}: 1\n", &[("FIELD", "a: b")]),
        [
            "t.yaml:2:3: server.a: b: unknown field `a: b`, expected one of listen, admin_listen, admin_token, max_body_bytes, public_url"
        ]
    );
}

#[test]
fn redis_failure_policy_and_prefix() {
    let env = |_: &str| None;
    let c = tollgate_config::parse_str(
        "storage:\n  redis: redis://127.0.0.1:6379\n  redis_failure_policy: closed\n  redis_prefix: \"a:\"\n",
        "t.yaml",
        &env,
    )
    .unwrap();
    assert!(!c.storage.redis_fail_open);
    assert_eq!(c.storage.redis_prefix, "a:");
    let err = tollgate_config::parse_str(
        "storage:\n  redis_failure_policy: sometimes\n",
        "t.yaml",
        &env,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("t.yaml:2:"), "{text}");
    assert!(text.contains("storage.redis_failure_policy"), "{text}");
}

#[test]
fn log_bodies_on_models_and_consumers_and_its_cap() {
    let text = "storage:\n  log_bodies_max_bytes: 4096\nproviders:\n  - {name: p, kind: openai}\nmodels:\n  - name: m\n    targets: [{provider: p, model: x}]\n    log_bodies: true\n  - name: n\n    targets: [{provider: p, model: x}]\nconsumers:\n  - name: c\n    log_bodies: true\n  - name: d\n";
    let c = ok(text, &[]);
    assert_eq!(c.storage.log_bodies_max_bytes, 4096);
    let flags: Vec<bool> = c.models.iter().map(|m| m.log_bodies).collect();
    assert_eq!(flags, [true, false]);
    let flags: Vec<bool> = c.consumers.iter().map(|c| c.log_bodies).collect();
    assert_eq!(flags, [true, false]);
    // Off by default, and left out of the stored shape when off.
    assert_eq!(
        ok("", &[]).storage.log_bodies_max_bytes,
        StorageConfig::DEFAULT_LOG_BODIES_MAX_BYTES
    );
    let shape = serde_json::to_value(&c.models[1]).unwrap();
    assert!(shape.get("log_bodies").is_none(), "{shape}");

    assert_eq!(
        errors(
            "storage:\n  log_bodies_max_bytes: 0\nconsumers:\n  - name: c\n    log_bodies: yes please\n",
            &[]
        ),
        [
            "t.yaml:2:25: storage.log_bodies_max_bytes: must be from 1 to 16777216 (bytes kept of each logged body)",
            "t.yaml:5:17: consumers[0].log_bodies: expected true or false",
        ]
    );
}

#[test]
fn public_url_is_an_http_url() {
    let env = |_: &str| None;
    let c = tollgate_config::parse_str(
        "server:\n  public_url: https://api.example.com/gw\n",
        "t.yaml",
        &env,
    )
    .unwrap();
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("https://api.example.com/gw")
    );
    for bad in ["api.example.com", "https://", "http://x/?a=b"] {
        let err = tollgate_config::parse_str(
            &format!("server:\n  public_url: \"{bad}\"\n"),
            "t.yaml",
            &env,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("server.public_url"), "{bad}: {text}");
    }
}
