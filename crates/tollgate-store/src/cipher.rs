//! Encryption of secrets at rest (provider API keys, alert signing secrets).
//!
//! XChaCha20-Poly1305 with a 32-byte master key and a random 24-byte nonce per
//! message. The stored form is `v1:` followed by standard base64 of `nonce || ciphertext`
//! (the ciphertext carries the 16-byte Poly1305 tag), so a wrong key or a tampered value
//! is detected and reported as [`StoreError::Decrypt`], never returned as garbage.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::error::StoreError;

/// Environment variable that, when set, holds the master key (64 hex characters or
/// base64 of 32 bytes) and takes precedence over the key file.
pub const MASTER_KEY_ENV: &str = "TOLLGATE_MASTER_KEY";

/// File name of the master key inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

const VERSION_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Encrypts and decrypts secrets with the master key. Cheap to clone.
#[derive(Clone)]
pub struct SecretCipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

impl SecretCipher {
    pub fn new(key: [u8; 32]) -> Self {
        SecretCipher {
            aead: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// The master key from `TOLLGATE_MASTER_KEY` if set, else from `data_dir/master.key`,
    /// which is created (with 32 random bytes, written as hex, mode 0600) if missing.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, StoreError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(v) => Self::load_or_create_with(data_dir, Some(&v)),
            Err(std::env::VarError::NotPresent) => Self::load_or_create_with(data_dir, None),
            Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::MasterKey(format!(
                "{MASTER_KEY_ENV} is not valid UTF-8"
            ))),
        }
    }

    /// [`Self::load_or_create`] with the environment value passed in (testable without
    /// touching the process environment).
    pub fn load_or_create_with(data_dir: &Path, env_key: Option<&str>) -> Result<Self, StoreError> {
        if let Some(v) = env_key {
            let key = parse_key_text(v)
                .map_err(|why| StoreError::MasterKey(format!("{MASTER_KEY_ENV}: {why}")))?;
            return Ok(Self::new(key));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Self::new(parse_key_file(&bytes, &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(data_dir),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// Encrypts `plaintext`; the result is `v1:` + base64(nonce || ciphertext).
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        // Encryption with a valid key and an in-memory buffer cannot fail; should the
        // library ever report an error, the result is an empty ciphertext that will not
        // decrypt (and so is never mistaken for the secret).
        match self.aead.encrypt(XNonce::from_slice(&nonce), plaintext) {
            Ok(ct) => out.extend_from_slice(&ct),
            Err(_) => {
                tracing::error!("secret encryption failed");
                out.clear();
            }
        }
        format!(
            "{VERSION_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Decrypts a value produced by [`Self::encrypt`].
    pub fn decrypt(&self, stored: &str) -> Result<Vec<u8>, StoreError> {
        self.decrypt_what(stored, "secret")
    }

    pub(crate) fn decrypt_what(&self, stored: &str, what: &str) -> Result<Vec<u8>, StoreError> {
        let body = stored
            .strip_prefix(VERSION_PREFIX)
            .ok_or_else(|| StoreError::Decrypt(format!("{what} (unknown format)")))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| StoreError::Decrypt(format!("{what} (not base64)")))?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::Decrypt(format!("{what} (too short)")));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| StoreError::Decrypt(what.to_string()))
    }
}

/// 64 hex characters, or base64 (standard or URL-safe, padded or not) of 32 bytes.
fn parse_key_text(text: &str) -> Result<[u8; 32], String> {
    let t = text.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes = hex::decode(t).map_err(|e| e.to_string())?;
        return to_key(&bytes);
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(t)
            && bytes.len() == 32
        {
            return to_key(&bytes);
        }
    }
    Err("expected 64 hex characters or base64 of 32 bytes".to_string())
}

fn to_key(bytes: &[u8]) -> Result<[u8; 32], String> {
    <[u8; 32]>::try_from(bytes).map_err(|_| format!("expected 32 bytes, got {}", bytes.len()))
}

/// A key file holds either the 32 raw bytes or their text form (hex or base64).
fn parse_key_file(bytes: &[u8], path: &Path) -> Result<[u8; 32], StoreError> {
    warn_if_readable_by_others(path);
    if bytes.len() == 32 {
        return to_key(bytes).map_err(StoreError::MasterKey);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| StoreError::MasterKey(format!("{}: not a key", path.display())))?;
    parse_key_text(text).map_err(|why| StoreError::MasterKey(format!("{}: {why}", path.display())))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "master key file is accessible by other users; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Creates `data_dir/master.key` without ever exposing a partial file: the key is
/// written to a private temporary file, which is then hard-linked into place (fails if
/// another process won the race, in which case its key is used).
fn create_key_file(data_dir: &Path) -> Result<SecretCipher, StoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let final_path = data_dir.join(MASTER_KEY_FILE);
    let tmp_path = data_dir.join(format!(".{MASTER_KEY_FILE}.{}.tmp", uuid::Uuid::new_v4()));

    let write = || -> Result<(), StoreError> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp_path).map_err(io(&tmp_path))?;
        f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
            .map_err(io(&tmp_path))?;
        f.sync_all().map_err(io(&tmp_path))?;
        Ok(())
    };
    let written = write();
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp_path, &final_path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(StoreError::Io {
            path: final_path.clone(),
            source,
        }),
    });
    let _ = std::fs::remove_file(&tmp_path);
    if linked? {
        tracing::info!(path = %final_path.display(), "created a new master key; back it up: secrets stored in the database cannot be read without it");
        Ok(SecretCipher::new(key))
    } else {
        let bytes = std::fs::read(&final_path).map_err(io(&final_path))?;
        Ok(SecretCipher::new(parse_key_file(&bytes, &final_path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let c = SecretCipher::new([7u8; 32]);
        let a = c.encrypt(b"sk-secret");
        let b = c.encrypt(b"sk-secret");
        assert_ne!(a, b, "nonces are random");
        assert!(a.starts_with("v1:"));
        assert!(!a.contains("sk-secret"));
        assert_eq!(c.decrypt(&a).expect("decrypts"), b"sk-secret");

        let other = SecretCipher::new([8u8; 32]);
        assert!(matches!(other.decrypt(&a), Err(StoreError::Decrypt(_))));
        assert!(matches!(c.decrypt("v1:AAAA"), Err(StoreError::Decrypt(_))));
        assert!(matches!(
            c.decrypt("sk-secret"),
            Err(StoreError::Decrypt(_))
        ));
        assert!(matches!(c.decrypt("v1:!!"), Err(StoreError::Decrypt(_))));
    }

    #[test]
    fn key_text_forms() {
        let hexed = "00".repeat(31) + "ff";
        let k = parse_key_text(&hexed).expect("hex");
        assert_eq!(k[31], 0xff);
        let b64 = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
        assert_eq!(parse_key_text(&b64).expect("b64"), [3u8; 32]);
        let b64u = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([250u8; 32]);
        assert_eq!(parse_key_text(&b64u).expect("b64url"), [250u8; 32]);
        assert!(parse_key_text("short").is_err());
        assert!(parse_key_text(&"zz".repeat(32)).is_err());
        let b64_16 = base64::engine::general_purpose::STANDARD.encode([3u8; 16]);
        assert!(parse_key_text(&b64_16).is_err());
    }
}
