//! How a payment is read from the API: one attempt, with an ETag. A leaf: the gateway
//! implements [`PaymentReader`], the realtime session uses it, neither knows the other.
//!
//! The session's polling, resyncs and expiry checks all go through it, so the policy
//! (deadlines, 429 and `Retry-After`, jitter, ETags) lives in the session and the
//! transport in the API client. Tests can read from anything that speaks the same shape.

use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::payment::Payment;

/// The answer to one read.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadOutcome {
    /// The payment, and the ETag to send next time.
    Modified {
        payment: Payment,
        etag: Option<String>,
    },
    /// `304 Not Modified`: the payment is as we last read it.
    NotModified,
}

/// Why a read gave no payment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// `429`: wait at least `retry_after` (when the service said) before any read.
    #[error("rate limited by the payment API")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the payment API does not know this payment")]
    NotFound,
    /// Worth retrying: a 5xx, a timeout, a reset connection.
    #[error("payment API unavailable: {0}")]
    Transient(String),
    /// Not worth retrying soon: refused credentials, a malformed answer.
    #[error("payment API error: {0}")]
    Fatal(String),
}

/// One read of one payment. Implementations make exactly one attempt; the session
/// decides about retries.
pub trait PaymentReader: Clone + Send + Sync + 'static {
    fn read_payment(
        &self,
        id: &str,
        etag: Option<&str>,
    ) -> impl Future<Output = Result<ReadOutcome, ReadError>> + Send;
}

/// The object-safe form the session keeps, so `Session` itself is not generic.
pub(crate) trait DynReader: Send + Sync + 'static {
    fn read<'a>(
        &'a self,
        id: &'a str,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ReadOutcome, ReadError>>;
}

impl<R: PaymentReader> DynReader for R {
    fn read<'a>(
        &'a self,
        id: &'a str,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ReadOutcome, ReadError>> {
        Box::pin(self.read_payment(id, etag))
    }
}
