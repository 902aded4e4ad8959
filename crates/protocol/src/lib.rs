//! paydesk-protocol: the shapes every part of PayDesk agrees on, and nothing else.
//!
//! Money in integer minor units ([`money`]), Crypto.com Pay's Payment, Refund and webhook
//! objects ([`payment`]), `Pay-Signature` ([`signature`]), the relay ↔ till protocol
//! `paydesk.v1` ([`wire`]), [`Secret`] and retry [`backoff`]. The till core, the relay, the
//! sandbox and the CLI all use these definitions; a server that only verifies webhooks and
//! pushes them on depends on this crate alone, the way ripgrep's `grep-matcher` depends on
//! almost nothing.
//!
//! With the `logging` feature it also holds the one logging setup of every binary.

pub mod backoff;
#[cfg(feature = "logging")]
pub mod logging;
pub mod money;
pub mod payment;
mod secret;
pub mod signature;
pub mod wire;

pub use money::{Currency, Money, MoneyError};
pub use payment::{Payment, PaymentStatus, Refund, WebhookEvent};
pub use secret::Secret;
