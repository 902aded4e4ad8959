//! The Crypto.com Pay client: create, retrieve, list, cancel, refund.
//!
//! Everything PayDesk learns from the payment service comes through here: the tracker's
//! first snapshot, the poller's fallback reads, the cashier's cancel and refund. Each call
//! is typed in and out ([`crate::payment`] shapes), bounded in time (connect and whole-
//! request timeouts), retried only when that is safe, and feeds the server's `Date` into
//! the [`ServerClock`] so the countdown runs on the server's time.
//!
//! Retry rules:
//! - Reads (retrieve, list) retry transient failures with full-jitter backoff and honour
//!   `Retry-After` (up to [`GatewayConfig::max_retry_after`]).
//! - Create is never blindly retried. Every create carries an `order_id` (a fresh uuid
//!   when the caller gave none); when the outcome is ambiguous (timeout, dropped
//!   connection, 5xx) the client looks the order up and returns the payment if it exists,
//!   and sends the create again only when it does not. A payment is never created twice.
//! - Cancel retries; a 409 after an ambiguous attempt is resolved by reading the payment.
//! - Refunds move money and cannot be looked up by a key of ours, so an ambiguous refund
//!   is returned as [`GatewayError::Unconfirmed`] instead of being sent again.
//! - Every call, retries and lookups included, ends within
//!   [`GatewayConfig::operation_deadline`]; a create or refund cut off while in doubt is
//!   [`GatewayError::Unconfirmed`]. The caller that wants to look an unconfirmed create up
//!   later sets (and journals) its own `order_id` and calls [`Gateway::find_by_order_id`].

mod error;
mod reader;
mod retry;
#[cfg(test)]
mod scripted_tests;

pub use error::GatewayError;
pub use retry::parse_retry_after;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn, Instrument};

use crate::backoff;
use crate::clock::{ClockSample, LocalClock, ServerClock};
use crate::payment::{
    ApiErrorBody, CreatePayment, CreateRefund, Payment, PaymentList, PaymentStatus, Refund,
};
use crate::secrets::Secret;

/// The live service's API root.
pub const DEFAULT_BASE_URL: &str = "https://pay.crypto.com/api";

/// Pages the order-id lookup reads before concluding an order does not exist (in case the
/// service ignores the `order_id` filter, which is unverified; newest payments come first).
const RECONCILE_MAX_PAGES: usize = 3;
const RECONCILE_PAGE_SIZE: u32 = 100;
/// Larger answers are refused: no payment object comes near this.
const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

/// How the secret key is presented. Both are used by Crypto.com's official plugins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    /// `Authorization: Basic base64("<secret key>:")`.
    #[default]
    Basic,
    /// `Authorization: Bearer <secret key>`.
    Bearer,
}

/// Where the API is and how patient to be with it.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// API root, e.g. `https://pay.crypto.com/api` or `http://127.0.0.1:PORT/api`.
    pub base_url: String,
    pub secret_key: Secret,
    pub auth: AuthScheme,
    pub connect_timeout: Duration,
    /// The whole request, from sending to the last byte of the answer.
    pub request_timeout: Duration,
    /// Attempts per call, the first one included (at least 1).
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The longest `Retry-After` the client waits out by itself; a longer one is handed to
    /// the caller as [`GatewayError::RateLimited`], so a till never hangs for minutes.
    pub max_retry_after: Duration,
    /// The most a whole call may take, retries and reconciling included: a customer is
    /// waiting. When it runs out mid-way through a create or refund that may have reached
    /// the service, the answer is [`GatewayError::Unconfirmed`], never a silent guess.
    pub operation_deadline: Duration,
    /// The till's own clock, against which the API's `Date` is measured (the one the
    /// tracker counts deadlines on; tests give a till a wrong one).
    pub local_clock: LocalClock,
}

impl GatewayConfig {
    /// Defaults sized for a till: a customer is waiting, so a few quick attempts beat a
    /// long hang, and a whole call with retries stays under about half a minute.
    pub fn new(base_url: impl Into<String>, secret_key: Secret) -> Self {
        GatewayConfig {
            base_url: base_url.into(),
            secret_key,
            auth: AuthScheme::Basic,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_attempts: 4,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
            operation_deadline: Duration::from_secs(30),
            local_clock: LocalClock::system(),
        }
    }
}

/// `GET /payments` filters. The real API's pagination is unverified; `limit` with
/// `starting_after=<id>` is what the client and the sandbox agree on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPayments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

/// The answer to a conditional read.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched {
    /// The payment, with its validator for the next read (None when the service sent none).
    Modified {
        payment: Payment,
        etag: Option<String>,
    },
    /// 304: the payment is as it was when the given ETag was issued.
    NotModified,
}

/// The client. Cheap to clone: clones share the connection pool and the server clock.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: reqwest::Url,
    /// Built once, marked sensitive so no header dump shows it.
    authorization: HeaderValue,
    config: GatewayConfig,
    clock: ServerClock,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("base_url", &self.inner.base.as_str())
            .field("auth", &self.inner.config.auth)
            .finish_non_exhaustive()
    }
}

/// A 2xx or 304 answer.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: bytes::Bytes,
}

/// What an order-id lookup after an ambiguous create found.
enum Reconciled {
    Found(Payment),
    Absent,
    Unknown(GatewayError),
}

impl Gateway {
    pub fn new(config: GatewayConfig, clock: ServerClock) -> Result<Gateway, GatewayError> {
        let base = parse_base_url(&config.base_url)?;
        let authorization = authorization_header(&config.secret_key, config.auth)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // A redirect would be a misconfigured base URL; following it could carry the
            // key to another host.
            .redirect(reqwest::redirect::Policy::none())
            // Below common server keep-alive limits, so a pooled connection is not reused
            // just as the far end closes it.
            .pool_idle_timeout(Duration::from_secs(20))
            .user_agent(concat!("paydesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Gateway {
            inner: Arc::new(Inner {
                http,
                base,
                authorization,
                config,
                clock,
            }),
        })
    }

    /// The server clock every response's `Date` is offered to.
    pub fn clock(&self) -> &ServerClock {
        &self.inner.clock
    }

    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// Creates a payment, exactly once. See the module doc for the reconcile rule.
    pub async fn create_payment(&self, req: &CreatePayment) -> Result<Payment, GatewayError> {
        let mut req = req.clone();
        let order_id = req
            .order_id
            .get_or_insert_with(|| format!("paydesk-{}", uuid::Uuid::new_v4()))
            .clone();
        let span = tracing::info_span!("create_payment", order_id = %order_id);
        // Whether a create may be in the service's hands with its outcome unknown.
        let in_doubt = AtomicBool::new(false);
        let work = async {
            let body = encode(&req)?;
            let max = self.inner.config.max_attempts.max(1);
            let mut attempt = 1;
            loop {
                in_doubt.store(true, Ordering::Relaxed);
                let result = self
                    .send(Method::POST, &["payments"], &[], Some(body.clone()), None)
                    .await
                    .and_then(|r| decode::<Payment>(&r.body));
                let err = match result {
                    Ok(p) => {
                        info!(payment_id = %p.id, attempt, "payment created");
                        return Ok(p);
                    }
                    Err(e) => e,
                };
                if err.is_ambiguous() {
                    warn!(error = %err, attempt, "create outcome unknown; looking the order up");
                    match self.reconcile_create(&order_id, &err).await {
                        Reconciled::Found(p) => {
                            info!(payment_id = %p.id, "the lost create had gone through");
                            return Ok(p);
                        }
                        Reconciled::Absent => {
                            in_doubt.store(false, Ordering::Relaxed);
                            debug!("the order does not exist; safe to resend");
                        }
                        Reconciled::Unknown(lookup) => {
                            return Err(GatewayError::Unconfirmed {
                                operation: "payment",
                                reference: order_id.clone(),
                                last: Box::new(lookup),
                            })
                        }
                    }
                } else if !err.is_transient() {
                    return Err(err);
                } else {
                    // Refused before any work (429, no connection): nothing is in doubt.
                    in_doubt.store(false, Ordering::Relaxed);
                }
                if attempt >= max {
                    return Err(err);
                }
                let Some(wait) = self.wait_before_retry(attempt, &err) else {
                    return Err(err);
                };
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        };
        self.within_deadline(work, "payment", &order_id, &in_doubt)
            .instrument(span)
            .await
    }

    /// Reads a payment, retrying transient failures.
    pub async fn retrieve_payment(&self, id: &str) -> Result<Payment, GatewayError> {
        let span = tracing::debug_span!("retrieve_payment", payment_id = %id);
        let work = self.with_retries(|| async {
            let reply = self
                .send(Method::GET, &["payments", id], &[], None, None)
                .await?;
            decode::<Payment>(&reply.body)
        });
        self.read_within_deadline(work).instrument(span).await
    }

    /// One conditional read, no retry: the poller schedules its own attempts. Pass the
    /// ETag of the last answer to get [`Fetched::NotModified`] when nothing changed.
    pub async fn retrieve_payment_once(
        &self,
        id: &str,
        etag: Option<&str>,
    ) -> Result<Fetched, GatewayError> {
        let reply = self
            .send(Method::GET, &["payments", id], &[], None, etag)
            .instrument(tracing::debug_span!("retrieve_payment_once", payment_id = %id))
            .await?;
        if reply.status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        let payment = decode::<Payment>(&reply.body)?;
        let etag = reply
            .headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Fetched::Modified { payment, etag })
    }

    /// Lists payments, newest first, retrying transient failures.
    pub async fn list_payments(&self, q: &ListPayments) -> Result<PaymentList, GatewayError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(o) = &q.order_id {
            query.push(("order_id", o.clone()));
        }
        if let Some(l) = q.limit {
            query.push(("limit", l.to_string()));
        }
        if let Some(s) = &q.starting_after {
            query.push(("starting_after", s.clone()));
        }
        let work = self.with_retries(|| async {
            let reply = self
                .send(Method::GET, &["payments"], &query, None, None)
                .await?;
            decode::<PaymentList>(&reply.body)
        });
        self.read_within_deadline(work)
            .instrument(tracing::debug_span!("list_payments"))
            .await
    }

    /// Cancels a pending payment. Retries transient failures; when an earlier attempt may
    /// have cancelled it already, the service's 409 is checked against the payment itself.
    pub async fn cancel_payment(&self, id: &str) -> Result<Payment, GatewayError> {
        let span = tracing::info_span!("cancel_payment", payment_id = %id);
        let work = async {
            let max = self.inner.config.max_attempts.max(1);
            let mut maybe_done = false;
            let mut attempt = 1;
            loop {
                let err = match self.cancel_once(id).await {
                    Ok(p) => return Ok(p),
                    Err(e) => e,
                };
                if maybe_done && matches!(err, GatewayError::Api { status: 409, .. }) {
                    let p = self.retrieve_payment(id).await?;
                    if p.status == PaymentStatus::Cancelled {
                        info!("an earlier attempt had cancelled it");
                        return Ok(p);
                    }
                    return Err(err);
                }
                if !err.is_transient() || attempt >= max {
                    return Err(err);
                }
                maybe_done |= err.is_ambiguous();
                let Some(wait) = self.wait_before_retry(attempt, &err) else {
                    return Err(err);
                };
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        };
        // A cut-off cancel is harmless to repeat: the cashier may simply try again.
        self.read_within_deadline(work).instrument(span).await
    }

    /// Refunds (part of) a captured payment. Never sent twice: an ambiguous failure comes
    /// back as [`GatewayError::Unconfirmed`] naming the payment to check.
    pub async fn create_refund(&self, req: &CreateRefund) -> Result<Refund, GatewayError> {
        let span = tracing::info_span!("create_refund", payment_id = %req.payment_id);
        let in_doubt = AtomicBool::new(false);
        let work = async {
            let body = encode(req)?;
            let max = self.inner.config.max_attempts.max(1);
            let mut attempt = 1;
            loop {
                in_doubt.store(true, Ordering::Relaxed);
                let err = match self
                    .send(Method::POST, &["refunds"], &[], Some(body.clone()), None)
                    .await
                {
                    Ok(reply) => {
                        return decode::<Refund>(&reply.body).map_err(|e| {
                            GatewayError::Unconfirmed {
                                operation: "refund",
                                reference: req.payment_id.clone(),
                                last: Box::new(e),
                            }
                        })
                    }
                    Err(e) => e,
                };
                if err.is_ambiguous() {
                    warn!(error = %err, "refund outcome unknown; not resending");
                    return Err(GatewayError::Unconfirmed {
                        operation: "refund",
                        reference: req.payment_id.clone(),
                        last: Box::new(err),
                    });
                }
                in_doubt.store(false, Ordering::Relaxed);
                if !err.is_transient() || attempt >= max {
                    return Err(err);
                }
                let Some(wait) = self.wait_before_retry(attempt, &err) else {
                    return Err(err);
                };
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        };
        self.within_deadline(work, "refund", &req.payment_id, &in_doubt)
            .instrument(span)
            .await
    }

    /// Cancel's method is unverified: POST first, GET when the service says 405.
    async fn cancel_once(&self, id: &str) -> Result<Payment, GatewayError> {
        let path = ["payments", id, "cancel"];
        let reply = match self.send(Method::POST, &path, &[], None, None).await {
            Err(GatewayError::Api { status: 405, .. }) => {
                self.send(Method::GET, &path, &[], None, None).await?
            }
            other => other?,
        };
        decode::<Payment>(&reply.body)
    }

    /// After an ambiguous create: does a payment with this order id exist? A timeout may
    /// mean the service is still working on the request, so an absent order is looked up
    /// once more after a pause before it is declared absent.
    async fn reconcile_create(&self, order_id: &str, cause: &GatewayError) -> Reconciled {
        let lookups = if matches!(cause, GatewayError::Timeout) {
            2
        } else {
            1
        };
        for lookup in 1..=lookups {
            match self.find_by_order_id(order_id).await {
                Ok(Some(p)) => return Reconciled::Found(p),
                Ok(None) if lookup < lookups => {
                    let pause = backoff::exp_ceiling(
                        self.inner.config.backoff_base,
                        self.inner.config.backoff_cap,
                        1,
                    );
                    tokio::time::sleep(pause).await;
                }
                Ok(None) => return Reconciled::Absent,
                Err(e) => return Reconciled::Unknown(e),
            }
        }
        Reconciled::Absent
    }

    /// The payment created for `order_id`, if any. Filters on our side too, in case the
    /// service ignores the `order_id` query parameter.
    pub async fn find_by_order_id(&self, order_id: &str) -> Result<Option<Payment>, GatewayError> {
        let mut q = ListPayments {
            order_id: Some(order_id.to_owned()),
            limit: Some(RECONCILE_PAGE_SIZE),
            starting_after: None,
        };
        for _ in 0..RECONCILE_MAX_PAGES {
            let page = self.list_payments(&q).await?;
            let last_id = page.data.last().map(|p| p.id.clone());
            if let Some(p) = page
                .data
                .into_iter()
                .find(|p| p.order_id.as_deref() == Some(order_id))
            {
                return Ok(Some(p));
            }
            match last_id {
                Some(id) if page.has_more => q.starting_after = Some(id),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// A money-moving call within the operation deadline: cut off while a request is in
    /// doubt, it is [`GatewayError::Unconfirmed`]; otherwise a plain timeout.
    async fn within_deadline<T>(
        &self,
        work: impl Future<Output = Result<T, GatewayError>>,
        operation: &'static str,
        reference: &str,
        in_doubt: &AtomicBool,
    ) -> Result<T, GatewayError> {
        match tokio::time::timeout(self.inner.config.operation_deadline, work).await {
            Ok(result) => result,
            Err(_) if in_doubt.load(Ordering::Relaxed) => {
                warn!("deadline reached with the outcome unknown");
                Err(GatewayError::Unconfirmed {
                    operation,
                    reference: reference.to_owned(),
                    last: Box::new(GatewayError::Timeout),
                })
            }
            Err(_) => Err(GatewayError::Timeout),
        }
    }

    async fn read_within_deadline<T>(
        &self,
        work: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        tokio::time::timeout(self.inner.config.operation_deadline, work)
            .await
            .unwrap_or(Err(GatewayError::Timeout))
    }

    async fn with_retries<T, F, Fut>(&self, mut op: F) -> Result<T, GatewayError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GatewayError>>,
    {
        let max = self.inner.config.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let err = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !err.is_transient() || attempt >= max {
                return Err(err);
            }
            let Some(wait) = self.wait_before_retry(attempt, &err) else {
                return Err(err);
            };
            debug!(error = %err, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The pause before retry number `retry`: the service's `Retry-After` when it gave one
    /// (None when that is longer than we are willing to wait), else full-jitter backoff.
    fn wait_before_retry(&self, retry: u32, err: &GatewayError) -> Option<Duration> {
        let c = &self.inner.config;
        match err.retry_after() {
            Some(asked) if asked > c.max_retry_after => None,
            // A little jitter on top so tills told the same second do not return together.
            Some(asked) => Some(asked + backoff::full_jitter(c.backoff_base, c.backoff_base, 0)),
            // Retries count from 1; attempts from 0.
            None => Some(backoff::full_jitter(
                c.backoff_base,
                c.backoff_cap,
                retry.saturating_sub(1),
            )),
        }
    }

    /// One HTTP exchange. 2xx and 304 are a [`Reply`]; everything else a typed error.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        json_body: Option<Vec<u8>>,
        if_none_match: Option<&str>,
    ) -> Result<Reply, GatewayError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| GatewayError::Config("the base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        let mut rb = self
            .inner
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, self.inner.authorization.clone())
            .header(ACCEPT, "application/json");
        if !query.is_empty() {
            rb = rb.query(query);
        }
        if let Some(body) = json_body {
            rb = rb.header(CONTENT_TYPE, "application/json").body(body);
        }
        if let Some(tag) = if_none_match {
            rb = rb.header(IF_NONE_MATCH, tag);
        }
        let started = Instant::now();
        let local = self.inner.config.local_clock;
        let sent_ms = local.now_ms();
        let response = rb.send().await.map_err(transport_error)?;
        let received_ms = local.now_ms();
        self.observe_date(response.headers(), sent_ms, received_ms);
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response).await?;
        debug!(
            %method,
            path = segments.first().copied().unwrap_or(""),
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "payment API answered"
        );
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            Ok(Reply {
                status,
                headers,
                body,
            })
        } else {
            Err(self.status_error(status, &headers, &body))
        }
    }

    fn observe_date(&self, headers: &HeaderMap, sent_ms: i64, received_ms: i64) {
        if let Some(sample) = headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|d| ClockSample::from_http_date(d, sent_ms, received_ms))
        {
            self.inner.clock.observe(sample);
        }
    }

    fn status_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> GatewayError {
        match status.as_u16() {
            401 => GatewayError::Unauthorized,
            404 => GatewayError::NotFound,
            429 => GatewayError::RateLimited {
                retry_after: headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, self.inner.clock.server_now_ms())),
            },
            s if s >= 500 => GatewayError::Server { status: s },
            s => api_error(s, body),
        }
    }
}

/// A refusal's error body, or what we can say without one.
fn api_error(status: u16, body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(b) => GatewayError::Api {
            status,
            kind: b.error.kind,
            code: b.error.code,
            param: b.error.param,
            message: b.error.error_message,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            GatewayError::Api {
                status,
                kind: "unknown".into(),
                code: format!("http_{status}"),
                param: None,
                message: (!text.is_empty()).then_some(text),
            }
        }
    }
}

/// The whole body, refusing one larger than [`MAX_RESPONSE_BYTES`].
async fn read_body(mut response: reqwest::Response) -> Result<bytes::Bytes, GatewayError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(GatewayError::Decode("the answer is too large".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(GatewayError::Decode("the answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

fn transport_error(e: reqwest::Error) -> GatewayError {
    // A connect failure (even a connect timeout) means nothing was sent.
    if e.is_connect() {
        GatewayError::Connect(error_chain(&e))
    } else if e.is_timeout() {
        GatewayError::Timeout
    } else {
        GatewayError::Network(error_chain(&e))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value)
        .map_err(|e| GatewayError::Config(format!("cannot encode the request: {e}")))
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(body).map_err(|e| GatewayError::Decode(e.to_string()))
}

fn parse_base_url(raw: &str) -> Result<reqwest::Url, GatewayError> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| GatewayError::Config(format!("base URL is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(GatewayError::Config(format!(
            "base URL must be http or https, not {}",
            url.scheme()
        )));
    }
    // Credentials in a URL end up in logs; the key goes in a header only.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(GatewayError::Config(
            "base URL must not contain credentials".into(),
        ));
    }
    if url.cannot_be_a_base() || url.query().is_some() {
        return Err(GatewayError::Config(
            "base URL must be a plain http(s) URL without a query".into(),
        ));
    }
    Ok(url)
}

fn authorization_header(key: &Secret, scheme: AuthScheme) -> Result<HeaderValue, GatewayError> {
    if key.expose().trim().is_empty() {
        return Err(GatewayError::Config("no secret key configured".into()));
    }
    let value = match scheme {
        AuthScheme::Basic => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:", key.expose()))
        ),
        AuthScheme::Bearer => format!("Bearer {}", key.expose()),
    };
    let mut header = HeaderValue::from_str(&value).map_err(|_| {
        GatewayError::Config(
            "the secret key contains characters that cannot be sent in an HTTP header".into(),
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_dont_print_me";

    #[test]
    fn basic_auth_is_the_key_with_an_empty_password() {
        let h = authorization_header(&Secret::new("sk_test_1"), AuthScheme::Basic).unwrap();
        // base64("sk_test_1:")
        assert_eq!(h.to_str().unwrap(), "Basic c2tfdGVzdF8xOg==");
        assert!(h.is_sensitive());
        let h = authorization_header(&Secret::new("sk_test_1"), AuthScheme::Bearer).unwrap();
        assert_eq!(h.to_str().unwrap(), "Bearer sk_test_1");
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let err = authorization_header(&Secret::new("sk_test\nx"), AuthScheme::Bearer).unwrap_err();
        assert!(!err.to_string().contains("sk_test"));
        assert!(matches!(
            authorization_header(&Secret::new("  "), AuthScheme::Basic),
            Err(GatewayError::Config(_))
        ));
    }

    #[test]
    fn the_secret_never_appears_in_debug_output() {
        let config = GatewayConfig::new("http://127.0.0.1:9/api", Secret::new(KEY));
        let gw = Gateway::new(config.clone(), ServerClock::new()).unwrap();
        for text in [format!("{config:?}"), format!("{gw:?}")] {
            assert!(!text.contains(KEY), "{text}");
        }
        // base64 of the key would leak it just as well.
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
        assert!(!format!("{gw:?}").contains(&encoded));
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("https://pay.crypto.com/api").is_ok());
        assert!(parse_base_url("http://127.0.0.1:8080/api/").is_ok());
        for bad in [
            "pay.crypto.com",
            "ftp://x/api",
            "https://sk_live:x@pay.crypto.com/api",
            "https://x/api?key=1",
        ] {
            assert!(
                matches!(parse_base_url(bad), Err(GatewayError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_bodies_map_to_typed_errors() {
        let body = br#"{"error":{"type":"invalid_request_error","code":"parameter_invalid","error_message":"amount must be positive","param":"amount"}}"#;
        assert_eq!(
            api_error(400, body),
            GatewayError::Api {
                status: 400,
                kind: "invalid_request_error".into(),
                code: "parameter_invalid".into(),
                param: Some("amount".into()),
                message: Some("amount must be positive".into()),
            }
        );
        let GatewayError::Api { code, message, .. } = api_error(418, b"<html>teapot</html>") else {
            panic!("expected Api");
        };
        assert_eq!(code, "http_418");
        assert_eq!(message.as_deref(), Some("<html>teapot</html>"));
    }

    #[test]
    fn statuses_map_to_variants_and_retry_after_is_read() {
        let gw = Gateway::new(
            GatewayConfig::new("http://127.0.0.1:9/api", Secret::new(KEY)),
            ServerClock::new(),
        )
        .unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(
            gw.status_error(StatusCode::UNAUTHORIZED, &h, b""),
            GatewayError::Unauthorized
        );
        assert_eq!(
            gw.status_error(StatusCode::NOT_FOUND, &h, b"{}"),
            GatewayError::NotFound
        );
        assert_eq!(
            gw.status_error(StatusCode::BAD_GATEWAY, &h, b""),
            GatewayError::Server { status: 502 }
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(
            gw.status_error(StatusCode::TOO_MANY_REQUESTS, &h, b""),
            GatewayError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn a_retry_after_longer_than_we_wait_is_handed_to_the_caller() {
        let mut config = GatewayConfig::new("http://127.0.0.1:9/api", Secret::new(KEY));
        config.max_retry_after = Duration::from_secs(5);
        let gw = Gateway::new(config, ServerClock::new()).unwrap();
        let long = GatewayError::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(gw.wait_before_retry(1, &long), None);
        let short = GatewayError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        let wait = gw.wait_before_retry(1, &short).unwrap();
        assert!(wait >= Duration::from_secs(2));
        let plain = gw.wait_before_retry(3, &GatewayError::Timeout).unwrap();
        assert!(plain <= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error_and_never_ambiguous() {
        // Bind then drop: the port is closed, so the connect is refused.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut config =
            GatewayConfig::new(format!("http://127.0.0.1:{port}/api"), Secret::new(KEY));
        config.max_attempts = 1;
        let gw = Gateway::new(config, ServerClock::new()).unwrap();
        let err = gw.retrieve_payment("p1").await.unwrap_err();
        assert!(matches!(err, GatewayError::Connect(_)), "{err:?}");
        assert!(!err.is_ambiguous());
        assert!(!err.to_string().contains(KEY));
    }
}
