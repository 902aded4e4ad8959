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

use std::collections::HashSet;
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
        let mut terminals = Vec::new();
        read_file(path, &mut terminals)?;
        for t in &mut terminals {
            if t.id.is_empty() {
                t.id = derived_terminal_id(&t.key_sha256);
            }
        }
        check_unique(&terminals).map_err(|message| TerminalsError::Parse {
            path: path.to_owned(),
            message,
        })?;
        Ok(TerminalStore { terminals })
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
        // 50 random bits: a clash is all but impossible, and checked anyway.
        let id = std::iter::repeat_with(generate_terminal_id)
            .find(|id| self.terminals.iter().all(|t| t.id != *id))
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

/// Where records read from the terminals file go: the CLI's list, or the relay's index.
pub(crate) trait Sink {
    fn push(&mut self, record: TerminalRecord) -> Result<(), String>;
    /// Forgets what was pushed (the file is being read again another way).
    fn clear(&mut self);
}

impl Sink for Vec<TerminalRecord> {
    fn push(&mut self, record: TerminalRecord) -> Result<(), String> {
        Vec::push(self, record);
        Ok(())
    }

    fn clear(&mut self) {
        Vec::clear(self);
    }
}

impl Sink for TerminalsBuilder {
    fn push(&mut self, record: TerminalRecord) -> Result<(), String> {
        TerminalsBuilder::push(self, record)
    }

    fn clear(&mut self) {
        *self = TerminalsBuilder::default();
    }
}

/// Reads the terminals file into `sink` (a missing file adds nothing).
pub(crate) fn read_file(path: &Path, sink: &mut impl Sink) -> Result<(), TerminalsError> {
    let read_err = |source| TerminalsError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(read_err(e)),
    };
    let whole = || std::fs::read_to_string(path);
    read_tables(std::io::BufReader::new(file), whole, sink).map_err(|e| match e {
        ReadError::Io(source) => read_err(source),
        ReadError::Parse(message) => TerminalsError::Parse {
            path: path.to_owned(),
            message,
        },
    })
}

enum ReadError {
    Io(std::io::Error),
    Parse(String),
}

/// Reads the terminals file one `[[terminal]]` table at a time, from a buffered reader.
///
/// A TOML parser builds a spanned tree of the whole document before any record exists; for
/// this file that peaked at ~2.6 KiB per terminal (26 MiB for 10,000), and the allocator
/// kept most of it for the life of the relay. Each table is a complete TOML document on
/// its own, so parsing them one by one gives the same records with one table's text and
/// tree alive at a time, and the file is never held whole. A file of another valid shape
/// (an inline array, another table) is read again whole by `whole` and parsed as one
/// document.
fn read_tables(
    mut reader: impl std::io::BufRead,
    whole: impl FnOnce() -> std::io::Result<String>,
    sink: &mut dyn Sink,
) -> Result<(), ReadError> {
    const HEADER: &str = "[[terminal]]";
    // The current table's body, and the line of its header.
    let mut table = String::new();
    let mut header_line: Option<usize> = None;
    let mut line = String::new();
    let flush = |at: usize, body: &mut String, sink: &mut dyn Sink| {
        let record = toml::from_str::<TerminalRecord>(body)
            .map_err(|e| ReadError::Parse(format!("the [[terminal]] table at line {at}: {e}")))?;
        body.clear();
        sink.push(record).map_err(ReadError::Parse)
    };
    for n in 1.. {
        line.clear();
        if reader.read_line(&mut line).map_err(ReadError::Io)? == 0 {
            break;
        }
        let trimmed = line.trim();
        if trimmed == HEADER {
            if let Some(at) = header_line {
                flush(at, &mut table, sink)?;
            }
            header_line = Some(n);
        } else if trimmed.starts_with('[')
            || (header_line.is_none() && !trimmed.is_empty() && !trimmed.starts_with('#'))
        {
            // Not the layout `terminal add` writes: read it as a whole document, so
            // nothing is misread.
            sink.clear();
            let text = whole().map_err(ReadError::Io)?;
            let store: TerminalStore =
                toml::from_str(&text).map_err(|e| ReadError::Parse(e.to_string()))?;
            for r in store.terminals {
                sink.push(r).map_err(ReadError::Parse)?;
            }
            return Ok(());
        } else if header_line.is_some() {
            table.push_str(&line);
        }
    }
    if let Some(at) = header_line {
        flush(at, &mut table, sink)?;
    }
    Ok(())
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
    pub id: Arc<str>,
    pub scope: Scope,
}

/// One terminal in the index: its key hash, and where its name and id are in the text.
#[derive(Clone, Copy)]
struct Entry {
    key: KeyHash,
    /// `text[at..at + name_len]` is the name, the id follows it.
    at: u32,
    name_len: u16,
    id_len: u8,
    merchant: u32,
    scope: Scope,
}

/// The registered terminals, looked up by key hash (tickets, revocation) and by id
/// (routing). Built whole from the file at start and on every reload, then swapped in.
///
/// Compact on purpose: a chain registers tens of thousands of tills and the relay holds
/// this for its whole life. One fixed-size entry per terminal sorted by key hash, names and
/// ids back to back in one string, and one sorted index by id: ~70 bytes a terminal plus
/// its name, against ~270 for hash maps of owned strings.
pub struct Terminals {
    entries: Vec<Entry>,
    /// Positions in `entries`, sorted by id.
    by_id: Vec<u32>,
    merchants: Vec<Arc<str>>,
    text: String,
}

/// Collects records into [`Terminals`] one at a time (the file is never held whole).
#[derive(Default)]
pub struct TerminalsBuilder {
    entries: Vec<Entry>,
    merchants: Vec<Arc<str>>,
    text: String,
}

impl TerminalsBuilder {
    pub fn push(&mut self, r: TerminalRecord) -> Result<(), String> {
        let id = if r.id.is_empty() {
            derived_terminal_id(&r.key_sha256)
        } else {
            r.id
        };
        if !valid_terminal_id(&id) {
            return Err(format!(
                "terminal '{}' of '{}': id '{id}' must be 1-64 of A-Z a-z 0-9 _ -",
                r.name, r.merchant
            ));
        }
        let name_len = u16::try_from(r.name.len()).map_err(|_| {
            let start: String = r.name.chars().take(32).collect();
            format!("terminal name '{start}…' is too long")
        })?;
        let at = u32::try_from(self.text.len())
            .map_err(|_| "the terminals file is too large".to_owned())?;
        let merchant = match self.merchants.iter().position(|m| **m == *r.merchant) {
            Some(i) => i,
            None => {
                self.merchants.push(Arc::from(r.merchant.as_str()));
                self.merchants.len() - 1
            }
        };
        self.text.push_str(&r.name);
        self.text.push_str(&id);
        self.entries.push(Entry {
            key: r.key_sha256,
            at,
            name_len,
            // valid_terminal_id bounds it to 64.
            id_len: id.len() as u8,
            merchant: merchant as u32,
            scope: r.scope,
        });
        Ok(())
    }

    /// Indexes what was pushed; keys, ids and (merchant, name) pairs must be unique.
    pub fn finish(mut self) -> Result<Terminals, String> {
        self.entries.sort_unstable_by_key(|e| e.key);
        self.entries.shrink_to_fit();
        self.text.shrink_to_fit();
        let mut t = Terminals {
            by_id: Vec::new(),
            entries: self.entries,
            merchants: self.merchants,
            text: self.text,
        };
        let mut by_id: Vec<u32> = (0..t.entries.len() as u32).collect();
        by_id.sort_unstable_by(|a, b| t.id_at(*a).cmp(t.id_at(*b)));
        t.by_id = by_id;
        let describe = |e: &Entry| {
            format!(
                "terminal '{}' of '{}'",
                t.name(e),
                t.merchants[e.merchant as usize]
            )
        };
        if let Some(w) = t.entries.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(format!(
                "{} shares its key with another terminal",
                describe(&w[1])
            ));
        }
        if let Some(w) = t.by_id.windows(2).find(|w| t.id_at(w[0]) == t.id_at(w[1])) {
            return Err(format!("two terminals have the id '{}'", t.id_at(w[0])));
        }
        let mut by_name: Vec<u32> = (0..t.entries.len() as u32).collect();
        let name_key = |i: &u32| {
            let e = &t.entries[*i as usize];
            (e.merchant, t.name(e))
        };
        by_name.sort_unstable_by(|a, b| name_key(a).cmp(&name_key(b)));
        if let Some(w) = by_name
            .windows(2)
            .find(|w| name_key(&w[0]) == name_key(&w[1]))
        {
            return Err(format!(
                "{} is listed twice",
                describe(&t.entries[w[0] as usize])
            ));
        }
        Ok(t)
    }
}

impl Terminals {
    /// Indexes `records` (they must be unique, as [`TerminalStore`] checks).
    pub fn new(records: &[TerminalRecord]) -> Result<Self, String> {
        let mut b = TerminalsBuilder::default();
        for r in records {
            b.push(r.clone())?;
        }
        b.finish()
    }

    fn name(&self, e: &Entry) -> &str {
        let at = e.at as usize;
        self.text
            .get(at..at + e.name_len as usize)
            .unwrap_or_default()
    }

    fn id(&self, e: &Entry) -> &str {
        let at = e.at as usize + e.name_len as usize;
        self.text
            .get(at..at + e.id_len as usize)
            .unwrap_or_default()
    }

    fn id_at(&self, i: u32) -> &str {
        self.entries.get(i as usize).map_or("", |e| self.id(e))
    }

    fn entry(&self, hash: &KeyHash) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.key.cmp(hash))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    fn terminal(&self, e: &Entry) -> Terminal {
        Terminal {
            merchant: self.merchants[e.merchant as usize].clone(),
            name: self.name(e).into(),
            id: Arc::from(self.id(e)),
            scope: e.scope,
        }
    }

    /// The terminal owning `key`, if any. The final equality is checked in constant time
    /// (the search itself compares hashes of the key, which say nothing about the key).
    pub fn authenticate(&self, key: &Secret) -> Option<(KeyHash, Terminal)> {
        let h = hash_key(key);
        self.entry(&h)
            .filter(|e| bool::from(e.key.ct_eq(&h)))
            .map(|e| (e.key, self.terminal(e)))
    }

    /// The terminal whose key hashes to `hash`: still registered after the last reload?
    pub fn by_key_hash(&self, hash: &KeyHash) -> Option<Terminal> {
        self.entry(hash).map(|e| self.terminal(e))
    }

    /// Whether a key with this hash is registered (no allocation: every session asks on
    /// every reload).
    pub fn has_key(&self, hash: &KeyHash) -> bool {
        self.entry(hash).is_some()
    }

    /// The id, shared, if `id` names a terminal of `merchant` (a payment's `paydesk_till`
    /// is only trusted for routing when it does).
    pub fn till_of(&self, merchant: &str, id: &str) -> Option<Arc<str>> {
        let i = self
            .by_id
            .binary_search_by(|i| self.id_at(*i).cmp(id))
            .ok()?;
        let e = self.entries.get(*self.by_id.get(i)? as usize)?;
        (*self.merchants[e.merchant as usize] == *merchant).then(|| Arc::from(id))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_tables(text: &str) -> Result<Vec<TerminalRecord>, String> {
        let mut v = Vec::new();
        match read_tables(text.as_bytes(), || Ok(text.to_owned()), &mut v) {
            Ok(()) => Ok(v),
            Err(ReadError::Parse(m)) => Err(m),
            Err(ReadError::Io(e)) => Err(e.to_string()),
        }
    }

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
        // Straight into the relay's index, the same terminals.
        let mut b = TerminalsBuilder::default();
        read_tables(text.as_bytes(), || Ok(text.clone()), &mut b)
            .ok()
            .unwrap();
        let index = b.finish().unwrap();
        assert_eq!(index.len(), 20);
        for t in &store.terminals {
            let found = index.by_key_hash(&t.key_sha256).unwrap();
            assert_eq!(
                (&*found.name, &*found.id, &*found.merchant, found.scope),
                (t.name.as_str(), t.id.as_str(), t.merchant.as_str(), t.scope)
            );
            assert_eq!(
                index.till_of(&t.merchant, &t.id).as_deref(),
                Some(t.id.as_str())
            );
        }
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
