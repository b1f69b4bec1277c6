//! Applying the resources declared in the config file to the store, at start.
//!
//! Declared resources are upserted with source `config`; keys declared in the file
//! are stored as hashes. Resources created through the admin API are left alone.

use anyhow::Context;
use tollgate_config::Config;
use tollgate_store::{Source, Store};

pub async fn apply(store: &Store, config: &Config) -> anyhow::Result<()> {
    for p in &config.providers {
        store
            .upsert_provider(p, Source::Config)
            .await
            .with_context(|| format!("applying provider `{}`", p.name))?;
    }
    for t in &config.teams {
        store
            .upsert_team(t, Source::Config)
            .await
            .with_context(|| format!("applying team `{}`", t.name))?;
    }
    for m in &config.models {
        store
            .upsert_model(m, Source::Config)
            .await
            .with_context(|| format!("applying model `{}`", m.name))?;
    }
    for c in &config.consumers {
        store
            .upsert_consumer(c, Source::Config)
            .await
            .with_context(|| format!("applying consumer `{}`", c.name))?;
        if let Some(usd) = c.credits_usd {
            tollgate_gateway::metering::grant_initial_credits(store, &c.name, usd)
                .await
                .with_context(|| {
                    format!("granting the initial credits of consumer `{}`", c.name)
                })?;
        }
        let mut keep = Vec::with_capacity(c.api_keys.len());
        for key in &c.api_keys {
            let record = store
                .upsert_config_key(&c.name, key)
                .await
                .with_context(|| format!("applying a key of consumer `{}`", c.name))?;
            keep.push(record.id);
        }
        // A key taken out of the file stops working; API-made keys are untouched.
        store
            .delete_config_keys_except(&c.name, &keep)
            .await
            .with_context(|| format!("removing old keys of consumer `{}`", c.name))?;
    }
    for s in &config.services {
        store
            .upsert_service(s, Source::Config)
            .await
            .with_context(|| format!("applying service `{}`", s.name))?;
    }
    for p in &config.prompt_apis {
        store
            .upsert_prompt_api(p, Source::Config)
            .await
            .with_context(|| format!("applying prompt-API `{}`", p.name))?;
    }
    for r in &config.masking {
        store
            .upsert_masking_rule(r, Source::Config)
            .await
            .with_context(|| format!("applying masking rule `{}`", r.name))?;
    }
    for a in &config.alerts {
        store
            .upsert_alert(a, Source::Config)
            .await
            .with_context(|| format!("applying alert `{}`", a.name))?;
    }
    Ok(())
}
