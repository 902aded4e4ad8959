//! The journal: the till's memory, a SQLite file in the OS data directory.
//!
//! Place in the data flow: the tracker hands every [`Transition`] the merge rule produced
//! to [`Journal::record`], which writes it as-is, and emits it to the UI only after it
//! returns, so nothing is ever shown that the journal does not hold. The journal decides
//! nothing: [`Journal::observe`], for callers without a tracker, runs the same pure
//! [`merge`](crate::merge::merge) against the stored state inside one transaction. Before the create call the
//! caller writes a charge intent ([`Journal::record_intent`]); on start it reconciles
//! [`Journal::unresolved_intents`] against the API by order id (a create may have
//! succeeded just before the till died) and resumes tracking [`Journal::pending`].
//! Cancels and refunds work the same way ([`Journal::record_action`] before the call,
//! [`Journal::resolve_action`] after, [`Journal::unresolved_actions`] to re-read on start),
//! so a refund that went out just before a crash is never offered twice. A sale's lines,
//! tax and tip are written with its intent ([`Journal::record_sale_intent`]) and read back
//! with its payment ([`HistoryEntry::sale`]); see `sales.rs`.
//!
//! Who: every intent, cancel and refund request is written with the person who asked for
//! it ([`Who`], from the staff gate's operator), the payment keeps its creator, and the
//! rest of what people do at the till — exports, reprints, shifts, settings, overrides —
//! goes to [`Journal::record_operation`]. The journal records who; the gate decided.
//!
//! Books: one file holds the demo, test and live books apart; a [`Journal`] is opened on
//! one book and sees only its payments, intents and requests, so demo and test sales never
//! reach the real totals, exports or refunds.
//!
//! Durability: WAL with `synchronous=FULL`, one transaction per call, so a process killed
//! at any instant leaves either the whole write or none of it. A transition names the
//! state it was merged onto; when another process (the CLI beside the app) moved the
//! payment on meanwhile, the write is refused with that newer state and the tracker merges
//! again. Amounts are stored as decimal TEXT (SQLite integers stop at 64 bits).
//!
//! Calls block on an fsync: async code reaches the journal through its [`JournalHandle`],
//! which runs every call on the journal's own thread.

pub(crate) mod export;
mod handle;
mod sales;
mod schema;
mod shifts;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;

use crate::clock::local_now_ms;
use crate::config::Mode;
use crate::merge::{
    merge, Merged, PaymentState, RefundState, Source, Transition, TransitionKind, Update,
};
use crate::money::{Currency, Money};
use crate::payment::{Payment, PaymentStatus, RefundStatus};
use crate::sale::Sale;

pub use export::CASHIER_METADATA_KEY;
pub use handle::JournalHandle;
pub use sales::{IntentOrder, TaxSummary};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use shifts::{Period, Shift, ShiftId, StoredReport};

/// The file name inside the data directory.
pub const FILE_NAME: &str = "journal.sqlite3";
/// Overrides the data directory (the journal lives at `$PAYDESK_DATA_DIR/journal.sqlite3`).
pub const DATA_DIR_ENV: &str = "PAYDESK_DATA_DIR";

/// The payment metadata key that carries an intent's token (see [`Intent::token`]).
pub const INTENT_METADATA_KEY: &str = "paydesk_intent";

/// How long a write waits for another process (the CLI beside the app) to finish its own.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many rows come back from a search.
const FIND_LIMIT: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot create or protect the journal at {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the journal at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the journal at {path} was written by a newer PayDesk (schema {found}, this build \
         knows {known}); install the newer PayDesk"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the journal could not switch to WAL mode (it is in '{0}' mode)")]
    NoWal(String),
    #[error("no data folder could be found for this user; set {DATA_DIR_ENV}")]
    NoDataDir,
    #[error("journal database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the journal holds a record it cannot read: {0}")]
    Corrupt(String),
    #[error("cannot store a payment without an id")]
    MissingPaymentId,
    #[error("an order id cannot be empty")]
    EmptyOrderId,
    #[error("payment {payment_id} belongs to order '{payment_order}', not '{expected}'")]
    OrderMismatch {
        payment_id: String,
        payment_order: String,
        expected: String,
    },
    #[error("charge intent {0} does not exist")]
    UnknownIntent(i64),
    #[error("charge intent {0} already has a payment; it cannot be abandoned")]
    IntentAttached(i64),
    #[error("cancel/refund request {0} does not exist")]
    UnknownAction(i64),
    #[error("request {action} is for payment {expected}, not {got}")]
    ActionMismatch {
        action: i64,
        expected: String,
        got: String,
    },
    #[error("search for a payment id or order id (at least one character)")]
    EmptyQuery,
    #[error("could not encode the payment: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the day {0} has no local midnight in this time zone")]
    BadDay(NaiveDate),
    #[error("could not write the export: {0}")]
    Write(#[from] std::io::Error),
    /// The payment moved on since the transition was merged (another process wrote it).
    #[error("payment {} changed in the journal meanwhile", .0.payment.id)]
    Conflict(Box<PaymentState>),
    #[error("the journal's thread has stopped")]
    Stopped,
    #[error("{till} already has shift {id} open; close it first")]
    ShiftOpen { id: i64, till: String },
    #[error("{till} has no open shift")]
    NoOpenShift { till: String },
    #[error("shift {0} does not exist")]
    UnknownShift(i64),
    #[error("shift {0} is already closed")]
    ShiftClosed(i64),
}

pub type Result<T, E = JournalError> = std::result::Result<T, E>;

/// Who did something at the till, as the journal keeps it: the person's number and name as
/// they were then, and who approved it if it was an override. All `None`: unattended (a
/// till without staff) or from before staff existed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Who {
    pub cashier_id: Option<i64>,
    pub cashier: Option<String>,
    pub approved_by: Option<String>,
}

impl Who {
    /// Nobody in particular: a till without staff.
    pub fn unattended() -> Who {
        Who::default()
    }
}

/// Something a person did at the till beyond charges, cancels and refunds (an export, a
/// reprint, a shift change, a settings change, an override), read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub seq: i64,
    /// The staff action's name (`export`, `reprint`, `settings`, …).
    pub action: String,
    /// What it was about: a payment id, a day, a setting's name.
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub who: Who,
    pub at_ms: i64,
}

/// A charge intent's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct IntentId(pub i64);

/// A charge the till set out to create. Unresolved until the create is known to have
/// produced a payment ([`Journal::attach_payment`]) or not ([`Journal::abandon_intent`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Intent {
    pub id: IntentId,
    /// Unique per charge. Send it in the create call's `metadata` under
    /// [`INTENT_METADATA_KEY`]: reconciliation then finds this charge's payment even when
    /// a cashier reused an order id.
    pub token: String,
    pub order_id: String,
    pub money: Money,
    pub description: Option<String>,
    pub terminal: String,
    pub created_at_ms: i64,
    /// Who charged.
    pub who: Who,
}

/// A cancel or refund request's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ActionId(pub i64);

/// What the till asked the API to do to a payment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ActionKind {
    Cancel,
    Refund { amount: Money },
}

/// A cancel or refund that may or may not have reached the API: re-read the payment, then
/// [`Journal::resolve_action`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PendingAction {
    pub id: ActionId,
    pub payment_id: String,
    pub kind: ActionKind,
    pub reason: Option<String>,
    pub created_at_ms: i64,
    /// Who asked for it.
    pub who: Who,
}

/// One journaled change of a payment, read back: its status moved forward, a refund was
/// requested or sent, or the API filled in a detail. The first sighting of a payment is a
/// transition from `None`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedTransition {
    pub seq: i64,
    pub payment_id: String,
    pub kind: TransitionKind,
    pub from: Option<PaymentStatus>,
    pub to: PaymentStatus,
    pub refunded_before_minor: i128,
    pub refunded_after_minor: i128,
    /// Who reported it.
    pub source: Source,
    /// The refund it concerns, if any.
    pub refund_id: Option<String>,
    pub observed_at_ms: i64,
    pub recorded_at_ms: i64,
}

impl RecordedTransition {
    pub fn status_changed(&self) -> bool {
        self.from.as_ref() != Some(&self.to)
    }

    pub fn refund_grew(&self) -> bool {
        self.refunded_after_minor > self.refunded_before_minor
    }
}

/// A journaled payment with what the till knows about it beyond the API's object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The latest object the API (or a push) reported, never an older one.
    pub payment: Payment,
    /// The effective status, as journaled.
    pub status: PaymentStatus,
    /// Its refunds, oldest first: requested (pending) and sent (succeeded).
    pub refunds: Vec<RefundState>,
    /// The till that created it; `None` for a payment only watched here.
    pub terminal: Option<String>,
    /// Who charged it (their name then), from this till's journal or the payment's
    /// `paydesk_cashier` metadata; `None` when unattended or unknown.
    pub cashier: Option<String>,
    /// The service's creation time, else when this till first saw it (unix ms).
    pub created_at_ms: i64,
    /// When the last transition was journaled (unix ms).
    pub updated_at_ms: i64,
    /// What was rung up — lines, tax per rate, tip — when it was charged as a sale.
    pub sale: Option<Sale>,
}

/// Count and sums of one day's payments of one currency in one status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Total {
    pub currency: String,
    pub status: PaymentStatus,
    pub count: u64,
    pub sum_minor: i128,
    pub refunded_minor: i128,
}

impl Total {
    /// The sum as money, when the currency is one PayDesk knows.
    pub fn sum(&self) -> Option<Money> {
        Currency::from_code(&self.currency)
            .ok()
            .map(|c| Money::new(self.sum_minor, c))
    }
}

/// One currency's day, netted: what a till's History and close-of-day report show.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CurrencySummary {
    pub currency: String,
    pub paid_count: u64,
    /// Gross paid, in minor units.
    pub paid_minor: i128,
    /// Refunds sent back to customers.
    pub refunded_minor: i128,
    /// Refunds asked for and not yet sent (an on-chain refund waits for the customer).
    pub refund_requested_minor: i128,
    pub pending_count: u64,
    pub expired_count: u64,
    pub cancelled_count: u64,
    /// Payments in a status this build does not know.
    pub other_count: u64,
    /// Paid payments charged as sales (with lines, tax and tip journaled).
    pub sales_count: u64,
    /// Tips in paid sales: part of `paid_minor`, kept apart for the staff.
    pub tips_minor: i128,
    /// Tax in paid sales, added and included: inside `paid_minor`.
    pub tax_minor: i128,
    /// The tax of paid sales per rate, in order of first appearance. Refunds are not
    /// apportioned to rates: a report shows them against the payment.
    pub taxes: Vec<TaxSummary>,
}

impl CurrencySummary {
    /// Paid minus every refund, sent or requested.
    pub fn net_minor(&self) -> i128 {
        self.paid_minor
            .saturating_sub(self.refunded_minor)
            .saturating_sub(self.refund_requested_minor)
    }
}

/// The journal file, opened on one book. `Send + Sync`: share it as `Arc<Journal>`.
pub struct Journal {
    conn: Mutex<Connection>,
    path: PathBuf,
    book: Mode,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("book", &self.book)
            .finish()
    }
}

/// `$PAYDESK_DATA_DIR/journal.sqlite3`, else the OS data directory
/// (`~/.local/share/paydesk/`, `%APPDATA%\paydesk\PayDesk\data\`, `~/Library/Application
/// Support/com.paydesk.PayDesk/`).
pub fn default_path() -> Result<PathBuf> {
    default_path_with(|v| std::env::var_os(v))
}

fn default_path_with(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf> {
    if let Some(dir) = env(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join(FILE_NAME));
    }
    directories::ProjectDirs::from("com", "paydesk", "PayDesk")
        .map(|d| d.data_dir().join(FILE_NAME))
        .ok_or(JournalError::NoDataDir)
}

impl Journal {
    /// Opens (creating if needed) the journal at [`default_path`] on the live book.
    pub fn open_default() -> Result<Journal> {
        Journal::open(default_path()?)
    }

    /// Opens (creating if needed) the journal at `path` on the live book.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal> {
        Journal::open_book(path, Mode::Live)
    }

    /// Opens (creating if needed) the journal at `path` on `book`, and brings its schema
    /// up to date.
    pub fn open_book(path: impl AsRef<Path>, book: Mode) -> Result<Journal> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open_err = |source| JournalError::Open {
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
            return Err(JournalError::NoWal(mode));
        }
        // FULL: a transaction that returned is on disk, even if the machine loses power
        // rather than just the process dying.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        restrict_to_owner(&path).map_err(|source| JournalError::CreateDir {
            path: path.clone(),
            source,
        })?;
        schema::migrate(&mut conn, &path).map_err(|e| match e {
            JournalError::Sqlite(source) => open_err(source),
            other => other,
        })?;
        Ok(Journal {
            conn: Mutex::new(conn),
            path,
            book,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The book this journal reads and writes.
    pub fn book(&self) -> Mode {
        self.book
    }

    /// Notes that a till runs on this book now (see [`Journal::last_book`]).
    pub fn mark_in_use(&self) -> Result<()> {
        self.set_meta("last_book", self.book.as_str())
    }

    /// A fact about this till kept in the file (the relay's id for it, say).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
            Ok(())
        })
    }

    /// The book the last till that ran on the journal at `path` used; `None` when there is
    /// no journal there yet (nothing is created).
    pub fn last_book(path: &Path) -> Result<Option<Mode>> {
        if !path.exists() {
            return Ok(None);
        }
        let value = Journal::open(path)?.meta("last_book")?;
        Ok(value.and_then(|v| v.parse().ok()))
    }

    /// The SQL condition that keeps a query inside this book (the value is ours, never
    /// user input).
    fn in_book(&self) -> String {
        format!("book = '{}'", self.book.as_str())
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back; the connection is fine.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        // IMMEDIATE takes the write lock up front, so two processes never deadlock
        // upgrading read locks.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Journals a charge before the create call goes out (unattended: see
    /// [`Journal::record_intent_as`]).
    pub fn record_intent(
        &self,
        order_id: &str,
        money: Money,
        description: Option<&str>,
        terminal: &str,
    ) -> Result<IntentId> {
        self.record_intent_as(order_id, money, description, terminal, &Who::unattended())
    }

    /// Journals `who`'s charge before the create call goes out.
    pub fn record_intent_as(
        &self,
        order_id: &str,
        money: Money,
        description: Option<&str>,
        terminal: &str,
        who: &Who,
    ) -> Result<IntentId> {
        if order_id.trim().is_empty() {
            return Err(JournalError::EmptyOrderId);
        }
        let now = local_now_ms();
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.write(|tx| {
            insert_intent(
                tx,
                order_id,
                money,
                description,
                terminal,
                now,
                &token,
                self.book,
                who,
            )
        })
    }

    /// Journals a charge under the next readable order id of this till and day,
    /// `<prefix>-<YYYYMMDD>-<NNNN>` (`T1-20261128-0042`): what the merchant reads in
    /// Crypto.com's Payment Report. Numbered in the same transaction as the insert, so two
    /// processes never take the same number.
    pub fn record_numbered_intent(
        &self,
        prefix: &str,
        day: NaiveDate,
        money: Money,
        description: Option<&str>,
        terminal: &str,
    ) -> Result<Intent> {
        self.record_numbered_intent_as(
            prefix,
            day,
            money,
            description,
            terminal,
            &Who::unattended(),
        )
    }

    /// [`Journal::record_numbered_intent`] for `who`'s charge.
    pub fn record_numbered_intent_as(
        &self,
        prefix: &str,
        day: NaiveDate,
        money: Money,
        description: Option<&str>,
        terminal: &str,
        who: &Who,
    ) -> Result<Intent> {
        let now = local_now_ms();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let id = self.write(|tx| {
            let order_id = next_order_id(tx, prefix, day)?;
            insert_intent(
                tx,
                &order_id,
                money,
                description,
                terminal,
                now,
                &token,
                self.book,
                who,
            )
        })?;
        self.intent(id)?
            .ok_or_else(|| JournalError::Corrupt(format!("intent {} vanished", id.0)))
    }

    /// One intent, resolved or not (for its token, right after [`Journal::record_intent`]).
    pub fn intent(&self, id: IntentId) -> Result<Option<Intent>> {
        Ok(self.intents("id = ?1", "", &[&id.0])?.into_iter().next())
    }

    /// Journals the create call's answer: resolves the newest unresolved intent for
    /// `order_id` and observes the payment (source "create"), in one transaction.
    /// Also the way to resolve an intent found by reconciliation.
    pub fn attach_payment(
        &self,
        order_id: &str,
        payment: &Payment,
    ) -> Result<Option<RecordedTransition>> {
        self.attach_payment_from(order_id, payment, Source::CreateResponse, local_now_ms())
    }

    /// [`Journal::attach_payment`] naming the source (reconciliation after a restart).
    pub fn attach_payment_from(
        &self,
        order_id: &str,
        payment: &Payment,
        source: Source,
        observed_at_ms: i64,
    ) -> Result<Option<RecordedTransition>> {
        if let Some(theirs) = payment.order_id.as_deref() {
            if theirs != order_id {
                return Err(JournalError::OrderMismatch {
                    payment_id: payment.id.clone(),
                    payment_order: theirs.to_owned(),
                    expected: order_id.to_owned(),
                });
            }
        }
        if payment.id.is_empty() {
            return Err(JournalError::MissingPaymentId);
        }
        let token = payment
            .metadata
            .as_ref()
            .and_then(|m| m.get(INTENT_METADATA_KEY))
            .and_then(|t| t.as_str());
        self.write(|tx| {
            // The charge's own token when the API echoes it; else the newest open intent
            // for the order id.
            // id, terminal, created_at_ms, cashier_id, cashier
            type Row = (i64, String, i64, Option<i64>, Option<String>);
            let intent: Option<Row> = tx
                .query_row(
                    &format!(
                        "SELECT id, terminal, created_at_ms, cashier_id, cashier FROM intents \
                         WHERE order_id = ?1 AND payment_id IS NULL AND abandoned_at_ms IS NULL \
                         AND {} ORDER BY (token IS ?2) DESC, id DESC LIMIT 1",
                        self.in_book()
                    ),
                    params![order_id, token],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let first_seen_ms = match &intent {
                Some((id, _, created, _, _)) => {
                    tx.execute(
                        "UPDATE intents SET payment_id = ?1 WHERE id = ?2",
                        params![payment.id, id],
                    )?;
                    sales::attach_in(tx, *id, &payment.id)?;
                    *created
                }
                None => observed_at_ms,
            };
            let mut with_order = payment.clone();
            with_order
                .order_id
                .get_or_insert_with(|| order_id.to_owned());
            let recorded =
                self.observe_in(tx, &with_order, source, observed_at_ms, first_seen_ms)?;
            if let Some((_, terminal, _, cashier_id, cashier)) = &intent {
                // The charge's own record of who charged wins over the metadata's echo.
                tx.execute(
                    "UPDATE payments SET terminal = COALESCE(terminal, ?1), \
                     order_id = COALESCE(order_id, ?2), cashier_id = COALESCE(?4, cashier_id), \
                     cashier = COALESCE(?5, cashier) WHERE id = ?3",
                    params![terminal, order_id, payment.id, cashier_id, cashier],
                )?;
            }
            if let Some((intent_id, ..)) = &intent {
                // The payment belongs to the shift its charge was made in.
                tx.execute(
                    "UPDATE payments SET shift_id = COALESCE(shift_id, \
                     (SELECT shift_id FROM intents WHERE id = ?1)) WHERE id = ?2",
                    params![intent_id, payment.id],
                )?;
            }
            Ok(recorded)
        })
    }

    /// Resolves an intent whose create call is known not to have produced a payment (the
    /// API refused it, or reconciliation found no payment for its order id).
    pub fn abandon_intent(&self, id: IntentId, reason: &str) -> Result<()> {
        let now = local_now_ms();
        self.write(|tx| {
            let row: Option<(Option<String>, Option<i64>)> = tx
                .query_row(
                    "SELECT payment_id, abandoned_at_ms FROM intents WHERE id = ?1",
                    [id.0],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match row {
                None => Err(JournalError::UnknownIntent(id.0)),
                Some((Some(_), _)) => Err(JournalError::IntentAttached(id.0)),
                Some((None, Some(_))) => Ok(()),
                Some((None, None)) => {
                    tx.execute(
                        "UPDATE intents SET abandoned_at_ms = ?1, abandon_reason = ?2 \
                         WHERE id = ?3",
                        params![now, reason, id.0],
                    )?;
                    Ok(())
                }
            }
        })
    }

    /// Intents whose create call may or may not have reached the API, oldest first.
    pub fn unresolved_intents(&self) -> Result<Vec<Intent>> {
        self.intents(
            "payment_id IS NULL AND abandoned_at_ms IS NULL",
            "ORDER BY id",
            &[],
        )
    }

    /// This book's intents matching `condition`, in `order`.
    fn intents(
        &self,
        condition: &str,
        order: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Intent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, order_id, amount_minor, currency, description, terminal, created_at_ms, \
             token, cashier_id, cashier, approved_by FROM intents WHERE ({condition}) AND {} \
             {order}",
            self.in_book()
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, String>(7)?,
                who_at(r, 8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, order_id, amount, currency, description, terminal, created_at_ms, token, who) =
                row?;
            let currency = Currency::from_code(&currency)
                .map_err(|e| JournalError::Corrupt(format!("intent {id}: {e}")))?;
            out.push(Intent {
                id: IntentId(id),
                token,
                order_id,
                money: Money::new(parse_minor(&amount)?, currency),
                description,
                terminal,
                created_at_ms,
                who,
            });
        }
        Ok(out)
    }

    /// Journals a cancel or refund request before it goes out (unattended: see
    /// [`Journal::record_action_as`]).
    pub fn record_action(
        &self,
        payment_id: &str,
        kind: &ActionKind,
        reason: Option<&str>,
    ) -> Result<ActionId> {
        self.record_action_as(payment_id, kind, reason, &Who::unattended())
    }

    /// Journals `who`'s cancel or refund request before it goes out.
    pub fn record_action_as(
        &self,
        payment_id: &str,
        kind: &ActionKind,
        reason: Option<&str>,
        who: &Who,
    ) -> Result<ActionId> {
        if payment_id.is_empty() {
            return Err(JournalError::MissingPaymentId);
        }
        let (name, amount, currency) = match kind {
            ActionKind::Cancel => ("cancel", None, None),
            ActionKind::Refund { amount } => (
                "refund",
                Some(amount.minor.to_string()),
                Some(amount.currency.code()),
            ),
        };
        let now = local_now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO actions (payment_id, kind, amount_minor, currency, reason, \
                 created_at_ms, book, cashier_id, cashier, approved_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    payment_id,
                    name,
                    amount,
                    currency,
                    reason,
                    now,
                    self.book.as_str(),
                    who.cashier_id,
                    who.cashier,
                    who.approved_by
                ],
            )?;
            Ok(ActionId(tx.last_insert_rowid()))
        })
    }

    /// Closes a request with its outcome ("refunded", "refused: …", "reconciled"), and
    /// journals the payment as the API returned it, in the same transaction. Resolving
    /// twice keeps the first outcome.
    pub fn resolve_action(
        &self,
        id: ActionId,
        outcome: &str,
        snapshot: Option<&Payment>,
    ) -> Result<Option<RecordedTransition>> {
        let now = local_now_ms();
        self.write(|tx| {
            let payment_id: String = tx
                .query_row(
                    "SELECT payment_id FROM actions WHERE id = ?1",
                    [id.0],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(JournalError::UnknownAction(id.0))?;
            tx.execute(
                "UPDATE actions SET resolved_at_ms = ?1, outcome = ?2 \
                 WHERE id = ?3 AND resolved_at_ms IS NULL",
                params![now, outcome, id.0],
            )?;
            match snapshot {
                Some(p) if p.id != payment_id => Err(JournalError::ActionMismatch {
                    action: id.0,
                    expected: payment_id,
                    got: p.id.clone(),
                }),
                // The API's answer to the cancel or refund, or a re-read of the payment.
                Some(p) => self.observe_in(tx, p, Source::ApiRead, now, now),
                None => Ok(None),
            }
        })
    }

    /// Requests whose outcome the till never learned, oldest first.
    pub fn unresolved_actions(&self) -> Result<Vec<PendingAction>> {
        Ok(self
            .actions_where("resolved_at_ms IS NULL", &[])?
            .into_iter()
            .map(|(a, _)| a)
            .collect())
    }

    /// Every cancel and refund request for `payment_id`, oldest first, with its outcome
    /// (`None` while unresolved) and who asked.
    pub fn requests(&self, payment_id: &str) -> Result<Vec<(PendingAction, Option<String>)>> {
        self.actions_where("payment_id = ?1", &[&payment_id])
    }

    fn actions_where(
        &self,
        condition: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<(PendingAction, Option<String>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, payment_id, kind, amount_minor, currency, reason, created_at_ms, \
             cashier_id, cashier, approved_by, outcome FROM actions \
             WHERE ({condition}) AND {} ORDER BY id",
            self.in_book()
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                (
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ),
                r.get::<_, Option<String>>(5)?,
                r.get::<_, i64>(6)?,
                who_at(r, 7)?,
                r.get::<_, Option<String>>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let ((id, payment_id, kind, amount, currency), reason, created_at_ms, who, outcome) =
                row?;
            let kind = match (kind.as_str(), amount, currency) {
                ("cancel", _, _) => ActionKind::Cancel,
                ("refund", Some(amount), Some(currency)) => ActionKind::Refund {
                    amount: Money::new(
                        parse_minor(&amount)?,
                        Currency::from_code(&currency)
                            .map_err(|e| JournalError::Corrupt(format!("request {id}: {e}")))?,
                    ),
                },
                (other, _, _) => {
                    return Err(JournalError::Corrupt(format!(
                        "request {id} has kind '{other}' without an amount"
                    )))
                }
            };
            out.push((
                PendingAction {
                    id: ActionId(id),
                    payment_id,
                    kind,
                    reason,
                    created_at_ms,
                    who,
                },
                outcome,
            ));
        }
        Ok(out)
    }

    /// Who created `payment_id` at this till (their staff number), if the journal knows:
    /// what decides whether a cancel is of the person's own payment.
    pub fn creator(&self, payment_id: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT cashier_id FROM payments WHERE id = ?1 AND {}",
                    self.in_book()
                ),
                [payment_id],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Journals something `who` did at the till beyond charges, cancels and refunds: an
    /// export, a reprint, a shift change, a settings change (the staff action's name,
    /// what it was about, a detail such as "2 rows" or "mode: test -> live").
    pub fn record_operation(
        &self,
        action: &str,
        subject: Option<&str>,
        detail: Option<&str>,
        who: &Who,
    ) -> Result<i64> {
        let now = local_now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO operations (book, action, subject, detail, cashier_id, cashier, \
                 approved_by, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    self.book.as_str(),
                    action,
                    subject,
                    detail,
                    who.cashier_id,
                    who.cashier,
                    who.approved_by,
                    now
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The operations of one local day in `tz`, oldest first.
    pub fn operations<Tz: TimeZone>(&self, day: NaiveDate, tz: &Tz) -> Result<Vec<Operation>> {
        let (start, end) = day_bounds_ms(day, tz)?;
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT seq, action, subject, detail, at_ms, cashier_id, cashier, approved_by \
             FROM operations WHERE at_ms >= ?1 AND at_ms < ?2 AND {} ORDER BY seq",
            self.in_book()
        ))?;
        let rows = stmt.query_map([start, end], |r| {
            Ok(Operation {
                seq: r.get(0)?,
                action: r.get(1)?,
                subject: r.get(2)?,
                detail: r.get(3)?,
                at_ms: r.get(4)?,
                who: who_at(r, 5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Journals a payment snapshot from any source, merged by the one rule against what the
    /// journal holds, in one transaction. Returns the transition it recorded: `Some` on
    /// first sight, when the status moved forward, when more was refunded or a detail was
    /// filled in; `None` for a duplicate or a stale snapshot.
    pub fn record_snapshot(
        &self,
        payment: &Payment,
        source: Source,
        observed_at_ms: i64,
    ) -> Result<Option<RecordedTransition>> {
        self.observe(&Update::Payment(payment.clone()), source, observed_at_ms)
    }

    /// Merges any update against the journal's copy and records what changed, in one
    /// transaction (for callers without a tracker).
    pub fn observe(
        &self,
        update: &Update,
        source: Source,
        observed_at_ms: i64,
    ) -> Result<Option<RecordedTransition>> {
        if update.payment_id().is_empty() {
            return Err(JournalError::MissingPaymentId);
        }
        self.write(|tx| {
            let current = self.state_in(tx, update.payment_id())?;
            match merge(current.as_ref(), update, source, observed_at_ms) {
                Merged::Changed(t) => self.record_in(tx, &t, observed_at_ms).map(Some),
                _ => Ok(None),
            }
        })
    }

    fn observe_in(
        &self,
        tx: &Transaction<'_>,
        payment: &Payment,
        source: Source,
        observed_at_ms: i64,
        first_seen_ms: i64,
    ) -> Result<Option<RecordedTransition>> {
        if payment.id.is_empty() {
            return Err(JournalError::MissingPaymentId);
        }
        let current = self.state_in(tx, &payment.id)?;
        match merge(
            current.as_ref(),
            &Update::Payment(payment.clone()),
            source,
            observed_at_ms,
        ) {
            Merged::Changed(t) => self.record_in(tx, &t, first_seen_ms).map(Some),
            _ => Ok(None),
        }
    }

    /// Writes a transition the merge rule produced, as-is, and returns its sequence
    /// number. Refused with [`JournalError::Conflict`] (and the newer state) when the
    /// payment moved on since the state it was merged onto.
    pub fn record(&self, t: &Transition) -> Result<u64> {
        let recorded = self.write(|tx| self.record_in(tx, t, t.at_unix_ms))?;
        u64::try_from(recorded.seq)
            .map_err(|_| JournalError::Corrupt(format!("sequence {}", recorded.seq)))
    }

    /// Everything the journal knows of a payment in this book.
    pub fn state(&self, payment_id: &str) -> Result<Option<PaymentState>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let state = self.state_in(&tx, payment_id)?;
        tx.commit()?;
        Ok(state)
    }

    /// The states of the payments not yet in a terminal status: the ones a till follows
    /// again after a restart. Oldest first.
    pub fn pending_states(&self) -> Result<Vec<PaymentState>> {
        let ids: Vec<String> = self.pending()?.into_iter().map(|p| p.id).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.state(&id)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn state_in(&self, tx: &Transaction<'_>, payment_id: &str) -> Result<Option<PaymentState>> {
        let row: Option<(String, String, i64, String)> = tx
            .query_row(
                &format!(
                    "SELECT status, json, last_seq, COALESCE((SELECT source FROM transitions \
                     t WHERE t.seq = payments.last_seq), 'poll') FROM payments \
                     WHERE id = ?1 AND {}",
                    self.in_book()
                ),
                [payment_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((status, json, last_seq, source)) = row else {
            return Ok(None);
        };
        let payment: Payment = serde_json::from_str(&json)
            .map_err(|e| JournalError::Corrupt(format!("payment {payment_id}: {e}")))?;
        Ok(Some(PaymentState {
            payment,
            status: PaymentStatus::parse(&status),
            refunds: refunds_in(tx, payment_id)?
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            source: Source::parse(&source).unwrap_or(Source::ApiRead),
            seq: u64::try_from(last_seq).unwrap_or(0),
        }))
    }

    /// The write behind [`Journal::record`] and [`Journal::observe`], inside the caller's
    /// transaction. `first_seen_ms` dates a payment the service gave no creation time.
    fn record_in(
        &self,
        tx: &Transaction<'_>,
        t: &Transition,
        first_seen_ms: i64,
    ) -> Result<RecordedTransition> {
        let p = &t.payment;
        if p.id.is_empty() || p.id != t.payment_id {
            return Err(JournalError::MissingPaymentId);
        }
        let stored: Option<i64> = tx
            .query_row(
                &format!(
                    "SELECT last_seq FROM payments WHERE id = ?1 AND {}",
                    self.in_book()
                ),
                [&p.id],
                |r| r.get(0),
            )
            .optional()?;
        let expected = i64::try_from(t.prev_seq).unwrap_or(i64::MAX);
        let fresh = match stored {
            None if t.prev_seq == 0 => true,
            Some(seq) if seq == expected && t.prev_seq != 0 => false,
            _ => {
                return match self.state_in(tx, &p.id)? {
                    Some(newer) => Err(JournalError::Conflict(Box::new(newer))),
                    // Known to the tracker, gone from the journal: write it afresh.
                    None => self.record_in(
                        tx,
                        &Transition {
                            prev_seq: 0,
                            ..t.clone()
                        },
                        first_seen_ms,
                    ),
                };
            }
        };
        let json = serde_json::to_string(p)?;
        let now = local_now_ms();
        if fresh {
            let created_at_ms = if p.created > 0 {
                p.created.saturating_mul(1000)
            } else {
                first_seen_ms
            };
            tx.execute(
                "INSERT INTO payments (id, order_id, terminal, currency, amount_minor, \
                 amount_refunded_minor, status, created_at_ms, updated_at_ms, json, last_seq, \
                 book, cashier) VALUES (?1, ?2, NULL, ?3, ?4, '0', ?5, ?6, ?7, ?8, 0, ?9, ?10)",
                params![
                    p.id,
                    p.order_id,
                    p.currency,
                    p.amount.to_string(),
                    t.to.as_str(),
                    created_at_ms,
                    now,
                    json,
                    self.book.as_str(),
                    metadata_cashier(p)
                ],
            )?;
        }
        tx.execute(
            "INSERT INTO transitions (payment_id, from_status, to_status, refunded_before_minor, \
             refunded_after_minor, source, observed_at_ms, recorded_at_ms, kind, refund_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                p.id,
                t.from.as_ref().map(PaymentStatus::as_str),
                t.to.as_str(),
                t.refunded_from.to_string(),
                t.refunded_to.to_string(),
                t.source.as_str(),
                t.at_unix_ms,
                now,
                t.kind.as_str(),
                t.refund.as_ref().map(|r| r.id.as_str()),
            ],
        )?;
        let seq = tx.last_insert_rowid();
        tx.execute(
            "UPDATE payments SET status = ?1, amount_refunded_minor = ?2, json = ?3, \
             updated_at_ms = ?4, order_id = COALESCE(order_id, ?5), last_seq = ?6 WHERE id = ?7",
            params![
                t.to.as_str(),
                t.refunded_to.to_string(),
                json,
                now,
                p.order_id,
                seq,
                p.id
            ],
        )?;
        if let Some(r) = &t.refund {
            tx.execute(
                "INSERT INTO refunds (id, payment_id, amount_minor, currency, status, reason, \
                 created, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT(id) DO UPDATE SET amount_minor = excluded.amount_minor, \
                 status = excluded.status, reason = COALESCE(excluded.reason, reason), \
                 updated_at_ms = excluded.updated_at_ms",
                params![
                    r.id,
                    p.id,
                    r.amount.to_string(),
                    r.currency,
                    r.status.as_str(),
                    r.reason,
                    r.created,
                    now
                ],
            )?;
        }
        tracing::info!(payment = %p.id, kind = t.kind.as_str(),
            from = ?t.from.as_ref().map(PaymentStatus::as_str), to = %t.to,
            refunded = %t.refunded_to, source = t.source.as_str(), seq, "journaled");
        Ok(RecordedTransition {
            seq,
            payment_id: p.id.clone(),
            kind: t.kind,
            from: t.from.clone(),
            to: t.to.clone(),
            refunded_before_minor: t.refunded_from,
            refunded_after_minor: t.refunded_to,
            source: t.source,
            refund_id: t.refund.as_ref().map(|r| r.id.clone()),
            observed_at_ms: t.at_unix_ms,
            recorded_at_ms: now,
        })
    }

    /// Payments not yet in a terminal status (pending, or a status this build does not
    /// know): the ones to resume tracking on start. Oldest first.
    pub fn pending(&self) -> Result<Vec<Payment>> {
        Ok(self
            .entries(
                "status NOT IN ('succeeded', 'cancelled', 'expired')",
                "ORDER BY created_at_ms, id",
                &[],
            )?
            .into_iter()
            .map(|e| e.payment)
            .collect())
    }

    /// The latest journaled object of a payment.
    pub fn get(&self, payment_id: &str) -> Result<Option<Payment>> {
        Ok(self.entry(payment_id)?.map(|e| e.payment))
    }

    /// A payment with what the till knows about it.
    pub fn entry(&self, payment_id: &str) -> Result<Option<HistoryEntry>> {
        Ok(self
            .entries("id = ?1", "", &[&payment_id])?
            .into_iter()
            .next())
    }

    /// Payments whose id or order id starts with `query` (case-sensitive, as the API's
    /// ids are), or whose note (the description) contains it (any case), newest first, at
    /// most 100.
    pub fn find(&self, query: &str) -> Result<Vec<HistoryEntry>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(JournalError::EmptyQuery);
        }
        let len = i64::try_from(query.chars().count()).unwrap_or(i64::MAX);
        let limit = i64::try_from(FIND_LIMIT).unwrap_or(i64::MAX);
        self.entries(
            "substr(id, 1, ?2) = ?1 OR substr(order_id, 1, ?2) = ?1 \
             OR instr(lower(json_extract(json, '$.description')), lower(?1)) > 0",
            "ORDER BY created_at_ms DESC, id LIMIT ?3",
            &[&query, &len, &limit],
        )
    }

    /// Every transition of a payment, in order.
    pub fn transitions(&self, payment_id: &str) -> Result<Vec<RecordedTransition>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT seq, payment_id, from_status, to_status, refunded_before_minor, \
             refunded_after_minor, source, observed_at_ms, recorded_at_ms, kind, refund_id \
             FROM transitions WHERE payment_id = ?1 AND EXISTS \
             (SELECT 1 FROM payments p WHERE p.id = ?1 AND p.{}) ORDER BY seq",
            self.in_book()
        ))?;
        let rows = stmt.query_map([payment_id], |r| {
            Ok((
                (
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ),
                (
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                ),
                (
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<String>>(10)?,
                ),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                (seq, payment_id, from, to),
                (before, after, source, observed, recorded),
                (kind, refund_id),
            ) = row?;
            let from = from.as_deref().map(PaymentStatus::parse);
            let to = PaymentStatus::parse(&to);
            let refunded_before_minor = parse_minor(&before)?;
            let refunded_after_minor = parse_minor(&after)?;
            // Rows older than the kind column: what changed tells the kind.
            let kind =
                kind.as_deref()
                    .and_then(TransitionKind::parse)
                    .unwrap_or(if from.is_none() {
                        TransitionKind::Tracked
                    } else if from.as_ref() != Some(&to) {
                        TransitionKind::Status
                    } else {
                        TransitionKind::Refund
                    });
            out.push(RecordedTransition {
                seq,
                payment_id,
                kind,
                from,
                to,
                refunded_before_minor,
                refunded_after_minor,
                source: Source::parse(&source).ok_or_else(|| {
                    JournalError::Corrupt(format!("transition {seq} has source '{source}'"))
                })?,
                refund_id,
                observed_at_ms: observed,
                recorded_at_ms: recorded,
            });
        }
        Ok(out)
    }

    /// The payments of one local day in `tz` (use `chrono::Local` on a till), oldest first.
    pub fn history<Tz: TimeZone>(&self, day: NaiveDate, tz: &Tz) -> Result<Vec<HistoryEntry>> {
        let (start, end) = day_bounds_ms(day, tz)?;
        self.entries(
            "created_at_ms >= ?1 AND created_at_ms < ?2",
            "ORDER BY created_at_ms, id",
            &[&start, &end],
        )
    }

    /// The local days in `tz` that have payments, newest first, at most `limit` (for a
    /// history date picker).
    pub fn days<Tz: TimeZone>(&self, tz: &Tz, limit: usize) -> Result<Vec<NaiveDate>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT created_at_ms FROM payments WHERE {} ORDER BY created_at_ms DESC",
            self.in_book()
        ))?;
        let mut rows = stmt.query([])?;
        let mut days: Vec<NaiveDate> = Vec::new();
        while let Some(row) = rows.next()? {
            let ms: i64 = row.get(0)?;
            let Some(day) = tz
                .timestamp_millis_opt(ms)
                .earliest()
                .map(|t| t.date_naive())
            else {
                continue;
            };
            if days.last() != Some(&day) {
                if days.len() == limit {
                    break;
                }
                days.push(day);
            }
        }
        Ok(days)
    }

    /// One day's count, amount and refunds by currency and status, sorted by both.
    /// Summed in i128 with overflow reported, never wrapped.
    pub fn totals<Tz: TimeZone>(&self, day: NaiveDate, tz: &Tz) -> Result<Vec<Total>> {
        let mut totals: Vec<Total> = Vec::new();
        for entry in self.history(day, tz)? {
            let p = &entry.payment;
            let at = match totals
                .iter()
                .position(|t| t.currency == p.currency && t.status == entry.status)
            {
                Some(at) => at,
                None => {
                    totals.push(Total {
                        currency: p.currency.clone(),
                        status: entry.status.clone(),
                        count: 0,
                        sum_minor: 0,
                        refunded_minor: 0,
                    });
                    totals.len() - 1
                }
            };
            let overflow = || JournalError::Corrupt(format!("{} total overflows", p.currency));
            let t = &mut totals[at];
            t.count += 1;
            t.sum_minor = t.sum_minor.checked_add(p.amount).ok_or_else(overflow)?;
            t.refunded_minor = t
                .refunded_minor
                .checked_add(p.amount_refunded)
                .ok_or_else(overflow)?;
        }
        totals.sort_by(|a, b| {
            (a.currency.as_str(), a.status.as_str()).cmp(&(b.currency.as_str(), b.status.as_str()))
        });
        Ok(totals)
    }

    /// One day's payments summed per currency, refunds netted; sorted by currency.
    /// Summed in i128 with overflow reported, never wrapped.
    pub fn summary<Tz: TimeZone>(&self, day: NaiveDate, tz: &Tz) -> Result<Vec<CurrencySummary>> {
        summarize(&self.history(day, tz)?)
    }

    /// Writes one day's payments as CSV (RFC 4180, header row, amounts with the
    /// currency's decimals). Returns the number of payment rows.
    pub fn export_csv<Tz, W>(&self, day: NaiveDate, tz: &Tz, out: W) -> Result<usize>
    where
        Tz: TimeZone,
        Tz::Offset: std::fmt::Display,
        W: Write,
    {
        let entries = self.history(day, tz)?;
        export::write_csv(&entries, tz, out)?;
        Ok(entries.len())
    }

    fn entries(
        &self,
        condition: &str,
        order: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<HistoryEntry>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut stmt = tx.prepare(&format!(
            "SELECT id, status, terminal, created_at_ms, updated_at_ms, json, cashier \
             FROM payments WHERE ({condition}) AND {} {order}",
            self.in_book()
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, status, terminal, created_at_ms, updated_at_ms, json, cashier) = row?;
            let payment: Payment = serde_json::from_str(&json)
                .map_err(|e| JournalError::Corrupt(format!("payment {id}: {e}")))?;
            out.push(HistoryEntry {
                refunds: refunds_in(&tx, &id)?,
                sale: sales::sale_in(&tx, &payment)?,
                cashier: cashier.or_else(|| metadata_cashier(&payment)),
                payment,
                status: PaymentStatus::parse(&status),
                terminal,
                created_at_ms,
                updated_at_ms,
            });
        }
        drop(stmt);
        tx.commit()?;
        Ok(out)
    }
}

/// Inserts one intent row (both ways of naming an order share it).
#[allow(clippy::too_many_arguments)]
fn insert_intent(
    tx: &Transaction<'_>,
    order_id: &str,
    money: Money,
    description: Option<&str>,
    terminal: &str,
    now: i64,
    token: &str,
    book: Mode,
    who: &Who,
) -> Result<IntentId> {
    // A charge belongs to the shift open on its till when it was charged.
    tx.execute(
        "INSERT INTO intents (order_id, amount_minor, currency, description, terminal, \
         created_at_ms, token, book, cashier_id, cashier, approved_by, shift_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
         (SELECT id FROM shifts WHERE book = ?8 AND till = ?5 AND closed_at_ms IS NULL))",
        params![
            order_id,
            money.minor.to_string(),
            money.currency.code(),
            description,
            terminal,
            now,
            token,
            book.as_str(),
            who.cashier_id,
            who.cashier,
            who.approved_by
        ],
    )?;
    Ok(IntentId(tx.last_insert_rowid()))
}

/// The `cashier_id, cashier, approved_by` columns starting at `at`.
fn who_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Who> {
    Ok(Who {
        cashier_id: r.get(at)?,
        cashier: r.get(at + 1)?,
        approved_by: r.get(at + 2)?,
    })
}

/// The cashier a payment's metadata names (PayDesk writes it on every staffed charge).
fn metadata_cashier(p: &Payment) -> Option<String> {
    p.metadata
        .as_ref()?
        .get(CASHIER_METADATA_KEY)?
        .as_str()
        .map(str::to_owned)
}

/// Sums entries per currency (History's totals, the close-of-day report).
pub fn summarize(entries: &[HistoryEntry]) -> Result<Vec<CurrencySummary>> {
    summarize_all(entries)
}

/// One cashier's part of a day: [`summarize`] over the payments charged under their name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CashierSummary {
    /// Their name as journaled ([`HistoryEntry::cashier`]: the charge's own record, else
    /// the payment's `paydesk_cashier` metadata); `None` for unattended payments and those
    /// from before staff.
    pub cashier: Option<String>,
    pub currencies: Vec<CurrencySummary>,
}

/// [`summarize`] per cashier (tips and tax included), by name, those without one last.
pub fn summarize_by_cashier(entries: &[HistoryEntry]) -> Result<Vec<CashierSummary>> {
    let cashier_of = |e: &HistoryEntry| e.cashier.clone();
    let mut names: Vec<Option<String>> = entries.iter().map(cashier_of).collect();
    names.sort_by(|a, b| match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (a, b) => b.is_some().cmp(&a.is_some()),
    });
    names.dedup();
    names
        .into_iter()
        .map(|cashier| {
            let theirs = entries.iter().filter(|e| cashier_of(e) == cashier);
            Ok(CashierSummary {
                currencies: summarize_all(theirs)?,
                cashier,
            })
        })
        .collect()
}

fn summarize_all<'a>(
    entries: impl IntoIterator<Item = &'a HistoryEntry>,
) -> Result<Vec<CurrencySummary>> {
    let mut out: Vec<CurrencySummary> = Vec::new();
    for e in entries {
        let p = &e.payment;
        let at = match out.iter().position(|t| t.currency == p.currency) {
            Some(at) => at,
            None => {
                out.push(CurrencySummary {
                    currency: p.currency.clone(),
                    ..CurrencySummary::default()
                });
                out.len() - 1
            }
        };
        let overflow = || JournalError::Corrupt(format!("{} total overflows", p.currency));
        let t = &mut out[at];
        match e.status {
            PaymentStatus::Succeeded => {
                t.paid_count += 1;
                t.paid_minor = t.paid_minor.checked_add(p.amount).ok_or_else(overflow)?;
                t.refunded_minor = t
                    .refunded_minor
                    .checked_add(p.amount_refunded)
                    .ok_or_else(overflow)?;
                for r in e
                    .refunds
                    .iter()
                    .filter(|r| r.status == RefundStatus::Pending)
                {
                    t.refund_requested_minor = t
                        .refund_requested_minor
                        .checked_add(r.amount)
                        .ok_or_else(overflow)?;
                }
                if let Some(sale) = &e.sale {
                    sales::add_to(t, sale)?;
                }
            }
            PaymentStatus::Pending => t.pending_count += 1,
            PaymentStatus::Expired => t.expired_count += 1,
            PaymentStatus::Cancelled => t.cancelled_count += 1,
            PaymentStatus::Unknown(_) => t.other_count += 1,
        }
    }
    out.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(out)
}

/// A payment's refunds, oldest first.
fn refunds_in(tx: &Transaction<'_>, payment_id: &str) -> Result<Vec<RefundState>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, amount_minor, currency, status, reason, created FROM refunds \
         WHERE payment_id = ?1 ORDER BY created, updated_at_ms, id",
    )?;
    let rows = stmt.query_map([payment_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, amount, currency, status, reason, created) = row?;
        out.push(RefundState {
            amount: parse_minor(&amount)?,
            currency,
            status: RefundStatus::parse(&status),
            reason,
            created,
            id,
        });
    }
    Ok(out)
}

/// The journal is the merchant's sales record: readable by the till's user only. SQLite
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

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The next readable order id of `prefix` on `day`: `<prefix>-<YYYYMMDD>-<NNNN>`, one more
/// than the highest taken (in any book: the service's order ids are one namespace).
fn next_order_id(tx: &Transaction<'_>, prefix: &str, day: NaiveDate) -> Result<String> {
    let stem = format!("{prefix}-{}-", day.format("%Y%m%d"));
    let last: Option<String> = tx
        .query_row(
            "SELECT order_id FROM intents WHERE substr(order_id, 1, ?2) = ?1 \
             ORDER BY length(order_id) DESC, order_id DESC LIMIT 1",
            params![stem, i64::try_from(stem.len()).unwrap_or(i64::MAX)],
            |r| r.get(0),
        )
        .optional()?;
    let next = last
        .and_then(|o| o[stem.len()..].parse::<u64>().ok())
        .map_or(1, |n| n + 1);
    Ok(format!("{stem}{next:04}"))
}

fn parse_minor(s: &str) -> Result<i128> {
    s.parse::<i128>()
        .map_err(|_| JournalError::Corrupt(format!("amount '{s}' is not an integer")))
}

/// Unix ms of the start of `day` and of the next day in `tz`. A midnight skipped by a DST
/// change starts the day at the first local time that exists.
pub(crate) fn day_bounds_ms<Tz: TimeZone>(day: NaiveDate, tz: &Tz) -> Result<(i64, i64)> {
    let next = day.succ_opt().ok_or(JournalError::BadDay(day))?;
    Ok((local_start_ms(day, tz)?, local_start_ms(next, tz)?))
}

fn local_start_ms<Tz: TimeZone>(day: NaiveDate, tz: &Tz) -> Result<i64> {
    let midnight = day.and_time(NaiveTime::MIN);
    // Gaps are at most a few hours; try each minute until one exists.
    for minutes in 0..(24 * 60) {
        let local = midnight + chrono::Duration::minutes(minutes);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return Ok(t.timestamp_millis());
        }
    }
    Err(JournalError::BadDay(day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    #[test]
    fn a_day_is_bounded_by_local_midnights() {
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let (start, end) = day_bounds_ms(day, &tz).unwrap();
        // 2026-03-01T00:00+02:00 = 2026-02-28T22:00Z.
        assert_eq!(start, 1_772_316_000_000);
        assert_eq!(end - start, 86_400_000);
    }

    #[test]
    fn paydesk_data_dir_moves_the_journal() {
        let p = default_path_with(|v| (v == DATA_DIR_ENV).then(|| "/srv/till".into())).unwrap();
        assert_eq!(p, PathBuf::from("/srv/till/journal.sqlite3"));
        let p = default_path_with(|_| None).unwrap();
        assert!(p.ends_with(FILE_NAME) && p.is_absolute());
    }

    #[test]
    fn minor_units_parse_back_exactly() {
        assert_eq!(
            parse_minor("100000000000000000000").unwrap(),
            100_000_000_000_000_000_000
        );
        assert!(matches!(parse_minor("1e20"), Err(JournalError::Corrupt(_))));
    }
}
