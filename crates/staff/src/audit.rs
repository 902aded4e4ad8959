//! The audit trail: who did what at this till, and who was refused.
//!
//! Every grant, denial, override, wrong PIN, lockout, pause, staff change and till lock is
//! appended here in the same transaction as the change it records, so the trail and the
//! staff list never disagree. Rows are written by the gate and the store only; the app
//! adds the till's own locks through [`StaffStore::record_till_locked`]. Nothing a person
//! typed as a PIN has a column to go to: a wrong PIN is recorded as the fact, not the digits.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use rusqlite::{params, Connection, Row};
use serde::Serialize;

use crate::gate::Identity;
use crate::role::Action;
use crate::store::{ms_to_time, Person, PersonId, Result, StaffError, StaffStore};
use crate::till_lock::LockReason;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditKind {
    /// A PIN (or a signed-in person) was allowed an action.
    Granted,
    /// A person was refused an action their role does not allow.
    Denied,
    /// A supervisor or the owner allowed one action for someone whose role does not.
    Override,
    /// Someone unlocked the till with their PIN.
    SignedIn,
    /// The till locked (idle or on demand).
    TillLocked,
    /// A PIN matched nobody (or not the person it was typed for).
    WrongPin,
    /// A person was locked out after too many wrong PINs.
    LockedOut,
    /// The till stopped taking PINs after too many wrong ones.
    TillPaused,
    LockoutLifted,
    OwnerProvisioned,
    StaffAdded,
    StaffRemoved,
    PinSet,
    Renamed,
    RoleChanged,
}

impl AuditKind {
    const ALL: [AuditKind; 15] = [
        AuditKind::Granted,
        AuditKind::Denied,
        AuditKind::Override,
        AuditKind::SignedIn,
        AuditKind::TillLocked,
        AuditKind::WrongPin,
        AuditKind::LockedOut,
        AuditKind::TillPaused,
        AuditKind::LockoutLifted,
        AuditKind::OwnerProvisioned,
        AuditKind::StaffAdded,
        AuditKind::StaffRemoved,
        AuditKind::PinSet,
        AuditKind::Renamed,
        AuditKind::RoleChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Granted => "granted",
            AuditKind::Denied => "denied",
            AuditKind::Override => "override",
            AuditKind::SignedIn => "signed-in",
            AuditKind::TillLocked => "till-locked",
            AuditKind::WrongPin => "wrong-pin",
            AuditKind::LockedOut => "locked-out",
            AuditKind::TillPaused => "till-paused",
            AuditKind::LockoutLifted => "lockout-lifted",
            AuditKind::OwnerProvisioned => "owner-provisioned",
            AuditKind::StaffAdded => "staff-added",
            AuditKind::StaffRemoved => "staff-removed",
            AuditKind::PinSet => "pin-set",
            AuditKind::Renamed => "renamed",
            AuditKind::RoleChanged => "role-changed",
        }
    }

    fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A person as the trail names them: their number and their name at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonRef {
    pub id: PersonId,
    pub name: String,
}

/// One line of the trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub action: Option<Action>,
    /// Who acted, was refused, typed the wrong PIN for themselves, or was locked out.
    pub person: Option<PersonRef>,
    /// Who allowed an override.
    pub approver: Option<PersonRef>,
    /// What it concerned: a payment id, the person a staff change was about, …
    pub subject: Option<String>,
    pub detail: Option<String>,
}

/// A line about to be written.
pub(crate) struct Record<'a> {
    kind: AuditKind,
    action: Option<Action>,
    person: Option<&'a Person>,
    approver: Option<&'a Person>,
    subject: Option<&'a str>,
    detail: Option<String>,
}

impl<'a> Record<'a> {
    pub fn new(kind: AuditKind) -> Self {
        Record {
            kind,
            action: None,
            person: None,
            approver: None,
            subject: None,
            detail: None,
        }
    }

    pub fn action(mut self, action: Action) -> Self {
        self.action = Some(action);
        self
    }

    pub fn person(mut self, person: &'a Person) -> Self {
        self.person = Some(person);
        self
    }

    pub fn maybe_person(mut self, person: Option<&'a Person>) -> Self {
        self.person = person;
        self
    }

    pub fn approver(mut self, approver: &'a Person) -> Self {
        self.approver = Some(approver);
        self
    }

    pub fn subject(mut self, subject: &'a str) -> Self {
        self.subject = Some(subject);
        self
    }

    pub fn maybe_subject(mut self, subject: Option<&'a str>) -> Self {
        self.subject = subject;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

pub(crate) fn append(conn: &Connection, at: DateTime<Utc>, r: &Record<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO audit (at_ms, kind, action, person_id, person_name, approver_id, \
         approver_name, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            at.timestamp_millis(),
            r.kind.as_str(),
            r.action.map(Action::as_str),
            r.person.map(|p| p.id.get()),
            r.person.map(|p| p.name.as_str()),
            r.approver.map(|p| p.id.get()),
            r.approver.map(|p| p.name.as_str()),
            r.subject,
            r.detail.as_deref(),
        ],
    )?;
    Ok(())
}

const SELECT: &str = "SELECT seq, at_ms, kind, action, person_id, person_name, approver_id, \
                      approver_name, subject, detail FROM audit";

impl StaffStore {
    /// The trail of one local day in `tz`, oldest first.
    pub fn audit_day<Tz: TimeZone>(&self, day: NaiveDate, tz: &Tz) -> Result<Vec<AuditEntry>> {
        let next = day
            .succ_opt()
            .ok_or_else(|| StaffError::Corrupt(format!("no day after {day}")))?;
        let (from, to) = (local_start_ms(day, tz)?, local_start_ms(next, tz)?);
        self.audit_query(
            &format!("{SELECT} WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY seq"),
            params![from, to],
        )
    }

    /// Up to `limit` lines after `after_seq` (0 for the start), oldest first: for a support
    /// bundle or a follower that keeps its place.
    pub fn audit_after(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.audit_query(
            &format!("{SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
            params![after_seq, limit],
        )
    }

    /// Records that the till locked while `who` was signed in.
    pub fn record_till_locked(&self, who: &Identity, reason: LockReason) -> Result<()> {
        let conn = self.conn();
        append(
            &conn,
            self.now(),
            &Record::new(AuditKind::TillLocked)
                .person(who.person())
                .detail(reason.as_str()),
        )
    }

    fn audit_query(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map(args, entry_from_row)?;
        rows.map(|r| r?).collect()
    }
}

fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<Result<AuditEntry>> {
    let seq: i64 = r.get(0)?;
    let at_ms: i64 = r.get(1)?;
    let kind: String = r.get(2)?;
    let action: Option<String> = r.get(3)?;
    let person = person_ref(r.get(4)?, r.get(5)?);
    let approver = person_ref(r.get(6)?, r.get(7)?);
    let subject: Option<String> = r.get(8)?;
    let detail: Option<String> = r.get(9)?;
    Ok((|| {
        Ok(AuditEntry {
            seq,
            at: ms_to_time(at_ms)?,
            kind: AuditKind::parse(&kind)
                .ok_or_else(|| StaffError::Corrupt(format!("audit {seq}: kind '{kind}'")))?,
            action: action
                .map(|a| a.parse())
                .transpose()
                .map_err(|e| StaffError::Corrupt(format!("audit {seq}: {e}")))?,
            person,
            approver,
            subject,
            detail,
        })
    })())
}

fn person_ref(id: Option<i64>, name: Option<String>) -> Option<PersonRef> {
    Some(PersonRef {
        id: PersonId::new(id?),
        name: name.unwrap_or_default(),
    })
}

/// Unix ms of the start of `day` in `tz`; a midnight skipped by a DST change starts the
/// day at the first local time that exists (the journal's rule).
fn local_start_ms<Tz: TimeZone>(day: NaiveDate, tz: &Tz) -> Result<i64> {
    let mut t = day.and_time(NaiveTime::MIN);
    for _ in 0..=48 {
        if let Some(start) = tz.from_local_datetime(&t).earliest() {
            return Ok(start.timestamp_millis());
        }
        t += chrono::Duration::minutes(30);
    }
    Err(StaffError::Corrupt(format!(
        "the day {day} has no start in this time zone"
    )))
}
