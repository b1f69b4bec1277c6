//! Money as integer micro-USD, so that sums of many small costs never drift.

use crate::spec::Price;

/// Micro-USD (1e-6 USD).
pub type Micros = i64;

pub fn usd_to_micros(usd: f64) -> Micros {
    (usd * 1_000_000.0).round() as Micros
}

pub fn micros_to_usd(m: Micros) -> f64 {
    m as f64 / 1_000_000.0
}

/// The token classes of one answer, kept apart because they are priced apart.
///
/// `input` is the uncached prompt; `cache_read` and `cache_write` are prompt tokens
/// read from or written to the provider's prompt cache; `output` includes `reasoning`
/// (reasoning tokens are output tokens, shown separately).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenCounts {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

impl TokenCounts {
    /// Plain input and output tokens.
    pub fn new(input: u64, output: u64) -> TokenCounts {
        TokenCounts {
            input,
            output,
            ..TokenCounts::default()
        }
    }

    /// Every prompt-side token, cached or not.
    pub fn prompt_total(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write)
    }

    /// Every token, for token quotas and tokens/min.
    pub fn total(&self) -> u64 {
        self.prompt_total().saturating_add(self.output)
    }
}

/// A price converted once to pico-USD per token (integer), so per-request cost is
/// exact integer arithmetic. `0.15` USD per million tokens is 150 000 pico-USD/token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenPrice {
    pub input_pico: i64,
    pub output_pico: i64,
    pub cache_read_pico: i64,
    pub cache_write_pico: i64,
}

fn pico(usd_per_mtok: f64) -> i64 {
    let p = (usd_per_mtok * 1_000_000.0).round();
    if p.is_finite() && p > 0.0 {
        p.min(i64::MAX as f64) as i64
    } else {
        0
    }
}

impl From<Price> for TokenPrice {
    fn from(p: Price) -> Self {
        let input = pico(p.input_per_mtok);
        TokenPrice {
            input_pico: input,
            output_pico: pico(p.output_per_mtok),
            cache_read_pico: p.cache_read_per_mtok.map_or(input, pico),
            cache_write_pico: p.cache_write_per_mtok.map_or(input, pico),
        }
    }
}

impl TokenPrice {
    /// Cost in micro-USD of plain input and output tokens, rounded up so that a
    /// request is never free by rounding.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> Micros {
        self.cost_of(&TokenCounts::new(input_tokens, output_tokens))
    }

    /// Cost in micro-USD of every token class, rounded up.
    pub fn cost_of(&self, t: &TokenCounts) -> Micros {
        let pico = (t.input as i128) * (self.input_pico as i128)
            + (t.output as i128) * (self.output_pico as i128)
            + (t.cache_read as i128) * (self.cache_read_pico as i128)
            + (t.cache_write as i128) * (self.cache_write_pico as i128);
        let micros = (pico + 999_999) / 1_000_000;
        micros.clamp(0, i64::MAX as i128) as Micros
    }

    /// The most a prompt of `prompt_tokens` can cost, whichever prompt class the
    /// provider books it under.
    pub fn worst_prompt_pico(&self) -> i64 {
        self.input_pico
            .max(self.cache_read_pico)
            .max(self.cache_write_pico)
    }

    /// The worst case of a request: `prompt_tokens` at the dearest prompt class plus
    /// `max_output` output tokens.
    pub fn worst_case(&self, prompt_tokens: u64, max_output: u64) -> Micros {
        let pico = (prompt_tokens as i128) * (self.worst_prompt_pico() as i128)
            + (max_output as i128) * (self.output_pico as i128);
        let micros = (pico + 999_999) / 1_000_000;
        micros.clamp(0, i64::MAX as i128) as Micros
    }
}

/// A micro-USD amount as a decimal USD string for headers (`0.000123`).
pub fn format_usd(m: Micros) -> String {
    let sign = if m < 0 { "-" } else { "" };
    let a = m.unsigned_abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> TokenPrice {
        TokenPrice::from(Price {
            input_per_mtok: 0.15,
            output_per_mtok: 0.60,
            ..Price::default()
        })
    }

    #[test]
    fn cost_is_exact_and_rounds_up() {
        let p = price();
        // 1M input tokens at 0.15 = 150000 micros.
        assert_eq!(p.cost(1_000_000, 0), 150_000);
        // 10 input + 10 output = 1.5 + 6 = 7.5 micros -> 8.
        assert_eq!(p.cost(10, 10), 8);
        assert_eq!(p.cost(0, 0), 0);
    }

    #[test]
    fn cache_classes_default_to_the_input_price_and_can_be_set() {
        let p = price();
        let t = TokenCounts {
            input: 1_000_000,
            cache_read: 1_000_000,
            cache_write: 1_000_000,
            ..TokenCounts::default()
        };
        assert_eq!(p.cost_of(&t), 450_000);
        let cheap = TokenPrice::from(Price {
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
            cache_read_per_mtok: Some(0.1),
            cache_write_per_mtok: Some(1.25),
        });
        assert_eq!(cheap.cost_of(&t), 1_000_000 + 100_000 + 1_250_000);
        assert_eq!(
            cheap.worst_case(1_000_000, 1_000_000),
            1_250_000 + 2_000_000
        );
    }

    #[test]
    fn absurd_prices_do_not_wrap() {
        let p = TokenPrice::from(Price {
            input_per_mtok: f64::NAN,
            output_per_mtok: -3.0,
            ..Price::default()
        });
        assert_eq!(p.cost(10, 10), 0);
    }

    #[test]
    fn usd_formatting() {
        assert_eq!(format_usd(8), "0.000008");
        assert_eq!(format_usd(25_000_000), "25.000000");
        assert_eq!(format_usd(-1_500_000), "-1.500000");
        assert_eq!(usd_to_micros(0.1 + 0.2), 300_000);
    }
}
