//! Configuration resources: providers, models, teams, consumers, alerts, services,
//! prompt-APIs, masking rules.
//!
//! One table, keyed by (kind, name), holding each spec as JSON without its secrets; the
//! secrets go encrypted into the `secret` column.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;
use tollgate_core::spec::{
    AlertSpec, ConsumerSpec, MaskingRuleSpec, ModelSpec, PromptApiSpec, ProviderSpec, ServiceSpec,
    TeamSpec,
};

use crate::error::StoreError;
use crate::store::Store;
use crate::{Source, Stored, from_ms, now_ms};

/// A resource kind the generic table can hold.
pub(crate) trait Resource: Serialize + DeserializeOwned + Clone {
    const KIND: &'static str;
    /// Statements that delete what the resource owns in other tables, run with its
    /// name as `$1` in the transaction that deletes it.
    const OWNED: &'static [&'static str] = &[];
    fn name(&self) -> &str;
    /// Removes the secret part from `self` and returns it as bytes to encrypt.
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Puts back the decrypted secret.
    fn put_secret(&mut self, secret: Option<Vec<u8>>) -> Result<(), StoreError>;
}

impl Resource for ProviderSpec {
    const KIND: &'static str = "provider";
    fn name(&self) -> &str {
        &self.name
    }
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if self.api_keys.is_empty() {
            return Ok(None);
        }
        let keys = std::mem::take(&mut self.api_keys);
        serde_json::to_vec(&keys)
            .map(Some)
            .map_err(|e| StoreError::InvalidInput(format!("provider api_keys: {e}")))
    }
    fn put_secret(&mut self, secret: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.api_keys = match secret {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::InvalidData(format!("provider '{}' api_keys: {e}", self.name))
            })?,
            None => Vec::new(),
        };
        Ok(())
    }
}

impl Resource for ModelSpec {
    const KIND: &'static str = "model";
    fn name(&self) -> &str {
        &self.name
    }
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn put_secret(&mut self, _: Option<Vec<u8>>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Resource for TeamSpec {
    const KIND: &'static str = "team";
    fn name(&self) -> &str {
        &self.name
    }
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn put_secret(&mut self, _: Option<Vec<u8>>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Resource for ConsumerSpec {
    const KIND: &'static str = "consumer";
    /// A consumer's credentials, subscriptions and stored `/v1/responses` go with it.
    const OWNED: &'static [&'static str] = &[
        "DELETE FROM consumer_credentials WHERE consumer = $1",
        "DELETE FROM subscriptions WHERE consumer = $1",
        "DELETE FROM responses WHERE consumer = $1",
    ];
    fn name(&self) -> &str {
        &self.name
    }
    /// A consumer's `api_keys` are not part of the stored spec at all: config-declared
    /// keys go to the keys table, hashed, through [`Store::upsert_config_key`].
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        self.api_keys.clear();
        Ok(None)
    }
    fn put_secret(&mut self, _: Option<Vec<u8>>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Resource for ServiceSpec {
    const KIND: &'static str = "service";
    /// A service's releases and subscriptions go with it.
    const OWNED: &'static [&'static str] = &[
        "DELETE FROM service_releases WHERE service = $1",
        "DELETE FROM subscriptions WHERE service = $1",
    ];
    fn name(&self) -> &str {
        &self.name
    }
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn put_secret(&mut self, _: Option<Vec<u8>>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Resource for PromptApiSpec {
    const KIND: &'static str = "prompt_api";
    fn name(&self) -> &str {
        &self.name
    }
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn put_secret(&mut self, _: Option<Vec<u8>>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Resource for MaskingRuleSpec {
    const KIND: &'static str = "masking_rule";
    fn name(&self) -> &str {
        &self.name
    }
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn put_secret(&mut self, _: Option<Vec<u8>>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Resource for AlertSpec {
    const KIND: &'static str = "alert";
    fn name(&self) -> &str {
        &self.name
    }
    fn take_secret(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.secret.take().map(String::into_bytes))
    }
    fn put_secret(&mut self, secret: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.secret = secret
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| {
                    StoreError::InvalidData(format!("alert '{}' secret is not UTF-8", self.name))
                })
            })
            .transpose()?;
        Ok(())
    }
}

impl Store {
    async fn upsert_resource<R: Resource>(
        &self,
        spec: &R,
        source: Source,
    ) -> Result<(), StoreError> {
        let name = spec.name().to_string();
        if name.is_empty() {
            return Err(StoreError::InvalidInput(format!(
                "{} without a name",
                R::KIND
            )));
        }
        let mut stripped = spec.clone();
        let secret = stripped
            .take_secret()?
            .map(|plain| self.cipher.encrypt(&plain));
        let spec_json = serde_json::to_string(&stripped)
            .map_err(|e| StoreError::InvalidInput(format!("{} '{name}': {e}", R::KIND)))?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO resources (kind, name, spec, secret, source, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, \
             secret = excluded.secret, source = excluded.source, updated_at = excluded.updated_at",
        )
        .bind(R::KIND)
        .bind(name)
        .bind(spec_json)
        .bind(secret)
        .bind(source.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_resources<R: Resource>(&self) -> Result<Vec<Stored<R>>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, spec, secret, source, created_at, updated_at \
             FROM resources WHERE kind = $1 ORDER BY name",
        )
        .bind(R::KIND)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| self.decode_resource::<R>(row))
            .collect()
    }

    async fn get_resource<R: Resource>(&self, name: &str) -> Result<Option<Stored<R>>, StoreError> {
        let row = sqlx::query(
            "SELECT name, spec, secret, source, created_at, updated_at \
             FROM resources WHERE kind = $1 AND name = $2",
        )
        .bind(R::KIND)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.decode_resource::<R>(&row)).transpose()
    }

    async fn delete_resource<R: Resource>(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        for owned in R::OWNED {
            sqlx::query(*owned).bind(name).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM resources WHERE kind = $1 AND name = $2")
            .bind(R::KIND)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    fn decode_resource<R: Resource>(&self, row: &AnyRow) -> Result<Stored<R>, StoreError> {
        let name: String = row.try_get("name")?;
        let spec_json: String = row.try_get("spec")?;
        let secret: Option<String> = row.try_get("secret")?;
        let source: String = row.try_get("source")?;
        let created_at: i64 = row.try_get("created_at")?;
        let updated_at: i64 = row.try_get("updated_at")?;
        let mut spec: R = serde_json::from_str(&spec_json)
            .map_err(|e| StoreError::InvalidData(format!("{} '{name}': {e}", R::KIND)))?;
        let secret = secret
            .map(|s| {
                self.cipher
                    .decrypt_what(&s, &format!("the secret of {} '{name}'", R::KIND))
            })
            .transpose()?;
        spec.put_secret(secret)?;
        Ok(Stored {
            spec,
            source: Source::parse(&source)?,
            created_at: from_ms(created_at)?,
            updated_at: from_ms(updated_at)?,
        })
    }
}

macro_rules! resource_api {
    ($spec:ty, $upsert:ident, $list:ident, $get:ident, $delete:ident, $what:literal) => {
        impl Store {
            #[doc = concat!("Creates or replaces ", $what, " (by name); `created_at` is kept on replace.")]
            pub async fn $upsert(&self, spec: &$spec, source: Source) -> Result<(), StoreError> {
                self.upsert_resource(spec, source).await
            }

            #[doc = concat!("Every ", $what, ", by name.")]
            pub async fn $list(&self) -> Result<Vec<Stored<$spec>>, StoreError> {
                self.list_resources().await
            }

            #[doc = concat!("One ", $what, " by name.")]
            pub async fn $get(&self, name: &str) -> Result<Option<Stored<$spec>>, StoreError> {
                self.get_resource(name).await
            }

            #[doc = concat!("Deletes ", $what, "; `false` if there was none by that name.")]
            pub async fn $delete(&self, name: &str) -> Result<bool, StoreError> {
                self.delete_resource::<$spec>(name).await
            }
        }
    };
}

resource_api!(
    ProviderSpec,
    upsert_provider,
    list_providers,
    get_provider,
    delete_provider,
    "a provider"
);
resource_api!(
    ModelSpec,
    upsert_model,
    list_models,
    get_model,
    delete_model,
    "a model"
);
resource_api!(
    TeamSpec,
    upsert_team,
    list_teams,
    get_team,
    delete_team,
    "a team"
);
resource_api!(
    ConsumerSpec,
    upsert_consumer,
    list_consumers,
    get_consumer,
    delete_consumer,
    "a consumer"
);
resource_api!(
    AlertSpec,
    upsert_alert,
    list_alerts,
    get_alert,
    delete_alert,
    "an alert"
);
resource_api!(
    ServiceSpec,
    upsert_service,
    list_services,
    get_service,
    delete_service,
    "a service"
);
resource_api!(
    PromptApiSpec,
    upsert_prompt_api,
    list_prompt_apis,
    get_prompt_api,
    delete_prompt_api,
    "a prompt-API"
);
resource_api!(
    MaskingRuleSpec,
    upsert_masking_rule,
    list_masking_rules,
    get_masking_rule,
    delete_masking_rule,
    "a masking rule"
);
