//! Counters and gauges, rendered as Prometheus text on `GET /metrics`.
//!
//! Plain atomics on the hot paths (events in, pushes out); a small map for rejects, which
//! are rare and labelled by endpoint and reason. [`Metrics::wait_until`] lets tests and the
//! benchmark wait for a counter without polling.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Metrics {
    /// Open WebSocket sessions.
    pub connections: AtomicI64,
    /// Open HTTP connections not (yet) upgraded to WebSocket.
    pub http_connections: AtomicI64,
    pub sessions_total: AtomicU64,
    /// Webhook events accepted and stored.
    pub events_in: AtomicU64,
    /// Webhook events whose id was stored already (acknowledged, not stored again).
    pub duplicate_events: AtomicU64,
    /// Event messages handed to sessions (one per event per session, replays included).
    pub pushes_out: AtomicU64,
    pub tickets_issued: AtomicU64,
    pub resumes: AtomicU64,
    pub resumes_recovered: AtomicU64,
    pub resumes_not_recovered: AtomicU64,
    pub replayed_events: AtomicU64,
    pub slow_consumers_closed: AtomicU64,
    pub heartbeat_timeouts: AtomicU64,
    pub backend_errors: AtomicU64,
    rejects: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    changed: Notify,
}

/// A copy of the counters, for tests and the benchmark.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub connections: i64,
    pub http_connections: i64,
    pub sessions_total: u64,
    pub events_in: u64,
    pub duplicate_events: u64,
    pub pushes_out: u64,
    pub tickets_issued: u64,
    pub resumes: u64,
    pub resumes_recovered: u64,
    pub resumes_not_recovered: u64,
    pub replayed_events: u64,
    pub slow_consumers_closed: u64,
    pub heartbeat_timeouts: u64,
    pub backend_errors: u64,
    pub rejects: BTreeMap<String, u64>,
}

impl MetricsSnapshot {
    /// Rejects for one reason, over every endpoint.
    pub fn rejects_for(&self, reason: &str) -> u64 {
        self.rejects
            .iter()
            .filter(|(k, _)| k.rsplit('/').next() == Some(reason))
            .map(|(_, v)| *v)
            .sum()
    }
}

impl Metrics {
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a rare event and wakes whoever waits on the metrics.
    pub fn bump(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    pub fn gauge(&self, gauge: &AtomicI64, delta: i64) {
        gauge.fetch_add(delta, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    pub fn reject(&self, endpoint: &'static str, reason: &'static str) {
        if let Ok(mut map) = self.rejects.lock() {
            *map.entry((endpoint, reason)).or_insert(0) += 1;
        }
        self.changed.notify_waiters();
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            connections: self.connections.load(Ordering::Relaxed),
            http_connections: self.http_connections.load(Ordering::Relaxed),
            sessions_total: r(&self.sessions_total),
            events_in: r(&self.events_in),
            duplicate_events: r(&self.duplicate_events),
            pushes_out: r(&self.pushes_out),
            tickets_issued: r(&self.tickets_issued),
            resumes: r(&self.resumes),
            resumes_recovered: r(&self.resumes_recovered),
            resumes_not_recovered: r(&self.resumes_not_recovered),
            replayed_events: r(&self.replayed_events),
            slow_consumers_closed: r(&self.slow_consumers_closed),
            heartbeat_timeouts: r(&self.heartbeat_timeouts),
            backend_errors: r(&self.backend_errors),
            rejects: self
                .rejects
                .lock()
                .map(|m| {
                    m.iter()
                        .map(|((e, r), v)| (format!("{e}/{r}"), *v))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Waits until `pred` holds for the counters. Wakes on every rare event (rejects,
    /// closes, connections), so callers never poll; the caller bounds the wait.
    pub async fn wait_until(&self, mut pred: impl FnMut(&MetricsSnapshot) -> bool) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(&self.snapshot()) {
                return;
            }
            notified.await;
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let s = self.snapshot();
        let mut out = String::with_capacity(2048);
        let mut one = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP paydesk_relay_{name} {help}");
            let _ = writeln!(out, "# TYPE paydesk_relay_{name} {kind}");
            let _ = writeln!(out, "paydesk_relay_{name} {value}");
        };
        one(
            "connections",
            "gauge",
            "Open WebSocket sessions.",
            s.connections.to_string(),
        );
        one(
            "http_connections",
            "gauge",
            "Open HTTP connections not upgraded to WebSocket.",
            s.http_connections.to_string(),
        );
        one(
            "sessions_total",
            "counter",
            "WebSocket sessions opened.",
            s.sessions_total.to_string(),
        );
        one(
            "events_in_total",
            "counter",
            "Webhook events verified and stored.",
            s.events_in.to_string(),
        );
        one(
            "duplicate_events_total",
            "counter",
            "Webhook events already stored (a retry or a replay): acknowledged, not stored again.",
            s.duplicate_events.to_string(),
        );
        one(
            "pushes_out_total",
            "counter",
            "Event messages handed to sessions (one per event per session, replays included).",
            s.pushes_out.to_string(),
        );
        one(
            "tickets_issued_total",
            "counter",
            "WebSocket tickets issued.",
            s.tickets_issued.to_string(),
        );
        one(
            "resumes_total",
            "counter",
            "Sessions that asked to resume from a position.",
            s.resumes.to_string(),
        );
        one(
            "resumes_recovered_total",
            "counter",
            "Resumes that got every missed event.",
            s.resumes_recovered.to_string(),
        );
        one(
            "resumes_not_recovered_total",
            "counter",
            "Resumes told to resync from the API.",
            s.resumes_not_recovered.to_string(),
        );
        one(
            "replayed_events_total",
            "counter",
            "Missed events sent to resuming sessions.",
            s.replayed_events.to_string(),
        );
        one(
            "slow_consumers_closed_total",
            "counter",
            "Sessions closed (4001) because their send queue filled.",
            s.slow_consumers_closed.to_string(),
        );
        one(
            "heartbeat_timeouts_total",
            "counter",
            "Sessions closed (4000) because the terminal fell silent.",
            s.heartbeat_timeouts.to_string(),
        );
        one(
            "backend_errors_total",
            "counter",
            "Failed calls to the event-stream backend.",
            s.backend_errors.to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP paydesk_relay_rejects_total Requests refused, by endpoint and reason."
        );
        let _ = writeln!(out, "# TYPE paydesk_relay_rejects_total counter");
        if let Ok(map) = self.rejects.lock() {
            for ((endpoint, reason), v) in map.iter() {
                let _ = writeln!(
                    out,
                    "paydesk_relay_rejects_total{{endpoint=\"{endpoint}\",reason=\"{reason}\"}} {v}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_labelled_rejects() {
        let m = Metrics::default();
        m.reject("webhook", "signature_mismatch");
        m.reject("webhook", "signature_mismatch");
        m.bump(&m.events_in);
        let text = m.render();
        assert!(text.contains("paydesk_relay_events_in_total 1\n"), "{text}");
        assert!(text.contains(
            "paydesk_relay_rejects_total{endpoint=\"webhook\",reason=\"signature_mismatch\"} 2\n"
        ));
        assert_eq!(m.snapshot().rejects_for("signature_mismatch"), 2);
    }
}
