//! The staff file's SQLite schema and its migrations, keyed by `PRAGMA user_version`
//! (the journal's scheme: each migration and its version bump in one transaction).
//!
//! No column can hold a PIN in clear: `pin_hash` must be an argon2id PHC string, and the
//! audit trail has no column a PIN could be written to.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::StaffError;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: people, the till's wrong PINs, and the audit trail.
    r#"
    CREATE TABLE people (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        name            TEXT    NOT NULL,
        -- The name as compared: trimmed and lower-cased, unique among current staff.
        name_key        TEXT    NOT NULL,
        role            TEXT    NOT NULL CHECK (role IN ('cashier', 'supervisor', 'owner')),
        -- NULL once removed, so a removed person's PIN opens nothing and is free again.
        pin_hash        TEXT    CHECK (pin_hash IS NULL OR pin_hash LIKE '$argon2id$%'),
        created_at_ms   INTEGER NOT NULL,
        removed_at_ms   INTEGER,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        lockouts        INTEGER NOT NULL DEFAULT 0,
        locked_until_ms INTEGER,
        last_seen_ms    INTEGER
    );
    CREATE UNIQUE INDEX people_name ON people(name_key) WHERE removed_at_ms IS NULL;

    -- Wrong PINs against the till as a whole, pruned to the rate-limit window.
    CREATE TABLE till_failures (
        at_ms INTEGER NOT NULL
    );

    CREATE TABLE audit (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms         INTEGER NOT NULL,
        kind          TEXT    NOT NULL,
        action        TEXT,
        -- Names are copied: the trail reads the same after a rename or a removal.
        person_id     INTEGER,
        person_name   TEXT,
        approver_id   INTEGER,
        approver_name TEXT,
        subject       TEXT,
        detail        TEXT
    );
    CREATE INDEX audit_at ON audit(at_ms);
    "#,
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the file up to [`CURRENT_VERSION`], refusing one written by a newer build.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StaffError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > CURRENT_VERSION {
            return Err(StaffError::TooNew {
                path: path.to_owned(),
                found: version,
                known: CURRENT_VERSION,
            });
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(from = version, to = version + 1, "staff schema migrated");
    }
}
