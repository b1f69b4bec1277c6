//! Secrets kept out of `{:?}`: config values are logged and printed in panics, and an
//! admin token or a database password in a log line is a leaked credential.

use std::fmt;

use crate::{CacheBackend, ServerConfig, StorageConfig};

/// What a redacted secret prints as.
pub(crate) const REDACTED: &str = "<redacted>";

/// What the password part of a URL prints as.
const MASK: &str = "***";

/// `url` with its password replaced by `***`: the one after `user:` in the userinfo, and
/// the value of every query parameter whose name suggests a secret
/// (`postgres://h/db?password=…`, `redis+unix:///s?pass=…`). A value that is not a
/// `scheme://…` URL cannot be taken apart safely and is replaced as a whole.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return MASK.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    // A password may hold a `/` a strict parser would stop at, so the userinfo ends at
    // the last `@` before any query or fragment: redacting too much beats leaking.
    let before_query = rest.find(['?', '#']).unwrap_or(rest.len());
    let (userinfo, after) = match rest.get(..before_query).and_then(|r| r.rfind('@')) {
        Some(at) => (rest.get(..at), rest.get(at..).unwrap_or("")),
        None => (None, rest),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, _password)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(MASK);
            }
            None => out.push_str(userinfo),
        }
    }
    let (head, fragment) = match after.find('#') {
        Some(i) => after.split_at(i),
        None => (after, ""),
    };
    match head.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((key, _)) if is_secret_param(key) => {
                        out.push_str(key);
                        out.push('=');
                        out.push_str(MASK);
                    }
                    _ => out.push_str(pair),
                }
            }
        }
        None => out.push_str(head),
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(MASK);
    }
    out
}

/// Query parameter names that carry credentials in database and Redis URLs.
fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key", "auth"]
        .iter()
        .any(|s| key.contains(s))
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be left out (or leak) unnoticed.
        let ServerConfig {
            listen,
            admin_listen,
            admin_token,
            max_body_bytes,
            public_url,
        } = self;
        f.debug_struct("ServerConfig")
            .field("listen", listen)
            .field("admin_listen", admin_listen)
            .field("admin_token", &admin_token.as_ref().map(|_| REDACTED))
            .field("max_body_bytes", max_body_bytes)
            .field("public_url", public_url)
            .finish()
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let StorageConfig {
            database,
            redis,
            cache,
            redis_fail_open,
            redis_prefix,
            retention,
            log_bodies_max_bytes,
        } = self;
        f.debug_struct("StorageConfig")
            .field("database", &redact_url(database))
            .field("redis", &redis.as_deref().map(redact_url))
            .field("cache", cache)
            .field("redis_fail_open", redis_fail_open)
            .field("redis_prefix", redis_prefix)
            .field("retention", retention)
            .field("log_bodies_max_bytes", log_bodies_max_bytes)
            .finish()
    }
}

impl fmt::Debug for CacheBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheBackend::Memory => f.write_str("Memory"),
            CacheBackend::Redis => f.write_str("Redis"),
            CacheBackend::Memcached(url) => {
                f.debug_tuple("Memcached").field(&redact_url(url)).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        for (url, want) in [
            (
                "postgres://tollgate:s3cret@db:5432/t",
                "postgres://tollgate:***@db:5432/t",
            ),
            ("redis://:pw@r:6379/0", "redis://:***@r:6379/0"),
            ("redis://user@r:6379", "redis://user@r:6379"),
            (
                "postgresql://u:p/a@ss@h/db?sslmode=require&password=x",
                "postgresql://u:***@h/db?sslmode=require&password=***",
            ),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=x",
                "redis+unix:///tmp/r.sock?db=1&pass=***",
            ),
            (
                "sqlite://tollgate-data/tollgate.db",
                "sqlite://tollgate-data/tollgate.db",
            ),
            ("host=db password=x", "***"),
            ("https://h/p#frag", "https://h/p#***"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
