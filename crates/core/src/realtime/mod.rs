//! The realtime session: push first, polling when it must, never wrong.
//!
//! One [`Session`] per terminal keeps an authenticated WebSocket to the relay
//! ([`socket`]), falls back to polling the payment API when no push has been heard for a
//! few seconds ([`reads`]), and feeds everything it learns into the [`Tracker`], which
//! alone decides what the cashier sees. Its [`ConnectionState`] is published through the
//! tracker's event stream. The countdowns of pending payments run inside the session too
//! ([`crate::countdown`]).
//!
//! ```text
//! relay ──ws──▶ socket ──┐
//!                        ├──▶ Tracker ──▶ Subscription (app, CLI)
//! API ◀──reads── reads ──┘        ▲
//!                    countdown ───┘ (ticks, expiry → read)
//! ```
//!
//! [`Tracker`]: crate::tracker::Tracker

pub mod backoff;
mod config;
mod handshake;
mod reader;
mod reads;
mod session;
mod socket;
mod state;
#[cfg(test)]
mod tests;

pub use config::{RelayEndpoint, SessionConfig};
pub use reader::{PaymentReader, ReadError, ReadOutcome};
pub use session::{Session, SessionStats};
pub use state::{ConnectionState, ConnectionStatus};
