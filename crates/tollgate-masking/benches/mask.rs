//! Masking's cost on a 4 KiB prompt: `cargo bench -p tollgate-masking`.

use divan::Bencher;
use serde_json::json;
use tollgate_masking::{MaskingRuleSpec, RuleSet, StreamMasker, Way};

fn main() {
    divan::main();
}

fn rules() -> RuleSet {
    let specs: Vec<MaskingRuleSpec> = serde_json::from_value(json!([{
        "name": "pii",
        "detectors": ["email", "phone", "credit_card", "iban", "ip_address", "api_key"],
        "keywords": ["Project Falcon", "Project Osprey"],
        "regex": ["EMP-[0-9]{6}"]
    }]))
    .unwrap_or_default();
    RuleSet::compile(&specs).0
}

/// About 4 KiB of prose with a few values to mask.
fn prompt() -> String {
    let para = "Please summarise the following support ticket for the on-call engineer. \
                The customer wrote in on Tuesday about an invoice that did not match \
                their order, and asked us to call them back next week. ";
    let mut s = String::new();
    while s.len() < 4000 {
        s.push_str(para);
    }
    s.push_str("Contact jane.doe@example.com or +1 415-555-0132, card 4111 1111 1111 1111.");
    s
}

#[divan::bench]
fn clean_text_no_rule_applies(b: Bencher) {
    let set = RuleSet::default();
    let text = prompt();
    b.bench(|| set.select(Some("gpt"), None, Way::Request).is_none() && !text.is_empty());
}

#[divan::bench]
fn mask_4k_prompt(b: Bencher) {
    let set = rules();
    let text = prompt();
    b.bench(|| {
        let Some(m) = set.select(Some("gpt"), None, Way::Request) else {
            return 0;
        };
        let mut hits = Vec::new();
        m.mask_text(divan::black_box(&text), &mut hits)
            .map(|t| t.len())
            .unwrap_or(0)
    });
}

#[divan::bench]
fn stream_4k_answer_in_16_byte_deltas(b: Bencher) {
    let set = rules();
    let text = prompt();
    let pieces: Vec<&str> = text
        .as_bytes()
        .chunks(16)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    b.bench(|| {
        let Some(m) = set.select(Some("gpt"), None, Way::Response) else {
            return 0;
        };
        let mut sm = StreamMasker::new(m);
        let mut hits = Vec::new();
        let mut n = 0;
        for p in &pieces {
            n += sm.push(p, &mut hits).map(|s| s.len()).unwrap_or(0);
        }
        n + sm.finish(&mut hits).map(|s| s.len()).unwrap_or(0)
    });
}
