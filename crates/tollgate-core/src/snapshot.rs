//! The configuration the request path reads: an immutable snapshot, swapped whole
//! (behind an `ArcSwap` in the gateway) whenever anything changes. The request path
//! never waits on the database: every lookup here is a hash-map probe.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::prompt::{PromptTemplate, TemplateIssue};
use crate::spec::{
    ConsumerSpec, KeyLimits, ModelSpec, PromptApiSpec, ProviderSpec, ServiceSpec, TeamSpec,
};

/// A consumer key as the request path needs it (the secret is only known by hash).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEntry {
    pub id: String,
    pub consumer: String,
    /// Model scope of this key; `None` means whatever the consumer may use.
    pub models: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The key's own rate limit and budget, if any.
    pub limits: KeyLimits,
}

impl KeyEntry {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// What a credential other than a key checks against.
#[derive(Clone, PartialEq)]
pub enum CredentialSecret {
    /// HTTP Basic: the password's argon2id hash.
    BasicHash(String),
    /// A JWT issuer: `algorithm` (HS256, RS256 or ES256) with the HS secret or the PEM
    /// public key.
    Jwt { algorithm: String, key: String },
    /// An HMAC access key's secret key.
    Hmac(String),
}

/// A credential as the request path needs it; the secret stays out of `Debug`.
#[derive(Clone, PartialEq)]
pub struct CredentialEntry {
    pub id: String,
    pub consumer: String,
    pub secret: CredentialSecret,
}

impl std::fmt::Debug for CredentialEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialEntry")
            .field("id", &self.id)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

/// Basic, JWT and HMAC credentials by what a request names them with.
#[derive(Debug, Default)]
pub struct Credentials {
    /// By basic username.
    pub basic: HashMap<String, Arc<CredentialEntry>>,
    /// By JWT issuer (`iss`).
    pub jwt: HashMap<String, Arc<CredentialEntry>>,
    /// By HMAC access key.
    pub hmac: HashMap<String, Arc<CredentialEntry>>,
}

/// Everything the gateway serves from memory.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The store's change counter this snapshot was built from.
    pub revision: i64,
    pub providers: HashMap<String, Arc<ProviderSpec>>,
    pub models: HashMap<String, Arc<ModelSpec>>,
    pub teams: HashMap<String, Arc<TeamSpec>>,
    pub consumers: HashMap<String, Arc<ConsumerSpec>>,
    /// Active (not revoked) keys by SHA-256 hex of the secret.
    pub keys: HashMap<String, Arc<KeyEntry>>,
    /// Published REST services by name (the gateway builds its routers from these,
    /// once per snapshot).
    pub services: HashMap<String, Arc<ServiceSpec>>,
    /// Prompt-APIs by name.
    pub prompt_apis: HashMap<String, Arc<PromptApi>>,
    /// The same prompt-APIs by path (the gateway's lookup: one probe per request).
    pub prompt_paths: HashMap<String, Arc<PromptApi>>,
    pub credentials: Credentials,
    /// Approved subscriptions: service (or prompt-API) name → consumers.
    pub subscriptions: HashMap<String, HashSet<String>>,
    /// Masking rules, compiled once per snapshot (no request compiles anything).
    pub masking: Arc<tollgate_masking::RuleSet>,
}

/// A prompt-API with its templates compiled (once per snapshot, not per call).
#[derive(Debug)]
pub struct PromptApi {
    pub spec: PromptApiSpec,
    /// The stored templates are checked on every write; an error here means data
    /// written around the checks, and calls answer 500 rather than guess.
    pub template: Result<PromptTemplate, Vec<TemplateIssue>>,
}

/// The caller of a request, once its key is known.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Arc<KeyEntry>,
    pub consumer: Arc<ConsumerSpec>,
}

impl Caller {
    /// Whether both the key's scope and the consumer's allow `model`.
    pub fn may_use(&self, model: &str) -> bool {
        let allowed = |scope: &Option<Vec<String>>| {
            scope
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == model))
        };
        allowed(&self.key.models) && allowed(&self.consumer.models)
    }
}

impl Snapshot {
    pub fn build(
        revision: i64,
        providers: Vec<ProviderSpec>,
        models: Vec<ModelSpec>,
        teams: Vec<TeamSpec>,
        consumers: Vec<ConsumerSpec>,
        keys: Vec<(String, KeyEntry)>,
    ) -> Snapshot {
        Snapshot {
            revision,
            providers: providers
                .into_iter()
                .map(|p| (p.name.clone(), Arc::new(p)))
                .collect(),
            models: models
                .into_iter()
                .map(|m| (m.name.clone(), Arc::new(m)))
                .collect(),
            teams: teams
                .into_iter()
                .map(|t| (t.name.clone(), Arc::new(t)))
                .collect(),
            consumers: consumers
                .into_iter()
                .map(|c| (c.name.clone(), Arc::new(c)))
                .collect(),
            keys: keys.into_iter().map(|(h, k)| (h, Arc::new(k))).collect(),
            services: HashMap::new(),
            prompt_apis: HashMap::new(),
            prompt_paths: HashMap::new(),
            credentials: Credentials::default(),
            subscriptions: HashMap::new(),
            masking: Arc::default(),
        }
    }

    /// `self` with these masking rules, compiled. A rule that does not compile (only
    /// possible for data written around the checks) is left out and logged by the
    /// caller from the returned problems.
    pub fn with_masking(
        mut self,
        rules: &[crate::spec::MaskingRuleSpec],
    ) -> (Snapshot, Vec<(String, Vec<tollgate_masking::RuleIssue>)>) {
        let (set, bad) = tollgate_masking::RuleSet::compile(rules);
        self.masking = Arc::new(set);
        (self, bad)
    }

    /// `self` with these prompt-APIs, their templates compiled.
    pub fn with_prompt_apis(mut self, prompt_apis: Vec<PromptApiSpec>) -> Snapshot {
        for spec in prompt_apis {
            let template = PromptTemplate::compile(&spec);
            let api = Arc::new(PromptApi { spec, template });
            self.prompt_paths.insert(api.spec.path.clone(), api.clone());
            self.prompt_apis.insert(api.spec.name.clone(), api);
        }
        self
    }

    /// `self` with these credentials and approved `(consumer, service)` subscriptions.
    pub fn with_access(
        mut self,
        credentials: Credentials,
        subscriptions: Vec<(String, String)>,
    ) -> Snapshot {
        self.credentials = credentials;
        self.subscriptions = HashMap::new();
        for (consumer, service) in subscriptions {
            self.subscriptions
                .entry(service)
                .or_default()
                .insert(consumer);
        }
        self
    }

    /// Whether `consumer` has an approved subscription to `service`.
    pub fn is_subscribed(&self, consumer: &str, service: &str) -> bool {
        self.subscriptions
            .get(service)
            .is_some_and(|c| c.contains(consumer))
    }

    /// The caller authenticated by a credential other than a key: a key entry standing
    /// for the credential (its id, no model scope or limits of its own) and its consumer.
    pub fn credential_caller(&self, entry: &CredentialEntry) -> Option<Caller> {
        let consumer = self.consumers.get(&entry.consumer)?;
        Some(Caller {
            key: Arc::new(KeyEntry {
                id: entry.id.clone(),
                consumer: entry.consumer.clone(),
                models: None,
                expires_at: None,
                limits: KeyLimits::default(),
            }),
            consumer: consumer.clone(),
        })
    }

    /// `self` with these services.
    pub fn with_services(mut self, services: Vec<ServiceSpec>) -> Snapshot {
        self.services = services
            .into_iter()
            .map(|s| (s.name.clone(), Arc::new(s)))
            .collect();
        self
    }

    /// The caller for a presented key hash, if the key is active, unexpired and its
    /// consumer exists.
    pub fn caller(&self, key_hash: &str, now: DateTime<Utc>) -> Option<Caller> {
        let key = self.keys.get(key_hash)?;
        if key.is_expired(now) {
            return None;
        }
        let consumer = self.consumers.get(&key.consumer)?;
        Some(Caller {
            key: key.clone(),
            consumer: consumer.clone(),
        })
    }

    /// The model names `caller` may use, sorted.
    pub fn models_for(&self, caller: &Caller) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .models
            .keys()
            .map(String::as_str)
            .filter(|m| caller.may_use(m))
            .collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn consumer(name: &str, models: Option<Vec<&str>>) -> ConsumerSpec {
        ConsumerSpec {
            name: name.into(),
            team: None,
            api_keys: vec![],
            models: models.map(|m| m.into_iter().map(String::from).collect()),
            rate_limit: None,
            budget: None,
            credits_usd: None,
            log_bodies: false,
        }
    }

    fn model(name: &str) -> ModelSpec {
        ModelSpec {
            name: name.into(),
            targets: vec![],
            fallbacks: vec![],
            strategy: Default::default(),
            timeouts: None,
            retries: None,
            cache: None,
            max_output_tokens: None,
            price: None,
            rate_limit: None,
            log_bodies: false,
        }
    }

    #[test]
    fn caller_scopes_intersect_and_expiry_applies() {
        let now = Utc::now();
        let snap = Snapshot::build(
            1,
            vec![],
            vec![model("a"), model("b"), model("c")],
            vec![],
            vec![consumer("c1", Some(vec!["a", "b"]))],
            vec![
                (
                    "h1".into(),
                    KeyEntry {
                        id: "k1".into(),
                        consumer: "c1".into(),
                        models: Some(vec!["b".into(), "c".into()]),
                        expires_at: None,
                        limits: KeyLimits::default(),
                    },
                ),
                (
                    "h2".into(),
                    KeyEntry {
                        id: "k2".into(),
                        consumer: "c1".into(),
                        models: None,
                        expires_at: Some(now - Duration::seconds(1)),
                        limits: KeyLimits::default(),
                    },
                ),
            ],
        );
        let c = snap.caller("h1", now).expect("active key");
        assert_eq!(snap.models_for(&c), vec!["b"]);
        assert!(!c.may_use("a") && c.may_use("b") && !c.may_use("c"));
        assert!(snap.caller("h2", now).is_none(), "expired");
        assert!(snap.caller("nope", now).is_none());
    }
}
