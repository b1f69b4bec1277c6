//! Service credentials other than API keys (PRODUCT.md, "Consumer credentials"):
//! HTTP Basic, JWT (HS256, RS256, ES256) and HMAC in Kong's hmac-auth scheme, each
//! checked against the in-memory snapshot. Which one a request presents is read from
//! its `Authorization` scheme; the service's `auth` list says which it accepts.
//!
//! A Basic password is checked with argon2id, which is CPU-heavy on purpose: it runs
//! on the blocking pool, and a success is remembered for [`BASIC_CACHE_TTL`] under a
//! SHA-256 of the username, password and stored hash (so a changed or deleted
//! credential is never served from the cache). Secrets never reach a log or an answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tollgate_core::GatewayError;
use tollgate_core::snapshot::{Caller, CredentialEntry, CredentialSecret, Snapshot};
use tollgate_core::spec::CredentialType;

use crate::lifecycle::Call;

/// How long a verified Basic username and password is taken without argon2.
pub const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);
/// Entries the Basic cache holds before it is emptied (a bound on memory).
const BASIC_CACHE_MAX: usize = 10_000;
/// How far an HMAC request's `Date` / `x-date` may be from the gateway's clock.
pub const HMAC_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// What a request presents, by its headers.
enum Presented<'a> {
    Key,
    Basic(&'a str),
    Jwt(&'a str),
    Hmac(&'a str),
    Nothing,
}

fn presented<'a>(headers: &'a HeaderMap, accepted: &[CredentialType]) -> Presented<'a> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            return Presented::Basic(rest);
        }
        if scheme.eq_ignore_ascii_case("hmac") {
            return Presented::Hmac(rest);
        }
        // A bearer token with three dot-separated parts is a JWT where JWTs are taken;
        // anything else is an API key.
        if scheme.eq_ignore_ascii_case("bearer")
            && accepted.contains(&CredentialType::Jwt)
            && rest.split('.').count() == 3
        {
            return Presented::Jwt(rest);
        }
    }
    if crate::auth::presented_key(headers).is_some() {
        Presented::Key
    } else {
        Presented::Nothing
    }
}

fn names(accepted: &[CredentialType]) -> String {
    accepted
        .iter()
        .map(|t| match t {
            CredentialType::Key => "key",
            CredentialType::Basic => "basic",
            CredentialType::Jwt => "jwt",
            CredentialType::Hmac => "hmac",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The caller of a service request, by whichever credential the service's `auth`
/// list (default: `[key]`) accepts; 401 `invalid_api_key` for a failed key,
/// `invalid_credentials` for anything else. A refusal leaves an `auth` step (never a
/// secret) in the call's record.
pub async fn authenticate_service(
    snapshot: &Snapshot,
    auth: Option<&[CredentialType]>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    call: &Call,
) -> Result<Caller, GatewayError> {
    let accepted = auth.unwrap_or(&[CredentialType::Key]);
    let takes = |t: CredentialType| accepted.contains(&t);
    let not_taken = |what: &str| {
        GatewayError::InvalidCredentials(format!(
            "This service does not accept {what}; it accepts: {}",
            names(accepted)
        ))
    };
    let (kind, result) = match presented(headers, accepted) {
        Presented::Key if takes(CredentialType::Key) => {
            return crate::auth::authenticate_call(snapshot, headers, call);
        }
        Presented::Nothing if takes(CredentialType::Key) => {
            return crate::auth::authenticate_call(snapshot, headers, call);
        }
        Presented::Key => ("key", Err(not_taken("API keys"))),
        Presented::Nothing => (
            "none",
            Err(GatewayError::InvalidCredentials(format!(
                "Missing credentials: this service accepts {}",
                names(accepted)
            ))),
        ),
        Presented::Basic(_) if !takes(CredentialType::Basic) => {
            ("basic", Err(not_taken("HTTP Basic")))
        }
        Presented::Jwt(_) if !takes(CredentialType::Jwt) => ("jwt", Err(not_taken("JWTs"))),
        Presented::Hmac(_) if !takes(CredentialType::Hmac) => {
            ("hmac", Err(not_taken("HMAC signatures")))
        }
        Presented::Basic(b) => ("basic", basic(snapshot, b).await),
        Presented::Jwt(t) => ("jwt", jwt(snapshot, t)),
        Presented::Hmac(p) => ("hmac", hmac(snapshot, p, method, uri, headers)),
    };
    match result.and_then(|entry| {
        snapshot.credential_caller(&entry).ok_or_else(|| {
            GatewayError::InvalidCredentials("The credential's consumer no longer exists".into())
        })
    }) {
        Ok(caller) => {
            call.set_caller(&caller);
            Ok(caller)
        }
        Err(e) => {
            call.step(serde_json::json!({
                "step": "auth", "outcome": "refused", "credential": kind,
                "reason": e.to_string(),
            }));
            Err(e)
        }
    }
}

fn refused(what: &str) -> GatewayError {
    GatewayError::InvalidCredentials(format!("Invalid credentials: {what}"))
}

// ---- HTTP Basic ----

type BasicCache = Mutex<HashMap<[u8; 32], Instant>>;

fn basic_cache() -> &'static BasicCache {
    static CACHE: OnceLock<BasicCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn basic_cache_key(username: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [username, password, hash] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

async fn basic(snapshot: &Snapshot, encoded: &str) -> Result<Arc<CredentialEntry>, GatewayError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| refused("malformed Basic authorization"))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| refused("malformed Basic authorization"))?;
    let entry = snapshot
        .credentials
        .basic
        .get(username)
        .ok_or_else(|| refused("unknown username or wrong password"))?;
    let CredentialSecret::BasicHash(hash) = &entry.secret else {
        return Err(refused("unknown username or wrong password"));
    };
    let key = basic_cache_key(username, password, hash);
    let now = Instant::now();
    let cached = basic_cache()
        .lock()
        .map(|c| {
            c.get(&key)
                .is_some_and(|at| now.duration_since(*at) < BASIC_CACHE_TTL)
        })
        .unwrap_or(false);
    if cached {
        return Ok(entry.clone());
    }
    let (pw, stored) = (password.to_string(), hash.clone());
    let ok = tokio::task::spawn_blocking(move || {
        tollgate_store::verify_password_hash(&pw, &stored).unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if !ok {
        return Err(refused("unknown username or wrong password"));
    }
    if let Ok(mut c) = basic_cache().lock() {
        if c.len() >= BASIC_CACHE_MAX {
            c.retain(|_, at| now.duration_since(*at) < BASIC_CACHE_TTL);
            if c.len() >= BASIC_CACHE_MAX {
                c.clear();
            }
        }
        c.insert(key, now);
    }
    Ok(entry.clone())
}

// ---- JWT ----

#[derive(serde::Deserialize)]
struct Issuer {
    iss: Option<String>,
}

fn jwt(snapshot: &Snapshot, token: &str) -> Result<Arc<CredentialEntry>, GatewayError> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    // The issuer picks the key: read it from the unverified payload, then verify
    // everything (signature, `iss`, `exp`, `nbf`) with that issuer's key.
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Issuer>(&b).ok())
        .ok_or_else(|| refused("malformed JWT"))?;
    let iss = payload.iss.ok_or_else(|| refused("the JWT has no `iss`"))?;
    let entry = snapshot
        .credentials
        .jwt
        .get(&iss)
        .ok_or_else(|| refused("unknown JWT issuer"))?;
    let CredentialSecret::Jwt { algorithm, key } = &entry.secret else {
        return Err(refused("unknown JWT issuer"));
    };
    let (alg, key) = match algorithm.as_str() {
        "HS256" => (
            Algorithm::HS256,
            DecodingKey::from_secret(key.as_bytes())
                .map_err(|_| refused("the issuer's secret is unusable"))?,
        ),
        "RS256" => (
            Algorithm::RS256,
            DecodingKey::from_rsa_pem(key.as_bytes())
                .map_err(|_| refused("the issuer's public key is unusable"))?,
        ),
        "ES256" => (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(key.as_bytes())
                .map_err(|_| refused("the issuer's public key is unusable"))?,
        ),
        _ => return Err(refused("the issuer's algorithm is unsupported")),
    };
    let mut v = Validation::new(alg);
    v.set_issuer(&[iss.as_str()]);
    v.validate_nbf = true;
    v.validate_aud = false;
    v.leeway = 0;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        refused(match e.kind() {
            ErrorKind::ExpiredSignature => "the JWT has expired",
            ErrorKind::ImmatureSignature => "the JWT is not valid yet (`nbf`)",
            ErrorKind::InvalidIssuer => "wrong JWT issuer",
            ErrorKind::MissingRequiredClaim(_) => "the JWT lacks `exp`",
            ErrorKind::InvalidAlgorithm => "wrong JWT algorithm",
            _ => "bad JWT signature",
        })
    })?;
    Ok(entry.clone())
}

// ---- HMAC (Kong hmac-auth) ----

/// `username="AK", algorithm="hmac-sha256", headers="date request-line",
/// signature="BASE64"` as a map (keys lower-cased).
fn hmac_params(s: &str) -> Option<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start().strip_prefix('"')?;
        let end = after.find('"')?;
        out.insert(k.trim().to_ascii_lowercase(), after[..end].to_string());
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(out)
}

fn hmac(
    snapshot: &Snapshot,
    params: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Arc<CredentialEntry>, GatewayError> {
    use aws_lc_rs::hmac;
    let p = hmac_params(params).ok_or_else(|| refused("malformed hmac authorization"))?;
    let field = |k: &str| {
        p.get(k)
            .map(String::as_str)
            .ok_or_else(|| refused(&format!("the hmac authorization lacks `{k}`")))
    };
    let username = field("username")?;
    let signature = field("signature")?;
    let algorithm = match field("algorithm")?.to_ascii_lowercase().as_str() {
        "hmac-sha1" => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "hmac-sha256" => hmac::HMAC_SHA256,
        "hmac-sha384" => hmac::HMAC_SHA384,
        "hmac-sha512" => hmac::HMAC_SHA512,
        _ => return Err(refused("unsupported hmac algorithm")),
    };
    // Kong signs `date` when no headers are named.
    let named = p.get("headers").map_or("date", String::as_str);
    let entry = snapshot
        .credentials
        .hmac
        .get(username)
        .ok_or_else(|| refused("unknown hmac access key"))?;
    let CredentialSecret::Hmac(secret) = &entry.secret else {
        return Err(refused("unknown hmac access key"));
    };

    // The request's date must be fresh, and signed (else it could be replaced).
    let date_header = ["x-date", "date"]
        .into_iter()
        .find(|h| headers.contains_key(*h))
        .ok_or_else(|| refused("the request has no `Date` or `x-date`"))?;
    let date = headers
        .get(date_header)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        .ok_or_else(|| refused("unreadable `Date`"))?;
    let skew = (chrono::Utc::now() - date.to_utc())
        .num_seconds()
        .unsigned_abs();
    if skew > HMAC_CLOCK_SKEW.as_secs() {
        return Err(refused(&format!(
            "the request's date is more than {} s from the gateway's clock",
            HMAC_CLOCK_SKEW.as_secs()
        )));
    }
    let signed: Vec<String> = named
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if !signed.iter().any(|h| h == "date" || h == "x-date") {
        return Err(refused("the signature must cover `date` or `x-date`"));
    }

    let mut lines = Vec::with_capacity(signed.len());
    for h in &signed {
        if h == "request-line" {
            let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
            lines.push(format!("{method} {target} HTTP/1.1"));
        } else {
            let v = headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| refused(&format!("the signed header `{h}` is missing")))?;
            lines.push(format!("{h}: {v}"));
        }
    }
    let expected = hmac::sign(
        &hmac::Key::new(algorithm, secret.as_bytes()),
        lines.join("\n").as_bytes(),
    );
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| refused("the hmac signature is not base64"))?;
    if !bool::from(expected.as_ref().ct_eq(&given)) {
        return Err(refused("bad hmac signature"));
    }
    Ok(entry.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kong_parameters_parse() {
        let p = hmac_params(
            r#"username="ak", algorithm="hmac-sha256",headers="date request-line", signature="c2ln""#,
        )
        .expect("parses");
        assert_eq!(p["username"], "ak");
        assert_eq!(p["headers"], "date request-line");
        assert_eq!(p["signature"], "c2ln");
        assert!(hmac_params(r#"username=ak"#).is_none());
        assert!(hmac_params(r#"username="ak"#).is_none());
    }

    #[test]
    fn cache_keys_separate_fields() {
        assert_ne!(
            basic_cache_key("a:b", "c", "h"),
            basic_cache_key("a", "b:c", "h")
        );
    }
}
