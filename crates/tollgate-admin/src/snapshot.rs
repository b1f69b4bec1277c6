//! Building the gateway's in-memory snapshot from the store, and keeping it fresh.

use std::sync::Arc;
use std::time::Duration;

use tollgate_core::live::Live;
use tollgate_core::snapshot::{KeyEntry, Snapshot};
use tollgate_gateway::metering::Metering;
use tollgate_store::{Store, StoreError};
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
    Ok(Snapshot::build(
        revision,
        providers.into_iter().map(|s| s.spec).collect(),
        models.into_iter().map(|s| s.spec).collect(),
        teams.into_iter().map(|s| s.spec).collect(),
        consumers.into_iter().map(|s| s.spec).collect(),
        keys,
    )
    .with_services(services.into_iter().map(|s| s.spec).collect())
    .with_prompt_apis(prompt_apis.into_iter().map(|s| s.spec).collect()))
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
                    if rev != live.snapshot.load().revision {
                        match load(&store).await {
                            Ok(s) => {
                                metering.seed(&s).await;
                                live.install(s);
                            }
                            Err(e) => tracing::warn!(error = %e, "snapshot reload failed"),
                        }
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
