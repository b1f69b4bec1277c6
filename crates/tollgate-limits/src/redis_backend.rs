//! The Redis backend: every decision is one atomic Lua script on Redis server time.
//!
//! Why scripts: a limiter that reads then writes in two round trips lets two nodes both
//! read "one left" and both take it (the Helicone lesson in DESIGN.md). A script runs
//! alone on the server, so a check across several rules and its writes are one step.
//!
//! Why server time: nodes' clocks drift; rate windows, lease expiries and calendar
//! budget periods all come from `TIME` inside the scripts.
//!
//! Leases: a concurrency slot or a budget hold is a member of a sorted set scored by
//! its expiry. A background task renews the leases of this node's live permits and
//! reservations every third of the lease; if the node dies, its slots and holds expire
//! on their own and the next script that looks at the set purges them.
//!
//! Keys (all under the configured prefix): `rpm:{scope}` and `tpm:{scope}` hold a GCRA
//! TAT in µs; `conc:{scope}` a lease set; `b:{unit}:{period}:{window start}:{scope}` a
//! budget window (hash) and `bz:...` its hold leases; `m:{unit}:{period}:{start}:{pct}:{scope}`
//! a threshold marker; `c:{consumer}` / `cz:{consumer}` credits and their hold leases.
//! Keys are built inside scripts (windows depend on server time), so Redis Cluster is
//! not supported; a single primary (with replicas or Sentinel) is.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script, ScriptInvocation};
use tollgate_core::QuotaKind;
use tollgate_core::money::Micros;

use crate::local::{credits_denied, push_thresholds};
use crate::rate::{self, Check, Figures, Outcome};
use crate::types::{
    Admission, Amount, BudgetRule, BudgetStatus, FailurePolicy, LimitError, QuotaDenied,
    RateDenied, RateKind, RateRule, Reserve, ReservedBudget, SeriesKey, Settled, Spend,
};
use crate::window::{period_name, window};
use crate::{Admitted, Engine, Hold, Permit, PermitInner, ResInner, Reservation};

/// Seconds a budget window's keys outlive the window (must match `GRACE` in prelude.lua).
const GRACE_SECS: i64 = 172_800;

macro_rules! script {
    ($name:ident, $file:literal) => {
        static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(
                include_str!("lua/prelude.lua"),
                "\n",
                include_str!($file)
            ))
        });
    };
}

script!(ADMIT, "lua/admit.lua");
script!(SETTLE_TOKENS, "lua/settle_tokens.lua");
script!(RELEASE, "lua/release.lua");
script!(RENEW, "lua/renew.lua");
script!(RESERVE, "lua/reserve.lua");
script!(SETTLE, "lua/settle.lua");
script!(STATUS, "lua/status.lua");
script!(SEED_BUDGET, "lua/seed_budget.lua");
script!(SEED_CREDITS, "lua/seed_credits.lua");
script!(ADD_CREDITS, "lua/add_credits.lua");

/// Tuning of the Redis backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    pub policy: FailurePolicy,
    /// Longest wait for one Redis call before the policy applies. Kept short because it
    /// is added to every request's latency while Redis is unhealthy.
    pub timeout: Duration,
    /// How long a concurrency slot or budget hold survives without renewal, i.e. how
    /// long a dead node's in-flight requests keep counting. Renewed every third.
    pub lease: Duration,
}

impl RedisOptions {
    pub fn new(policy: FailurePolicy) -> RedisOptions {
        RedisOptions {
            policy,
            timeout: Duration::from_millis(250),
            lease: Duration::from_secs(30),
        }
    }
}

/// A lease this node keeps alive: the lease set, and whether the set's own TTL
/// follows the lease (concurrency sets do; budget sets expire with their window).
type Lease = (String, bool);

pub(crate) struct RedisEngine {
    conn: ConnectionManager,
    prefix: String,
    pub(crate) policy: FailurePolicy,
    timeout: Duration,
    lease: Duration,
    live: Mutex<HashMap<String, Vec<Lease>>>,
    errors: AtomicU64,
    /// Whether the last call succeeded: logs go out on transitions, not per request,
    /// so an outage does not flood the log (the metric counts every failure).
    healthy: AtomicBool,
}

/// Stops the lease keeper when the last `Limiter` handle goes.
pub(crate) struct Keeper(Option<tokio::task::AbortHandle>);

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

fn dt(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fn end_dt(secs: i64) -> Option<DateTime<Utc>> {
    (secs >= 0).then(|| dt(secs))
}

fn micros_dur(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn bad_reply(what: &str) -> LimitError {
    LimitError::Unavailable(format!("unexpected reply from the {what} script"))
}

/// A unique lease member: the request id for whoever reads Redis, plus a random
/// suffix because one request id can be admitted or reserved more than once (retries).
fn member(request_id: &str) -> String {
    format!("{request_id}~{}", uuid::Uuid::new_v4().simple())
}

impl RedisEngine {
    pub(crate) async fn connect(
        url: &str,
        prefix: &str,
        opts: RedisOptions,
    ) -> Result<(Arc<RedisEngine>, Keeper), LimitError> {
        let client =
            redis::Client::open(url).map_err(|e| LimitError::InvalidConfig(e.to_string()))?;
        let timeout = opts.timeout.max(Duration::from_millis(1));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_secs(1))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        // Lazy: a node must start (and apply its failure policy) while Redis is down.
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| LimitError::InvalidConfig(e.to_string()))?;
        let engine = Arc::new(RedisEngine {
            conn,
            prefix: prefix.to_string(),
            policy: opts.policy,
            timeout,
            lease: opts.lease.max(Duration::from_millis(300)),
            live: Mutex::new(HashMap::new()),
            errors: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
        });
        if let Err(e) = engine.ping().await {
            tracing::warn!(error = %e, "Redis for limits is not reachable yet; policy {} applies until it is", opts.policy.as_str());
        }
        let keeper = spawn_keeper(&engine);
        Ok((engine, keeper))
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn backend_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Counts a failed Redis call: `tollgate_limits_backend_errors_total{policy, op}`.
    pub(crate) fn failed(&self, op: &'static str, e: &LimitError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(
            "tollgate_limits_backend_errors_total",
            "policy" => self.policy.as_str(),
            "op" => op
        )
        .increment(1);
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(op, error = %e, policy = self.policy.as_str(), "limits backend failed; the failure policy applies until Redis answers again");
        } else {
            tracing::debug!(op, error = %e, "limits backend failed");
        }
    }

    fn answered(&self) {
        if !self.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!("limits backend answers again");
        }
    }

    async fn eval<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> Result<T, LimitError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, inv.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => {
                self.answered();
                Ok(v)
            }
            Ok(Err(e)) => Err(LimitError::Unavailable(e.to_string())),
            Err(_) => Err(self.timed_out()),
        }
    }

    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, LimitError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async(&mut conn)).await {
            Ok(Ok(v)) => {
                self.answered();
                Ok(v)
            }
            Ok(Err(e)) => Err(LimitError::Unavailable(e.to_string())),
            Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> LimitError {
        LimitError::Unavailable(format!(
            "Redis did not answer within {} ms",
            self.timeout.as_millis()
        ))
    }

    pub(crate) async fn ping(&self) -> Result<(), LimitError> {
        let pong: String = self.query(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(LimitError::Unavailable(format!("PING answered {pong}")))
        }
    }

    // ------------------------------------------------------------------ keys

    fn rate_key(&self, kind: &str, scope: &str) -> String {
        format!("{}{kind}:{scope}", self.prefix)
    }

    fn budget_keys(&self, s: &SeriesKey, window_start: i64) -> (String, String) {
        let tail = format!(
            "{}:{}:{window_start}:{}",
            s.unit.as_str(),
            s.period,
            s.scope
        );
        (
            format!("{}b:{tail}", self.prefix),
            format!("{}bz:{tail}", self.prefix),
        )
    }

    fn marker_base(&self, s: &SeriesKey, window_start: i64) -> String {
        format!(
            "{}m:{}:{}:{window_start}:",
            self.prefix,
            s.unit.as_str(),
            s.period
        )
    }

    fn credit_keys(&self, consumer: &str) -> (String, String) {
        (
            format!("{}c:{consumer}", self.prefix),
            format!("{}cz:{consumer}", self.prefix),
        )
    }

    // ------------------------------------------------------------------ leases

    fn hold_leases(&self, member: &str, leases: Vec<Lease>) {
        if leases.is_empty() {
            return;
        }
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(member.to_string(), leases);
    }

    /// Stops renewing a member's leases (it was released, or is being given up).
    pub(crate) fn drop_leases(&self, member: &str) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(member);
    }

    async fn renew(&self) {
        let all: Vec<(String, String, bool)> = {
            let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
            live.iter()
                .flat_map(|(m, ls)| ls.iter().map(move |(k, t)| (k.clone(), m.clone(), *t)))
                .collect()
        };
        for chunk in all.chunks(256) {
            let mut inv = RENEW.prepare_invoke();
            inv.arg(self.lease_ms());
            for (key, member, touch) in chunk {
                inv.key(key).arg(member).arg(if *touch { "1" } else { "0" });
            }
            if let Err(e) = self.eval::<i64>(&inv).await {
                self.failed("renew", &e);
            }
        }
    }

    // ------------------------------------------------------------------ rate limits

    pub(crate) async fn admit(
        self: &Arc<Self>,
        req: &Admission<'_>,
        rules: &[RateRule],
    ) -> Result<Result<Admitted, RateDenied>, LimitError> {
        let id = member(req.request_id);
        let mut inv = ADMIT.prepare_invoke();
        inv.arg(&id).arg(req.estimated_tokens).arg(self.lease_ms());
        let mut meta: Vec<(&str, RateKind, u64)> = Vec::with_capacity(rules.len() * 2);
        let mut conc_keys = Vec::new();
        for r in rules {
            if let Some(l) = r.requests_per_minute {
                inv.key(self.rate_key("rpm", &r.scope)).arg("r").arg(l);
                meta.push((&r.scope, RateKind::Requests, l));
            }
            if let Some(l) = r.tokens_per_minute {
                inv.key(self.rate_key("tpm", &r.scope)).arg("t").arg(l);
                meta.push((&r.scope, RateKind::Tokens, l));
            }
            if let Some(l) = r.concurrent {
                let key = self.rate_key("conc", &r.scope);
                inv.key(&key).arg("c").arg(l);
                meta.push((&r.scope, RateKind::Concurrency, u64::from(l)));
                conc_keys.push((key, true));
            }
        }
        if meta.is_empty() {
            return Ok(Ok(Admitted {
                permit: Permit::unbacked(req.request_id),
                headers: None,
            }));
        }
        let out: Vec<i64> = self.eval(&inv).await?;
        if out.len() != 1 + 4 * meta.len() {
            return Err(bad_reply("admit"));
        }
        let admitted = out[0] == 1;
        let outcomes: Vec<Outcome<'_>> = meta
            .iter()
            .enumerate()
            .map(|(i, (scope, kind, limit))| {
                let f = Figures {
                    remaining: u(out[2 + 4 * i]),
                    reset: micros_dur(out[3 + 4 * i]),
                };
                Outcome {
                    scope,
                    kind: *kind,
                    limit: *limit,
                    check: Check {
                        allowed: out[1 + 4 * i] == 1,
                        retry: micros_dur(out[4 + 4 * i]),
                        before: f,
                        after: f,
                        new_tat: 0,
                    },
                }
            })
            .collect();
        if !admitted {
            return rate::denial(&outcomes)
                .map(Err)
                .ok_or_else(|| bad_reply("admit"));
        }
        self.hold_leases(&id, conc_keys);
        let headers = rate::headers(&outcomes, true);
        let permit = Permit::new(Engine::Redis(Arc::clone(self)), id, req, rules);
        Ok(Ok(Admitted { permit, headers }))
    }

    pub(crate) async fn settle_tokens(
        &self,
        tokens: &[(String, u64)],
        delta: i64,
    ) -> Result<(), LimitError> {
        let mut inv = SETTLE_TOKENS.prepare_invoke();
        inv.arg(delta);
        for (scope, limit) in tokens {
            inv.key(self.rate_key("tpm", scope)).arg(*limit);
        }
        self.eval::<i64>(&inv).await.map(|_| ())
    }

    pub(crate) async fn release(&self, p: &PermitInner) -> Result<(), LimitError> {
        self.drop_leases(&p.id);
        if p.concurrency.is_empty() {
            return Ok(());
        }
        let mut inv = RELEASE.prepare_invoke();
        inv.arg(&p.id);
        for scope in &p.concurrency {
            inv.key(self.rate_key("conc", scope));
        }
        self.eval::<i64>(&inv).await.map(|_| ())
    }

    // ------------------------------------------------------------------ budgets

    pub(crate) async fn reserve(
        self: &Arc<Self>,
        req: &Reserve<'_>,
        rules: &[BudgetRule],
    ) -> Result<Result<Reservation, QuotaDenied>, LimitError> {
        let requested = Spend::new(req.cost, req.tokens).clamped();
        let id = member(req.request_id);
        let consumer = req.credits_of.unwrap_or("");
        let mut inv = RESERVE.prepare_invoke();
        inv.arg(&self.prefix)
            .arg(&id)
            .arg(self.lease_ms())
            .arg(requested.cost)
            .arg(requested.tokens)
            .arg(rules.len())
            .arg(consumer);
        for r in rules {
            let limit = i64::try_from(r.limit.value()).unwrap_or(i64::MAX);
            inv.arg(r.limit.unit().as_str())
                .arg(period_name(r.period))
                .arg(limit)
                .arg(&r.scope);
        }
        let out: Vec<i64> = self.eval(&inv).await?;
        if out.first() == Some(&-1) {
            return Err(LimitError::CreditsNotSeeded(consumer.to_string()));
        }
        let with_credits = req.credits_of.is_some();
        if out.len() != 2 + 6 * rules.len() + if with_credits { 2 } else { 0 } {
            return Err(bad_reply("reserve"));
        }
        let fits = out[0] == 1;
        let deny = usize::try_from(out[1]).unwrap_or(0);
        let views: Vec<(i64, Option<DateTime<Utc>>, Spend, Spend)> = (0..rules.len())
            .map(|i| {
                let o = &out[2 + 6 * i..8 + 6 * i];
                (
                    o[0],
                    end_dt(o[1]),
                    Spend::new(o[2], u(o[3])),
                    Spend::new(o[4], u(o[5])),
                )
            })
            .collect();
        let credits = with_credits.then(|| {
            let n = out.len();
            (out[n - 2], out[n - 1])
        });

        if !fits {
            if let Some(rule) = deny.checked_sub(1).and_then(|i| rules.get(i)) {
                let (_, we, used, reserved) = views[deny - 1];
                return Ok(Err(QuotaDenied {
                    kind: match rule.limit {
                        Amount::Usd(_) => QuotaKind::Budget,
                        Amount::Tokens(_) => QuotaKind::TokenQuota,
                    },
                    scope: rule.scope.clone(),
                    limit: rule.limit,
                    used,
                    reserved,
                    period: rule.period,
                    resets_at: we,
                    requested,
                    balance: None,
                }));
            }
            if let Some((balance, held)) = credits {
                return Ok(Err(credits_denied(consumer, balance, held, requested)));
            }
            return Err(bad_reply("reserve"));
        }

        let mut leases = Vec::with_capacity(rules.len() + 1);
        let mut holds = Vec::with_capacity(rules.len());
        let mut budgets = Vec::with_capacity(rules.len());
        for (rule, (ws, we, used, reserved)) in rules.iter().zip(views) {
            let series = rule.series();
            leases.push((self.budget_keys(&series, ws).1, false));
            budgets.push(ReservedBudget {
                scope: rule.scope.clone(),
                limit: rule.limit,
                period: rule.period,
                window_start: dt(ws),
                resets_at: we,
                used,
                reserved,
            });
            holds.push(Hold {
                series,
                window_start: dt(ws),
                resets_at: we,
                rule: rule.clone(),
            });
        }
        if let Some(c) = req.credits_of {
            leases.push((self.credit_keys(c).1, false));
        }
        self.hold_leases(&id, leases);
        Ok(Ok(Reservation::new(
            req.request_id,
            requested,
            budgets,
            credits.map(|(balance, held)| balance.saturating_sub(held)),
            Some(ResInner {
                engine: Engine::Redis(Arc::clone(self)),
                id,
                held: requested,
                holds,
                credits: req.credits_of.map(str::to_string),
            }),
        )))
    }

    pub(crate) async fn settle(&self, r: &ResInner, actual: Spend) -> Result<Settled, LimitError> {
        self.drop_leases(&r.id);
        let actual = actual.clamped();
        let mut inv = SETTLE.prepare_invoke();
        inv.arg(&r.id)
            .arg(actual.cost)
            .arg(actual.tokens)
            .arg(r.holds.len())
            .arg(if r.credits.is_some() { "1" } else { "0" });
        for h in &r.holds {
            let ws = h.window_start.timestamp();
            let (hash, zset) = self.budget_keys(&h.series, ws);
            let exp = h
                .resets_at
                .map_or(-1, |end| end.timestamp().saturating_add(GRACE_SECS));
            inv.key(hash)
                .key(zset)
                .arg(h.series.unit.as_str())
                .arg(i64::try_from(h.rule.limit.value()).unwrap_or(i64::MAX))
                .arg(exp)
                .arg(self.marker_base(&h.series, ws))
                .arg(&h.rule.scope);
        }
        if let Some(c) = &r.credits {
            let (hash, zset) = self.credit_keys(c);
            inv.key(hash).key(zset);
        }
        let out: Vec<i64> = self.eval(&inv).await?;
        let expect = 3 * r.holds.len() + if r.credits.is_some() { 2 } else { 0 };
        if out.len() != expect {
            return Err(bad_reply("settle"));
        }
        let mut settled = Settled::default();
        for (i, h) in r.holds.iter().enumerate() {
            let mask = u8::try_from(out[3 * i]).unwrap_or(0);
            let used = Spend::new(out[3 * i + 1], u(out[3 * i + 2]));
            push_thresholds(&mut settled.thresholds, mask, h, used);
        }
        if r.credits.is_some() {
            let n = out.len();
            settled.credit_balance = (out[n - 2] == 1).then_some(out[n - 1]);
        }
        Ok(settled)
    }

    pub(crate) async fn budget_status(
        &self,
        rule: &BudgetRule,
        now: DateTime<Utc>,
    ) -> Result<BudgetStatus, LimitError> {
        let (ws, we) = window(rule.period, now);
        let (hash, zset) = self.budget_keys(&rule.series(), ws.timestamp());
        let mut inv = STATUS.prepare_invoke();
        inv.key(hash).key(zset);
        let out: Vec<i64> = self.eval(&inv).await?;
        let [uc, ut, rc, rt] = out[..] else {
            return Err(bad_reply("status"));
        };
        Ok(BudgetStatus {
            scope: rule.scope.clone(),
            limit: rule.limit,
            period: rule.period,
            used: Spend::new(uc, u(ut)),
            reserved: Spend::new(rc, u(rt)),
            window_start: ws,
            resets_at: we,
        })
    }

    pub(crate) async fn seed_budget(
        &self,
        rule: &BudgetRule,
        at: DateTime<Utc>,
        used: Spend,
    ) -> Result<(), LimitError> {
        let (ws, we) = window(rule.period, at);
        let used = used.clamped();
        let (hash, _) = self.budget_keys(&rule.series(), ws.timestamp());
        let exp = we.map_or(-1, |end| end.timestamp().saturating_add(GRACE_SECS));
        let mut inv = SEED_BUDGET.prepare_invoke();
        inv.key(hash).arg(used.cost).arg(used.tokens).arg(exp);
        self.eval::<i64>(&inv).await.map(|_| ())
    }

    // ------------------------------------------------------------------ credits

    pub(crate) async fn seed_credits(
        &self,
        consumer: &str,
        balance: Micros,
    ) -> Result<(), LimitError> {
        let mut inv = SEED_CREDITS.prepare_invoke();
        inv.key(self.credit_keys(consumer).0).arg(balance);
        self.eval::<i64>(&inv).await.map(|_| ())
    }

    pub(crate) async fn add_credits(
        &self,
        consumer: &str,
        delta: Micros,
    ) -> Result<Micros, LimitError> {
        let mut inv = ADD_CREDITS.prepare_invoke();
        inv.key(self.credit_keys(consumer).0).arg(delta);
        let out: Vec<i64> = self.eval(&inv).await?;
        match out[..] {
            [1, balance] => Ok(balance),
            [0, _] => Err(LimitError::CreditsNotSeeded(consumer.to_string())),
            _ => Err(bad_reply("add_credits")),
        }
    }

    pub(crate) async fn credit_balance(
        &self,
        consumer: &str,
    ) -> Result<Option<Micros>, LimitError> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.credit_keys(consumer).0).arg("bal");
        self.query(&cmd).await
    }
}

fn spawn_keeper(engine: &Arc<RedisEngine>) -> Keeper {
    let weak: Weak<RedisEngine> = Arc::downgrade(engine);
    let every = (engine.lease / 3).max(Duration::from_millis(100));
    // Outside a Tokio runtime there is nothing to renew with: leases then simply run
    // their course (requests longer than a lease would lose their slot early).
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no Tokio runtime: Redis leases of this node will not be renewed");
        return Keeper(None);
    };
    let task = rt.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(engine) = weak.upgrade() else { break };
            engine.renew().await;
        }
    });
    Keeper(Some(task.abort_handle()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use tollgate_core::spec::Period;

    static WINDOW_OF: LazyLock<Script> = LazyLock::new(|| {
        Script::new(concat!(
            include_str!("lua/prelude.lua"),
            "\nlocal ws, we = window_of(ARGV[1], tonumber(ARGV[2]))\nreturn {ws, we}"
        ))
    });

    /// The Lua windows must be the Rust windows, or Redis would bill a window that
    /// `budget_status` and the database never read.
    #[tokio::test]
    async fn lua_windows_match_rust_windows() {
        let url = std::env::var("TOLLGATE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("Redis must be running at {url} for these tests: {e}"));
        let mut instants: Vec<DateTime<Utc>> = Vec::new();
        for y in [1970, 1999, 2000, 2023, 2024, 2025, 2100, 2400] {
            for m in 1..=12 {
                for (d, h, mi, s) in [
                    (1, 0, 0, 0),
                    (1, 0, 0, 1),
                    (15, 12, 30, 0),
                    (28, 23, 59, 59),
                ] {
                    instants.push(Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap());
                }
            }
            instants.push(Utc.with_ymd_and_hms(y, 12, 31, 23, 59, 59).unwrap());
        }
        instants.push(Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap());
        // Every day of 2024 at noon covers every weekday and month end.
        let mut t = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        while t.timestamp()
            < Utc
                .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp()
        {
            instants.push(t);
            t += chrono::Duration::days(1);
        }
        for now in instants {
            for period in [
                Period::Daily,
                Period::Weekly,
                Period::Monthly,
                Period::Total,
            ] {
                let (ws, we): (i64, i64) = WINDOW_OF
                    .arg(period_name(period))
                    .arg(now.timestamp())
                    .invoke_async(&mut conn)
                    .await
                    .unwrap();
                let (rs, re) = window(period, now);
                assert_eq!(
                    (ws, we),
                    (rs.timestamp(), re.map_or(-1, |e| e.timestamp())),
                    "{period:?} at {now}"
                );
            }
        }
    }
}
