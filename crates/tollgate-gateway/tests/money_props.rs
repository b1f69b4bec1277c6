//! Property tests of the money path: for random prices, fallback chains, prompt
//! estimates, caps, reported usages (honest, missing, or lying with more output than
//! the cap) and failures, what a request is charged never exceeds what admission
//! reserved for it; and over random concurrent traffic on a budget, what the budget
//! counts as spent is exactly the sum of the charges, never more than the budget.

use std::sync::Arc;

use proptest::prelude::*;
use tollgate_core::money::TokenCounts;
use tollgate_core::spec::{ModelSpec, Period, Price, ProviderKind, ProviderSpec, TargetSpec};
use tollgate_gateway::admission::{Plan, Planned};
use tollgate_gateway::forward::Candidate;
use tollgate_gateway::usage::billed;
use tollgate_limits::{Amount, BudgetRule, Limiter, Reserve, Spend};

fn model(name: &str, price: (u32, u32, Option<u32>, Option<u32>), cap: Option<u32>) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        targets: vec![TargetSpec {
            provider: "p".into(),
            model: "m".into(),
            weight: 1,
            timeouts: None,
        }],
        fallbacks: vec![],
        strategy: tollgate_core::spec::Strategy::default(),
        timeouts: None,
        retries: None,
        cache: None,
        max_output_tokens: cap,
        price: Some(Price {
            input_per_mtok: f64::from(price.0) / 10.0,
            output_per_mtok: f64::from(price.1) / 10.0,
            cache_read_per_mtok: price.2.map(|p| f64::from(p) / 10.0),
            cache_write_per_mtok: price.3.map(|p| f64::from(p) / 10.0),
        }),
        rate_limit: None,
        log_bodies: false,
    }
}

fn candidate(p: &Planned) -> Candidate {
    Candidate {
        model: p.model.clone(),
        target: p.model.targets[0].clone(),
        provider: Arc::new(ProviderSpec {
            name: "p".into(),
            kind: ProviderKind::Openai,
            base_url: None,
            api_keys: vec![],
            api_version: None,
        }),
        id: "p/m".into(),
        max_output: p.max_output,
    }
}

fn price() -> impl Strategy<Value = (u32, u32, Option<u32>, Option<u32>)> {
    (
        0u32..100_000,
        0u32..100_000,
        proptest::option::of(0u32..100_000),
        proptest::option::of(0u32..100_000),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_charge_never_exceeds_its_reservation(
        prices in proptest::collection::vec((price(), proptest::option::of(1u32..20_000)), 1..5),
        client_max in proptest::option::of(1u32..20_000),
        prompt in 0u64..200_000,
        answered in 0usize..5,
        split in (0u64..=100, 0u64..=100),
        output_factor in 0u64..40,
        honest in any::<bool>(),
    ) {
        let models: Vec<Planned> = prices
            .iter()
            .enumerate()
            .map(|(i, (p, cap))| {
                let m = Arc::new(model(&format!("m{i}"), *p, *cap));
                Planned {
                    max_output: client_max.or(m.max_output_tokens).unwrap_or(4096),
                    model: m,
                }
            })
            .collect();
        let plan = Plan { models, prompt_tokens: prompt, prompt: prompt.into() };
        let reserved = plan.worst_cost();
        let chosen = &plan.models[answered % plan.models.len()];
        let cand = candidate(chosen);
        // The provider's prompt, split over its classes, within the estimate.
        let cache_read = prompt * split.0 / 100;
        let cache_write = (prompt - cache_read) * split.1 / 100;
        let output = u64::from(chosen.max_output) * output_factor / 10;
        let reported = TokenCounts {
            input: prompt - cache_read - cache_write,
            cache_read,
            cache_write,
            output,
            reasoning: output / 2,
        };
        let (usage, cost) = billed(&cand, honest.then_some(reported), || {
            TokenCounts::new(prompt, output)
        });
        prop_assert!(usage.output <= u64::from(chosen.max_output));
        prop_assert!(cost <= reserved, "charged {cost} > reserved {reserved}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn budgets_count_exactly_the_charges_and_never_overspend(
        requests in proptest::collection::vec((1i64..5_000, 0u64..=100, any::<bool>()), 1..60),
        budget in 1_000i64..50_000,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async move {
            let limiter = Limiter::local();
            let rules = vec![BudgetRule {
                scope: "consumer:c".into(),
                limit: Amount::Usd(budget),
                period: Period::Total,
            }];
            // Reserve everything first (as concurrent requests would), then settle.
            let mut held = Vec::new();
            for (i, (worst, share, fails)) in requests.iter().enumerate() {
                let id = format!("r{i}");
                let r = limiter
                    .reserve(&Reserve { request_id: &id, rules: &rules, cost: *worst, tokens: 0, credits_of: None })
                    .await;
                if let Ok(r) = r {
                    // A failed request settles to 0; a success to part of its worst case.
                    let actual = if *fails { 0 } else { worst * (*share as i64) / 100 };
                    held.push((r, actual));
                }
            }
            let mut charged = 0i64;
            for (r, actual) in held {
                charged += actual;
                limiter.settle(r, Spend::new(actual, 0)).await;
            }
            let status = limiter
                .budget_status(&rules[0], chrono::Utc::now())
                .await
                .expect("status");
            assert_eq!(status.used.cost, charged, "the budget counts exactly the charges");
            assert!(status.used.cost <= budget, "never over the budget");
            assert_eq!(status.reserved.cost, 0, "nothing left held");
        });
    }
}
