//! Micro-benchmarks of the limiter decisions on every admitted request, on the local
//! (in-memory) backend: rate limits of a key, a consumer and a team (requests/min,
//! tokens/min, concurrency), admitted then settled and released; and a budget
//! reservation on a consumer and a team, settled to the actual cost
//! (`cargo bench -p tollgate-limits`).

use divan::{Bencher, black_box};
use tollgate_limits::{Admission, Amount, BudgetRule, Limiter, Period, RateRule, Reserve, Spend};

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn rate_rules() -> Vec<RateRule> {
    ["key:k1", "consumer:c", "team:t"]
        .into_iter()
        .map(|scope| RateRule {
            scope: scope.to_string(),
            requests_per_minute: Some(1_000_000_000),
            tokens_per_minute: Some(1_000_000_000_000),
            concurrent: Some(100_000),
        })
        .collect()
}

fn budget_rules() -> Vec<BudgetRule> {
    ["consumer:c", "team:t"]
        .into_iter()
        .map(|scope| BudgetRule {
            scope: scope.to_string(),
            limit: Amount::Usd(1_000_000_000_000),
            period: Period::Monthly,
        })
        .collect()
}

/// Admit under three rules, correct tokens/min to the actual count, release.
#[divan::bench]
fn admit_settle_release(b: Bencher) {
    let rt = runtime();
    let limiter = Limiter::local();
    let rules = rate_rules();
    b.bench_local(|| {
        rt.block_on(async {
            let a = limiter
                .admit(black_box(&Admission {
                    request_id: "req-1",
                    rules: &rules,
                    estimated_tokens: 4200,
                }))
                .await
                .expect("admitted");
            limiter.settle_tokens(&a.permit, 104).await;
            limiter.release(a.permit).await;
        })
    });
}

/// Reserve the worst case on two USD budgets, settle to the actual cost.
#[divan::bench]
fn reserve_settle(b: Bencher) {
    let rt = runtime();
    let limiter = Limiter::local();
    let rules = budget_rules();
    b.bench_local(|| {
        rt.block_on(async {
            let r = limiter
                .reserve(black_box(&Reserve {
                    request_id: "req-1",
                    rules: &rules,
                    cost: 2_500,
                    tokens: 4200,
                    credits_of: None,
                }))
                .await
                .expect("reserved");
            limiter.settle(r, Spend::new(45, 104)).await
        })
    });
}
