//! Who acts at this till: the staff file (`paydesk-staff`) as a till uses it, and the
//! [`Operator`] every gated operation of the core takes.
//!
//! Place in the flow: the till assembly opens [`Staff`] beside the journal. A PIN (the
//! app's PIN pad, the CLI's `--pin`) or the person signed in at the screen ([`SignIn`])
//! goes through the gate and comes out as an [`Operator`] — who acts, for which one action,
//! about what — which `Terminal::charge_as`, `cancel_as`, `refund_as` and
//! `record_operation` take by value and journal with what they did. The rules themselves
//! (`Role::may`, lockouts, overrides, the audit trail) live in `paydesk-staff`; this module
//! decides only what depends on the till:
//!
//! - **Which file.** `staff.sqlite3` beside the journal. Demo mode on a till without staff
//!   uses `staff-demo.sqlite3` instead, holding a demo owner ([`DEMO_OWNER_NAME`], PIN
//!   [`DEMO_OWNER_PIN`], shown on screen), so the PIN pad and the roles can be tried without
//!   leaving a known PIN on the real till; demo mode on a till with staff uses the till's
//!   own file, so people practise with their own PINs.
//! - **A till with nobody on its staff** (an install from before staff existed) works as it
//!   did: every action is allowed and journaled as unattended, so an update never stops a
//!   shop from selling. Provisioning the first owner ends that for good: from then on every
//!   gated action needs a PIN.
//!
//! Calls into the file block (argon2id, fsync): they run on the blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

pub use paydesk_staff::{
    Action, AuditEntry, AuditKind, Context, Denied, Grant, Identity, LockReason, Person, PersonId,
    Pin, PinCost, PinFormatError, Policy, Role, StaffError, StaffStore, TillLock, UnknownName,
    APPROVED_BY_METADATA_KEY, CASHIER_ID_METADATA_KEY,
};

use crate::config::Mode;
use crate::journal::Who;
use crate::secrets::Secret;

/// The demo owner every demo till without staff has.
pub const DEMO_OWNER_NAME: &str = "Demo owner";
/// The demo owner's PIN: public on purpose (shown on the demo's PIN pad and in the docs).
pub const DEMO_OWNER_PIN: &str = "1234";
/// The demo's staff file, beside the journal; never the till's own.
pub const DEMO_FILE_NAME: &str = "staff-demo.sqlite3";
/// How an action without a person reads in History, receipts and reports.
pub const UNATTENDED: &str = "unattended";
/// A PIN for the CLI's gated commands (instead of `--pin` or the prompt).
pub const PIN_ENV: &str = "PAYDESK_PIN";

/// Why the gate did not let an action through, in words for the person at the till.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The staff rules said no: a wrong PIN, a lockout, a paused PIN pad, a role that
    /// does not allow it.
    #[error("{0}")]
    Denied(Denied),
    /// This till has staff and nobody gave a PIN (`demo_pin`: the demo owner's, to say).
    #[error("A staff PIN is needed to {}.{}", .action.phrase(), .demo_pin.map(|p| format!(" In the demo, the Demo owner's PIN is {p}.")).unwrap_or_default())]
    PinNeeded {
        action: Action,
        demo_pin: Option<&'static str>,
    },
    /// Nobody is signed in at the screen (or the till locked while idle).
    #[error("The till is locked: sign in with your PIN.")]
    Locked,
    #[error("{0}")]
    PinFormat(#[from] PinFormatError),
    #[error("{0}")]
    Staff(#[from] StaffError),
    /// An operator for one action offered for another (a bug in the caller).
    #[error("this was allowed to {}, not to {}", .got.phrase(), .needed.phrase())]
    WrongAction { needed: Action, got: Action },
    /// An operator for one payment (or day, or setting) offered for another.
    #[error("this was allowed for {}, not for {wanted}", .got.as_deref().unwrap_or("nothing in particular"))]
    WrongSubject { wanted: String, got: Option<String> },
    #[error("No staff are set up on this till yet: set the owner's PIN first (`paydesk-cli staff add --owner NAME`, or owner_pin in a provisioning file).")]
    NoStaff,
    #[error("the staff file could not be reached: {0}")]
    Join(String),
    /// The staff file could not be opened: nothing is allowed (a till with staff must not
    /// turn unattended because its file is unreadable).
    #[error("Nothing was done: {0}")]
    Unavailable(String),
}

impl From<Denied> for GateError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Unavailable(e) => GateError::Staff(e),
            d => GateError::Denied(d),
        }
    }
}

impl GateError {
    /// Whether the PIN itself was refused (wrong, locked out, paused, not a PIN) rather
    /// than the role: the CLI's exit status tells the two apart.
    pub fn is_pin_refused(&self) -> bool {
        matches!(
            self,
            GateError::PinFormat(_)
                | GateError::Denied(
                    Denied::WrongPin { .. }
                        | Denied::LockedOut { .. }
                        | Denied::TillPaused { .. }
                        | Denied::NotStaff { .. }
                        | Denied::NoStaff
                )
        )
    }

    /// Whether the person is known but their role does not allow the action.
    pub fn is_not_allowed(&self) -> bool {
        matches!(self, GateError::Denied(Denied::NotAllowed { .. }))
    }
}

/// Who is acting, for one action: what every gated operation takes by value. Only the
/// gate makes one — from a PIN, from the person signed in, from an override, or, on a till
/// without staff, unattended.
#[derive(Debug)]
#[must_use = "an operator is the proof an operation takes; one not passed on was asked for in vain"]
pub struct Operator {
    acting: Acting,
}

#[derive(Debug)]
enum Acting {
    Staff(Grant),
    Unattended {
        action: Action,
        subject: Option<String>,
    },
}

impl Operator {
    fn unattended(action: Action, subject: Option<String>) -> Operator {
        // Nobody owns anything on a till without staff: a cancel is of any payment.
        let action = match action {
            Action::CancelOwn => Action::CancelAny,
            a => a,
        };
        Operator {
            acting: Acting::Unattended { action, subject },
        }
    }

    /// The action as the gate judged it (a cancel of someone else's payment is `CancelAny`).
    pub fn action(&self) -> Action {
        match &self.acting {
            Acting::Staff(g) => g.action(),
            Acting::Unattended { action, .. } => *action,
        }
    }

    /// What it is about (a payment id, a day), as the gate was told.
    pub fn subject(&self) -> Option<&str> {
        match &self.acting {
            Acting::Staff(g) => g.subject(),
            Acting::Unattended { subject, .. } => subject.as_deref(),
        }
    }

    /// The person acting; `None` when unattended.
    pub fn person(&self) -> Option<&Person> {
        match &self.acting {
            Acting::Staff(g) => Some(g.person()),
            Acting::Unattended { .. } => None,
        }
    }

    /// Who allowed it, when it was an override.
    pub fn approved_by(&self) -> Option<&Person> {
        match &self.acting {
            Acting::Staff(g) => g.approved_by(),
            Acting::Unattended { .. } => None,
        }
    }

    /// The person's name, or "unattended".
    pub fn name(&self) -> &str {
        self.person().map_or(UNATTENDED, |p| p.name.as_str())
    }

    /// Refuses an operator for another action than `needed` (one for `CancelAny` covers
    /// `CancelOwn`).
    pub fn require(&self, needed: Action) -> Result<(), GateError> {
        let got = self.action();
        if got == needed || (needed == Action::CancelOwn && got == Action::CancelAny) {
            Ok(())
        } else {
            Err(GateError::WrongAction { needed, got })
        }
    }

    /// Refuses an operator allowed for another subject than `wanted`.
    pub fn require_subject(&self, wanted: &str) -> Result<(), GateError> {
        match self.subject() {
            Some(s) if s == wanted => Ok(()),
            got => Err(GateError::WrongSubject {
                wanted: wanted.to_owned(),
                got: got.map(str::to_owned),
            }),
        }
    }

    /// The payment metadata that names the cashier (`paydesk_cashier_id`,
    /// `paydesk_cashier`, and `paydesk_approved_by` for an override); none when unattended.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        match &self.acting {
            Acting::Staff(g) => g.metadata(),
            Acting::Unattended { .. } => Vec::new(),
        }
    }

    /// Who, as the journal keeps it.
    pub fn who(&self) -> Who {
        Who {
            cashier_id: self.person().map(|p| p.id.get()),
            cashier: self.person().map(|p| p.name.clone()),
            approved_by: self.approved_by().map(|p| p.name.clone()),
        }
    }

    /// What the journal's operations row says about what `self` did (an export, a reprint,
    /// a shift change): consumes the operator, refusing one not allowed `needed`.
    pub fn done(self, needed: Action) -> Result<Done, GateError> {
        self.require(needed)?;
        Ok(Done {
            action: needed.as_str(),
            subject: self.subject().map(str::to_owned),
            who: self.who(),
        })
    }

    /// The gate's grant, for the staff file's own changes (add, remove, set a PIN).
    fn into_grant(self) -> Result<Grant, GateError> {
        match self.acting {
            Acting::Staff(g) => Ok(g),
            Acting::Unattended { .. } => Err(GateError::NoStaff),
        }
    }
}

/// An operation done, as [`crate::journal::Journal::record_operation`] takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    pub action: &'static str,
    pub subject: Option<String>,
    pub who: Who,
}

/// Which staff file a till uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffKind {
    /// No file at all (a terminal started without the till assembly): unattended.
    None,
    /// The till's own `staff.sqlite3`.
    Till,
    /// The demo's `staff-demo.sqlite3` with its demo owner.
    Demo,
}

/// A till's staff gate. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Staff {
    store: Option<Arc<StaffStore>>,
    kind: StaffKind,
    /// Why the file could not be opened: every call fails with it.
    broken: Option<Arc<str>>,
}

/// A person on the staff as a screen lists them (nothing secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaffMember {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// Set while a PIN lockout runs (unix ms).
    pub locked_until_ms: Option<i64>,
}

impl From<&Person> for StaffMember {
    fn from(p: &Person) -> Self {
        StaffMember {
            id: p.id.get(),
            name: p.name.clone(),
            role: p.role,
            locked_until_ms: p.locked_until.map(|t| t.timestamp_millis()),
        }
    }
}

impl Staff {
    /// A gate without a file: every action is unattended. For terminals built by hand
    /// (tests, tools); the till assembly always opens the file.
    pub fn none() -> Staff {
        Staff {
            store: None,
            kind: StaffKind::None,
            broken: None,
        }
    }

    /// A gate whose file could not be opened: it allows nothing, and says why.
    pub fn unavailable(why: impl Into<String>) -> Staff {
        Staff {
            store: None,
            kind: StaffKind::None,
            broken: Some(Arc::from(why.into())),
        }
    }

    /// The staff file a till in `mode` with its journal in `dir` uses (see the module
    /// head), opened and, for the demo, provisioned with its demo owner. Blocks.
    pub fn open(dir: &Path, mode: Mode, policy: Policy) -> Result<Staff, StaffError> {
        let till = StaffStore::open(dir.join(StaffStore::FILE_NAME), policy)?;
        if mode != Mode::Demo || till.is_provisioned()? {
            return Ok(Staff::of(till, StaffKind::Till));
        }
        drop(till);
        let demo = StaffStore::open(dir.join(DEMO_FILE_NAME), policy)?;
        if !demo.is_provisioned()? {
            let pin: Pin = DEMO_OWNER_PIN
                .parse()
                .map_err(|e: PinFormatError| StaffError::Corrupt(format!("the demo PIN: {e}")))?;
            demo.provision_owner(DEMO_OWNER_NAME, &pin)?;
        }
        Ok(Staff::of(demo, StaffKind::Demo))
    }

    /// The till's own staff file in `dir`, whatever the mode (managing people, provisioning
    /// the owner, the support bundle: never the demo's). Blocks.
    pub fn open_till(dir: &Path, policy: Policy) -> Result<Staff, StaffError> {
        let store = StaffStore::open(dir.join(StaffStore::FILE_NAME), policy)?;
        Ok(Staff::of(store, StaffKind::Till))
    }

    /// A gate over an open staff file.
    pub fn of(store: StaffStore, kind: StaffKind) -> Staff {
        Staff {
            store: Some(Arc::new(store)),
            kind,
            broken: None,
        }
    }

    pub fn kind(&self) -> StaffKind {
        self.kind
    }

    /// The file behind the gate, if any.
    pub fn path(&self) -> Option<&Path> {
        self.store.as_deref().map(StaffStore::path)
    }

    /// The store itself, for code already off the async threads (reports, the bundle).
    pub fn store(&self) -> Option<&Arc<StaffStore>> {
        self.store.as_ref()
    }

    /// Runs `f` on the store on the blocking pool; `None` without a file.
    async fn blocking<T, F>(&self, f: F) -> Result<Option<T>, GateError>
    where
        T: Send + 'static,
        F: FnOnce(&StaffStore) -> T + Send + 'static,
    {
        if let Some(why) = &self.broken {
            return Err(GateError::Unavailable(why.to_string()));
        }
        let Some(store) = self.store.clone() else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map(Some)
            .map_err(|e| GateError::Join(e.to_string()))
    }

    /// Whether anyone is on the staff: until then, everything is unattended.
    pub async fn has_staff(&self) -> Result<bool, GateError> {
        Ok(self
            .blocking(StaffStore::is_provisioned)
            .await?
            .transpose()?
            .unwrap_or(false))
    }

    /// Everyone on the staff, by name (empty on a till without staff).
    pub async fn list(&self) -> Result<Vec<Person>, GateError> {
        Ok(self
            .blocking(StaffStore::list)
            .await?
            .transpose()?
            .unwrap_or_default())
    }

    /// Allows `action` (about `ctx`) for whoever `pin` belongs to. On a till without staff
    /// nothing is checked and the operator is unattended; on a till with staff a missing
    /// PIN is [`GateError::PinNeeded`].
    pub async fn authorize(
        &self,
        pin: Option<Pin>,
        action: Action,
        ctx: Context,
    ) -> Result<Operator, GateError> {
        let subject = ctx.subject_str().map(str::to_owned);
        let demo_pin = (self.kind == StaffKind::Demo).then_some(DEMO_OWNER_PIN);
        let decided = self
            .blocking(move |s| -> Result<Option<Grant>, GateError> {
                if !s.is_provisioned()? {
                    return Ok(None);
                }
                let pin = pin.ok_or(GateError::PinNeeded { action, demo_pin })?;
                Ok(Some(s.authorize(&pin, action, &ctx)?))
            })
            .await?;
        Ok(match decided {
            Some(Ok(Some(grant))) => Operator {
                acting: Acting::Staff(grant),
            },
            Some(Err(e)) => return Err(e),
            // No file, or nobody on it.
            Some(Ok(None)) | None => Operator::unattended(action, subject),
        })
    }

    /// The operator a caller that cannot ask for a PIN gets: unattended on a till without
    /// staff, the demo owner (through the gate, with the demo's public PIN) on the demo's
    /// own file, refused with [`GateError::PinNeeded`] on a till with staff. For the
    /// operations kept for callers that do not sign people in yet.
    pub async fn without_pin(&self, action: Action, ctx: Context) -> Result<Operator, GateError> {
        let pin = match self.kind {
            StaffKind::Demo => Some(DEMO_OWNER_PIN.parse()?),
            _ => None,
        };
        self.authorize(pin, action, ctx).await
    }

    /// Unlocks the till for the person whose PIN this is.
    pub async fn sign_in(&self, pin: Pin) -> Result<Identity, GateError> {
        match self.blocking(move |s| s.sign_in(&pin)).await? {
            Some(r) => Ok(r?),
            None => Err(GateError::NoStaff),
        }
    }

    /// Unlocks the till for the person picked by name (or the one signed in before it
    /// locked): a wrong PIN here counts towards locking *them* out.
    pub async fn sign_in_as(&self, id: PersonId, pin: Pin) -> Result<Identity, GateError> {
        match self.blocking(move |s| s.sign_in_as(id, &pin)).await? {
            Some(r) => Ok(r?),
            None => Err(GateError::NoStaff),
        }
    }

    /// Ends a person's PIN lockout early (`by` must be allowed [`Action::Unlock`]).
    pub async fn lift_lockout(&self, by: Operator, id: PersonId) -> Result<Person, GateError> {
        let grant = by.into_grant()?;
        self.staff_change(move |s| s.lift_lockout(grant, id)).await
    }

    /// The first owner of a till without staff (provisioning). Refused once anyone is on
    /// the staff.
    pub async fn provision_owner(&self, name: String, pin: Pin) -> Result<Person, GateError> {
        match self
            .blocking(move |s| s.provision_owner(&name, &pin))
            .await?
        {
            Some(r) => Ok(r?),
            None => Err(GateError::NoStaff),
        }
    }

    /// Adds a person (`by` must be allowed [`Action::Staff`]).
    pub async fn add(
        &self,
        by: Operator,
        name: String,
        role: Role,
        pin: Pin,
    ) -> Result<Person, GateError> {
        let grant = by.into_grant()?;
        self.staff_change(move |s| s.add(grant, &name, role, &pin))
            .await
    }

    /// Takes a person off the staff.
    pub async fn remove(&self, by: Operator, id: PersonId) -> Result<Person, GateError> {
        let grant = by.into_grant()?;
        self.staff_change(move |s| s.remove(grant, id)).await
    }

    /// Gives a person a new PIN.
    pub async fn set_pin(&self, by: Operator, id: PersonId, pin: Pin) -> Result<Person, GateError> {
        let grant = by.into_grant()?;
        self.staff_change(move |s| s.set_pin(grant, id, &pin)).await
    }

    /// One person on the staff by name (any case).
    pub async fn find(&self, name: String) -> Result<Person, GateError> {
        self.staff_change(move |s| s.find(&name)).await
    }

    async fn staff_change<F>(&self, f: F) -> Result<Person, GateError>
    where
        F: FnOnce(&StaffStore) -> Result<Person, StaffError> + Send + 'static,
    {
        match self.blocking(f).await? {
            Some(r) => Ok(r?),
            None => Err(GateError::NoStaff),
        }
    }

    /// The audit trail after `after_seq`, oldest first (the support bundle's copy).
    pub async fn audit_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, GateError> {
        Ok(self
            .blocking(move |s| s.audit_after(after_seq, limit))
            .await?
            .transpose()?
            .unwrap_or_default())
    }
}

/// Reads a PIN typed anywhere into a [`Pin`], refusing anything but 4–6 digits without
/// repeating it.
pub fn pin_of(secret: Secret) -> Result<Pin, GateError> {
    Ok(Pin::try_from(secret)?)
}

/// Who is signed in at the till's screen, and when the till locks again: the app's one
/// [`TillLock`], driven by the host. Every lock (idle, on demand, another person signing
/// in) is written to the audit trail of the file the person signed in with.
#[derive(Debug)]
pub struct SignIn {
    inner: Arc<Mutex<Desk>>,
}

#[derive(Debug)]
struct Desk {
    lock: TillLock,
    /// The file the signed-in person's identity comes from: numbers mean nothing in
    /// another file (demo and till files both start at 1).
    file: Option<PathBuf>,
}

/// The person signed in at the screen, for the app's header and lock timer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignedIn {
    pub person: StaffMember,
    /// When the till locks unless something happens (unix ms); `None`: on demand only.
    pub locks_at_ms: Option<i64>,
}

impl SignIn {
    /// A locked till that locks again after `idle_after` without activity (`None`: only
    /// on demand).
    pub fn new(idle_after: Option<Duration>) -> SignIn {
        SignIn {
            inner: Arc::new(Mutex::new(Desk {
                lock: TillLock::new(idle_after),
                file: None,
            })),
        }
    }

    /// A new idle time (settings changed).
    pub async fn set_idle_after(&self, idle_after: Option<Duration>) {
        self.inner.lock().await.lock.set_idle_after(idle_after);
    }

    /// Signs in the person whose PIN this is; whoever was signed in is signed out (and
    /// that is recorded).
    pub async fn sign_in(&self, staff: &Staff, pin: Pin) -> Result<SignedIn, GateError> {
        let identity = staff.sign_in(pin).await?;
        self.unlocked(staff, identity).await
    }

    /// Signs in the person picked by name on the PIN pad: five wrong PINs lock them out.
    pub async fn sign_in_as(
        &self,
        staff: &Staff,
        id: PersonId,
        pin: Pin,
    ) -> Result<SignedIn, GateError> {
        let identity = staff.sign_in_as(id, pin).await?;
        self.unlocked(staff, identity).await
    }

    async fn unlocked(&self, staff: &Staff, identity: Identity) -> Result<SignedIn, GateError> {
        let file = staff.path().map(Path::to_owned);
        let mut desk = self.inner.lock().await;
        let ended = desk.lock.unlock(identity, Instant::now());
        let before = std::mem::replace(&mut desk.file, file);
        let view = desk.view(Instant::now());
        drop(desk);
        if let Some(ended) = ended {
            record_lock(staff, before.as_deref(), ended).await;
        }
        view.ok_or(GateError::Locked)
    }

    /// Locks the till now (the Lock button, kiosk rules); returns who was signed in.
    pub async fn lock(&self, staff: &Staff) -> Option<StaffMember> {
        let mut desk = self.inner.lock().await;
        let ended = desk.lock.lock()?;
        let file = desk.file.take();
        drop(desk);
        let who = StaffMember::from(ended.who.person());
        record_lock(staff, file.as_deref(), ended).await;
        Some(who)
    }

    /// Locks the till if its idle time has passed; returns who was signed in then.
    pub async fn tick(&self, staff: &Staff) -> Option<StaffMember> {
        let mut desk = self.inner.lock().await;
        let ended = desk.lock.tick(Instant::now())?;
        let file = desk.file.take();
        drop(desk);
        let who = StaffMember::from(ended.who.person());
        record_lock(staff, file.as_deref(), ended).await;
        Some(who)
    }

    /// The signed-in person did something (or a payment moved): the idle time restarts.
    pub async fn touch(&self) {
        self.inner.lock().await.lock.touch(Instant::now());
    }

    /// Who is signed in now (nobody once the idle time has passed).
    pub async fn current(&self) -> Option<SignedIn> {
        self.inner.lock().await.view(Instant::now())
    }

    /// When the till locks unless touched: the instant for the host's one timer.
    pub async fn locks_at(&self) -> Option<Instant> {
        self.inner.lock().await.lock.locks_at()
    }

    /// An operator for `action` from the person signed in at the screen, as they are on
    /// the staff now (a role changed since counts). On a till without staff: unattended.
    pub async fn operator(
        &self,
        staff: &Staff,
        action: Action,
        ctx: Context,
    ) -> Result<Operator, GateError> {
        if !staff.has_staff().await? {
            let subject = ctx.subject_str().map(str::to_owned);
            return Ok(Operator::unattended(action, subject));
        }
        self.decide(staff, None, action, ctx).await
    }

    /// An override: a supervisor's (or the owner's) PIN on the signed-in person's screen
    /// allows them this one action their role does not.
    pub async fn override_operator(
        &self,
        staff: &Staff,
        approver_pin: Pin,
        action: Action,
        ctx: Context,
    ) -> Result<Operator, GateError> {
        self.decide(staff, Some(approver_pin), action, ctx).await
    }

    async fn decide(
        &self,
        staff: &Staff,
        approver: Option<Pin>,
        action: Action,
        ctx: Context,
    ) -> Result<Operator, GateError> {
        if let Some(why) = &staff.broken {
            return Err(GateError::Unavailable(why.to_string()));
        }
        let Some(store) = staff.store.clone() else {
            return Err(GateError::NoStaff);
        };
        let desk = self.inner.clone();
        let file = staff.path().map(Path::to_owned);
        tokio::task::spawn_blocking(move || {
            let mut desk = desk.blocking_lock();
            if desk.file != file {
                // Signed in against another file (the mode changed): sign in again.
                return Err(GateError::Locked);
            }
            let who = desk.lock.touch(Instant::now()).ok_or(GateError::Locked)?;
            let grant = match &approver {
                None => store.authorize_signed_in(who, action, &ctx)?,
                Some(pin) => store.override_action(who, pin, action, &ctx)?,
            };
            Ok(Operator {
                acting: Acting::Staff(grant),
            })
        })
        .await
        .map_err(|e| GateError::Join(e.to_string()))?
    }
}

impl Desk {
    fn view(&self, now: Instant) -> Option<SignedIn> {
        let who = self.lock.signed_in(now)?;
        let locks_at_ms = self.lock.locks_at().map(|at| {
            let left = at.saturating_duration_since(now);
            crate::clock::local_now_ms()
                .saturating_add(i64::try_from(left.as_millis()).unwrap_or(i64::MAX))
        });
        Some(SignedIn {
            person: StaffMember::from(who.person()),
            locks_at_ms,
        })
    }
}

/// Writes a lock to the audit trail of the file the person signed in with (a failure is
/// logged: the till is locked either way).
async fn record_lock(staff: &Staff, file: Option<&Path>, ended: paydesk_staff::Locked) {
    if staff.path() != file {
        tracing::info!(
            reason = ended.reason.as_str(),
            "till locked (signed in on another staff file)"
        );
        return;
    }
    let reason = ended.reason;
    let result = staff
        .blocking(move |s| s.record_till_locked(&ended.who, ended.reason))
        .await;
    match result {
        Ok(Some(Err(e))) => tracing::warn!(error = %e, "the till lock could not be audited"),
        Err(e) => tracing::warn!(error = %e, "the till lock could not be audited"),
        Ok(_) => tracing::info!(reason = reason.as_str(), "till locked"),
    }
}
