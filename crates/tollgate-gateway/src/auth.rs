//! Consumer authentication from the in-memory snapshot.

use http::HeaderMap;
use tollgate_core::GatewayError;
use tollgate_core::keys;
use tollgate_core::snapshot::{Caller, Snapshot};
use tollgate_core::spec::{ModelSpec, SubscriptionSpec};

use crate::lifecycle::Call;

/// The presented key: `Authorization: Bearer KEY`, `x-api-key: KEY` or `api-key: KEY`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(http::header::AUTHORIZATION)
        && let Ok(s) = v.to_str()
    {
        let s = s.trim();
        if s.len() > 7 && s[..7].eq_ignore_ascii_case("bearer ") {
            return Some(s[7..].trim()).filter(|k| !k.is_empty());
        }
    }
    ["x-api-key", "api-key"].iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
    })
}

/// The caller, or 401 for a missing, unknown, revoked or expired key.
pub fn authenticate(snapshot: &Snapshot, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    let key = presented_key(headers).ok_or_else(|| {
        GatewayError::InvalidApiKey(
            "Missing API key: send it as `Authorization: Bearer KEY`, `x-api-key` or `api-key`"
                .into(),
        )
    })?;
    snapshot
        .caller(&keys::hash(key), chrono::Utc::now())
        .ok_or_else(|| {
            GatewayError::InvalidApiKey(format!(
                "Invalid API key `{}…`: unknown, revoked or expired",
                keys::prefix(key).chars().take(6).collect::<String>()
            ))
        })
}

/// [`authenticate`] for a recorded call: the caller goes into `call`, and a refusal
/// leaves an `auth` step saying why (the key's prefix at most, never the key), so a
/// 401 is explainable from its record.
pub fn authenticate_call(
    snapshot: &Snapshot,
    headers: &HeaderMap,
    call: &Call,
) -> Result<Caller, GatewayError> {
    match authenticate(snapshot, headers) {
        Ok(caller) => {
            call.set_caller(&caller);
            Ok(caller)
        }
        Err(e) => {
            let presented = presented_key(headers);
            call.step(serde_json::json!({
                "step": "auth", "outcome": "refused",
                "reason": if presented.is_some() { "unknown_revoked_or_expired_key" } else { "missing_key" },
                "key_prefix": presented.map(|k| keys::prefix(k).chars().take(6).collect::<String>()),
            }));
            Err(e)
        }
    }
}

/// The caller's permission for `model` (403 otherwise, with an `auth` step naming the
/// models the key and consumer allow).
pub fn permit_model(caller: &Caller, model: &ModelSpec, call: &Call) -> Result<(), GatewayError> {
    if caller.may_use(&model.name) {
        return Ok(());
    }
    call.step(serde_json::json!({
        "step": "auth", "outcome": "refused", "reason": "model_not_allowed",
        "model": model.name,
        "configured": {"consumer_models": caller.consumer.models, "key_models": caller.key.models},
    }));
    Err(GatewayError::ModelNotAllowed(model.name.clone()))
}

/// A service or prompt-API named `name` that takes subscriptions (`subscription` is
/// set) lets through only a consumer with an approved one, from the snapshot: 403
/// `not_subscribed` otherwise, with the refusal in the call's explain trail.
pub fn require_subscription(
    snapshot: &Snapshot,
    caller: &Caller,
    name: &str,
    subscription: Option<SubscriptionSpec>,
    call: &Call,
) -> Result<(), GatewayError> {
    if may_access(snapshot, caller, name, subscription.is_some()) {
        return Ok(());
    }
    call.step(serde_json::json!({
        "step": "auth", "outcome": "refused", "reason": "not_subscribed", "service": name,
    }));
    Err(GatewayError::NotSubscribed {
        consumer: caller.consumer.name.clone(),
        service: name.to_string(),
    })
}

/// The subscription gate's decision alone (also what MCP lists tools by): a service
/// or prompt-API that takes subscriptions lets through a consumer with an approved
/// one; one that takes none lets everyone through.
pub fn may_access(
    snapshot: &Snapshot,
    caller: &Caller,
    name: &str,
    takes_subscriptions: bool,
) -> bool {
    !takes_subscriptions || snapshot.is_subscribed(&caller.consumer.name, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_headers_are_accepted() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("api-key", "k3".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k3"));
        h.insert("x-api-key", "k2".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k2"));
        h.insert("authorization", "Bearer k1".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k1"));
        h.insert("authorization", "bearer  k0 ".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k0"));
    }
}
