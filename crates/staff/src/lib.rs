//! paydesk-staff: who may do what at a PayDesk till.
//!
//! People with a name, a role and a PIN ([`StaffStore`], one SQLite file beside the
//! journal); the one permission table ([`Role::may`]); the gate that turns a PIN and an
//! action into a [`Grant`] or a [`Denied`] a cashier can read, with supervisor overrides
//! and lockouts after wrong PINs; the idle lock ([`TillLock`]); and the audit trail of all
//! of it. The core depends on this crate and puts a [`Grant`] in front of every operation
//! that needs one, so the app and the CLI share the rules; this crate depends on nothing of
//! PayDesk's but [`paydesk_protocol::Secret`]. docs/staff.md has the why.
//!
//! ```text
//! PIN pad / --pin / PAYDESK_PIN ──Secret──▶ Pin ──▶ StaffStore::authorize ──▶ Grant ──▶ core op
//!                                                        │ Role::may (role.rs)
//!                                                        │ lockout.rs (wrong PINs)
//!                                                        ▼
//!                                                   audit trail
//! ```

mod audit;
mod clock;
mod gate;
mod lockout;
mod pin;
mod role;
mod schema;
mod store;
mod till_lock;

pub use audit::{AuditEntry, AuditKind, PersonRef};
pub use clock::{Clock, ManualClock, SystemClock};
pub use gate::{
    Context, Denied, Grant, Identity, APPROVED_BY_METADATA_KEY, CASHIER_ID_METADATA_KEY,
    CASHIER_METADATA_KEY,
};
pub use lockout::Policy;
pub use pin::{BadHash, Pin, PinCost, PinCostError, PinFormatError, PinHash};
pub use role::{Action, Role, UnknownName};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use store::{Person, PersonId, StaffError, StaffStore};
pub use till_lock::{LockReason, Locked, TillLock};
