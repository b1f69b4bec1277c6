//! Rules compiled once per configuration snapshot ([`RuleSet::compile`]), and the
//! per-request choice of those that apply ([`RuleSet::select`]).

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder};
use serde_json_path::JsonPath;

use crate::detect;
use crate::mask::Masker;
use crate::spec::{Action, AppliesTo, Detector, MaskingRuleSpec, Way};

/// Longest regex pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1000;
/// Compiled size limit of one regex: a pattern that compiles larger (`a{1000}{1000}`)
/// is refused at load time instead of costing memory and time on every request.
pub const MAX_REGEX_SIZE: usize = 256 * 1024;
/// Most keywords, regexes or JSON paths in one rule.
pub const MAX_ITEMS: usize = 1000;
/// Longest keyword, in bytes.
pub const MAX_KEYWORD_BYTES: usize = 256;

/// A problem with one rule, at a path inside it (`regex[2]`), for `tollgate check`
/// and the admin API's 400. The message never repeats the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleIssue {
    pub path: String,
    pub message: String,
}

impl RuleIssue {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        RuleIssue {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// One rule, ready to match.
#[derive(Debug)]
pub struct CompiledRule {
    pub name: Arc<str>,
    pub action: Action,
    pub(crate) spec_direction: crate::spec::Direction,
    pub(crate) applies_to: Option<AppliesTo>,
    pub(crate) detectors: Vec<Detector>,
    pub(crate) keywords: Option<AhoCorasick>,
    pub(crate) regexes: Vec<Regex>,
    pub(crate) json_paths: Vec<JsonPath>,
}

impl CompiledRule {
    /// Whether the rule has anything to find in plain text.
    pub(crate) fn has_text_matchers(&self) -> bool {
        !self.detectors.is_empty() || self.keywords.is_some() || !self.regexes.is_empty()
    }

    fn applies(&self, model: Option<&str>, service: Option<&str>) -> bool {
        let Some(to) = &self.applies_to else {
            return true;
        };
        let listed = |list: &Option<Vec<String>>, name: Option<&str>| match (list, name) {
            (Some(list), Some(name)) => list.iter().any(|n| n == "*" || n == name),
            _ => false,
        };
        listed(&to.models, model) || listed(&to.services, service)
    }
}

/// Checks one rule and compiles it; every problem is reported.
pub fn compile_rule(spec: &MaskingRuleSpec) -> Result<CompiledRule, Vec<RuleIssue>> {
    let mut issues = Vec::new();
    let name_ok = !spec.name.is_empty()
        && spec.name.len() <= 128
        && spec
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !name_ok {
        issues.push(RuleIssue::new(
            "name",
            "must be 1 to 128 characters: letters, digits, `.`, `_`, `-`",
        ));
    }
    if spec.detectors.is_empty()
        && spec.keywords.is_empty()
        && spec.regex.is_empty()
        && spec.json_paths.is_empty()
    {
        issues.push(RuleIssue::new(
            "",
            "a rule needs at least one of detectors, keywords, regex or json_paths",
        ));
    }
    for (field, len) in [
        ("keywords", spec.keywords.len()),
        ("regex", spec.regex.len()),
        ("json_paths", spec.json_paths.len()),
    ] {
        if len > MAX_ITEMS {
            issues.push(RuleIssue::new(
                field,
                format!("at most {MAX_ITEMS} entries per rule"),
            ));
        }
    }
    if let Some(to) = &spec.applies_to {
        for (field, list) in [("models", &to.models), ("services", &to.services)] {
            for (i, n) in list.iter().flatten().enumerate() {
                if n.trim().is_empty() {
                    issues.push(RuleIssue::new(
                        format!("applies_to.{field}[{i}]"),
                        "must not be empty (`*` means all)",
                    ));
                }
            }
        }
    }
    let mut detectors = spec.detectors.clone();
    detectors.sort_unstable();
    detectors.dedup();
    for (i, k) in spec.keywords.iter().enumerate() {
        if k.trim().is_empty() {
            issues.push(RuleIssue::new(
                format!("keywords[{i}]"),
                "must not be empty",
            ));
        } else if k.len() > MAX_KEYWORD_BYTES {
            issues.push(RuleIssue::new(
                format!("keywords[{i}]"),
                format!("longer than {MAX_KEYWORD_BYTES} bytes"),
            ));
        }
    }
    let keywords = if spec.keywords.is_empty() {
        None
    } else {
        match AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&spec.keywords)
        {
            Ok(ac) => Some(ac),
            Err(e) => {
                issues.push(RuleIssue::new(
                    "keywords",
                    format!("cannot be compiled: {e}"),
                ));
                None
            }
        }
    };
    let mut regexes = Vec::new();
    for (i, p) in spec.regex.iter().enumerate() {
        match compile_regex(p) {
            Ok(r) => regexes.push(r),
            Err(m) => issues.push(RuleIssue::new(format!("regex[{i}]"), m)),
        }
    }
    let mut json_paths = Vec::new();
    for (i, p) in spec.json_paths.iter().enumerate() {
        match JsonPath::parse(p) {
            Ok(path) => json_paths.push(path),
            // The parser's message points into the expression; it names no value of
            // a body, so it is safe to show.
            Err(e) => issues.push(RuleIssue::new(
                format!("json_paths[{i}]"),
                format!("invalid JSONPath: {e}"),
            )),
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    for d in &detectors {
        detect::warm(*d);
    }
    Ok(CompiledRule {
        name: Arc::from(spec.name.as_str()),
        action: spec.action,
        spec_direction: spec.direction,
        applies_to: spec.applies_to.clone(),
        detectors,
        keywords,
        regexes,
        json_paths,
    })
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("longer than {MAX_PATTERN_BYTES} bytes"));
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_SIZE)
        .dfa_size_limit(4 * MAX_REGEX_SIZE)
        .nest_limit(64)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => {
                format!("compiles larger than the {limit} byte limit; simplify it")
            }
            regex::Error::Syntax(s) => format!("invalid regex: {}", first_line(&s)),
            _ => "invalid regex".to_string(),
        })?;
    if re.is_match("") {
        return Err("matches the empty text; it would mask everywhere".into());
    }
    Ok(re)
}

fn first_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

/// Every rule of a snapshot, compiled. Cheap to share.
#[derive(Debug, Default, Clone)]
pub struct RuleSet {
    rules: Vec<Arc<CompiledRule>>,
}

impl RuleSet {
    /// Compiles rules, skipping (and returning the problems of) those that do not
    /// compile: stored rules are checked on every write, so a problem here means data
    /// written around the checks; the other rules still apply.
    pub fn compile(specs: &[MaskingRuleSpec]) -> (RuleSet, Vec<(String, Vec<RuleIssue>)>) {
        let mut rules = Vec::new();
        let mut bad = Vec::new();
        for spec in specs {
            match compile_rule(spec) {
                Ok(r) => rules.push(Arc::new(r)),
                Err(issues) => bad.push((spec.name.clone(), issues)),
            }
        }
        (RuleSet { rules }, bad)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules for traffic going `way` on `model` and/or `service` (a service or
    /// prompt-API name), or `None` when none applies (the fast path: nothing to
    /// scan, nothing held back).
    pub fn select(&self, model: Option<&str>, service: Option<&str>, way: Way) -> Option<Masker> {
        if self.rules.is_empty() {
            return None;
        }
        let rules: Vec<Arc<CompiledRule>> = self
            .rules
            .iter()
            .filter(|r| r.spec_direction.covers(way) && r.applies(model, service))
            .cloned()
            .collect();
        (!rules.is_empty()).then(|| Masker::new(rules))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Direction;

    pub(crate) fn spec(name: &str) -> MaskingRuleSpec {
        MaskingRuleSpec {
            name: name.into(),
            applies_to: None,
            direction: Direction::Both,
            detectors: vec![],
            keywords: vec![],
            regex: vec![],
            json_paths: vec![],
            action: Action::Mask,
        }
    }

    #[test]
    fn bad_rules_are_reported_by_path_without_their_text() {
        let mut s = spec("bad name!");
        s.regex = vec![
            "EMP-[0-9]{6}".into(),
            "(abcxyz".into(),
            "a*".into(),
            "x{1000}{1000}".into(),
        ];
        s.json_paths = vec!["$.ok".into(), "$[".into()];
        s.keywords = vec!["".into()];
        let issues = compile_rule(&s).err().unwrap_or_default();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "name",
                "keywords[0]",
                "regex[1]",
                "regex[2]",
                "regex[3]",
                "json_paths[1]"
            ]
        );
        assert!(issues.iter().all(|i| !i.message.contains("abcxyz")));
        assert!(compile_rule(&spec("empty")).is_err());
    }

    #[test]
    fn selection_by_model_service_and_direction() {
        let mut all = spec("all");
        all.keywords = vec!["x".into()];
        let mut m = spec("m");
        m.keywords = vec!["x".into()];
        m.applies_to = Some(AppliesTo {
            models: Some(vec!["gpt".into()]),
            services: None,
        });
        m.direction = Direction::Response;
        let mut s = spec("s");
        s.keywords = vec!["x".into()];
        s.applies_to = Some(AppliesTo {
            models: None,
            services: Some(vec!["*".into()]),
        });
        let (set, bad) = RuleSet::compile(&[all, m, s]);
        assert!(bad.is_empty());
        let names = |m: Option<Masker>| -> Vec<String> {
            m.map(|m| m.rule_names().map(str::to_string).collect())
                .unwrap_or_default()
        };
        assert_eq!(names(set.select(Some("gpt"), None, Way::Request)), ["all"]);
        assert_eq!(
            names(set.select(Some("gpt"), None, Way::Response)),
            ["all", "m"]
        );
        assert_eq!(
            names(set.select(None, Some("weather"), Way::Request)),
            ["all", "s"]
        );
        assert!(
            RuleSet::default()
                .select(Some("gpt"), None, Way::Request)
                .is_none()
        );
    }
}
