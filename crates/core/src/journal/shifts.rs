//! Shifts and closed reports: the journal's side of the counter's day (`crate::day`).
//!
//! A till opens a shift, takes payments, and closes it; at most one shift per till and
//! book is open (a unique index says so, so two processes cannot both open one). A charge
//! is stamped with the shift open when its intent is written (`record_intent`), and the
//! payment inherits it when the create call's answer is attached. A payment the till never
//! charged (watched, or found by reconciliation) belongs to the shift whose hours hold its
//! creation time.
//!
//! Closed reports are stored as written (JSON of `day::Report`) and never recomputed: a
//! reprint is the report the cashier signed off, even if a later reconciliation repairs a
//! payment of that period (that repair shows in the next close).

use std::collections::HashSet;

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{HistoryEntry, Journal, JournalError, Result};
use crate::clock::local_now_ms;
use crate::config::Mode;
use crate::merge::Source;

/// A shift's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShiftId(pub i64);

impl std::fmt::Display for ShiftId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One till's working period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub id: ShiftId,
    /// The till's name (the terminal name its charges are journaled with).
    pub till: String,
    pub book: Mode,
    pub opened_at_ms: i64,
    /// Who opened it (the cashier, once staff exists; a name typed at the CLI).
    pub opened_by: Option<String>,
    pub closed_at_ms: Option<i64>,
    pub closed_by: Option<String>,
}

impl Shift {
    pub fn is_open(&self) -> bool {
        self.closed_at_ms.is_none()
    }
}

/// What a stored report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum Period {
    /// One local day, every till of this book.
    Day(NaiveDate),
    /// One shift of one till.
    Shift(ShiftId),
}

/// A report as it was stored at a close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReport {
    pub id: i64,
    pub created_at_ms: i64,
    /// `day::Report` as JSON.
    pub json: String,
}

const SHIFT_COLUMNS: &str = "id, till, book, opened_at_ms, opened_by, closed_at_ms, closed_by";

fn shift_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Shift, String)> {
    let book: String = r.get(2)?;
    Ok((
        Shift {
            id: ShiftId(r.get(0)?),
            till: r.get(1)?,
            book: Mode::Demo,
            opened_at_ms: r.get(3)?,
            opened_by: r.get(4)?,
            closed_at_ms: r.get(5)?,
            closed_by: r.get(6)?,
        },
        book,
    ))
}

fn with_book((mut shift, book): (Shift, String)) -> Result<Shift> {
    shift.book = book
        .parse()
        .map_err(|e: String| JournalError::Corrupt(format!("shift {}: {e}", shift.id)))?;
    Ok(shift)
}

/// The id of `till`'s open shift in `book`, if one is open.
fn open_shift_id(tx: &Transaction<'_>, book: &str, till: &str) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT id FROM shifts WHERE book = ?1 AND till = ?2 AND closed_at_ms IS NULL",
            params![book, till],
            |r| r.get(0),
        )
        .optional()?)
}

/// Who opened or closed: trimmed, empty means nobody named.
fn person(by: Option<&str>) -> Option<&str> {
    by.map(str::trim).filter(|s| !s.is_empty())
}

impl Journal {
    /// Opens a shift on `till`; refused while one is open there.
    pub fn open_shift(&self, till: &str, by: Option<&str>) -> Result<Shift> {
        let now = local_now_ms();
        let id = self.write(|tx| {
            let open = open_shift_id(tx, self.book.as_str(), till)?;
            if let Some(id) = open {
                return Err(JournalError::ShiftOpen {
                    id,
                    till: till.to_owned(),
                });
            }
            tx.execute(
                "INSERT INTO shifts (book, till, opened_at_ms, opened_by) VALUES (?1, ?2, ?3, ?4)",
                params![self.book.as_str(), till, now, person(by)],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        self.shift(ShiftId(id))?
            .ok_or(JournalError::UnknownShift(id))
    }

    /// Closes `till`'s open shift.
    pub fn close_shift(&self, till: &str, by: Option<&str>) -> Result<Shift> {
        let now = local_now_ms();
        let id = self.write(|tx| {
            let open = open_shift_id(tx, self.book.as_str(), till)?;
            let id = open.ok_or_else(|| JournalError::NoOpenShift {
                till: till.to_owned(),
            })?;
            tx.execute(
                "UPDATE shifts SET closed_at_ms = ?1, closed_by = ?2 WHERE id = ?3",
                params![now, person(by), id],
            )?;
            Ok(id)
        })?;
        self.shift(ShiftId(id))?
            .ok_or(JournalError::UnknownShift(id))
    }

    /// `till`'s open shift, if any.
    pub fn open_shift_of(&self, till: &str) -> Result<Option<Shift>> {
        Ok(self
            .shifts_where(
                "till = ?1 AND closed_at_ms IS NULL",
                &[&till as &dyn rusqlite::ToSql],
            )?
            .into_iter()
            .next())
    }

    /// One shift of this book.
    pub fn shift(&self, id: ShiftId) -> Result<Option<Shift>> {
        Ok(self
            .shifts_where("id = ?1", &[&id.0 as &dyn rusqlite::ToSql])?
            .into_iter()
            .next())
    }

    /// The shifts that were open at some time in `[from_ms, to_ms)`, oldest first.
    pub fn shifts_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Shift>> {
        self.shifts_where(
            "opened_at_ms < ?2 AND (closed_at_ms IS NULL OR closed_at_ms >= ?1)",
            &[&from_ms as &dyn rusqlite::ToSql, &to_ms],
        )
    }

    fn shifts_where(&self, condition: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Shift>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SHIFT_COLUMNS} FROM shifts WHERE ({condition}) AND {} ORDER BY id",
            self.in_book()
        ))?;
        let rows = stmt.query_map(args, shift_of)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(with_book(row?)?);
        }
        Ok(out)
    }

    /// The payments of a shift, oldest first: those charged in it, and those of its till
    /// (or of no till) created during its hours that no shift claims.
    pub fn shift_payments(&self, shift: &Shift) -> Result<Vec<HistoryEntry>> {
        let until = shift.closed_at_ms.unwrap_or(i64::MAX);
        self.entries(
            "shift_id = ?1 OR (shift_id IS NULL AND (terminal = ?2 OR terminal IS NULL) \
             AND created_at_ms >= ?3 AND created_at_ms < ?4)",
            "ORDER BY created_at_ms, id",
            &[&shift.id.0, &shift.till, &shift.opened_at_ms, &until],
        )
    }

    /// The payments created in `[from_ms, to_ms)`, oldest first.
    pub fn payments_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<HistoryEntry>> {
        self.entries(
            "created_at_ms >= ?1 AND created_at_ms < ?2",
            "ORDER BY created_at_ms, id",
            &[&from_ms, &to_ms],
        )
    }

    /// The shift a payment was charged in, if it was charged in one.
    pub fn shift_of_payment(&self, payment_id: &str) -> Result<Option<ShiftId>> {
        let id: Option<Option<i64>> = self
            .conn()
            .query_row(
                &format!(
                    "SELECT shift_id FROM payments WHERE id = ?1 AND {}",
                    self.in_book()
                ),
                [payment_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(id.flatten().map(ShiftId))
    }

    /// The payments with a transition that reconciliation recorded at or after
    /// `since_ms` (a report reads only their transitions back, not every payment's).
    pub fn reconciled_since(&self, since_ms: i64) -> Result<HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT payment_id FROM transitions \
             WHERE source = ?1 AND recorded_at_ms >= ?2",
        )?;
        let rows = stmt.query_map(params![Source::Reconciliation.as_str(), since_ms], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = HashSet::new();
        for row in rows {
            out.insert(row?);
        }
        Ok(out)
    }

    /// Keeps a closed period's report as written; returns its row id.
    pub fn store_report(&self, period: Period, json: &str) -> Result<i64> {
        let now = local_now_ms();
        let (shift, day) = match period {
            Period::Shift(id) => (Some(id.0), None),
            Period::Day(d) => (None, Some(d.format("%Y-%m-%d").to_string())),
        };
        self.write(|tx| {
            tx.execute(
                "INSERT INTO reports (book, shift_id, day, created_at_ms, json) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![self.book.as_str(), shift, day, now, json],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The latest report stored for `period`, if it was closed.
    pub fn stored_report(&self, period: Period) -> Result<Option<StoredReport>> {
        let (condition, arg): (&str, Box<dyn rusqlite::ToSql>) = match period {
            Period::Shift(id) => ("shift_id = ?1", Box::new(id.0)),
            Period::Day(d) => ("day = ?1", Box::new(d.format("%Y-%m-%d").to_string())),
        };
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT id, created_at_ms, json FROM reports WHERE {condition} AND {} \
                     ORDER BY id DESC LIMIT 1",
                    self.in_book()
                ),
                [arg],
                |r| {
                    Ok(StoredReport {
                        id: r.get(0)?,
                        created_at_ms: r.get(1)?,
                        json: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }
}
