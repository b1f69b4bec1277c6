//! Consumer authentication from the in-memory snapshot.

use http::HeaderMap;
use tollgate_core::GatewayError;
use tollgate_core::keys;
use tollgate_core::snapshot::{Caller, Snapshot};

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
