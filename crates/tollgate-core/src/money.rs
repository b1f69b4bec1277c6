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

/// A price converted once to pico-USD per token (integer), so per-request cost is
/// exact integer arithmetic. `0.15` USD per million tokens is 150 000 pico-USD/token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenPrice {
    pub input_pico: i64,
    pub output_pico: i64,
}

impl From<Price> for TokenPrice {
    fn from(p: Price) -> Self {
        TokenPrice {
            input_pico: (p.input_per_mtok * 1_000_000.0).round() as i64,
            output_pico: (p.output_per_mtok * 1_000_000.0).round() as i64,
        }
    }
}

impl TokenPrice {
    /// Cost in micro-USD, rounded up so that a request is never free by rounding.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> Micros {
        let pico = (input_tokens as i128) * (self.input_pico as i128)
            + (output_tokens as i128) * (self.output_pico as i128);
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

    #[test]
    fn cost_is_exact_and_rounds_up() {
        let p = TokenPrice::from(Price {
            input_per_mtok: 0.15,
            output_per_mtok: 0.60,
        });
        // 1M input tokens at 0.15 = 150000 micros.
        assert_eq!(p.cost(1_000_000, 0), 150_000);
        // 10 input + 10 output = 1.5 + 6 = 7.5 micros -> 8.
        assert_eq!(p.cost(10, 10), 8);
        assert_eq!(p.cost(0, 0), 0);
    }

    #[test]
    fn usd_formatting() {
        assert_eq!(format_usd(8), "0.000008");
        assert_eq!(format_usd(25_000_000), "25.000000");
        assert_eq!(format_usd(-1_500_000), "-1.500000");
        assert_eq!(usd_to_micros(0.1 + 0.2), 300_000);
    }
}
