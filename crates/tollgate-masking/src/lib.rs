//! tollgate-masking: finds sensitive values in text, JSON bodies and streams, and
//! masks them (`[EMAIL]`, `[MASKED]`, ...) or blocks the traffic (PRODUCT.md,
//! "Data masking").
//!
//! Pure and synchronous, no I/O: the gateway compiles a snapshot's rules once
//! ([`RuleSet::compile`]), picks those that apply to a request and a direction
//! ([`RuleSet::select`], `None` when none does: the fast path), then masks
//! text ([`Masker::mask_text`]), JSON ([`Masker::mask_json`]) or a stream's pieces
//! ([`StreamMasker`]). Every result names the rule and the detector of each match
//! ([`Hit`]) and never carries the matched value, so nothing downstream can log it.
//!
//! Matching is linear in the text: detectors and user patterns use the `regex` crate
//! (no backtracking; patterns compiled with a size limit), keywords one Aho-Corasick
//! automaton per rule.

mod detect;
mod mask;
mod rules;
pub mod spec;
mod stream;

pub use detect::{iban_valid, luhn};
pub use mask::{Blocked, Finder, Hit, MASKED, Masker};
pub use rules::{
    CompiledRule, MAX_ITEMS, MAX_KEYWORD_BYTES, MAX_PATTERN_BYTES, RuleIssue, RuleSet, compile_rule,
};
pub use spec::{Action, AppliesTo, Detector, Direction, MaskingRuleSpec, Way};
pub use stream::{StreamMasker, WINDOW};
