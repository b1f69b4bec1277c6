//! A call's explain trail, written as JSON text step by step.
//!
//! Each step is serialised once, straight into the trail's text, when it is taken:
//! no `serde_json::Value` tree per step (a map and a `String` per key and value), and
//! no second pass over the whole array when the call closes. The steps of every
//! request (auth, limits, budgets, credits, cache, attempts, settle) are typed structs
//! below; rarer ones may still be `json!` values, which serialise the same way.
//!
//! Field order is the JSON key order: it matches what `explain` and the records have
//! always shown.

use serde::Serialize;
use tollgate_limits::{RateHeaders, RateRule};
use tollgate_store::JsonText;

/// The trail: `[step,step,...]` without its closing bracket until [`Steps::finish`].
#[derive(Debug)]
pub struct Steps {
    text: Vec<u8>,
}

impl Default for Steps {
    fn default() -> Self {
        let mut text = Vec::with_capacity(1024);
        text.push(b'[');
        Steps { text }
    }
}

impl Steps {
    /// Appends one step. A step that fails to serialise (a map with non-string keys,
    /// which no step has) is left out rather than leaving the trail broken.
    pub fn push(&mut self, step: &impl Serialize) {
        let mark = self.text.len();
        if mark > 1 {
            self.text.push(b',');
        }
        if serde_json::to_writer(&mut self.text, step).is_err() {
            self.text.truncate(mark);
        }
    }

    /// The trail as the call record keeps it; the steps are emptied.
    pub fn finish(&mut self) -> JsonText {
        let mut text = std::mem::take(&mut self.text);
        text.push(b']');
        // Checked once as it becomes the record's (serde_json wrote every byte of it),
        // then kept as it is: the journal and the database take it without a copy.
        String::from_utf8(text)
            .ok()
            .and_then(JsonText::from_text)
            .unwrap_or_default()
    }
}

/// `{"step": "auth", "outcome": "pass", ...}`: the caller is known.
#[derive(Serialize)]
pub struct AuthPass<'a> {
    step: &'static str,
    outcome: &'static str,
    pub key_id: &'a str,
    pub consumer: &'a str,
}

impl<'a> AuthPass<'a> {
    pub fn new(key_id: &'a str, consumer: &'a str) -> Self {
        AuthPass {
            step: "auth",
            outcome: "pass",
            key_id,
            consumer,
        }
    }
}

/// The configured figures of a rate rule.
#[derive(Serialize)]
pub struct RateConfigured {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub concurrent: Option<u32>,
}

/// What the limiter said is left.
#[derive(Serialize)]
pub struct RateValue {
    pub remaining_requests: Option<u64>,
    pub remaining_tokens: Option<u64>,
}

impl RateValue {
    pub fn of(headers: Option<&RateHeaders>) -> Option<RateValue> {
        headers.map(|h| RateValue {
            remaining_requests: h.requests.map(|w| w.remaining),
            remaining_tokens: h.tokens.map(|w| w.remaining),
        })
    }
}

/// A rate rule that let the request through.
#[derive(Serialize)]
pub struct LimitPass<'a> {
    step: &'static str,
    pub scope: &'a str,
    outcome: &'static str,
    pub configured: RateConfigured,
    pub value: Option<RateValue>,
}

impl<'a> LimitPass<'a> {
    pub fn new(rule: &'a RateRule, headers: Option<&RateHeaders>) -> Self {
        LimitPass {
            step: "limit",
            scope: &rule.scope,
            outcome: "pass",
            configured: RateConfigured {
                requests_per_minute: rule.requests_per_minute,
                tokens_per_minute: rule.tokens_per_minute,
                concurrent: rule.concurrent,
            },
            value: RateValue::of(headers),
        }
    }
}

/// A budget or token quota, as configured: `{"usd": x}` or `{"tokens": n}`.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountJson {
    Usd(f64),
    Tokens(u64),
}

/// A spend in the unit of its budget (USD or tokens): a bare number.
#[derive(Serialize)]
#[serde(untagged)]
pub enum SpendJson {
    Usd(f64),
    Tokens(u64),
}

/// A budget's standing after the hold.
#[derive(Serialize)]
pub struct BudgetValue {
    pub used: SpendJson,
    pub reserved: SpendJson,
}

/// A budget or token quota that let the request through.
#[derive(Serialize)]
pub struct BudgetPass<'a> {
    step: &'static str,
    scope: &'a str,
    outcome: &'static str,
    configured: AmountJson,
    value: BudgetValue,
    reserved_usd: f64,
}

impl<'a> BudgetPass<'a> {
    pub fn new(
        scope: &'a str,
        configured: AmountJson,
        value: BudgetValue,
        reserved_usd: f64,
    ) -> Self {
        BudgetPass {
            step: "budget",
            scope,
            outcome: "pass",
            configured,
            value,
            reserved_usd,
        }
    }
}

/// Credits after the hold.
#[derive(Serialize)]
struct CreditsValue {
    available_after_hold_usd: f64,
}

/// Prepaid credits that covered the worst case.
#[derive(Serialize)]
pub struct CreditsPass<'a> {
    step: &'static str,
    scope: &'a str,
    outcome: &'static str,
    value: CreditsValue,
    reserved_usd: f64,
}

impl<'a> CreditsPass<'a> {
    pub fn new(scope: &'a str, available_after_hold_usd: f64, reserved_usd: f64) -> Self {
        CreditsPass {
            step: "credits",
            scope,
            outcome: "pass",
            value: CreditsValue {
                available_after_hold_usd,
            },
            reserved_usd,
        }
    }
}

/// The response cache's outcome.
#[derive(Serialize)]
pub struct Cache {
    pub step: &'static str,
    pub outcome: &'static str,
}

/// One upstream attempt.
#[derive(Serialize)]
pub struct Attempt<'a> {
    pub step: &'static str,
    pub provider: &'a str,
    pub target_model: &'a str,
    pub status: Option<u16>,
    pub outcome: &'a str,
    pub error_code: Option<&'a str>,
    pub latency_ms: u64,
}

/// What the call was charged against what was held.
#[derive(Serialize)]
pub struct Settle {
    pub step: &'static str,
    pub outcome: &'static str,
    pub reserved_usd: f64,
    pub charged_usd: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn trail(f: impl FnOnce(&mut Steps)) -> Value {
        let mut s = Steps::default();
        f(&mut s);
        s.finish().parse()
    }

    #[test]
    fn empty_trail_is_an_empty_array() {
        assert_eq!(trail(|_| {}), json!([]));
    }

    #[test]
    fn typed_steps_serialise_as_the_json_they_replace() {
        let rule = RateRule {
            scope: "consumer:c".into(),
            requests_per_minute: Some(10),
            tokens_per_minute: None,
            concurrent: Some(2),
        };
        let got = trail(|s| {
            s.push(&AuthPass::new("k1", "c"));
            s.push(&LimitPass::new(&rule, None));
            s.push(&BudgetPass::new(
                "team:t",
                AmountJson::Usd(5.0),
                BudgetValue {
                    used: SpendJson::Usd(0.5),
                    reserved: SpendJson::Usd(0.25),
                },
                0.01,
            ));
            s.push(&BudgetPass::new(
                "consumer:c",
                AmountJson::Tokens(1000),
                BudgetValue {
                    used: SpendJson::Tokens(10),
                    reserved: SpendJson::Tokens(20),
                },
                0.01,
            ));
            s.push(&CreditsPass::new("consumer:c", 2.5, 0.01));
            s.push(&Cache {
                step: "cache",
                outcome: "miss",
            });
            s.push(&Attempt {
                step: "attempt",
                provider: "p",
                target_model: "m",
                status: Some(200),
                outcome: "ok",
                error_code: None,
                latency_ms: 3,
            });
            s.push(&json!({"step": "custom", "n": 1}));
        });
        let want = json!([
            {"step": "auth", "outcome": "pass", "key_id": "k1", "consumer": "c"},
            {"step": "limit", "scope": "consumer:c", "outcome": "pass",
             "configured": {"requests_per_minute": 10, "tokens_per_minute": null, "concurrent": 2},
             "value": null},
            {"step": "budget", "scope": "team:t", "outcome": "pass", "configured": {"usd": 5.0},
             "value": {"used": 0.5, "reserved": 0.25}, "reserved_usd": 0.01},
            {"step": "budget", "scope": "consumer:c", "outcome": "pass", "configured": {"tokens": 1000},
             "value": {"used": 10, "reserved": 20}, "reserved_usd": 0.01},
            {"step": "credits", "scope": "consumer:c", "outcome": "pass",
             "value": {"available_after_hold_usd": 2.5}, "reserved_usd": 0.01},
            {"step": "cache", "outcome": "miss"},
            {"step": "attempt", "provider": "p", "target_model": "m", "status": 200,
             "outcome": "ok", "error_code": null, "latency_ms": 3},
            {"step": "custom", "n": 1},
        ]);
        assert_eq!(got, want);
        // Key order is kept too (the records show it as written).
        assert_eq!(got.to_string(), want.to_string());
    }
}
