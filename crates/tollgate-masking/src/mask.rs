//! Matching and replacing: one [`Masker`] is the rules that apply to one request in
//! one direction.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use crate::detect;
use crate::rules::CompiledRule;
use crate::spec::{Action, Detector};

/// Placeholder for keywords, regexes and JSON paths.
pub const MASKED: &str = "[MASKED]";

/// What found a match (the metric's `detector` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Finder {
    Detector(Detector),
    Keyword,
    Regex,
    JsonPath,
}

impl Finder {
    pub fn as_str(self) -> &'static str {
        match self {
            Finder::Detector(d) => d.as_str(),
            Finder::Keyword => "keyword",
            Finder::Regex => "regex",
            Finder::JsonPath => "json_path",
        }
    }

    pub fn placeholder(self) -> &'static str {
        match self {
            Finder::Detector(d) => d.placeholder(),
            _ => MASKED,
        }
    }
}

/// One value masked: which rule and what found it (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: Arc<str>,
    pub finder: Finder,
}

/// A `block` rule matched: the request or answer is refused. Names the rule only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Blocked by the masking rule `{rule}`")]
pub struct Blocked {
    pub rule: Arc<str>,
    pub finder: Finder,
}

/// A match inside a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub start: usize,
    pub end: usize,
    pub rule: usize,
    pub finder: Finder,
}

/// The rules that apply to one request in one direction.
#[derive(Debug, Clone)]
pub struct Masker {
    rules: Vec<Arc<CompiledRule>>,
}

impl Masker {
    pub(crate) fn new(rules: Vec<Arc<CompiledRule>>) -> Self {
        Masker { rules }
    }

    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.name)
    }

    /// Whether any rule has JSON paths (only services' JSON bodies use them).
    pub fn has_json_paths(&self) -> bool {
        self.rules.iter().any(|r| !r.json_paths.is_empty())
    }

    /// Whether any rule looks at plain text.
    pub fn has_text_matchers(&self) -> bool {
        self.rules.iter().any(|r| r.has_text_matchers())
    }

    fn blocked(&self, f: &Found) -> Blocked {
        Blocked {
            rule: self.rules[f.rule].name.clone(),
            finder: f.finder,
        }
    }

    fn hit(&self, f: &Found) -> Hit {
        Hit {
            rule: self.rules[f.rule].name.clone(),
            finder: f.finder,
        }
    }

    /// Every match in `text`, overlaps resolved (the earliest, then the longest,
    /// then the first rule wins), or the block a `block` rule's match causes.
    pub(crate) fn find(&self, text: &str) -> Result<Vec<Found>, Blocked> {
        let mut all = Vec::new();
        let mut spans = Vec::new();
        for (ri, rule) in self.rules.iter().enumerate() {
            let before = all.len();
            for d in &rule.detectors {
                spans.clear();
                detect::find(*d, text, &mut spans);
                all.extend(spans.iter().map(|&(start, end)| Found {
                    start,
                    end,
                    rule: ri,
                    finder: Finder::Detector(*d),
                }));
            }
            if let Some(ac) = &rule.keywords {
                all.extend(ac.find_iter(text).map(|m| Found {
                    start: m.start(),
                    end: m.end(),
                    rule: ri,
                    finder: Finder::Keyword,
                }));
            }
            for re in &rule.regexes {
                all.extend(re.find_iter(text).filter(|m| !m.is_empty()).map(|m| Found {
                    start: m.start(),
                    end: m.end(),
                    rule: ri,
                    finder: Finder::Regex,
                }));
            }
            if rule.action == Action::Block && all.len() > before {
                return Err(self.blocked(&all[before]));
            }
        }
        all.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(a.rule.cmp(&b.rule))
        });
        let mut kept: Vec<Found> = Vec::with_capacity(all.len());
        for f in all {
            if kept.last().is_none_or(|k| f.start >= k.end) {
                kept.push(f);
            }
        }
        Ok(kept)
    }

    /// `text` with the matches in `found` (sorted, not overlapping) replaced.
    pub(crate) fn replace(&self, text: &str, found: &[Found], hits: &mut Vec<Hit>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in found {
            out.push_str(&text[at..f.start]);
            out.push_str(f.finder.placeholder());
            hits.push(self.hit(f));
            at = f.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// `text` masked, borrowed when nothing matched; each masked value is pushed to
    /// `hits`.
    pub fn mask_text<'a>(
        &self,
        text: &'a str,
        hits: &mut Vec<Hit>,
    ) -> Result<Cow<'a, str>, Blocked> {
        let found = self.find(text)?;
        if found.is_empty() {
            return Ok(Cow::Borrowed(text));
        }
        Ok(Cow::Owned(self.replace(text, &found, hits)))
    }

    /// Masks a string in place; whether it changed.
    pub fn mask_string(&self, text: &mut String, hits: &mut Vec<Hit>) -> Result<bool, Blocked> {
        match self.mask_text(text, hits)? {
            Cow::Borrowed(_) => Ok(false),
            Cow::Owned(s) => {
                *text = s;
                Ok(true)
            }
        }
    }

    /// Masks a JSON document in place: the values the rules' JSON paths select
    /// become `[MASKED]`, then every string value (not keys) is masked as text.
    /// Whether anything changed.
    pub fn mask_json(&self, doc: &mut Value, hits: &mut Vec<Hit>) -> Result<bool, Blocked> {
        let mut changed = false;
        for rule in &self.rules {
            for path in &rule.json_paths {
                let pointers: Vec<String> = path
                    .query_located(doc)
                    .locations()
                    .map(|l| l.to_json_pointer())
                    .collect();
                if pointers.is_empty() {
                    continue;
                }
                if rule.action == Action::Block {
                    return Err(Blocked {
                        rule: rule.name.clone(),
                        finder: Finder::JsonPath,
                    });
                }
                for p in pointers {
                    if let Some(v) = doc.pointer_mut(&p) {
                        *v = Value::String(MASKED.to_string());
                        hits.push(Hit {
                            rule: rule.name.clone(),
                            finder: Finder::JsonPath,
                        });
                        changed = true;
                    }
                }
            }
        }
        if self.has_text_matchers() {
            changed |= self.mask_strings(doc, hits)?;
        }
        Ok(changed)
    }

    fn mask_strings(&self, v: &mut Value, hits: &mut Vec<Hit>) -> Result<bool, Blocked> {
        // Iterative, so that a deeply nested body cannot overflow the stack.
        let mut changed = false;
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => changed |= self.mask_string(s, hits)?,
                Value::Array(a) => stack.extend(a.iter_mut()),
                Value::Object(o) => stack.extend(o.values_mut()),
                _ => {}
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rules::RuleSet;
    use crate::spec::{Direction, MaskingRuleSpec, Way};
    use serde_json::json;

    pub(crate) fn masker(rules: serde_json::Value) -> Masker {
        let specs: Vec<MaskingRuleSpec> = serde_json::from_value(rules).unwrap_or_default();
        let (set, bad) = RuleSet::compile(&specs);
        assert!(bad.is_empty(), "{bad:?}");
        set.select(Some("m"), Some("s"), Way::Request)
            .unwrap_or_else(|| Masker::new(vec![]))
    }

    #[test]
    fn masks_each_kind_with_its_placeholder() {
        let m = masker(json!([{"name": "pii",
            "detectors": ["email", "phone", "credit_card", "iban", "ip_address", "api_key"],
            "keywords": ["Project Falcon"], "regex": ["EMP-[0-9]{6}"]}]));
        let mut hits = Vec::new();
        let out = m
            .mask_text(
                "Mail a@b.io, call +1 415-555-0132, card 4111 1111 1111 1111, iban \
                 GB82WEST12345698765432, host 10.0.0.1, key sk-abcdefghijklmnopqrstuvwxyz, \
                 project falcon, EMP-123456.",
                &mut hits,
            )
            .unwrap_or_default();
        assert_eq!(
            out,
            "Mail [EMAIL], call [PHONE], card [CREDIT_CARD], iban [IBAN], host [IP_ADDRESS], \
             key [API_KEY], [MASKED], [MASKED]."
        );
        assert_eq!(hits.len(), 8);
        assert!(hits.iter().all(|h| &*h.rule == "pii"));
        let mut none = Vec::new();
        assert!(matches!(
            m.mask_text("nothing here", &mut none),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn block_names_the_rule() {
        let m = masker(json!([
            {"name": "soft", "keywords": ["alpha"]},
            {"name": "hard", "keywords": ["secret plan"], "action": "block"}
        ]));
        let mut hits = Vec::new();
        let err = m.mask_text("alpha and the SECRET PLAN", &mut hits).err();
        assert_eq!(err.map(|b| b.rule.to_string()), Some("hard".to_string()));
        assert_eq!(
            m.mask_text("alpha", &mut hits).ok().as_deref(),
            Some("[MASKED]")
        );
    }

    #[test]
    fn json_paths_and_strings() {
        let m = masker(
            json!([{"name": "svc", "json_paths": ["$.customer.ssn", "$.items[*].card"],
            "detectors": ["email"]}]),
        );
        let mut doc = json!({"customer": {"ssn": "123-45-6789", "mail": "x@y.org"},
            "items": [{"card": 1}, {"card": 2}], "n": 5});
        let mut hits = Vec::new();
        assert_eq!(m.mask_json(&mut doc, &mut hits), Ok(true));
        assert_eq!(
            doc,
            json!({"customer": {"ssn": "[MASKED]", "mail": "[EMAIL]"},
            "items": [{"card": "[MASKED]"}, {"card": "[MASKED]"}], "n": 5})
        );
        assert_eq!(hits.len(), 4);
    }

    #[test]
    fn direction_is_respected() {
        let specs: Vec<MaskingRuleSpec> = serde_json::from_value(json!([
            {"name": "r", "keywords": ["k"], "direction": "response"}
        ]))
        .unwrap_or_default();
        assert_eq!(specs[0].direction, Direction::Response);
        let (set, _) = RuleSet::compile(&specs);
        assert!(set.select(Some("m"), None, Way::Request).is_none());
        assert!(set.select(Some("m"), None, Way::Response).is_some());
    }
}
