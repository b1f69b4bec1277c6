//! The `log` and `telemetry` keys (docs/monitoring.md).

#![allow(clippy::unwrap_used)]

use tollgate_config::{ConfigErrors, LogConfig, TelemetryConfig, parse_str};

fn parse(text: &str) -> Result<tollgate_config::Config, ConfigErrors> {
    parse_str(text, "t.yaml", &|_| None)
}

fn errors(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn defaults_are_text_at_info_without_export() {
    let c = parse("server:\n  listen: 127.0.0.1:0\n").unwrap();
    assert_eq!(c.log, LogConfig::default());
    assert!(!c.log.json);
    assert_eq!(c.log.level, "info");
    assert_eq!(c.telemetry, TelemetryConfig::default());
    assert_eq!(c.telemetry.service_name, "tollgate");
    assert_eq!(c.telemetry.otlp_endpoint, None);
}

#[test]
fn log_and_telemetry_are_read() {
    let c = parse(
        "log:\n  format: json\n  level: \"warn,tollgate::access=info\"\ntelemetry:\n  otlp_endpoint: http://127.0.0.1:4318\n  service_name: gw-eu\n",
    )
    .unwrap();
    assert!(c.log.json);
    assert_eq!(c.log.level, "warn,tollgate::access=info");
    assert_eq!(
        c.telemetry.otlp_endpoint.as_deref(),
        Some("http://127.0.0.1:4318")
    );
    assert_eq!(c.telemetry.service_name, "gw-eu");
}

#[test]
fn bad_values_are_reported_at_their_position() {
    let errs = errors(
        "log:\n  format: yaml\n  level: loud\ntelemetry:\n  otlp_endpoint: collector:4318\n  service_name: \"\"\n",
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(
        errs[0].starts_with("t.yaml:2:11: log.format: expected `text` or `json`"),
        "{errs:#?}"
    );
    assert!(
        errs[1].starts_with("t.yaml:3:10: log.level: expected a level"),
        "{errs:#?}"
    );
    assert!(
        errs[2].starts_with("t.yaml:5:18: telemetry.otlp_endpoint: must be an http://"),
        "{errs:#?}"
    );
    assert!(
        errs[3].starts_with("t.yaml:6:17: telemetry.service_name: must not be empty"),
        "{errs:#?}"
    );
}

#[test]
fn unknown_keys_and_types_are_errors_too() {
    let errs = errors("log:\n  formats: json\ntelemetry:\n  service_name: [a]\n");
    assert!(
        errs.iter().any(|e| e.starts_with(
            "t.yaml:2:3: log.formats: unknown field `formats`, expected one of format, level"
        )),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("t.yaml:4:17: telemetry.service_name:")),
        "{errs:#?}"
    );
}
