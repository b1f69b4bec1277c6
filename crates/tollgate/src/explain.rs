//! `tollgate explain REQUEST_ID [--config FILE] [--json]`: why a request got the answer
//! it got, from its call record's steps — the same document as the admin API's
//! `GET /admin/v1/calls/{request_id}/explain`, or a readable trail on a terminal.
//!
//! Reads the database the config names (or the embedded default), so it works on a
//! stopped gateway and on any node sharing the database. A record reaches the database
//! shortly after its request ends (the journal writes in batches).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;
use tollgate_config::Config;
use tollgate_store::{SecretCipher, Store};

use crate::serve::sqlite_file;

/// What `explain` found.
pub enum Found {
    /// The document, rendered as asked.
    Explained(String),
    /// No record with this id (yet).
    Unknown,
}

pub async fn run(
    config_path: Option<PathBuf>,
    request_id: &str,
    json: bool,
) -> anyhow::Result<Found> {
    let config = match &config_path {
        Some(p) => {
            tollgate_config::load_file(p).map_err(|e| anyhow::anyhow!("invalid config:\n{e}"))?
        }
        None => Config::default(),
    };
    let database = &config.storage.database;
    // A read: never create a database (or its directory) where there is none.
    if let Some(file) = sqlite_file(database)
        && !file.exists()
    {
        anyhow::bail!(
            "no database at {} (run where the gateway runs, or pass its --config)",
            file.display()
        );
    }
    // Call records are not encrypted: a throwaway key, so that no master key file is
    // created or needed to read them.
    let cipher = SecretCipher::new(rand::random());
    let store = Store::connect(database, cipher)
        .await
        .context("opening the database")?;
    let record = store
        .get_call(request_id)
        .await
        .context("reading the call record")?;
    store.close().await;
    let Some(record) = record else {
        return Ok(Found::Unknown);
    };
    let doc = tollgate_store::explain_document(&record);
    Ok(Found::Explained(if json {
        serde_json::to_string_pretty(&doc)?
    } else {
        render(&doc)
    }))
}

/// The trail for a terminal: a headline, then one line per step with its outcome, its
/// scope, what was configured and what the gateway saw when it decided.
pub fn render(doc: &Value) -> String {
    let mut out = String::new();
    let status = doc["status"].as_u64().unwrap_or(0);
    let _ = write!(
        out,
        "request {}  {}",
        doc["request_id"].as_str().unwrap_or("?"),
        status
    );
    if let Some(code) = doc["error_code"].as_str() {
        let _ = write!(out, " {code}");
    }
    out.push('\n');
    let empty = Vec::new();
    for (i, step) in doc["steps"].as_array().unwrap_or(&empty).iter().enumerate() {
        let kind = step["step"].as_str().unwrap_or("?");
        let outcome = step["outcome"].as_str().unwrap_or("");
        let _ = write!(out, "{:>3}. {kind:<8} {outcome:<9}", i + 1);
        if let Some(scope) = step["scope"].as_str() {
            let _ = write!(out, " {scope}");
        }
        let Some(fields) = step.as_object() else {
            out.push('\n');
            continue;
        };
        let mut rest = Vec::new();
        for (k, v) in fields {
            if matches!(k.as_str(), "step" | "outcome" | "scope") || v.is_null() {
                continue;
            }
            let mut pairs = Vec::new();
            flatten("", v, &mut pairs);
            if pairs.is_empty() {
                continue;
            }
            let label = match k.as_str() {
                "value" => "at decision",
                other => other,
            };
            if pairs.len() == 1 && pairs[0].0.is_empty() {
                rest.push(format!("{label}: {}", pairs[0].1));
            } else {
                let inner: Vec<String> = pairs.iter().map(|(p, v)| format!("{p}={v}")).collect();
                rest.push(format!("{label}: {}", inner.join(" ")));
            }
        }
        if !rest.is_empty() {
            let _ = write!(out, "  {}", rest.join("; "));
        }
        out.push('\n');
    }
    out
}

/// `{"a": {"b": 1}, "c": null}` as `[("a.b", "1")]`: nulls left out, arrays as lists.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Null => {}
        Value::Object(map) => {
            for (k, inner) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, inner, out);
            }
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(scalar).collect();
            out.push((prefix.to_string(), format!("[{}]", parts.join(", "))));
        }
        other => out.push((prefix.to_string(), scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refused_budget_reads_as_one_line_with_scope_configured_and_seen() {
        let doc = json!({
            "request_id": "r1", "status": 402, "error_code": "budget_exceeded",
            "steps": [
                {"step": "auth", "outcome": "pass", "key_id": "k1", "consumer": "a"},
                {"step": "budget", "outcome": "refused", "scope": "consumer:a",
                 "configured": {"usd": 1.0},
                 "value": {"used": 0.99, "reserved": 0.0, "requested": 0.05, "balance_usd": null}},
                {"step": "settle", "outcome": "released", "reserved_usd": 0.0, "charged_usd": 0.0},
            ]
        });
        let text = render(&doc);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "request r1  402 budget_exceeded");
        assert!(
            lines[1].contains("auth") && lines[1].contains("key_id: k1"),
            "{text}"
        );
        assert!(
            lines[2].contains("budget   refused   consumer:a")
                && lines[2].contains("configured: usd=1.0")
                && lines[2].contains("at decision: used=0.99 reserved=0.0 requested=0.05"),
            "{text}"
        );
        assert!(
            !lines[2].contains("balance_usd"),
            "nulls are left out: {text}"
        );
        assert!(lines[3].contains("charged_usd: 0.0"), "{text}");
    }
}
