//! The tools: one per route of each published or deprecated service that takes
//! consumer keys, and one per published or deprecated prompt-API. Built once per
//! configuration snapshot (with their schemas), then filtered per caller: a tool is
//! the caller's when the same gate that guards its HTTP path lets the caller through
//! ([`crate::auth::may_access`]: no subscription needed, or an approved one), and,
//! for a prompt-API, when the caller's key and consumer may use its model.
//!
//! Names are `service__route` and `prompt__name`, in MCP's tool-name alphabet
//! (`A-Z a-z 0-9 _ - .`, at most 128 characters): any other character becomes `_`,
//! and a name that comes out the same as an earlier one gets `_2`, `_3`, ...

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use http::Method;
use rmcp::model::Tool;
use serde_json::{Map, Value};
use tollgate_core::snapshot::{Caller, Snapshot};
use tollgate_core::spec::{CredentialType, ServiceLifecycle, ServiceRoute, ServiceSpec};

use super::schema::{self, RouteArgs};

/// Longest tool name MCP allows.
const MAX_NAME: usize = 128;

/// Every tool of one snapshot.
#[derive(Debug, Default)]
pub struct Catalogue {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

/// One tool and what calling it does.
#[derive(Debug)]
pub struct Entry {
    pub tool: Tool,
    pub target: Target,
    /// The service or prompt-API name its subscriptions are to.
    gate: String,
    takes_subscriptions: bool,
    /// A prompt-API's model: the caller must be allowed it.
    model: Option<String>,
    /// Compiled on first call; `Err` keeps a schema the validator cannot compile.
    validator: OnceLock<Result<jsonschema::Validator, String>>,
    /// A digest of the tool as listed (name, description, schema), set by `push`.
    digest: u64,
}

/// What a tool call becomes.
#[derive(Debug, Clone)]
pub enum Target {
    Route {
        /// The gateway path of the route, `{param}`s still in it.
        path: String,
        method: Method,
        args: RouteArgs,
    },
    Prompt {
        /// The prompt-API's path on the gateway listener.
        path: String,
    },
}

impl Catalogue {
    pub fn build(snapshot: &Snapshot) -> Catalogue {
        let mut c = Catalogue::default();
        let mut services: Vec<&Arc<ServiceSpec>> = snapshot
            .services
            .values()
            .filter(|s| offered(s.lifecycle))
            .filter(|s| {
                s.auth
                    .as_ref()
                    .is_none_or(|a| a.contains(&CredentialType::Key))
            })
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        for spec in services {
            for route in &spec.routes {
                let method = route_method(route);
                let (input, args) = schema::route_schema(route, &method);
                let name = c.unique_name(&format!("{}__{}", spec.name, route.name));
                let tool = Tool::new(name, route_description(spec, route, &method), input);
                c.push(Entry {
                    tool,
                    target: Target::Route {
                        path: format!("{}{}", spec.path_prefix, route.path),
                        method,
                        args,
                    },
                    gate: spec.name.clone(),
                    takes_subscriptions: spec.subscription.is_some(),
                    model: None,
                    validator: OnceLock::new(),
                    digest: 0,
                });
            }
        }
        let mut prompts: Vec<_> = snapshot
            .prompt_apis
            .values()
            .filter(|p| offered(p.spec.lifecycle) && p.template.is_ok())
            .collect();
        prompts.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        for api in prompts {
            let spec = &api.spec;
            let name = c.unique_name(&format!("prompt__{}", spec.name));
            let mut description = spec.description.clone().unwrap_or_else(|| {
                format!(
                    "Prompt-API `{}`: answers with model `{}`.",
                    spec.name, spec.model
                )
            });
            if spec.lifecycle == ServiceLifecycle::Deprecated {
                description.push_str("\n\nDeprecated.");
            }
            let tool = Tool::new(name, description, schema::prompt_schema(spec));
            c.push(Entry {
                tool,
                target: Target::Prompt {
                    path: spec.path.clone(),
                },
                gate: spec.name.clone(),
                takes_subscriptions: spec.subscription.is_some(),
                model: Some(spec.model.clone()),
                validator: OnceLock::new(),
                digest: 0,
            });
        }
        c
    }

    fn push(&mut self, mut e: Entry) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        e.tool.name.hash(&mut h);
        e.tool.description.hash(&mut h);
        serde_json::to_string(&*e.tool.input_schema)
            .unwrap_or_default()
            .hash(&mut h);
        e.digest = h.finish();
        self.by_name
            .insert(e.tool.name.to_string(), self.entries.len());
        self.entries.push(e);
    }

    /// `raw` in the tool-name alphabet, made unique among the names so far.
    fn unique_name(&self, raw: &str) -> String {
        let clean: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base: String = clean.chars().take(MAX_NAME).collect();
        if !self.by_name.contains_key(&base) {
            return base;
        }
        (2..)
            .map(|n| {
                let suffix = format!("_{n}");
                let keep = MAX_NAME - suffix.len();
                format!("{}{suffix}", &base[..base.len().min(keep)])
            })
            .find(|n| !self.by_name.contains_key(n))
            .unwrap_or(base)
    }

    /// The caller's tools, in catalogue order.
    pub fn visible<'a>(
        &'a self,
        snapshot: &'a Snapshot,
        caller: &'a Caller,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(|e| e.allows(snapshot, caller))
    }

    /// The caller's tool `name`.
    pub fn find(&self, snapshot: &Snapshot, caller: &Caller, name: &str) -> Option<&Entry> {
        let e = self.entries.get(*self.by_name.get(name)?)?;
        e.allows(snapshot, caller).then_some(e)
    }

    /// A digest of the caller's tools: it changes when their list does.
    pub fn fingerprint(&self, snapshot: &Snapshot, caller: &Caller) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for e in self.visible(snapshot, caller) {
            e.digest.hash(&mut h);
        }
        h.finish()
    }
}

impl Entry {
    fn allows(&self, snapshot: &Snapshot, caller: &Caller) -> bool {
        crate::auth::may_access(snapshot, caller, &self.gate, self.takes_subscriptions)
            && self.model.as_ref().is_none_or(|m| caller.may_use(m))
    }

    /// The argument errors against the tool's schema (at most `max`), empty when
    /// they fit. A schema the validator cannot compile checks only `required`.
    pub fn check(&self, args: &Value, max: usize) -> Vec<String> {
        let compiled = self.validator.get_or_init(|| {
            jsonschema::draft202012::new(&Value::Object((*self.tool.input_schema).clone()))
                .map_err(|e| e.to_string())
        });
        match compiled {
            Ok(v) => v
                .iter_errors(args)
                .take(max)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    let what = e.masked().to_string();
                    if at.is_empty() {
                        what
                    } else {
                        format!("{at}: {what}")
                    }
                })
                .collect(),
            Err(_) => missing_required(&self.tool.input_schema, args),
        }
    }
}

fn missing_required(schema: &Map<String, Value>, args: &Value) -> Vec<String> {
    let Some(required) = schema.get("required").and_then(Value::as_array) else {
        return Vec::new();
    };
    required
        .iter()
        .filter_map(Value::as_str)
        .filter(|k| args.get(*k).is_none())
        .map(|k| format!("`{k}` is a required property"))
        .collect()
}

fn offered(l: ServiceLifecycle) -> bool {
    matches!(
        l,
        ServiceLifecycle::Published | ServiceLifecycle::Deprecated
    )
}

/// The method a route's tool calls with: its first, or for a route taking any
/// method, POST when its docs describe a body and GET otherwise.
fn route_method(route: &ServiceRoute) -> Method {
    if let Some(m) = route.methods.first() {
        return Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET);
    }
    let has_body = route
        .docs
        .as_ref()
        .is_some_and(|d| d.request_body.is_some());
    if has_body { Method::POST } else { Method::GET }
}

fn route_description(spec: &ServiceSpec, route: &ServiceRoute, method: &Method) -> String {
    let mut parts = Vec::new();
    if let Some(d) = &route.docs {
        parts.extend(d.summary.clone());
        parts.extend(d.description.clone());
    }
    if parts.is_empty()
        && let Some(d) = &spec.description
    {
        parts.push(d.clone());
    }
    parts.push(format!(
        "Calls `{method} {}{}` of the service `{}`.",
        spec.path_prefix, route.path, spec.name
    ));
    if spec.lifecycle == ServiceLifecycle::Deprecated {
        parts.push("Deprecated.".to_string());
    }
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_bounded_and_unique() {
        let mut c = Catalogue::default();
        let tool = |n: String| Entry {
            tool: Tool::new(n, "d", Map::new()),
            target: Target::Prompt { path: "/p".into() },
            gate: "g".into(),
            takes_subscriptions: false,
            model: None,
            validator: OnceLock::new(),
            digest: 0,
        };
        let a = c.unique_name("svc__get report/é");
        assert_eq!(a, "svc__get_report__");
        c.push(tool(a));
        let b = c.unique_name("svc__get.report?é");
        assert_eq!(b, "svc__get.report__");
        let dup = c.unique_name("svc__get report!é");
        assert_eq!(dup, "svc__get_report___2");
        c.push(tool(dup.clone()));
        assert_eq!(c.unique_name("svc__get report/é"), "svc__get_report___3");
        let long = c.unique_name(&"x".repeat(300));
        assert_eq!(long.len(), MAX_NAME);
        c.push(tool(long.clone()));
        let long2 = c.unique_name(&"x".repeat(300));
        assert_eq!(long2.len(), MAX_NAME);
        assert!(long2.ends_with("_2"));
    }

    #[test]
    fn arguments_are_checked_against_the_schema() {
        let schema = schema::prompt_schema(
            &serde_json::from_value(serde_json::json!({
                "name": "p", "path": "/prompt/p", "model": "m", "max_tokens": 5,
                "messages": [{"role": "user", "content": "{{text}}"}],
                "variables": [{"name": "text", "required": true}],
            }))
            .unwrap(),
        );
        let e = Entry {
            tool: Tool::new("prompt__p", "d", schema),
            target: Target::Prompt { path: "/p".into() },
            gate: "p".into(),
            takes_subscriptions: false,
            model: None,
            validator: OnceLock::new(),
            digest: 0,
        };
        assert!(e.check(&serde_json::json!({"text": "hi"}), 5).is_empty());
        assert_eq!(e.check(&serde_json::json!({}), 5).len(), 1);
        let errs = e.check(&serde_json::json!({"text": 5, "other": 1}), 5);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().any(|m| m.starts_with("/text")), "{errs:?}");
    }
}
