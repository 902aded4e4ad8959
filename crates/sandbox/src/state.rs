//! The state every handler shares: the books, the faults, the counters, the webhook queue.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use paydesk_protocol::Secret;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::faults::{FaultState, Stats};
use crate::object::Event;
use crate::store::{Store, Terms};
use crate::webhooks::Outgoing;

pub struct AppState {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    pub terms: Terms,
    pub store: Mutex<Store>,
    pub app_refund_delay: Duration,
    pub faults: Mutex<FaultState>,
    pub stats: Stats,
    pub webhook_urls: RwLock<Vec<String>>,
    pub webhooks: mpsc::Sender<Outgoing>,
    /// Added to the system clock: a test can skew the sandbox's clock (and its `Date`
    /// header) to exercise a till's clock-offset handling.
    pub clock_offset_ms: AtomicI64,
    /// Delayed payments and refund transfers; closed and awaited on shutdown.
    pub tasks: TaskTracker,
    pub cancel: CancellationToken,
}

/// Locks a mutex; a panic elsewhere while holding it does not take the sandbox down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AppState {
    /// The sandbox's time, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        system.saturating_add(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    /// The sandbox's time, unix seconds.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Queues events for delivery, written once here. Never blocks a handler: a full
    /// queue drops the event and counts it, as a receiver that was down would have lost it.
    pub fn emit(&self, events: Vec<Event>) {
        for event in events {
            let body = match event.to_json() {
                Ok(b) => bytes::Bytes::from(b),
                Err(e) => {
                    tracing::warn!(event_id = %event.id, error = %e, "cannot serialize a webhook event");
                    continue;
                }
            };
            let outgoing = Outgoing {
                id: event.id,
                kind: event.kind,
                body,
            };
            if let Err(e) = self.webhooks.try_send(outgoing) {
                Stats::bump(&self.stats.webhooks_dropped);
                tracing::warn!(error = %e, "webhook queue full; event dropped");
            }
        }
    }

    pub fn webhook_urls(&self) -> Vec<String> {
        self.webhook_urls
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn add_webhook_url(&self, url: String) {
        let mut urls = self
            .webhook_urls
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
}
