//! Metering: tokens and cost of one answer, recorded once when it ends.
//!
//! A stream is metered when its body ends, or when it is dropped because the client
//! went away; the [`Meter`] records on drop so no path can skip it.

use std::sync::Arc;

use tollgate_core::money::{Micros, TokenPrice, micros_to_usd};
use tollgate_telemetry::names;

use crate::metering::Settlement;

/// Tokens of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
}

impl Usage {
    /// From an OpenAI `usage` object.
    pub fn from_openai(v: &serde_json::Value) -> Option<Usage> {
        let u = v.as_object()?;
        Some(Usage {
            input: u.get("prompt_tokens")?.as_u64()?,
            output: u
                .get("completion_tokens")
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
        })
    }

    /// From an Anthropic `usage` object (input counts cached tokens too).
    pub fn from_anthropic(v: &serde_json::Value) -> Option<Usage> {
        let u = v.as_object()?;
        let n = |k: &str| u.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        if !u.contains_key("input_tokens") && !u.contains_key("output_tokens") {
            return None;
        }
        Some(Usage {
            input: n("input_tokens")
                + n("cache_read_input_tokens")
                + n("cache_creation_input_tokens"),
            output: n("output_tokens"),
        })
    }
}

/// Records one answer's tokens and cost in metrics, exactly once, and closes the
/// request's books through its [`Settlement`] (limits, budgets, credits, call record).
pub struct Meter {
    model: Arc<str>,
    price: Option<TokenPrice>,
    usage: Option<Usage>,
    recorded: bool,
    settlement: Option<Settlement>,
}

impl Meter {
    pub fn new(model: Arc<str>, price: Option<TokenPrice>) -> Self {
        Meter {
            model,
            price,
            usage: None,
            recorded: false,
            settlement: None,
        }
    }

    /// Hands the request's settlement to this meter: it is closed when the meter
    /// records (or is dropped, e.g. a stream whose client went away).
    pub fn with_settlement(mut self, settlement: Settlement) -> Self {
        self.settlement = Some(settlement);
        self
    }

    /// The price to charge at (a fallback model's may differ from the requested one).
    pub fn set_price(&mut self, price: Option<TokenPrice>) {
        self.price = price;
    }

    /// The answer came from the response cache.
    pub fn mark_cached(&mut self) {
        if let Some(s) = self.settlement.as_mut() {
            s.cached = true;
        }
    }

    /// Takes the settlement back (the answer could not be used; another target will
    /// be tried).
    pub fn take_settlement(&mut self) -> Option<Settlement> {
        self.settlement.take()
    }

    /// Sets what the call record will say: the provider, status and error code.
    pub fn outcome(&mut self, provider: Option<&str>, status: u16, error_code: Option<&str>) {
        if let Some(s) = self.settlement.as_mut() {
            if provider.is_some() {
                s.provider = provider.map(str::to_string);
            }
            s.status = status;
            s.error_code = error_code.map(str::to_string);
        }
    }

    /// The first byte of the answer went out after `ms` milliseconds.
    pub fn first_byte(&mut self, ms: u64) {
        if let Some(s) = self.settlement.as_mut() {
            s.ttfb_ms.get_or_insert(ms);
        }
    }

    /// Cost of `usage` at this model's price (0 without a price).
    pub fn cost(&self, usage: Usage) -> Micros {
        self.price.map_or(0, |p| p.cost(usage.input, usage.output))
    }

    /// The latest usage known (streams report it as they go).
    pub fn observe(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }

    /// Records the usage observed so far; later calls and the drop do nothing.
    pub fn record(&mut self) -> Micros {
        if self.recorded {
            return 0;
        }
        self.recorded = true;
        let cost = self.record_metrics();
        if let Some(mut s) = self.settlement.take() {
            let usage = self.usage.unwrap_or_default();
            s.input_tokens = usage.input;
            s.output_tokens = usage.output;
            s.cost = cost;
            s.finish();
        }
        cost
    }

    fn record_metrics(&self) -> Micros {
        let Some(usage) = self.usage else { return 0 };
        let model = self.model.to_string();
        metrics::counter!(names::TOKENS_TOTAL, "model" => model.clone(), "kind" => "input")
            .increment(usage.input);
        metrics::counter!(names::TOKENS_TOTAL, "model" => model.clone(), "kind" => "output")
            .increment(usage.output);
        let cost = self.cost(usage);
        if cost > 0 {
            metrics::gauge!(names::COST_USD_TOTAL, "model" => model).increment(micros_to_usd(cost));
        }
        cost
    }
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("model", &self.model)
            .field("usage", &self.usage)
            .field("recorded", &self.recorded)
            .finish()
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.record();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_from_both_formats() {
        assert_eq!(
            Usage::from_openai(
                &json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
            ),
            Some(Usage {
                input: 3,
                output: 4
            })
        );
        assert_eq!(
            Usage::from_anthropic(
                &json!({"input_tokens": 3, "cache_read_input_tokens": 2, "output_tokens": 5})
            ),
            Some(Usage {
                input: 5,
                output: 5
            })
        );
        assert_eq!(Usage::from_openai(&json!(null)), None);
    }
}
