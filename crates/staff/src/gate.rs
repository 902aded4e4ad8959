//! The gate: a PIN (or a signed-in person) and an action in, a [`Grant`] or a [`Denied`] out.
//!
//! Place in the flow: before the core charges, cancels, refunds, reprints, exports, opens or
//! closes a shift, or changes settings, keys, mode or staff, it asks the gate, and the
//! operation takes the [`Grant`] as its proof. The app and the CLI reach the same gate
//! through the core, so a rule cannot be skipped by choosing the other front end.
//!
//! - A PIN alone names a person (PINs are unique per till), so [`StaffStore::authorize`]
//!   checks it against every current person's hash, most recently seen first, on up to
//!   one thread per core ([`PinHash::find`]).
//! - Whether the role allows the action is [`Role::may`] and nothing else. The one question
//!   the table cannot answer — is this cancel of the person's own payment? — is decided
//!   here, from the [`Context`]: a cancel of someone else's payment, or of a payment whose
//!   creator is unknown, is [`Action::CancelAny`].
//! - An override ([`StaffStore::override_action`]) is a supervisor's or the owner's PIN
//!   typed on a signed-in cashier's screen: it grants that cashier one action, and the trail
//!   names both.
//! - Wrong PINs count as `lockout.rs` says; every outcome is appended to the audit trail.
//!
//! A [`Grant`] is not `Clone` and only the gate makes one: an operation that takes it by
//! value has been allowed exactly once.

use std::fmt;

use chrono::{DateTime, Local, Utc};
use rusqlite::{params, TransactionBehavior};

use crate::audit::{self, AuditKind, Record};
use crate::lockout::Strikes;
use crate::pin::{Pin, PinHash};
use crate::role::{Action, Role};
use crate::store::{self, current_person, Person, PersonId, Result, StaffError, StaffStore};

/// The payment metadata key that carries the cashier's number.
pub const CASHIER_ID_METADATA_KEY: &str = "paydesk_cashier_id";
/// The payment metadata key that carries the cashier's name (as it was at the charge).
pub const CASHIER_METADATA_KEY: &str = "paydesk_cashier";
/// The payment metadata key that names who approved an override.
pub const APPROVED_BY_METADATA_KEY: &str = "paydesk_approved_by";

/// What an action is about: the payment (or other subject) and, for a payment, who
/// created it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    subject: Option<String>,
    owner: Option<PersonId>,
}

impl Context {
    /// No particular subject (open a shift, change settings).
    pub fn none() -> Self {
        Context::default()
    }

    /// About `subject` (a payment id, an export's day, a setting's name).
    pub fn subject(subject: impl Into<String>) -> Self {
        Context {
            subject: Some(subject.into()),
            owner: None,
        }
    }

    /// About a payment created by `owner` (`None` when the journal does not know who: a
    /// payment from before staff existed, or from another till).
    pub fn payment(id: impl Into<String>, owner: Option<PersonId>) -> Self {
        Context {
            subject: Some(id.into()),
            owner,
        }
    }

    /// The action as the table must judge it when `person` asks for `action` here.
    pub fn effective(&self, action: Action, person: PersonId) -> Action {
        match action {
            Action::CancelOwn if self.owner != Some(person) => Action::CancelAny,
            other => other,
        }
    }

    pub fn subject_str(&self) -> Option<&str> {
        self.subject.as_deref()
    }
}

/// Proof that someone typed their PIN at this till: what [`TillLock`](crate::TillLock)
/// holds while the till is unlocked. Only the gate makes one.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    person: Person,
    at: DateTime<Utc>,
}

impl Identity {
    /// The person as they were at sign-in (the gate re-reads them on every action).
    pub fn person(&self) -> &Person {
        &self.person
    }

    pub fn id(&self) -> PersonId {
        self.person.id
    }

    pub fn signed_in_at(&self) -> DateTime<Utc> {
        self.at
    }
}

/// Permission for one action, issued by the gate and recorded in the audit trail.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a grant is the proof an operation takes; one not passed on was asked for in vain"]
pub struct Grant {
    person: Person,
    action: Action,
    subject: Option<String>,
    approved_by: Option<Person>,
    at: DateTime<Utc>,
}

impl Grant {
    /// Who acts (for an override: the cashier, not the supervisor who allowed it).
    pub fn person(&self) -> &Person {
        &self.person
    }

    /// The action as judged: a cancel of someone else's payment is `CancelAny`.
    pub fn action(&self) -> Action {
        self.action
    }

    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// Who allowed it, if it was an override.
    pub fn approved_by(&self) -> Option<&Person> {
        self.approved_by.as_ref()
    }

    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Refuses a grant for another action than `needed` (a `CancelAny` grant covers a
    /// `CancelOwn`: the table ranks it higher).
    pub fn require(&self, needed: Action) -> Result<()> {
        let covers = self.action == needed
            || (needed == Action::CancelOwn && self.action == Action::CancelAny);
        if covers {
            Ok(())
        } else {
            Err(StaffError::WrongGrant {
                needed,
                got: self.action,
            })
        }
    }

    /// The payment metadata that names the cashier (and the approver of an override).
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (CASHIER_ID_METADATA_KEY, self.person.id.to_string()),
            (CASHIER_METADATA_KEY, self.person.name.clone()),
        ];
        if let Some(a) = &self.approved_by {
            out.push((APPROVED_BY_METADATA_KEY, a.name.clone()));
        }
        out
    }
}

/// Why the gate said no, in words a cashier understands. Nothing here holds a PIN.
#[derive(Debug)]
pub enum Denied {
    /// The PIN matched nobody who may sign in now. `locked` lists who is locked out, so
    /// the right person typing the right PIN learns why it did not work.
    WrongPin {
        locked: Vec<(String, DateTime<Utc>)>,
    },
    /// This person is locked out after too many wrong PINs.
    LockedOut { name: String, until: DateTime<Utc> },
    /// Too many wrong PINs on this till: no PIN is checked until then.
    TillPaused { until: DateTime<Utc> },
    /// The person's role does not allow the action; `needs` is the least role that does.
    NotAllowed {
        name: String,
        action: Action,
        needs: Role,
    },
    /// The signed-in person has been taken off the staff since.
    NotStaff { name: String },
    /// Nobody is on the staff yet: an owner must be provisioned first.
    NoStaff,
    /// The staff file could not be read or written; nothing was allowed.
    Unavailable(StaffError),
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::WrongPin { locked } => {
                f.write_str("That PIN is not recognised.")?;
                for (i, (name, until)) in locked.iter().enumerate() {
                    let lead = if i == 0 {
                        " Locked out after too many wrong PINs:"
                    } else {
                        ","
                    };
                    write!(f, "{lead} {name} until {}", clock_time(*until))?;
                }
                if !locked.is_empty() {
                    f.write_str(".")?;
                }
                Ok(())
            }
            Denied::LockedOut { name, until } => write!(
                f,
                "{name} is locked out after too many wrong PINs until {}. A supervisor can \
                 lift it sooner.",
                clock_time(*until)
            ),
            Denied::TillPaused { until } => write!(
                f,
                "Too many wrong PINs on this till: PIN entry is paused until {}.",
                clock_time(*until)
            ),
            Denied::NotAllowed { action, needs, .. } => write!(
                f,
                "Only {} can {}. {} to enter their PIN.",
                needs.with_article(),
                action.phrase(),
                needs.ask()
            ),
            Denied::NotStaff { name } => {
                write!(f, "{name} is no longer on the staff. Sign in again.")
            }
            Denied::NoStaff => f.write_str(
                "No staff are set up on this till yet: the owner's PIN is set at provisioning.",
            ),
            Denied::Unavailable(e) => {
                write!(f, "The staff list cannot be read, so nothing was done: {e}")
            }
        }
    }
}

impl std::error::Error for Denied {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Denied::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StaffError> for Denied {
    fn from(e: StaffError) -> Self {
        Denied::Unavailable(e)
    }
}

/// A lockout's end as the till's wall clock shows it.
fn clock_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M").to_string()
}

impl StaffStore {
    /// Unlocks the till: the person whose PIN this is.
    pub fn sign_in(&self, pin: &Pin) -> Result<Identity, Denied> {
        let person = self.identify(pin, None)?;
        self.signed_in(person)
    }

    /// Unlocks the till for a person picked by name (or the one who had it before it
    /// locked): a wrong PIN here counts towards locking *them* out.
    pub fn sign_in_as(&self, id: PersonId, pin: &Pin) -> Result<Identity, Denied> {
        let person = self.identify(pin, Some(id))?;
        self.signed_in(person)
    }

    /// Allows `action` for whoever `pin` belongs to, if their role does: the CLI's gate, and
    /// the app's for a PIN typed at the moment of the action.
    pub fn authorize(&self, pin: &Pin, action: Action, ctx: &Context) -> Result<Grant, Denied> {
        let person = self.identify(pin, None)?;
        self.decide(person, action, ctx)
    }

    /// Allows `action` for the person signed in at the till, as they are on the staff now
    /// (a role changed since sign-in counts; a removal ends it).
    pub fn authorize_signed_in(
        &self,
        who: &Identity,
        action: Action,
        ctx: &Context,
    ) -> Result<Grant, Denied> {
        let person = self.still_staff(who)?;
        self.decide(person, action, ctx)
    }

    /// A supervisor's (or the owner's) PIN on `requester`'s screen allows `requester` one
    /// `action` their role does not. If their role does allow it, no override is needed and
    /// the grant is an ordinary one.
    pub fn override_action(
        &self,
        requester: &Identity,
        approver_pin: &Pin,
        action: Action,
        ctx: &Context,
    ) -> Result<Grant, Denied> {
        let person = self.still_staff(requester)?;
        let action = ctx.effective(action, person.id);
        if person.role.may(action) {
            return self.decide(person, action, ctx);
        }
        let approver = self.identify(approver_pin, None)?;
        let now = self.now();
        let conn = self.conn();
        if !approver.role.may(action) {
            audit::append(
                &conn,
                now,
                &Record::new(AuditKind::Denied)
                    .action(action)
                    .person(&approver)
                    .maybe_subject(ctx.subject_str())
                    .detail(format!("override for {}", person.name)),
            )?;
            return Err(Denied::NotAllowed {
                name: approver.name,
                action,
                needs: action.least_role(),
            });
        }
        audit::append(
            &conn,
            now,
            &Record::new(AuditKind::Override)
                .action(action)
                .person(&person)
                .approver(&approver)
                .maybe_subject(ctx.subject_str()),
        )?;
        tracing::info!(person = %person.id, approver = %approver.id, %action, "override");
        Ok(Grant {
            person,
            action,
            subject: ctx.subject.clone(),
            approved_by: Some(approver),
            at: now,
        })
    }

    fn signed_in(&self, person: Person) -> Result<Identity, Denied> {
        let now = self.now();
        audit::append(
            &self.conn(),
            now,
            &Record::new(AuditKind::SignedIn).person(&person),
        )?;
        Ok(Identity { person, at: now })
    }

    fn still_staff(&self, who: &Identity) -> Result<Person, Denied> {
        let now_ms = self.now().timestamp_millis();
        current_person(&self.conn(), who.id(), now_ms)?.ok_or_else(|| Denied::NotStaff {
            name: who.person.name.clone(),
        })
    }

    /// The table's answer for `person`, recorded.
    fn decide(&self, person: Person, action: Action, ctx: &Context) -> Result<Grant, Denied> {
        let action = ctx.effective(action, person.id);
        let now = self.now();
        let conn = self.conn();
        let allowed = person.role.may(action);
        audit::append(
            &conn,
            now,
            &Record::new(if allowed {
                AuditKind::Granted
            } else {
                AuditKind::Denied
            })
            .action(action)
            .person(&person)
            .maybe_subject(ctx.subject_str()),
        )?;
        if !allowed {
            return Err(Denied::NotAllowed {
                name: person.name,
                action,
                needs: action.least_role(),
            });
        }
        Ok(Grant {
            person,
            action,
            subject: ctx.subject.clone(),
            approved_by: None,
            at: now,
        })
    }

    /// Whose PIN this is, among current people not locked out; `claimed` when the till
    /// knows whose it should be. Counts a miss against the till (and the claimed person).
    fn identify(&self, pin: &Pin, claimed: Option<PersonId>) -> Result<Person, Denied> {
        let now = self.now();
        if let Some(until) = self.till_paused_until(now)? {
            return Err(Denied::TillPaused { until });
        }
        let candidates = self.candidates()?;
        if candidates.is_empty() {
            return Err(Denied::NoStaff);
        }
        let claimed = match claimed {
            None => None,
            Some(id) => {
                let c = candidates
                    .iter()
                    .find(|c| c.person.id == id)
                    .ok_or_else(|| Denied::NotStaff {
                        name: format!("Number {id}"),
                    })?;
                if let Some(until) = c.person.locked_until {
                    return Err(Denied::LockedOut {
                        name: c.person.name.clone(),
                        until,
                    });
                }
                Some(c.person.clone())
            }
        };
        let mut locked = Vec::new();
        let mut people = Vec::new();
        let mut hashes = Vec::new();
        for c in candidates {
            if let Some(until) = c.person.locked_until {
                locked.push((c.person.name, until));
                continue;
            }
            if claimed.as_ref().is_some_and(|p| p.id != c.person.id) {
                continue;
            }
            if let Some(hash) = c.hash.and_then(|h| store::usable_hash(c.person.id, h)) {
                people.push(c.person);
                hashes.push(hash);
            }
        }
        let Some(person) = PinHash::find(&hashes, pin).and_then(|i| people.into_iter().nth(i))
        else {
            return Err(self.wrong_pin(claimed.as_ref(), locked, now)?);
        };
        self.conn()
            .execute(
                "UPDATE people SET failed_attempts = 0, lockouts = 0, last_seen_ms = ?2 \
                 WHERE id = ?1",
                params![person.id.get(), now.timestamp_millis()],
            )
            .map_err(StaffError::from)?;
        Ok(person)
    }

    /// Until when the till refuses PINs, if it does now.
    fn till_paused_until(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let since = now - self.policy().till_window_delta();
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT at_ms FROM till_failures WHERE at_ms > ?1")?;
        let recent = stmt
            .query_map([since.timestamp_millis()], |r| r.get::<_, i64>(0))?
            .map(|ms| store::ms_to_time(ms?))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.policy().till_paused_until(&recent, now))
    }

    /// Records a wrong PIN and says what it led to.
    fn wrong_pin(
        &self,
        claimed: Option<&Person>,
        locked: Vec<(String, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Result<Denied> {
        let now_ms = now.timestamp_millis();
        let policy = *self.policy();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM till_failures WHERE at_ms <= ?1",
            [(now - policy.till_window_delta()).timestamp_millis()],
        )?;
        tx.execute("INSERT INTO till_failures (at_ms) VALUES (?1)", [now_ms])?;
        audit::append(
            &tx,
            now,
            &Record::new(AuditKind::WrongPin).maybe_person(claimed),
        )?;
        tracing::info!(claimed = ?claimed.map(|p| p.id), "wrong PIN");

        let mut denied = Denied::WrongPin { locked };
        if let Some(person) = claimed {
            let (failed, lockouts): (u32, u32) = tx.query_row(
                "SELECT failed_attempts, lockouts FROM people WHERE id = ?1",
                [person.id.get()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (strikes, until) = policy.after_wrong_pin(Strikes { failed, lockouts }, now);
            tx.execute(
                "UPDATE people SET failed_attempts = ?2, lockouts = ?3, \
                 locked_until_ms = COALESCE(?4, locked_until_ms) WHERE id = ?1",
                params![
                    person.id.get(),
                    strikes.failed,
                    strikes.lockouts,
                    until.map(|t| t.timestamp_millis())
                ],
            )?;
            if let Some(until) = until {
                audit::append(
                    &tx,
                    now,
                    &Record::new(AuditKind::LockedOut)
                        .person(person)
                        .detail(format!("until {}", until.to_rfc3339())),
                )?;
                tracing::warn!(person = %person.id, %until, "locked out after wrong PINs");
                denied = Denied::LockedOut {
                    name: person.name.clone(),
                    until,
                };
            }
        }

        let mut stmt = tx.prepare("SELECT at_ms FROM till_failures")?;
        let recent = stmt
            .query_map([], |r| r.get::<_, i64>(0))?
            .map(|ms| store::ms_to_time(ms?))
            .collect::<Result<Vec<_>>>()?;
        drop(stmt);
        if let Some(until) = policy.till_paused_until(&recent, now) {
            audit::append(
                &tx,
                now,
                &Record::new(AuditKind::TillPaused).detail(format!("until {}", until.to_rfc3339())),
            )?;
            tracing::warn!(%until, "PIN entry paused after wrong PINs");
            if !matches!(denied, Denied::LockedOut { .. }) {
                denied = Denied::TillPaused { until };
            }
        }
        tx.commit()?;
        Ok(denied)
    }
}
