//! The staff file: who works this till, their roles and PIN hashes, their lockouts, and
//! the audit trail, in one SQLite file beside the journal.
//!
//! Place in the flow: the app and the CLI open the same file; every PIN typed anywhere
//! reaches [`StaffStore`]'s gate (`gate.rs`), every staff change goes through the methods
//! here, and each one takes a [`Grant`] for [`Action::Staff`] that only the gate issues —
//! except [`StaffStore::provision_owner`], which works once, on a till with nobody on it.
//!
//! Calls block (an argon2id verify per person a PIN is checked against, an fsync per
//! write): async callers run them on a blocking thread. The connection lock is never held
//! while hashing, so one slow PIN check does not stall a read.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::Serialize;

use crate::audit::{self, AuditKind, Record};
use crate::clock::{Clock, SystemClock};
use crate::gate::Grant;
use crate::lockout::Policy;
use crate::pin::{Pin, PinHash};
use crate::role::{Action, Role};
use crate::schema;

/// How long a write waits for the other process (the CLI beside the app) to finish its own.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest name a receipt line and the PIN pad's list have room for.
const MAX_NAME_CHARS: usize = 40;

/// A person's number at this till; stays theirs after a rename or a removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PersonId(i64);

impl PersonId {
    pub fn new(id: i64) -> Self {
        PersonId(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for PersonId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Someone on the staff. Holds nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub role: Role,
    pub created: DateTime<Utc>,
    /// Set while a lockout runs (as of when the person was read).
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("cannot create the staff file's folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the staff file {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the staff file {path} was written by a newer PayDesk (schema {found}, this build \
         knows {known}); install the newer PayDesk"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the staff file could not switch to WAL mode (it is in '{0}' mode)")]
    NoWal(String),
    #[error("staff database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the staff file holds a record it cannot read: {0}")]
    Corrupt(String),
    #[error("could not hash the PIN: {0}")]
    Hash(#[from] crate::pin::BadHash),
    #[error("A name cannot be empty.")]
    EmptyName,
    #[error("A name is at most {MAX_NAME_CHARS} characters, with no control characters.")]
    BadName,
    #[error("There is already someone called {0} on the staff.")]
    NameTaken(String),
    #[error("Nobody with number {0} is on the staff.")]
    UnknownPerson(PersonId),
    #[error("Nobody called {0} is on the staff.")]
    UnknownName(String),
    #[error("Someone else already has that PIN. Choose a different one.")]
    PinTaken,
    #[error("{0} is the last owner. Make someone else owner first.")]
    LastOwner(String),
    #[error("This till already has staff; the owner adds people with their own PIN.")]
    AlreadyProvisioned,
    #[error("this change needs permission to {} (the PIN given was for: {})", .needed.phrase(), .got.phrase())]
    WrongGrant { needed: Action, got: Action },
}

pub type Result<T, E = StaffError> = std::result::Result<T, E>;

/// The staff file, open. Cheap to share (`Arc`); every method is `&self`.
pub struct StaffStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    policy: Policy,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StaffStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffStore")
            .field("path", &self.path)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// One current person as the gate needs them: with their stored hash.
pub(crate) struct Candidate {
    pub person: Person,
    pub hash: Option<String>,
}

impl StaffStore {
    /// The file name inside the data directory, beside the journal.
    pub const FILE_NAME: &'static str = "staff.sqlite3";

    /// Opens (creating if needed) the staff file at `path` on the system clock.
    pub fn open(path: impl AsRef<Path>, policy: Policy) -> Result<StaffStore> {
        StaffStore::open_with_clock(path, policy, Arc::new(SystemClock))
    }

    /// Opens (creating if needed) the staff file at `path`, reading time from `clock`.
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        policy: Policy,
        clock: Arc<dyn Clock>,
    ) -> Result<StaffStore> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StaffError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open_err = |source| StaffError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // The first statement is where a damaged or foreign file shows itself.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StaffError::NoWal(mode));
        }
        // A lockout or an audit row that was reported must survive a power cut.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        // Overwrite freed pages: a removed person's old hash does not linger in the file.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(open_err)?;
        restrict_to_owner(&path).map_err(|source| StaffError::CreateDir {
            path: path.clone(),
            source,
        })?;
        schema::migrate(&mut conn, &path).map_err(|e| match e {
            StaffError::Sqlite(source) => open_err(source),
            other => other,
        })?;
        Ok(StaffStore {
            conn: Mutex::new(conn),
            path,
            policy,
            clock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The connection. A panic elsewhere while it was held cannot leave it mid-transaction
    /// (an open transaction rolls back when dropped), so a poisoned lock is still usable.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an owner has been set up (until then the gate grants nothing).
    pub fn is_provisioned(&self) -> Result<bool> {
        let owners: i64 = self.conn().query_row(
            "SELECT count(*) FROM people WHERE removed_at_ms IS NULL AND role = 'owner'",
            [],
            |r| r.get(0),
        )?;
        Ok(owners > 0)
    }

    /// The first person, an owner, on a till with nobody on its staff: what provisioning
    /// does. Refused once anyone is on the staff.
    pub fn provision_owner(&self, name: &str, pin: &Pin) -> Result<Person> {
        let (name, key) = clean_name(name)?;
        let hash = PinHash::new(pin, self.policy.pin_cost)?;
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let anyone: i64 = tx.query_row(
            "SELECT count(*) FROM people WHERE removed_at_ms IS NULL",
            [],
            |r| r.get(0),
        )?;
        if anyone > 0 {
            return Err(StaffError::AlreadyProvisioned);
        }
        let person = insert_person(&tx, &name, &key, Role::Owner, &hash, now)?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::OwnerProvisioned)
                .person(&person)
                .subject(&person.name),
        )?;
        tx.commit()?;
        tracing::info!(person = %person.id, "owner provisioned");
        Ok(person)
    }

    /// Everyone on the staff, by name.
    pub fn list(&self) -> Result<Vec<Person>> {
        let now_ms = self.now().timestamp_millis();
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, name, role, created_at_ms, locked_until_ms FROM people \
             WHERE removed_at_ms IS NULL ORDER BY name_key",
        )?;
        let rows = stmt.query_map([], |r| person_from_row(r, now_ms))?;
        rows.map(|r| r?).collect()
    }

    /// One person on the staff.
    pub fn person(&self, id: PersonId) -> Result<Person> {
        let now_ms = self.now().timestamp_millis();
        current_person(&self.conn(), id, now_ms)?.ok_or(StaffError::UnknownPerson(id))
    }

    /// One person on the staff by name (any case).
    pub fn find(&self, name: &str) -> Result<Person> {
        let key = name_key(name);
        let now_ms = self.now().timestamp_millis();
        let conn = self.conn();
        conn.query_row(
            "SELECT id, name, role, created_at_ms, locked_until_ms FROM people \
             WHERE removed_at_ms IS NULL AND name_key = ?1",
            [&key],
            |r| person_from_row(r, now_ms),
        )
        .optional()?
        .transpose()?
        .ok_or_else(|| StaffError::UnknownName(name.trim().to_owned()))
    }

    /// Adds a person; their name must be new (any case) and their PIN nobody else's.
    pub fn add(&self, grant: Grant, name: &str, role: Role, pin: &Pin) -> Result<Person> {
        grant.require(Action::Staff)?;
        let (name, key) = clean_name(name)?;
        self.check_pin_free(pin, None)?;
        let hash = PinHash::new(pin, self.policy.pin_cost)?;
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if name_in_use(&tx, &key, None)? {
            return Err(StaffError::NameTaken(name));
        }
        let person = insert_person(&tx, &name, &key, role, &hash, now)?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::StaffAdded)
                .person(grant.person())
                .subject(&person.name)
                .detail(role.as_str()),
        )?;
        tx.commit()?;
        Ok(person)
    }

    /// Takes a person off the staff. Their PIN stops working at once and is free again;
    /// their name stays in the audit trail. Never the last owner.
    pub fn remove(&self, grant: Grant, id: PersonId) -> Result<Person> {
        grant.require(Action::Staff)?;
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let person = current_person(&tx, id, now.timestamp_millis())?
            .ok_or(StaffError::UnknownPerson(id))?;
        if person.role == Role::Owner && owners(&tx)? <= 1 {
            return Err(StaffError::LastOwner(person.name));
        }
        tx.execute(
            "UPDATE people SET removed_at_ms = ?2, pin_hash = NULL WHERE id = ?1",
            params![id.0, now.timestamp_millis()],
        )?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::StaffRemoved)
                .person(grant.person())
                .subject(&person.name),
        )?;
        tx.commit()?;
        Ok(person)
    }

    /// Gives a person a new PIN (nobody else's). Lifts a running lockout: the owner who
    /// sets a PIN has just told them what it is.
    pub fn set_pin(&self, grant: Grant, id: PersonId, pin: &Pin) -> Result<Person> {
        grant.require(Action::Staff)?;
        self.person(id)?;
        self.check_pin_free(pin, Some(id))?;
        let hash = PinHash::new(pin, self.policy.pin_cost)?;
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let person = current_person(&tx, id, now.timestamp_millis())?
            .ok_or(StaffError::UnknownPerson(id))?;
        tx.execute(
            "UPDATE people SET pin_hash = ?2, failed_attempts = 0, lockouts = 0, \
             locked_until_ms = NULL WHERE id = ?1",
            params![id.0, hash.as_phc()],
        )?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::PinSet)
                .person(grant.person())
                .subject(&person.name),
        )?;
        tx.commit()?;
        Ok(Person {
            locked_until: None,
            ..person
        })
    }

    /// Renames a person (the new name must be free, any case).
    pub fn rename(&self, grant: Grant, id: PersonId, name: &str) -> Result<Person> {
        grant.require(Action::Staff)?;
        let (name, key) = clean_name(name)?;
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let person = current_person(&tx, id, now.timestamp_millis())?
            .ok_or(StaffError::UnknownPerson(id))?;
        if name_in_use(&tx, &key, Some(id))? {
            return Err(StaffError::NameTaken(name));
        }
        tx.execute(
            "UPDATE people SET name = ?2, name_key = ?3 WHERE id = ?1",
            params![id.0, name, key],
        )?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::Renamed)
                .person(grant.person())
                .subject(&name)
                .detail(format!("was {}", person.name)),
        )?;
        tx.commit()?;
        Ok(Person { name, ..person })
    }

    /// Changes a person's role; the last owner stays an owner.
    pub fn set_role(&self, grant: Grant, id: PersonId, role: Role) -> Result<Person> {
        grant.require(Action::Staff)?;
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let person = current_person(&tx, id, now.timestamp_millis())?
            .ok_or(StaffError::UnknownPerson(id))?;
        if person.role == Role::Owner && role != Role::Owner && owners(&tx)? <= 1 {
            return Err(StaffError::LastOwner(person.name));
        }
        tx.execute(
            "UPDATE people SET role = ?2 WHERE id = ?1",
            params![id.0, role.as_str()],
        )?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::RoleChanged)
                .person(grant.person())
                .subject(&person.name)
                .detail(format!("{} -> {}", person.role, role)),
        )?;
        tx.commit()?;
        Ok(Person { role, ..person })
    }

    /// Ends a person's lockout early and clears their wrong-PIN count.
    pub fn lift_lockout(&self, grant: Grant, id: PersonId) -> Result<Person> {
        grant.require(Action::Unlock)?;
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let person = current_person(&tx, id, now.timestamp_millis())?
            .ok_or(StaffError::UnknownPerson(id))?;
        tx.execute(
            "UPDATE people SET failed_attempts = 0, lockouts = 0, locked_until_ms = NULL \
             WHERE id = ?1",
            [id.0],
        )?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::LockoutLifted)
                .person(grant.person())
                .subject(&person.name),
        )?;
        tx.commit()?;
        Ok(Person {
            locked_until: None,
            ..person
        })
    }

    /// Everyone current, with what the gate needs to check a PIN against them; most
    /// recently seen first, so the cashier at the till is usually the first verify.
    pub(crate) fn candidates(&self) -> Result<Vec<Candidate>> {
        let now_ms = self.now().timestamp_millis();
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, name, role, created_at_ms, locked_until_ms, pin_hash \
             FROM people WHERE removed_at_ms IS NULL \
             ORDER BY last_seen_ms IS NULL, last_seen_ms DESC, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((person_from_row(r, now_ms)?, r.get::<_, Option<String>>(5)?))
        })?;
        rows.map(|row| {
            let (person, hash) = row?;
            Ok(Candidate {
                person: person?,
                hash,
            })
        })
        .collect()
    }

    /// Refuses a PIN someone current (other than `except`) already has: a PIN alone must
    /// name one person. Costs one verify per person; only the owner gets this answer.
    fn check_pin_free(&self, pin: &Pin, except: Option<PersonId>) -> Result<()> {
        let others: Vec<PinHash> = self
            .candidates()?
            .into_iter()
            .filter(|c| Some(c.person.id) != except)
            .filter_map(|c| c.hash.and_then(|h| usable_hash(c.person.id, h)))
            .collect();
        match PinHash::find(&others, pin) {
            Some(_) => Err(StaffError::PinTaken),
            None => Ok(()),
        }
    }
}

/// A stored hash the gate can verify against, or a warning and `None`: one damaged row
/// must not stop everyone else signing in.
pub(crate) fn usable_hash(id: PersonId, phc: String) -> Option<PinHash> {
    match PinHash::parse(phc) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(person = %id, error = %e, "skipping a person whose PIN hash is unusable");
            None
        }
    }
}

fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The name as stored and as compared.
fn clean_name(name: &str) -> Result<(String, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StaffError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(StaffError::BadName);
    }
    Ok((name.to_owned(), name_key(name)))
}

fn name_in_use(tx: &Transaction<'_>, key: &str, except: Option<PersonId>) -> Result<bool> {
    let found: Option<i64> = tx
        .query_row(
            "SELECT id FROM people WHERE removed_at_ms IS NULL AND name_key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.is_some_and(|id| Some(PersonId(id)) != except))
}

fn owners(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row(
        "SELECT count(*) FROM people WHERE removed_at_ms IS NULL AND role = 'owner'",
        [],
        |r| r.get(0),
    )?)
}

fn insert_person(
    tx: &Transaction<'_>,
    name: &str,
    key: &str,
    role: Role,
    hash: &PinHash,
    now: DateTime<Utc>,
) -> Result<Person> {
    tx.execute(
        "INSERT INTO people (name, name_key, role, pin_hash, created_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            name,
            key,
            role.as_str(),
            hash.as_phc(),
            now.timestamp_millis()
        ],
    )?;
    Ok(Person {
        id: PersonId(tx.last_insert_rowid()),
        name: name.to_owned(),
        role,
        created: ms_to_time(now.timestamp_millis())?,
        locked_until: None,
    })
}

pub(crate) fn current_person(
    conn: &Connection,
    id: PersonId,
    now_ms: i64,
) -> Result<Option<Person>> {
    conn.query_row(
        "SELECT id, name, role, created_at_ms, locked_until_ms FROM people \
         WHERE removed_at_ms IS NULL AND id = ?1",
        [id.0],
        |r| person_from_row(r, now_ms),
    )
    .optional()?
    .transpose()
}

/// A person from `id, name, role, created_at_ms, locked_until_ms`; the outer error is
/// SQLite's, the inner one a row PayDesk did not write.
fn person_from_row(r: &Row<'_>, now_ms: i64) -> rusqlite::Result<Result<Person>> {
    let id: i64 = r.get(0)?;
    let name: String = r.get(1)?;
    let role: String = r.get(2)?;
    let created_ms: i64 = r.get(3)?;
    let locked_ms: Option<i64> = r.get(4)?;
    Ok((|| {
        Ok(Person {
            id: PersonId(id),
            name,
            role: role
                .parse()
                .map_err(|e| StaffError::Corrupt(format!("person {id}: {e}")))?,
            created: ms_to_time(created_ms)?,
            locked_until: locked_ms
                .filter(|until| *until > now_ms)
                .map(ms_to_time)
                .transpose()?,
        })
    })())
}

pub(crate) fn ms_to_time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StaffError::Corrupt(format!("time {ms} ms is out of range")))
}

/// The staff file holds the till's PIN hashes: readable by the till's user only. SQLite
/// gives the `-wal` and `-shm` files the main file's mode.
#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// On Windows the file inherits the per-user data folder's ACL (the user, SYSTEM and
/// Administrators); nothing to narrow here (docs/platforms.md).
#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
