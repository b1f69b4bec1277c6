//! Consumer API keys.
//!
//! A key is `tg-` followed by 43 base64url characters (32 random bytes). Only its
//! SHA-256 is stored; lookups hash the presented key and probe a map, so the secret
//! itself is never compared byte by byte and never kept.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How many leading characters of a key are kept in clear to recognise it.
pub const PREFIX_LEN: usize = 10;

/// A newly generated key: the secret (shown once) and what is stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub secret: String,
    pub hash: String,
    pub prefix: String,
}

pub fn generate() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "tg-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    NewKey {
        hash: hash(&secret),
        prefix: prefix(&secret),
        secret,
    }
}

/// Hex SHA-256 of a presented key.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn prefix(secret: &str) -> String {
    secret.chars().take(PREFIX_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_and_hash_to_what_is_stored() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert_eq!(hash(&a.secret), a.hash);
        assert!(a.secret.starts_with("tg-"));
        assert_eq!(a.secret.len(), 3 + 43);
        assert!(a.secret.starts_with(&a.prefix));
    }
}
