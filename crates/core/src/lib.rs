//! paydesk-core: everything a PayDesk terminal knows, without a window.
//!
//! Data flows one way: Crypto.com Pay (or the sandbox) → signed webhook → relay →
//! WebSocket ([`wire`]) → tracker → the app or the CLI. The REST API ([`payment`] shapes)
//! is the source of truth; pushes are hints in the same shape. The app (Tauri) and
//! `paydesk-cli` are thin shells over this crate.

pub mod clock;
pub mod countdown;
pub mod money;
pub mod payment;
pub mod realtime;
pub mod secrets;
pub mod signature;
pub mod tracker;
pub mod wire;

pub use money::{Currency, Money, MoneyError};
pub use payment::{Payment, PaymentStatus, Refund, WebhookEvent};
