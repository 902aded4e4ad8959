//! Fault injection and request counting for the `/api` routes.
//!
//! Tests and benchmarks set faults through `POST /sandbox/faults`: added latency, a 5xx
//! rate (per mille) or the next N requests failing, a 429 burst that answers every request
//! with `Retry-After` until it has passed, dropped or delayed webhooks, and "commit the
//! next N creates but drop the response". The gate runs in front of every `/api` handler
//! in that order — latency, 429, 5xx, authentication — and counts what it saw, so a test
//! can assert behaviour (how many requests a client made) instead of timing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::Rng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::{lock, AppState};

/// The faults in force. `POST /sandbox/faults` sets the fields it names and keeps the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Added before every `/api` request is handled.
    #[serde(default)]
    pub latency_ms: u64,
    /// Chance per mille that an `/api` request fails with `error_status`.
    #[serde(default)]
    pub error_rate_permille: u16,
    /// The next N `/api` requests fail with `error_status`.
    #[serde(default)]
    pub fail_next: u32,
    /// 500..=599; 503 when unset.
    #[serde(default)]
    pub error_status: Option<u16>,
    /// Starts a 429 burst: every `/api` request is refused with `Retry-After` until this
    /// many seconds have passed.
    #[serde(default)]
    pub rate_limit_secs: u64,
    /// The next N creates are committed but their response is dropped mid-way.
    #[serde(default)]
    pub drop_create_responses: u32,
    /// The next N webhook events are never sent.
    #[serde(default)]
    pub drop_webhooks: u32,
    /// The next N webhook events are delivered twice (as real services sometimes do).
    #[serde(default)]
    pub duplicate_webhooks: u32,
    /// Chance per mille that a webhook event is never sent.
    #[serde(default)]
    pub webhook_drop_rate_permille: u16,
    /// Each webhook event waits this long before its first delivery attempt.
    #[serde(default)]
    pub webhook_delay_ms: u64,
}

/// The faults plus when the current 429 burst ends.
#[derive(Debug, Default)]
pub struct FaultState {
    pub faults: Faults,
    rate_limited_until: Option<Instant>,
}

/// A partial update: only the fields given change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsUpdate {
    latency_ms: Option<u64>,
    error_rate_permille: Option<u16>,
    fail_next: Option<u32>,
    error_status: Option<u16>,
    rate_limit_secs: Option<u64>,
    drop_create_responses: Option<u32>,
    drop_webhooks: Option<u32>,
    duplicate_webhooks: Option<u32>,
    webhook_drop_rate_permille: Option<u16>,
    webhook_delay_ms: Option<u64>,
}

impl FaultState {
    pub fn apply(&mut self, u: FaultsUpdate) -> Result<(), ApiError> {
        if u.error_rate_permille.is_some_and(|r| r > 1000) {
            return Err(ApiError::invalid("error_rate_permille", "at most 1000"));
        }
        if u.webhook_drop_rate_permille.is_some_and(|r| r > 1000) {
            return Err(ApiError::invalid(
                "webhook_drop_rate_permille",
                "at most 1000",
            ));
        }
        if u.error_status.is_some_and(|s| !(500..=599).contains(&s)) {
            return Err(ApiError::invalid("error_status", "must be a 5xx status"));
        }
        if u.latency_ms.is_some_and(|l| l > 120_000) {
            return Err(ApiError::invalid("latency_ms", "at most 120000"));
        }
        let f = &mut self.faults;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = u.$field { f.$field = v; } )* };
        }
        set!(
            latency_ms,
            error_rate_permille,
            fail_next,
            drop_create_responses,
            drop_webhooks,
            duplicate_webhooks,
            webhook_drop_rate_permille,
            webhook_delay_ms
        );
        if u.error_status.is_some() {
            f.error_status = u.error_status;
        }
        if let Some(secs) = u.rate_limit_secs {
            f.rate_limit_secs = secs;
            self.rate_limited_until =
                (secs > 0).then(|| Instant::now() + Duration::from_secs(secs));
        }
        Ok(())
    }

    pub fn clear(&mut self) {
        *self = FaultState::default();
    }

    /// Whole seconds left in the 429 burst (at least 1), if one is on.
    fn rate_limit_left(&mut self) -> Option<u64> {
        let until = self.rate_limited_until?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.rate_limited_until = None;
            self.faults.rate_limit_secs = 0;
            return None;
        }
        Some(left.as_secs_f64().ceil().max(1.0) as u64)
    }

    fn take_failure(&mut self) -> Option<StatusCode> {
        let status = StatusCode::from_u16(self.faults.error_status.unwrap_or(503))
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        if self.faults.fail_next > 0 {
            self.faults.fail_next -= 1;
            return Some(status);
        }
        let rate = self.faults.error_rate_permille;
        (rate > 0 && rand::rng().random_range(0..1000) < rate).then_some(status)
    }

    pub fn take_drop_create_response(&mut self) -> bool {
        take_one(&mut self.faults.drop_create_responses)
    }

    pub fn take_webhook_duplicate(&mut self) -> bool {
        take_one(&mut self.faults.duplicate_webhooks)
    }

    /// Whether this webhook event is to be lost.
    pub fn take_webhook_drop(&mut self) -> bool {
        let rate = self.faults.webhook_drop_rate_permille;
        take_one(&mut self.faults.drop_webhooks)
            || (rate > 0 && rand::rng().random_range(0..1000) < rate)
    }
}

fn take_one(n: &mut u32) -> bool {
    if *n > 0 {
        *n -= 1;
        true
    } else {
        false
    }
}

/// Counters for `GET /sandbox/stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub webhooks_delivered: AtomicU64,
    pub webhook_attempts_failed: AtomicU64,
    pub webhooks_dropped: AtomicU64,
    pub webhooks_abandoned: AtomicU64,
    pub injected_errors: AtomicU64,
    pub injected_rate_limits: AtomicU64,
    pub dropped_responses: AtomicU64,
    tables: std::sync::Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    by_route: BTreeMap<String, u64>,
    by_status: BTreeMap<u16, u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub by_route: BTreeMap<String, u64>,
    pub by_status: BTreeMap<u16, u64>,
    pub payments: u64,
    pub webhooks_delivered: u64,
    pub webhook_attempts_failed: u64,
    pub webhooks_dropped: u64,
    pub webhooks_abandoned: u64,
    pub injected_errors: u64,
    pub injected_rate_limits: u64,
    pub dropped_responses: u64,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counted on arrival, so a request whose client gave up before the answer counts.
    fn arrived(&self, route: String) {
        Self::bump(&self.requests);
        *lock(&self.tables).by_route.entry(route).or_default() += 1;
    }

    fn answered(&self, status: StatusCode) {
        *lock(&self.tables)
            .by_status
            .entry(status.as_u16())
            .or_default() += 1;
    }

    pub fn snapshot(&self, payments: u64) -> StatsSnapshot {
        let t = lock(&self.tables);
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            by_route: t.by_route.clone(),
            by_status: t.by_status.clone(),
            payments,
            webhooks_delivered: get(&self.webhooks_delivered),
            webhook_attempts_failed: get(&self.webhook_attempts_failed),
            webhooks_dropped: get(&self.webhooks_dropped),
            webhooks_abandoned: get(&self.webhooks_abandoned),
            injected_errors: get(&self.injected_errors),
            injected_rate_limits: get(&self.injected_rate_limits),
            dropped_responses: get(&self.dropped_responses),
        }
    }
}

/// The middleware in front of every `/api` route.
pub async fn api_gate(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or("?", |m| m.as_str())
    );
    app.stats.arrived(route);
    let response = gate(&app, req, next).await;
    app.stats.answered(response.status());
    response
}

async fn gate(app: &AppState, req: Request, next: Next) -> Response {
    let latency = lock(&app.faults).faults.latency_ms;
    if latency > 0 {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(latency)) => {}
            _ = app.cancel.cancelled() => return ApiError::unavailable().into_response(),
        }
    }
    let verdict = {
        let mut f = lock(&app.faults);
        match f.rate_limit_left() {
            Some(secs) => Some(ApiError::rate_limited(secs)),
            None => f.take_failure().map(ApiError::injected),
        }
    };
    if let Some(err) = verdict {
        let counter = if err.status == StatusCode::TOO_MANY_REQUESTS {
            &app.stats.injected_rate_limits
        } else {
            &app.stats.injected_errors
        };
        Stats::bump(counter);
        return err.into_response();
    }
    if !authorized(req.headers(), app.secret_key.expose()) {
        return ApiError::unauthorized().into_response();
    }
    next.run(req).await
}

/// Basic (the key as user name, the password ignored) or Bearer, compared in constant time.
fn authorized(headers: &HeaderMap, key: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
    let presented = if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials.trim())
        else {
            return false;
        };
        let user_end = decoded
            .iter()
            .position(|b| *b == b':')
            .unwrap_or(decoded.len());
        decoded[..user_end].to_vec()
    } else if scheme.eq_ignore_ascii_case("bearer") {
        credentials.trim().as_bytes().to_vec()
    } else {
        return false;
    };
    !key.is_empty() && bool::from(presented.ct_eq(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn both_auth_schemes_are_accepted_and_nothing_else() {
        // base64("sk_test_1:") and base64("sk_test_1:anything")
        assert!(authorized(
            &with_auth("Basic c2tfdGVzdF8xOg=="),
            "sk_test_1"
        ));
        assert!(authorized(
            &with_auth("basic c2tfdGVzdF8xOmFueXRoaW5n"),
            "sk_test_1"
        ));
        assert!(authorized(&with_auth("Bearer sk_test_1"), "sk_test_1"));
        assert!(!authorized(&with_auth("Bearer sk_test_2"), "sk_test_1"));
        assert!(!authorized(&with_auth("Basic !!!"), "sk_test_1"));
        assert!(!authorized(&with_auth("sk_test_1"), "sk_test_1"));
        assert!(!authorized(&HeaderMap::new(), "sk_test_1"));
        assert!(!authorized(&with_auth("Bearer "), ""));
    }

    #[test]
    fn fault_updates_keep_what_they_do_not_name() {
        let mut s = FaultState::default();
        s.apply(serde_json::from_str(r#"{"latency_ms":5,"fail_next":2}"#).unwrap())
            .unwrap();
        s.apply(serde_json::from_str(r#"{"drop_webhooks":1}"#).unwrap())
            .unwrap();
        assert_eq!(s.faults.latency_ms, 5);
        assert_eq!(s.take_failure(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(s.take_failure(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(s.take_failure(), None);
        assert!(s.take_webhook_drop());
        assert!(!s.take_webhook_drop());
        assert!(s
            .apply(serde_json::from_str(r#"{"error_status":404}"#).unwrap())
            .is_err());
        assert!(serde_json::from_str::<FaultsUpdate>(r#"{"latncy_ms":5}"#).is_err());
    }

    #[test]
    fn a_rate_limit_burst_reports_whole_seconds_left() {
        let mut s = FaultState::default();
        s.apply(serde_json::from_str(r#"{"rate_limit_secs":3}"#).unwrap())
            .unwrap();
        assert_eq!(s.rate_limit_left(), Some(3));
        s.rate_limited_until = Some(Instant::now());
        assert_eq!(s.rate_limit_left(), None);
        assert_eq!(s.faults.rate_limit_secs, 0);
    }
}
