//! Terminal keys: created by `paydesk-relay terminal add`, stored only as SHA-256 hashes,
//! and checked when a terminal asks for a ticket (`POST /v1/tickets`).
//!
//! A key is 256 random bits, so a plain SHA-256 is enough (no password stretching needed);
//! the final comparison is constant time anyway.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use paydesk_protocol::Secret;
use rand::RngCore as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of a terminal key.
pub type KeyHash = [u8; 32];

const KEY_PREFIX: &str = "pdk_";

/// A new terminal key: `pdk_` and 256 random bits in base64url. Shown once, then only its
/// hash is kept.
pub fn generate_terminal_key() -> Secret {
    Secret::new(format!("{KEY_PREFIX}{}", random_token()))
}

/// 256 random bits, base64url without padding (valid in a `Sec-WebSocket-Protocol` token).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_key(key: &Secret) -> KeyHash {
    sha256(key.expose().as_bytes())
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// One terminal as the terminals file stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRecord {
    pub merchant: String,
    pub name: String,
    #[serde(serialize_with = "hex_out", deserialize_with = "hex_in")]
    pub key_sha256: KeyHash,
    #[serde(default)]
    pub created_unix: i64,
}

fn hex_out<S: Serializer>(h: &KeyHash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}

fn hex_in<'de, D: Deserializer<'de>>(d: D) -> Result<KeyHash, D::Error> {
    let s = String::deserialize(d)?;
    let bytes = hex::decode(s.trim()).map_err(serde::de::Error::custom)?;
    bytes
        .try_into()
        .map_err(|_| serde::de::Error::custom("key_sha256 must be 32 bytes of hex"))
}

#[derive(Debug, thiserror::Error)]
pub enum TerminalsError {
    #[error("cannot read terminals file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("terminals file {path} is malformed: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write terminals file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("terminal '{name}' of merchant '{merchant}' already exists")]
    Exists { merchant: String, name: String },
    #[error("no terminal '{name}' for merchant '{merchant}'")]
    NotFound { merchant: String, name: String },
    #[error("invalid terminal: {0}")]
    Invalid(String),
}

/// The terminals file: TOML with one `[[terminal]]` table per terminal.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TerminalStore {
    #[serde(default, rename = "terminal")]
    pub terminals: Vec<TerminalRecord>,
}

impl TerminalStore {
    pub fn load_or_empty(path: &Path) -> Result<TerminalStore, TerminalsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(TerminalsError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        toml::from_str(&text).map_err(|e| TerminalsError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Adds a terminal with a fresh key and returns the key (the only time it exists
    /// outside the terminal).
    pub fn add(
        &mut self,
        merchant: &str,
        name: &str,
        now_unix: i64,
    ) -> Result<Secret, TerminalsError> {
        if !crate::config::valid_merchant_id(merchant) {
            return Err(TerminalsError::Invalid(format!(
                "merchant id '{merchant}' must be 1-64 of A-Z a-z 0-9 _ -"
            )));
        }
        if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(TerminalsError::Invalid(
                "name must be 1-128 printable characters".into(),
            ));
        }
        if self
            .terminals
            .iter()
            .any(|t| t.merchant == merchant && t.name == name)
        {
            return Err(TerminalsError::Exists {
                merchant: merchant.into(),
                name: name.into(),
            });
        }
        let key = generate_terminal_key();
        self.terminals.push(TerminalRecord {
            merchant: merchant.into(),
            name: name.into(),
            key_sha256: hash_key(&key),
            created_unix: now_unix,
        });
        Ok(key)
    }

    pub fn remove(&mut self, merchant: &str, name: &str) -> Result<(), TerminalsError> {
        let before = self.terminals.len();
        self.terminals
            .retain(|t| !(t.merchant == merchant && t.name == name));
        if self.terminals.len() == before {
            return Err(TerminalsError::NotFound {
                merchant: merchant.into(),
                name: name.into(),
            });
        }
        Ok(())
    }

    /// Writes atomically (temp file, then rename), readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), TerminalsError> {
        let werr = |source| TerminalsError::Write {
            path: path.to_owned(),
            source,
        };
        let body = toml::to_string(self)
            .map_err(|e| werr(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        let text = format!(
            "# paydesk-relay terminals: SHA-256 hashes of terminal keys, never the keys.\n\
             # Managed by `paydesk-relay terminal add|list|remove`.\n\n{body}"
        );
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(werr)?;
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("terminals")
        ));
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(werr)?;
            f.write_all(text.as_bytes()).map_err(werr)?;
            f.sync_all().map_err(werr)?;
        }
        std::fs::rename(&tmp, path).map_err(werr)
    }
}

/// Who a key or a ticket belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalId {
    pub merchant: String,
    pub name: String,
}

/// The registered terminals, looked up by key hash.
pub struct Terminals {
    by_hash: HashMap<KeyHash, TerminalId>,
    /// (merchant, name), for sessions checking they are still allowed after a reload.
    names: HashSet<(String, String)>,
}

impl Terminals {
    pub fn new(records: &[TerminalRecord]) -> Self {
        Terminals {
            names: records
                .iter()
                .map(|r| (r.merchant.clone(), r.name.clone()))
                .collect(),
            by_hash: records
                .iter()
                .map(|r| {
                    (
                        r.key_sha256,
                        TerminalId {
                            merchant: r.merchant.clone(),
                            name: r.name.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    /// The terminal owning `key`, if any. The map is keyed by the hash, so lookup timing
    /// says nothing about the key; the final equality is checked in constant time.
    pub fn authenticate(&self, key: &Secret) -> Option<(KeyHash, &TerminalId)> {
        let h = hash_key(key);
        self.by_hash
            .get_key_value(&h)
            .filter(|(stored, _)| bool::from(stored.ct_eq(&h)))
            .map(|(stored, id)| (*stored, id))
    }

    pub fn contains(&self, merchant: &str, name: &str) -> bool {
        self.names.contains(&(merchant.to_owned(), name.to_owned()))
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_terminal_authenticates_by_key_and_the_file_holds_only_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminals.toml");
        let mut store = TerminalStore::load_or_empty(&path).unwrap();
        let key = store.add("shop", "till-1", 1).unwrap();
        assert!(store.add("shop", "till-1", 1).is_err(), "duplicate refused");
        store.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(key.expose()));
        assert!(text.contains(&hex::encode(hash_key(&key))));

        let again = TerminalStore::load_or_empty(&path).unwrap();
        let terminals = Terminals::new(&again.terminals);
        let (_, id) = terminals.authenticate(&key).unwrap();
        assert_eq!(id.name, "till-1");
        assert!(terminals.authenticate(&generate_terminal_key()).is_none());
    }

    #[test]
    fn keys_are_long_random_and_distinct() {
        let a = generate_terminal_key();
        let b = generate_terminal_key();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 4 + 43);
    }
}
