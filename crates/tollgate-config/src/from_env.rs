//! Providers from the environment, for `tollgate serve` without a config file.
//!
//! A developer trying Tollgate usually has their vendor keys in the environment
//! already (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, ...): on embedded defaults each
//! one present becomes a provider with a model or two under the vendor's own model
//! names, so that the first request works without writing any YAML. The environment
//! then plays the config file's part: what it declares is applied at every start
//! (source `config`), and a variable that is unset is simply not offered.
//!
//! Base URL overrides follow the vendors' SDKs: `OPENAI_BASE_URL` and
//! `ANTHROPIC_BASE_URL` exist there (and point the providers at a proxy or a test
//! double); `OLLAMA_HOST` is Ollama's own address variable.

use tollgate_core::spec::{ModelSpec, Price, ProviderKind, ProviderSpec, TargetSpec};

use crate::check::{check_model, check_provider};

/// One vendor the environment can name.
struct Vendor {
    /// The provider's name (also shown at start).
    name: &'static str,
    kind: ProviderKind,
    /// The variable holding the API key (`None`: keyless, Ollama).
    key_var: Option<&'static str>,
    /// The variable holding the base URL, when the vendor's SDK reads one.
    base_var: Option<&'static str>,
    /// (model name, input and output USD per million tokens): the vendor's list prices.
    models: &'static [(&'static str, f64, f64)],
}

const VENDORS: &[Vendor] = &[
    Vendor {
        name: "openai",
        kind: ProviderKind::Openai,
        key_var: Some("OPENAI_API_KEY"),
        base_var: Some("OPENAI_BASE_URL"),
        models: &[("gpt-4o-mini", 0.15, 0.60), ("gpt-4o", 2.50, 10.00)],
    },
    Vendor {
        name: "anthropic",
        kind: ProviderKind::Anthropic,
        key_var: Some("ANTHROPIC_API_KEY"),
        base_var: Some("ANTHROPIC_BASE_URL"),
        models: &[
            ("claude-3-5-haiku-latest", 0.80, 4.00),
            ("claude-sonnet-4-0", 3.00, 15.00),
        ],
    },
    Vendor {
        name: "gemini",
        kind: ProviderKind::Gemini,
        key_var: Some("GEMINI_API_KEY"),
        base_var: None,
        models: &[
            ("gemini-2.0-flash", 0.10, 0.40),
            ("gemini-2.5-flash", 0.30, 2.50),
        ],
    },
    Vendor {
        name: "mistral",
        kind: ProviderKind::Mistral,
        key_var: Some("MISTRAL_API_KEY"),
        base_var: None,
        models: &[
            ("mistral-small-latest", 0.10, 0.30),
            ("mistral-large-latest", 2.00, 6.00),
        ],
    },
    Vendor {
        name: "ollama",
        kind: ProviderKind::Ollama,
        key_var: None,
        base_var: Some("OLLAMA_HOST"),
        models: &[("llama3.2", 0.0, 0.0)],
    },
];

/// What the environment offers: providers and their models, ready to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvProviders {
    pub providers: Vec<ProviderSpec>,
    pub models: Vec<ModelSpec>,
    /// A variable that was set but unusable, with why (e.g. a base URL that is not
    /// http(s)); the vendor is then left out rather than half-configured.
    pub skipped: Vec<String>,
}

/// Reads the vendors' variables through `var` (the process environment in
/// production; a map in tests). An empty or blank value counts as unset.
pub fn providers_from_env(var: impl Fn(&str) -> Option<String>) -> EnvProviders {
    let get = |name: &str| {
        var(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut out = EnvProviders::default();
    for v in VENDORS {
        let key = v.key_var.and_then(&get);
        let base = v.base_var.and_then(&get);
        // Ollama needs no key: its address is what says it is there.
        let wanted = if v.key_var.is_some() {
            key.is_some()
        } else {
            base.is_some()
        };
        if !wanted {
            continue;
        }
        let base_url = match (v.kind, base) {
            (ProviderKind::Ollama, Some(host)) => Some(ollama_url(&host)),
            (_, b) => b,
        };
        let provider = ProviderSpec {
            name: v.name.to_string(),
            kind: v.kind,
            base_url,
            api_keys: key.into_iter().collect(),
            api_version: None,
        };
        let bad = check_provider(&provider);
        if let Some(issue) = bad.first() {
            let var = if issue.path.starts_with("base_url") {
                v.base_var
            } else {
                v.key_var
            };
            out.skipped.push(format!(
                "{}: {}: {}",
                v.name,
                var.unwrap_or(v.name),
                issue.message
            ));
            continue;
        }
        for (model, input, output) in v.models {
            let spec = ModelSpec {
                name: (*model).to_string(),
                targets: vec![TargetSpec {
                    provider: v.name.to_string(),
                    model: (*model).to_string(),
                    weight: 1,
                    timeouts: None,
                }],
                fallbacks: Vec::new(),
                strategy: Default::default(),
                timeouts: None,
                retries: None,
                cache: None,
                max_output_tokens: None,
                price: Some(Price {
                    input_per_mtok: *input,
                    output_per_mtok: *output,
                    cache_read_per_mtok: None,
                    cache_write_per_mtok: None,
                }),
                rate_limit: None,
                log_bodies: false,
            };
            debug_assert!(check_model(&spec, &|p| p == v.name, &|_| false).is_empty());
            out.models.push(spec);
        }
        out.providers.push(provider);
    }
    out
}

/// `OLLAMA_HOST` as Ollama's clients read it: `host`, `host:port` or a URL; no
/// scheme means `http`, no port means 11434, and the bind-all address `0.0.0.0`
/// means this machine.
fn ollama_url(host: &str) -> String {
    let (scheme, rest) = match host.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("http".to_string(), host),
    };
    let rest = rest.trim_end_matches('/');
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let has_port = if authority.starts_with('[') {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    let authority = if has_port {
        authority.to_string()
    } else {
        let default = if scheme == "https" { 443 } else { 11434 };
        format!("{authority}:{default}")
    };
    let authority = authority.replacen("0.0.0.0:", "127.0.0.1:", 1);
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn nothing_set_offers_nothing() {
        assert_eq!(providers_from_env(env(&[])), EnvProviders::default());
        // Blank counts as unset.
        let e = providers_from_env(env(&[("OPENAI_API_KEY", "  "), ("OLLAMA_HOST", "")]));
        assert!(e.providers.is_empty() && e.models.is_empty());
    }

    #[test]
    fn each_variable_offers_its_vendor_with_models() {
        let e = providers_from_env(env(&[
            ("OPENAI_API_KEY", "sk-1"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("GEMINI_API_KEY", "g"),
            ("MISTRAL_API_KEY", "m"),
            ("OLLAMA_HOST", "127.0.0.1:11434"),
        ]));
        let names: Vec<&str> = e.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["openai", "anthropic", "gemini", "mistral", "ollama"]
        );
        assert_eq!(e.providers[0].api_keys, ["sk-1"]);
        assert_eq!(e.providers[0].base_url, None);
        assert!(e.providers[4].api_keys.is_empty());
        assert!(e.models.iter().any(|m| m.name == "gpt-4o-mini"));
        assert!(e.models.iter().any(|m| m.name == "claude-3-5-haiku-latest"));
        for m in &e.models {
            assert!(
                e.providers.iter().any(|p| p.name == m.targets[0].provider),
                "{} has no provider",
                m.name
            );
        }
    }

    #[test]
    fn sdk_base_urls_are_honoured() {
        let e = providers_from_env(env(&[
            ("OPENAI_API_KEY", "sk-1"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
            ("ANTHROPIC_API_KEY", "a"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
        ]));
        assert_eq!(
            e.providers[0].base_url.as_deref(),
            Some("http://127.0.0.1:9/v1")
        );
        assert_eq!(
            e.providers[1].base_url.as_deref(),
            Some("http://127.0.0.1:9")
        );
    }

    #[test]
    fn a_bad_base_url_leaves_its_vendor_out_and_says_why() {
        let e = providers_from_env(env(&[
            ("OPENAI_API_KEY", "sk-1"),
            ("OPENAI_BASE_URL", "not a url"),
            ("MISTRAL_API_KEY", "m"),
        ]));
        assert_eq!(e.providers.len(), 1);
        assert_eq!(e.providers[0].name, "mistral");
        assert_eq!(e.skipped.len(), 1);
        assert!(
            e.skipped[0].starts_with("openai: OPENAI_BASE_URL"),
            "{:?}",
            e.skipped
        );
        assert!(!e.models.iter().any(|m| m.name.starts_with("gpt")));
    }

    #[test]
    fn ollama_host_forms() {
        assert_eq!(ollama_url("127.0.0.1"), "http://127.0.0.1:11434");
        assert_eq!(ollama_url("0.0.0.0"), "http://127.0.0.1:11434");
        assert_eq!(ollama_url("0.0.0.0:9999"), "http://127.0.0.1:9999");
        assert_eq!(ollama_url("http://gpu-box:8000/"), "http://gpu-box:8000");
        assert_eq!(
            ollama_url("https://ollama.example.com"),
            "https://ollama.example.com:443"
        );
        assert_eq!(ollama_url("[::1]"), "http://[::1]:11434");
        assert_eq!(ollama_url("[::1]:5"), "http://[::1]:5");
    }
}
