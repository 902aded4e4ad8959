//! Terminal keys: created by `paydesk-relay terminal add`, stored only as SHA-256 hashes,
//! and checked when a terminal asks for a ticket (`POST /v1/tickets`).
//!
//! A key is 256 random bits, so a plain SHA-256 is enough (no password stretching needed);
//! the final comparison is constant time anyway. Each terminal also has a stable id (the
//! value its till writes into payment metadata, by which the relay routes events) and a
//! [`Scope`]. `rotate` gives a terminal a new key and keeps its id, so routing is unchanged.
//!
//! Everything a running relay checks is keyed by the key's hash: a rotated or removed key
//! stops working at the next reload, whoever else shares its merchant and name.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use paydesk_protocol::wire::Scope;
use paydesk_protocol::Secret;
use rand::RngCore as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of a terminal key.
pub type KeyHash = [u8; 32];

const KEY_PREFIX: &str = "pdk_";
const ID_PREFIX: &str = "t_";
/// RFC 4648 base32, lower case: ids read well and survive any metadata store.
const ID_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

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

/// `t_` and 10 base32 characters (50 bits) taken from `bits`.
fn id_from(bits: u64) -> String {
    let mut id = String::with_capacity(ID_PREFIX.len() + 10);
    id.push_str(ID_PREFIX);
    for i in 0..10 {
        id.push(char::from(ID_ALPHABET[((bits >> (i * 5)) & 31) as usize]));
    }
    id
}

/// A fresh random terminal id.
pub fn generate_terminal_id() -> String {
    id_from(rand::rng().next_u64())
}

/// The id of a terminal written before ids existed: derived from its key hash, so every
/// instance (and the next `terminal` command, which writes it down) agrees on it.
pub fn derived_terminal_id(key_hash: &KeyHash) -> String {
    let mut h = Sha256::new();
    h.update(b"paydesk-relay terminal id\0");
    h.update(key_hash);
    let d: [u8; 32] = h.finalize().into();
    let mut bits = [0u8; 8];
    bits.copy_from_slice(&d[..8]);
    id_from(u64::from_le_bytes(bits))
}

/// A terminal id as it may appear in a terminals file or in payment metadata.
pub fn valid_terminal_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One terminal as the terminals file stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRecord {
    pub merchant: String,
    pub name: String,
    /// Stable: assigned at `add`, kept by `rotate`. Empty in files written before ids
    /// existed; [`TerminalStore`] fills it in when it loads one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default)]
    pub scope: Scope,
    #[serde(serialize_with = "hex_out", deserialize_with = "hex_in")]
    pub key_sha256: KeyHash,
    #[serde(default)]
    pub created_unix: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rotated_unix: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl TerminalRecord {
    /// A record for code-registered terminals (tests, demo mode): its id is derived from
    /// the key hash.
    pub fn new(merchant: &str, name: &str, key_sha256: KeyHash, scope: Scope) -> Self {
        TerminalRecord {
            merchant: merchant.to_owned(),
            name: name.to_owned(),
            id: derived_terminal_id(&key_sha256),
            scope,
            key_sha256,
            created_unix: 0,
            rotated_unix: 0,
        }
    }
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

/// What `add` and `rotate` hand back: the key (its only appearance) and the terminal's id.
#[derive(Debug)]
pub struct Issued {
    pub key: Secret,
    pub id: String,
}

/// The terminals file: TOML with one `[[terminal]]` table per terminal.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TerminalStore {
    #[serde(default, rename = "terminal")]
    pub terminals: Vec<TerminalRecord>,
}

impl TerminalStore {
    /// Reads the file (a missing file is an empty store), fills in the ids of terminals
    /// written before ids existed, and checks that keys, ids and names are unique.
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
        let parse_err = |message: String| TerminalsError::Parse {
            path: path.to_owned(),
            message,
        };
        let mut store = TerminalStore {
            terminals: parse_tables(&text).map_err(parse_err)?,
        };
        for t in &mut store.terminals {
            if t.id.is_empty() {
                t.id = derived_terminal_id(&t.key_sha256);
            }
        }
        check_unique(&store.terminals).map_err(parse_err)?;
        Ok(store)
    }

    /// Adds a till-scope terminal with a fresh key and returns the key.
    pub fn add(
        &mut self,
        merchant: &str,
        name: &str,
        now_unix: i64,
    ) -> Result<Secret, TerminalsError> {
        self.add_with(merchant, name, Scope::Till, now_unix)
            .map(|i| i.key)
    }

    /// Adds a terminal with a fresh key and a fresh id; the key is returned (the only
    /// time it exists outside the terminal).
    pub fn add_with(
        &mut self,
        merchant: &str,
        name: &str,
        scope: Scope,
        now_unix: i64,
    ) -> Result<Issued, TerminalsError> {
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
        if self.find(merchant, name).is_some() {
            return Err(TerminalsError::Exists {
                merchant: merchant.into(),
                name: name.into(),
            });
        }
        let taken: HashSet<&str> = self.terminals.iter().map(|t| t.id.as_str()).collect();
        let id = std::iter::repeat_with(generate_terminal_id)
            .find(|id| !taken.contains(id.as_str()))
            .unwrap_or_else(generate_terminal_id);
        let key = generate_terminal_key();
        self.terminals.push(TerminalRecord {
            merchant: merchant.into(),
            name: name.into(),
            id: id.clone(),
            scope,
            key_sha256: hash_key(&key),
            created_unix: now_unix,
            rotated_unix: 0,
        });
        Ok(Issued { key, id })
    }

    /// Gives a terminal a new key; its id, scope and name stay. After a reload the old
    /// key gets no tickets, its unused tickets are refused and its sessions closed.
    pub fn rotate(
        &mut self,
        merchant: &str,
        name: &str,
        now_unix: i64,
    ) -> Result<Issued, TerminalsError> {
        let t = self
            .terminals
            .iter_mut()
            .find(|t| t.merchant == merchant && t.name == name)
            .ok_or_else(|| TerminalsError::NotFound {
                merchant: merchant.into(),
                name: name.into(),
            })?;
        let key = generate_terminal_key();
        t.key_sha256 = hash_key(&key);
        t.rotated_unix = now_unix;
        Ok(Issued {
            key,
            id: t.id.clone(),
        })
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

    pub fn find(&self, merchant: &str, name: &str) -> Option<&TerminalRecord> {
        self.terminals
            .iter()
            .find(|t| t.merchant == merchant && t.name == name)
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
             # Managed by `paydesk-relay terminal add|list|rotate|remove`.\n\n{body}"
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

/// Parses the terminals file one `[[terminal]]` table at a time.
///
/// A TOML parser builds a spanned tree of the whole document before any record exists; for
/// this file that peaked at ~2.6 KiB per terminal (26 MiB for 10,000), and the allocator
/// kept most of it for the life of the relay. Each table is a complete TOML document on
/// its own, so parsing them one by one gives the same records with one table's tree alive
/// at a time. A file of another valid shape (an inline array, say) falls back to parsing
/// the whole document.
fn parse_tables(text: &str) -> Result<Vec<TerminalRecord>, String> {
    const HEADER: &str = "[[terminal]]";
    let mut records = Vec::new();
    // (line number of the header, byte offset where the table's body starts)
    let mut open: Option<(usize, usize)> = None;
    let mut offset = 0;
    let mut parse_one = |line: usize, body: &str| {
        toml::from_str::<TerminalRecord>(body)
            .map(|r| records.push(r))
            .map_err(|e| format!("the [[terminal]] table at line {line}: {e}"))
    };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        if trimmed == HEADER {
            if let Some((at, body)) = open {
                parse_one(at, &text[body..start])?;
            }
            open = Some((i + 1, offset));
        } else if trimmed.starts_with('[')
            || (open.is_none() && !trimmed.is_empty() && !trimmed.starts_with('#'))
        {
            // Not the layout `terminal add` writes (another table, a key outside any
            // table): read it as a whole document, so nothing is misread.
            return toml::from_str::<TerminalStore>(text)
                .map(|s| s.terminals)
                .map_err(|e| e.to_string());
        }
    }
    if let Some((at, body)) = open {
        parse_one(at, &text[body..])?;
    }
    Ok(records)
}

/// Keys, ids and (merchant, name) pairs must each be unique, and ids well formed.
fn check_unique(records: &[TerminalRecord]) -> Result<(), String> {
    let mut keys = HashSet::with_capacity(records.len());
    let mut ids = HashSet::with_capacity(records.len());
    let mut names = HashSet::with_capacity(records.len());
    for t in records {
        if !valid_terminal_id(&t.id) {
            return Err(format!(
                "terminal '{}' of '{}': id '{}' must be 1-64 of A-Z a-z 0-9 _ -",
                t.name, t.merchant, t.id
            ));
        }
        if !keys.insert(t.key_sha256) {
            return Err(format!(
                "terminal '{}' of '{}' shares its key with another terminal",
                t.name, t.merchant
            ));
        }
        if !ids.insert(t.id.as_str()) {
            return Err(format!("two terminals have the id '{}'", t.id));
        }
        if !names.insert((t.merchant.as_str(), t.name.as_str())) {
            return Err(format!(
                "terminal '{}' of '{}' is listed twice",
                t.name, t.merchant
            ));
        }
    }
    Ok(())
}

/// A registered terminal as the running relay knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terminal {
    /// Shared by every terminal of the merchant.
    pub merchant: Arc<str>,
    pub name: Box<str>,
    /// Shared with the routing index (and cloned cheaply into sessions).
    pub id: Arc<str>,
    pub scope: Scope,
}

/// The registered terminals, looked up by key hash (tickets, revocation) and by id
/// (routing). Built whole from the file at start and on every reload, then swapped in.
pub struct Terminals {
    by_hash: HashMap<KeyHash, Terminal>,
    /// id → merchant: which ids may route a merchant's events.
    by_id: HashMap<Arc<str>, Arc<str>>,
}

impl Terminals {
    /// Indexes `records`; they must be unique (as [`TerminalStore`] checks).
    pub fn new(records: &[TerminalRecord]) -> Result<Self, String> {
        check_unique(records)?;
        let mut merchants: HashMap<&str, Arc<str>> = HashMap::new();
        let mut by_hash = HashMap::with_capacity(records.len());
        let mut by_id = HashMap::with_capacity(records.len());
        for r in records {
            let merchant = merchants
                .entry(r.merchant.as_str())
                .or_insert_with(|| Arc::from(r.merchant.as_str()))
                .clone();
            let id: Arc<str> = Arc::from(r.id.as_str());
            by_id.insert(id.clone(), merchant.clone());
            by_hash.insert(
                r.key_sha256,
                Terminal {
                    merchant,
                    name: r.name.as_str().into(),
                    id,
                    scope: r.scope,
                },
            );
        }
        Ok(Terminals { by_hash, by_id })
    }

    /// The terminal owning `key`, if any. The map is keyed by the hash, so lookup timing
    /// says nothing about the key; the final equality is checked in constant time.
    pub fn authenticate(&self, key: &Secret) -> Option<(KeyHash, &Terminal)> {
        let h = hash_key(key);
        self.by_hash
            .get_key_value(&h)
            .filter(|(stored, _)| bool::from(stored.ct_eq(&h)))
            .map(|(stored, t)| (*stored, t))
    }

    /// The terminal whose key hashes to `hash`: still registered after the last reload?
    pub fn by_key_hash(&self, hash: &KeyHash) -> Option<&Terminal> {
        self.by_hash.get(hash)
    }

    /// The interned id if `id` names a terminal of `merchant` (a payment's
    /// `paydesk_till` is only trusted for routing when it does).
    pub fn till_of(&self, merchant: &str, id: &str) -> Option<Arc<str>> {
        self.by_id
            .get_key_value(id)
            .filter(|(_, m)| &***m == merchant)
            .map(|(id, _)| id.clone())
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
        let added = store.add_with("shop", "till-1", Scope::Till, 1).unwrap();
        assert!(store.add("shop", "till-1", 1).is_err(), "duplicate refused");
        let office = store
            .add_with("shop", "office", Scope::Merchant, 1)
            .unwrap();
        store.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(added.key.expose()));
        assert!(text.contains(&hex::encode(hash_key(&added.key))));
        assert!(text.contains(&added.id));
        assert!(text.contains(r#"scope = "merchant""#), "{text}");

        let again = TerminalStore::load_or_empty(&path).unwrap();
        let terminals = Terminals::new(&again.terminals).unwrap();
        let (_, t) = terminals.authenticate(&added.key).unwrap();
        assert_eq!(
            (&*t.name, &*t.id, t.scope),
            ("till-1", added.id.as_str(), Scope::Till)
        );
        let (_, o) = terminals.authenticate(&office.key).unwrap();
        assert_eq!(o.scope, Scope::Merchant);
        assert!(terminals.authenticate(&generate_terminal_key()).is_none());
        assert_eq!(
            terminals.till_of("shop", &added.id).as_deref(),
            Some(added.id.as_str())
        );
        assert_eq!(terminals.till_of("other-shop", &added.id), None);
        assert_eq!(terminals.till_of("shop", "t_unknown"), None);
    }

    #[test]
    fn rotation_changes_the_key_and_keeps_the_id() {
        let mut store = TerminalStore::default();
        let first = store.add_with("shop", "till-1", Scope::Till, 1).unwrap();
        let second = store.rotate("shop", "till-1", 2).unwrap();
        assert_eq!(first.id, second.id);
        assert_ne!(first.key, second.key);
        let terminals = Terminals::new(&store.terminals).unwrap();
        assert!(terminals.authenticate(&first.key).is_none());
        assert!(terminals.by_key_hash(&hash_key(&first.key)).is_none());
        assert_eq!(
            &*terminals.authenticate(&second.key).unwrap().1.id,
            first.id
        );
        assert!(matches!(
            store.rotate("shop", "nobody", 3),
            Err(TerminalsError::NotFound { .. })
        ));
    }

    #[test]
    fn a_file_from_before_ids_loads_with_stable_ids_and_till_scope() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminals.toml");
        let key = generate_terminal_key();
        std::fs::write(
            &path,
            format!(
                "# old\n\n[[terminal]]\nmerchant = \"shop\"\nname = \"till-1\"\n\
                 key_sha256 = \"{}\"\ncreated_unix = 5\n",
                hex::encode(hash_key(&key))
            ),
        )
        .unwrap();
        let mut store = TerminalStore::load_or_empty(&path).unwrap();
        let id = store.terminals[0].id.clone();
        assert_eq!(id, derived_terminal_id(&hash_key(&key)));
        assert!(id.starts_with("t_") && id.len() == 12, "{id}");
        assert_eq!(store.terminals[0].scope, Scope::Till);
        // The next write records the same id; a rotation keeps it.
        store.add("shop", "till-2", 6).unwrap();
        store.save(&path).unwrap();
        let mut again = TerminalStore::load_or_empty(&path).unwrap();
        assert_eq!(again.terminals[0].id, id);
        assert_eq!(again.rotate("shop", "till-1", 7).unwrap().id, id);
    }

    #[test]
    fn the_table_by_table_reader_agrees_with_a_whole_document_parse() {
        let mut store = TerminalStore::default();
        for i in 0..20 {
            store
                .add(&format!("m{}", i % 3), &format!("till \"{i}\" # x"), i)
                .unwrap();
        }
        store.terminals[4].scope = Scope::Merchant;
        let text = toml::to_string(&store).unwrap();
        assert_eq!(parse_tables(&text).unwrap(), store.terminals);
        // Another valid layout: the whole-document fallback.
        let inline = r#"terminal = [{ merchant = "m", name = "n", id = "t_x", key_sha256 = "00000000000000000000000000000000000000000000000000000000000000ff" }]"#;
        assert_eq!(parse_tables(inline).unwrap()[0].name, "n");
        // Another table among them: read as a whole document, not folded into a record.
        let mixed = format!(
            "{text}\n[[ terminal ]]\nmerchant = \"m\"\nname = \"z\"\nkey_sha256 = \"{}\"\n",
            "ab".repeat(32)
        );
        assert_eq!(parse_tables(&mixed).unwrap().len(), 21);
        // Errors name the table's line.
        let bad = "# c\n[[terminal]]\nmerchant = \"m\"\nname = \"a\"\nkey_sha256 = \"00\"\n";
        let err = parse_tables(bad).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn duplicate_keys_ids_or_names_are_refused() {
        let mut store = TerminalStore::default();
        store.add("m", "a", 0).unwrap();
        store.add("m", "b", 0).unwrap();
        let mut dup_key = store.terminals.clone();
        dup_key[1].key_sha256 = dup_key[0].key_sha256;
        assert!(Terminals::new(&dup_key).is_err());
        let mut dup_id = store.terminals.clone();
        dup_id[1].id = dup_id[0].id.clone();
        assert!(Terminals::new(&dup_id).is_err());
        let mut bad_id = store.terminals.clone();
        bad_id[0].id = "t x".into();
        assert!(Terminals::new(&bad_id).is_err());
    }

    #[test]
    fn keys_and_ids_are_long_random_and_distinct() {
        let a = generate_terminal_key();
        let b = generate_terminal_key();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 4 + 43);
        let id = generate_terminal_id();
        assert!(id.starts_with("t_") && id.len() == 12);
        assert!(id[2..].bytes().all(|c| ID_ALPHABET.contains(&c)));
        assert_ne!(generate_terminal_id(), generate_terminal_id());
    }
}
