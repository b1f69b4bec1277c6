//! Building the gateway's in-memory snapshot from the store, and keeping it fresh.

use std::sync::Arc;
use std::time::Duration;

use tollgate_core::live::Live;
use tollgate_core::snapshot::{CredentialEntry, CredentialSecret, Credentials, KeyEntry, Snapshot};
use tollgate_gateway::metering::Metering;
use tollgate_store::{CredentialKind, CredentialRecord, Store, StoreError};
use tollgate_telemetry::names;

/// Reads every resource and active key. The revision is read first, so a write that
/// lands while the lists are read makes the next poll reload again.
pub async fn load(store: &Store) -> Result<Snapshot, StoreError> {
    let revision = store.revision().await?;
    let providers = store.list_providers().await?;
    let models = store.list_models().await?;
    let teams = store.list_teams().await?;
    let consumers = store.list_consumers().await?;
    let keys = store.list_keys(None).await?;
    let services = store.list_services().await?;
    let prompt_apis = store.list_prompt_apis().await?;
    let masking: Vec<_> = store
        .list_masking_rules()
        .await?
        .into_iter()
        .map(|s| s.spec)
        .collect();
    let credentials = credentials(store.list_credentials(None).await?);
    let subscriptions = store.approved_subscriptions().await?;
    let keys = keys
        .into_iter()
        .filter(|k| k.revoked_at.is_none())
        .map(|k| {
            (
                k.hash.clone(),
                KeyEntry {
                    id: k.id,
                    consumer: k.consumer,
                    models: k.models,
                    expires_at: k.expires_at,
                    limits: k.limits,
                },
            )
        })
        .collect();
    metrics::gauge!(names::CONFIG_REVISION).set(revision as f64);
    let (snapshot, bad) = Snapshot::build(
        revision,
        providers.into_iter().map(|s| s.spec).collect(),
        models.into_iter().map(|s| s.spec).collect(),
        teams.into_iter().map(|s| s.spec).collect(),
        consumers.into_iter().map(|s| s.spec).collect(),
        keys,
    )
    .with_services(services.into_iter().map(|s| s.spec).collect())
    .with_prompt_apis(prompt_apis.into_iter().map(|s| s.spec).collect())
    .with_access(credentials, subscriptions)
    .with_masking(&masking);
    for (rule, issues) in bad {
        // Rules are checked on every write; this is data written around the checks.
        tracing::error!(%rule, issues = issues.len(), "a stored masking rule does not compile; it is not applied");
    }
    Ok(snapshot)
}

/// Loads the snapshot and installs it, with what else follows the stored
/// configuration: budgets and credits seeded, and the alerter's channels set from the
/// stored alert resources (secrets decrypted by the store; config-file channels are
/// among them, applied at start). The one way a reload happens: at start, after an
/// admin write, on the revision poll and on SIGHUP, so no path forgets a part.
pub async fn refresh(store: &Store, live: &Live, metering: &Metering) -> Result<(), StoreError> {
    let snapshot = load(store).await?;
    let channels = store
        .list_alerts()
        .await?
        .into_iter()
        .map(|s| s.spec)
        .collect();
    metering.alerter.set_channels(channels);
    metering.seed(&snapshot).await;
    live.install(snapshot);
    Ok(())
}

/// Credentials by what a request names them with (secrets decrypted: they stay in
/// memory only). A record missing its secret or key cannot authenticate: left out.
fn credentials(records: Vec<CredentialRecord>) -> Credentials {
    let mut out = Credentials::default();
    for r in records {
        let secret = match (r.kind, r.secret, r.public_key) {
            (CredentialKind::Basic, Some(hash), _) => CredentialSecret::BasicHash(hash),
            (CredentialKind::Hmac, Some(secret), _) => CredentialSecret::Hmac(secret),
            (CredentialKind::Jwt, Some(key), _) | (CredentialKind::Jwt, None, Some(key)) => {
                CredentialSecret::Jwt {
                    algorithm: r.algorithm.unwrap_or_default(),
                    key,
                }
            }
            _ => continue,
        };
        let entry = Arc::new(CredentialEntry {
            id: r.id,
            consumer: r.consumer,
            secret,
        });
        let map = match r.kind {
            CredentialKind::Basic => &mut out.basic,
            CredentialKind::Jwt => &mut out.jwt,
            CredentialKind::Hmac => &mut out.hmac,
        };
        map.insert(r.lookup, entry);
    }
    out
}

/// Polls the store's revision every `every` and reloads when it moved (a change made
/// through another node). Also keeps the readiness flag in step with the database.
pub fn spawn_poller(
    store: Store,
    live: Arc<Live>,
    metering: Arc<Metering>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.revision().await {
                Ok(rev) => {
                    live.set_db_ok(true);
                    if rev != live.snapshot.load().revision
                        && let Err(e) = refresh(&store, &live, &metering).await
                    {
                        tracing::warn!(error = %e, "snapshot reload failed");
                    }
                }
                Err(e) => {
                    live.set_db_ok(false);
                    tracing::warn!(error = %e, "database unreachable");
                }
            }
        }
    })
}
