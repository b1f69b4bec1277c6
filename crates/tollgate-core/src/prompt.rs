//! A prompt-API's message templates: compiled once per snapshot, rendered per call.
//!
//! Templates are minijinja in a restricted mode: no loader (a template cannot read a
//! file or include another template), no HTML escaping, strict undefined (a name that
//! is not a variable is an error, never an empty string), and a fuel budget with the
//! default recursion limit, so that a template's loops cannot run away. Every variable
//! reaches the template as a string: a non-string value the caller sends is rendered
//! as its JSON text.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::spec::{PromptApiSpec, PromptRole};

/// Instructions one render may run (about 64 bytes each of memory as well).
const FUEL: u64 = 200_000;
/// The longest rendered message.
pub const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;

/// A problem in a prompt-API's templates, for `tollgate check` and the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateIssue {
    /// Relative to the prompt-API: `messages[1].content`.
    pub path: String,
    pub message: String,
}

/// Why a call's variables could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("Missing required variable `{0}`")]
    Missing(String),
    #[error("Unknown variable `{0}`: this prompt-API takes {1}")]
    Unknown(String, String),
    #[error("The prompt template could not be rendered: {0}")]
    Template(String),
}

/// A prompt-API's templates, compiled.
pub struct PromptTemplate {
    env: Environment<'static>,
    roles: Vec<PromptRole>,
    /// Declared variables: name, required, default.
    variables: Vec<(String, bool, Option<String>)>,
}

impl std::fmt::Debug for PromptTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptTemplate")
            .field("roles", &self.roles)
            .field("variables", &self.variables)
            .finish_non_exhaustive()
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_fuel(Some(FUEL));
    // A message's text is kept as written, trailing newline included.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

impl PromptTemplate {
    /// Compiles every message; each syntax error, and each name a template uses that
    /// is neither a declared variable nor a template global, is an issue.
    pub fn compile(spec: &PromptApiSpec) -> Result<PromptTemplate, Vec<TemplateIssue>> {
        let mut env = environment();
        let mut issues = Vec::new();
        for (i, m) in spec.messages.iter().enumerate() {
            if let Err(e) = env.add_template_owned(i.to_string(), m.content.clone()) {
                issues.push(TemplateIssue {
                    path: format!("messages[{i}].content"),
                    message: format!("template error: {}", describe(&e)),
                });
            }
        }
        let globals: Vec<String> = env.globals().map(|(n, _)| n.to_string()).collect();
        for i in 0..spec.messages.len() {
            let Ok(t) = env.get_template(&i.to_string()) else {
                continue;
            };
            let mut used: Vec<String> = t.undeclared_variables(false).into_iter().collect();
            used.sort();
            for name in used {
                if !spec.variables.iter().any(|v| v.name == name) && !globals.contains(&name) {
                    issues.push(TemplateIssue {
                        path: format!("messages[{i}].content"),
                        message: format!("uses `{name}`, which is not in `variables`"),
                    });
                }
            }
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(PromptTemplate {
            env,
            roles: spec.messages.iter().map(|m| m.role).collect(),
            variables: spec
                .variables
                .iter()
                .map(|v| (v.name.clone(), v.required, v.default.clone()))
                .collect(),
        })
    }

    /// The messages for a call's `variables`: a declared variable the call does not
    /// give takes its default (or is empty); a required one without a value, or a
    /// name that is not declared, is an error naming it.
    pub fn render(
        &self,
        given: &Map<String, Value>,
    ) -> Result<Vec<(PromptRole, String)>, RenderError> {
        for name in given.keys() {
            if !self.variables.iter().any(|(n, _, _)| n == name) {
                let known: Vec<String> = self
                    .variables
                    .iter()
                    .map(|(n, _, _)| format!("`{n}`"))
                    .collect();
                let known = if known.is_empty() {
                    "no variables".to_string()
                } else {
                    known.join(", ")
                };
                return Err(RenderError::Unknown(name.clone(), known));
            }
        }
        let mut ctx: BTreeMap<String, String> = BTreeMap::new();
        for (name, required, default) in &self.variables {
            let value = match given.get(name) {
                // `null` counts as not given.
                Some(Value::Null) | None => match default {
                    Some(d) => d.clone(),
                    None if *required => return Err(RenderError::Missing(name.clone())),
                    None => String::new(),
                },
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            ctx.insert(name.clone(), value);
        }
        let ctx = minijinja::Value::from(ctx);
        let mut out = Vec::with_capacity(self.roles.len());
        for (i, role) in self.roles.iter().enumerate() {
            let t = self
                .env
                .get_template(&i.to_string())
                .map_err(|e| RenderError::Template(describe(&e)))?;
            let text = t
                .render(ctx.clone())
                .map_err(|e| RenderError::Template(describe(&e)))?;
            if text.len() > MAX_RENDERED_BYTES {
                return Err(RenderError::Template(format!(
                    "message {i} is longer than {MAX_RENDERED_BYTES} bytes"
                )));
            }
            out.push((*role, text));
        }
        Ok(out)
    }
}

/// An error's kind and detail, with its line when known (not the template's name,
/// which is only the message's index).
fn describe(e: &minijinja::Error) -> String {
    let detail = e.detail().unwrap_or_default();
    let mut s = if detail.is_empty() {
        e.kind().to_string()
    } else {
        format!("{}: {detail}", e.kind())
    };
    if let Some(line) = e.line() {
        s.push_str(&format!(" (line {line})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{PromptMessage, PromptVariable, ServiceLifecycle};

    fn spec(messages: &[&str], vars: &[(&str, bool, Option<&str>)]) -> PromptApiSpec {
        PromptApiSpec {
            name: "p".into(),
            path: "/prompt/p".into(),
            model: "m".into(),
            messages: messages
                .iter()
                .map(|c| PromptMessage {
                    role: PromptRole::User,
                    content: c.to_string(),
                })
                .collect(),
            variables: vars
                .iter()
                .map(|(n, r, d)| PromptVariable {
                    name: n.to_string(),
                    required: *r,
                    default: d.map(String::from),
                })
                .collect(),
            max_tokens: 10,
            temperature: None,
            description: None,
            lifecycle: ServiceLifecycle::Published,
            sunset_at: None,
            subscription: None,
        }
    }

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn renders_defaults_json_and_refuses_missing_and_unknown() {
        let t = PromptTemplate::compile(&spec(
            &["In {{ lang }}: {{text}} {{ n }}"],
            &[
                ("text", true, None),
                ("lang", false, Some("English")),
                ("n", false, None),
            ],
        ))
        .expect("compiles");
        let out = t
            .render(&vars(serde_json::json!({"text": {"a": [1, 2]}})))
            .expect("renders");
        assert_eq!(out[0].1, r#"In English: {"a":[1,2]} "#);
        assert_eq!(
            t.render(&vars(serde_json::json!({"lang": "French"}))),
            Err(RenderError::Missing("text".into()))
        );
        assert!(matches!(
            t.render(&vars(serde_json::json!({"text": "x", "other": 1}))),
            Err(RenderError::Unknown(n, _)) if n == "other"
        ));
        // A value is data, never template syntax.
        let out = t
            .render(&vars(serde_json::json!({"text": "{{ lang }}"})))
            .expect("renders");
        assert_eq!(out[0].1, "In English: {{ lang }} ");
    }

    #[test]
    fn syntax_errors_and_undeclared_names_are_issues() {
        let issues = PromptTemplate::compile(&spec(
            &["ok {{ a }}", "{% if %}", "{{ b }}"],
            &[("a", true, None)],
        ))
        .expect_err("invalid");
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, vec!["messages[1].content", "messages[2].content"]);
        assert!(issues[1].message.contains("`b`"), "{issues:?}");
        // Globals such as `range` are not variables.
        assert!(
            PromptTemplate::compile(&spec(&["{% for i in range(2) %}{{ i }}{% endfor %}"], &[]))
                .is_ok()
        );
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let t = PromptTemplate::compile(&spec(
            &["{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"],
            &[],
        ))
        .expect("compiles");
        assert!(matches!(
            t.render(&Map::new()),
            Err(RenderError::Template(_))
        ));
    }
}
