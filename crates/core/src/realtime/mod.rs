//! The realtime session: push first, polling when it must, never wrong.
//!
//! One [`Session`] per terminal keeps an authenticated WebSocket to the relay
//! (`socket`), falls back to polling the payment API when no push has been heard for a
//! few seconds (`reads`, with its own `queue`), and feeds everything it learns into the
//! [`Tracker`], which alone decides what the cashier sees. Its [`ConnectionState`] is
//! published through the tracker's event stream. The countdowns of pending payments run
//! inside the session too (`countdowns`, computed by [`crate::countdown`]).
//!
//! ```text
//! relay ──ws──▶ socket ──┐
//!                        ├──▶ Tracker ──▶ Subscription (app, CLI)
//! API ◀──reads── reads ──┘        ▲
//!                    countdown ───┘ (ticks, expiry → read)
//! ```
//!
//! Using it (the app and the CLI do this through `terminal::Terminal`):
//!
//! ```no_run
//! # async fn till() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use paydesk_core::clock::ServerClock;
//! use paydesk_core::clock::LocalClock;
//! use paydesk_core::gateway::{Gateway, GatewayConfig};
//! use paydesk_core::payment::CreatePayment;
//! use paydesk_core::realtime::{Session, SessionConfig};
//! use paydesk_core::secrets::Secret;
//! use paydesk_core::tracker::{NoJournal, Tracker, TrackerEvent};
//!
//! let clock = ServerClock::new(); // shared: HTTP `Date`, hello and heartbeats all feed it
//! let gateway = Gateway::new(
//!     GatewayConfig::new("https://pay.crypto.com/api", Secret::new("sk_live_…")),
//!     clock.clone(),
//! )?;
//! let tracker = Tracker::with_clocks(Arc::new(NoJournal::default()), clock, LocalClock::system());
//! let config = SessionConfig::with_relay("https://relay.shop.example", Secret::new("tk_…"));
//! let session = Session::start(config, tracker, gateway.clone());
//!
//! let mut events = session.subscribe(); // subscribe first,
//! let first_render = session.snapshot(); // then render the snapshot, then apply events
//! let payment = gateway
//!     .create_payment(&CreatePayment { amount: 1250, currency: "USD".into(), ..Default::default() })
//!     .await?;
//! session.track(payment).await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         TrackerEvent::Transition(t) if t.seq > first_render.seq => { /* show t.to */ }
//!         TrackerEvent::Resnapshot { .. } => { /* take session.snapshot() again */ }
//!         _ => {}
//!     }
//! #   break;
//! }
//! session.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! [`Tracker`]: crate::tracker::Tracker

mod config;
mod countdowns;
mod handshake;
mod queue;
mod reads;
mod session;
mod socket;
#[cfg(test)]
mod tests;
mod tls;

pub use config::{RelayEndpoint, SessionConfig};
pub use session::{Session, SessionStats};
pub use tls::TlsError;
// Where these live (leaves below the session), re-exported where users look for them.
pub use crate::connection::{ConnectionState, ConnectionStatus};
pub use crate::reader::{PaymentReader, ReadError, ReadOutcome};
