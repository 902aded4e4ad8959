//! The webhook deliverer: signs each event and POSTs it to every configured URL.
//!
//! Events arrive on a bounded queue from the handlers. The first attempt for each URL is
//! made in queue order, so a healthy receiver sees a payment's events in the order they
//! happened; a failed attempt moves to a bounded set of retry tasks (full-jitter backoff)
//! so one failing receiver never holds up the others. Every attempt is signed afresh
//! (`Pay-Signature: t=<now>,v1=…`, with [`paydesk_protocol::signature::sign`]) so a retry is
//! not refused as stale. The deliverer belongs to the server: it stops when the server
//! stops, and its retry tasks are aborted with it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use paydesk_protocol::backoff;
use paydesk_protocol::signature;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, warn, Instrument};

use crate::faults::Stats;
use crate::state::{lock, AppState};

/// Events waiting for their first attempt.
pub const QUEUE_CAPACITY: usize = 1024;
/// Deliveries waiting for a retry (or a fault-injected delay) at once.
const MAX_PENDING: usize = 512;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// About 30 s of retries in all: long enough to ride out a receiver's restart.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 8,
        base: Duration::from_millis(200),
        cap: Duration::from_secs(10),
    };
}

/// One event, written: what the queue holds.
#[derive(Debug)]
pub struct Outgoing {
    pub id: String,
    pub kind: &'static str,
    pub body: Bytes,
}

/// One event for one URL.
#[derive(Clone)]
struct Delivery {
    event_id: String,
    kind: &'static str,
    url: String,
    body: Bytes,
}

pub async fn run(app: Arc<AppState>, mut rx: mpsc::Receiver<Outgoing>, policy: RetryPolicy) {
    let http = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "cannot build the webhook client; webhooks are off");
            return;
        }
    };
    let mut pending = JoinSet::new();
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            Some(_) = pending.join_next(), if !pending.is_empty() => {}
            event = rx.recv() => {
                let Some(event) = event else { break };
                // A slow receiver must not hold shutdown up for its attempt timeout.
                tokio::select! {
                    _ = dispatch(&app, &http, &mut pending, policy, event) => {}
                    _ = app.cancel.cancelled() => break,
                }
            }
        }
    }
    pending.shutdown().await;
}

async fn dispatch(
    app: &Arc<AppState>,
    http: &reqwest::Client,
    pending: &mut JoinSet<()>,
    policy: RetryPolicy,
    event: Outgoing,
) {
    let (dropped, duplicated, delay_ms) = {
        let mut f = lock(&app.faults);
        let dropped = f.take_webhook_drop();
        (
            dropped,
            !dropped && f.take_webhook_duplicate(),
            f.faults.webhook_delay_ms,
        )
    };
    if dropped {
        Stats::bump(&app.stats.webhooks_dropped);
        debug!(event_id = %event.id, kind = %event.kind, "webhook dropped by fault injection");
        return;
    }
    let mut urls = app.webhook_urls();
    if duplicated {
        debug!(event_id = %event.id, "webhook duplicated by fault injection");
        urls.extend_from_within(..);
    }
    for url in urls {
        let d = Delivery {
            event_id: event.id.clone(),
            kind: event.kind,
            url,
            body: event.body.clone(),
        };
        let span =
            tracing::debug_span!("webhook", event_id = %d.event_id, kind = %d.kind, url = %d.url);
        if delay_ms == 0 && attempt(app, http, &d).instrument(span.clone()).await {
            continue;
        }
        if pending.len() >= MAX_PENDING {
            Stats::bump(&app.stats.webhooks_abandoned);
            warn!(parent: &span, "too many webhook retries pending; giving this one up");
            continue;
        }
        let (app, http) = (Arc::clone(app), http.clone());
        let first_retry = if delay_ms == 0 { 1 } else { 0 };
        pending.spawn(
            async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                retry(&app, &http, &d, policy, first_retry).await;
            }
            .instrument(span),
        );
    }
}

/// Attempts after the first (or all of them, for a delayed event: `done` = 0).
async fn retry(
    app: &AppState,
    http: &reqwest::Client,
    d: &Delivery,
    policy: RetryPolicy,
    done: u32,
) {
    for n in done..policy.max_attempts {
        if n > 0 {
            tokio::time::sleep(backoff::full_jitter(policy.base, policy.cap, n - 1)).await;
        }
        if attempt(app, http, d).await {
            return;
        }
    }
    Stats::bump(&app.stats.webhooks_abandoned);
    warn!(
        attempts = policy.max_attempts,
        "webhook never accepted; giving up"
    );
}

/// One signed POST; true when the receiver answered 2xx.
async fn attempt(app: &AppState, http: &reqwest::Client, d: &Delivery) -> bool {
    let t = app.now();
    let header = signature::sign(app.webhook_secret.expose().as_bytes(), t, &d.body);
    let result = http
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signature::HEADER, header)
        .body(d.body.clone())
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => {
            Stats::bump(&app.stats.webhooks_delivered);
            debug!(status = r.status().as_u16(), "webhook delivered");
            true
        }
        Ok(r) => {
            Stats::bump(&app.stats.webhook_attempts_failed);
            debug!(status = r.status().as_u16(), "webhook refused");
            false
        }
        Err(e) => {
            Stats::bump(&app.stats.webhook_attempts_failed);
            debug!(error = %e, "webhook not delivered");
            false
        }
    }
}
