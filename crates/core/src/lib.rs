//! paydesk-core: everything a PayDesk terminal knows, without a window.
//!
//! Data flows one way: Crypto.com Pay (or the sandbox) → signed webhook → relay →
//! WebSocket ([`wire`]) → tracker → the app or the CLI. The REST API ([`payment`] shapes)
//! is the source of truth; pushes are hints in the same shape. The app (Tauri) and
//! `paydesk-cli` are thin shells over this crate.

pub mod clock;
pub mod config;
pub mod connection;
pub mod countdown;
pub mod day;
pub mod doctor;
pub mod explain;
pub mod gateway;
pub mod journal;
pub mod kiosk;
pub mod merge;
pub mod printout;
pub mod provision;
pub mod qr;
pub mod reader;
pub mod realtime;
pub mod receipts;
pub mod sale;
pub mod secrets;
pub mod staff;
pub mod terminal;
pub mod till;
pub mod tracker;

// The shared shapes live in paydesk-protocol (the relay and the sandbox use them without
// the till); re-exported so a till's code reads `paydesk_core::money` like the rest.
pub use paydesk_protocol::{backoff, logging, money, payment, signature, wire};

pub use money::{Currency, Money, MoneyError};
pub use payment::{Payment, PaymentStatus, Refund, WebhookEvent};

/// Installs rustls' process-wide crypto provider (ring). Several dependencies enable
/// different providers, and rustls then refuses to guess; every binary and test that
/// opens TLS or WebSocket clients calls this first. Idempotent.
pub fn init_tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
