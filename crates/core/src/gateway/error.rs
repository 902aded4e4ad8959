//! What can go wrong talking to Crypto.com Pay, as types the rest of PayDesk can act on.
//!
//! The gateway maps every HTTP status, transport failure and error body to one
//! [`GatewayError`]. Callers decide on three questions: may I retry
//! ([`GatewayError::is_transient`]), when ([`GatewayError::retry_after`]), and what do I tell
//! the cashier ([`GatewayError::cashier_message`]). No variant ever carries the secret key:
//! the key travels only in a header marked sensitive, and errors are built from status
//! codes, the service's own error body and transport messages.

use std::time::Duration;

/// A failed call to the payment API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The service refused the request and said why (a 4xx other than 401/404/429).
    #[error(
        "payment API refused the request ({status} {code}{}){}",
        param_suffix(param),
        message_suffix(message)
    )]
    Api {
        status: u16,
        /// The error body's `type`.
        kind: String,
        code: String,
        param: Option<String>,
        message: Option<String>,
    },
    /// 401: the secret key is wrong, revoked or missing.
    #[error("payment API refused the secret key (401)")]
    Unauthorized,
    /// 404: no such payment (or a wrong base URL).
    #[error("payment API has no such object (404)")]
    NotFound,
    /// 429: too many requests.
    #[error(
        "payment API is rate limiting this terminal (429){}",
        retry_suffix(retry_after)
    )]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx.
    #[error("payment API failed with {status}")]
    Server { status: u16 },
    /// No answer within the request timeout (or the connect timeout).
    #[error("payment API did not answer in time")]
    Timeout,
    /// The connection could not be made: the request never left, so it had no effect.
    #[error("cannot connect to the payment API: {0}")]
    Connect(String),
    /// The connection failed after the request may have been sent.
    #[error("network error talking to the payment API: {0}")]
    Network(String),
    /// A 2xx answer that is not the object we asked for.
    #[error("unexpected answer from the payment API: {0}")]
    Decode(String),
    /// The client is configured wrongly (base URL, key with characters a header cannot hold).
    #[error("payment gateway misconfigured: {0}")]
    Config(String),
    /// A money-moving call failed in a way that leaves its outcome unknown, and a lookup
    /// could not settle it. `reference` names what to look up (an order id, a payment id).
    #[error(
        "could not confirm whether the {operation} went through (look up {reference}): {last}"
    )]
    Unconfirmed {
        operation: &'static str,
        reference: String,
        last: Box<GatewayError>,
    },
}

fn param_suffix(param: &Option<String>) -> String {
    param
        .as_deref()
        .map(|p| format!(", param {p}"))
        .unwrap_or_default()
}

fn message_suffix(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn retry_suffix(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|d| format!(", retry after {}s", d.as_secs_f64().ceil()))
        .unwrap_or_default()
}

impl GatewayError {
    /// Whether the same request may succeed if sent again later. For reads this is the
    /// retry rule; for creates see [`GatewayError::is_ambiguous`] first.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GatewayError::RateLimited { .. }
                | GatewayError::Server { .. }
                | GatewayError::Timeout
                | GatewayError::Connect(_)
                | GatewayError::Network(_)
        )
    }

    /// Whether the request may have taken effect although we got no usable answer: the
    /// service may have committed it before the timeout, the dropped connection or the
    /// 5xx (a proxy in front of the service answers 502/504 after the backend committed).
    /// A refused connection and a 429 are not ambiguous: nothing reached the service
    /// (429 is answered before any work is done).
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            GatewayError::Server { .. }
                | GatewayError::Timeout
                | GatewayError::Network(_)
                | GatewayError::Decode(_)
        )
    }

    /// The wait the service asked for (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GatewayError::RateLimited { retry_after } => *retry_after,
            GatewayError::Unconfirmed { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    /// The service's error `code`, for an API refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            GatewayError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Words for the person at the till: what happened and what to do.
    pub fn cashier_message(&self) -> String {
        match self {
            GatewayError::Api {
                message, param, ..
            } => {
                let why = message
                    .clone()
                    .or_else(|| param.as_ref().map(|p| format!("check the {p}")))
                    .unwrap_or_else(|| "the request was not accepted".to_owned());
                format!("Crypto.com Pay refused this: {why}.")
            }
            GatewayError::Unauthorized => {
                "Crypto.com Pay does not accept this till's API key. Ask a manager to check the secret key in Settings.".to_owned()
            }
            GatewayError::NotFound => {
                "Crypto.com Pay does not know this payment. Check the payment ID.".to_owned()
            }
            GatewayError::RateLimited { retry_after } => match retry_after {
                Some(d) => format!(
                    "Crypto.com Pay is busy. Try again in {} seconds.",
                    d.as_secs_f64().ceil().max(1.0)
                ),
                None => "Crypto.com Pay is busy. Try again in a moment.".to_owned(),
            },
            GatewayError::Server { .. } => {
                "Crypto.com Pay is having a problem right now. Try again in a moment.".to_owned()
            }
            GatewayError::Timeout => {
                "Crypto.com Pay did not answer in time. Check the internet connection and try again.".to_owned()
            }
            GatewayError::Connect(_) => {
                "Cannot reach Crypto.com Pay. Check the internet connection.".to_owned()
            }
            GatewayError::Network(_) => {
                "The connection to Crypto.com Pay broke. Check the internet connection and try again.".to_owned()
            }
            GatewayError::Decode(_) => {
                "Crypto.com Pay sent an answer this till cannot read. Try again; if it keeps happening, call support.".to_owned()
            }
            GatewayError::Config(_) => {
                "The till's payment settings are wrong. Ask a manager to check Settings.".to_owned()
            }
            GatewayError::Unconfirmed {
                operation,
                reference,
                ..
            } => format!(
                "The connection broke while sending the {operation}, and it is not yet known whether it went through. Do not repeat it: look up {reference} first."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_that_may_have_committed_are_ambiguous() {
        assert!(GatewayError::Timeout.is_ambiguous());
        assert!(GatewayError::Network("reset".into()).is_ambiguous());
        assert!(GatewayError::Server { status: 502 }.is_ambiguous());
        assert!(!GatewayError::Connect("refused".into()).is_ambiguous());
        assert!(!GatewayError::RateLimited { retry_after: None }.is_ambiguous());
        assert!(!GatewayError::Unauthorized.is_ambiguous());
    }

    #[test]
    fn client_errors_are_not_transient() {
        assert!(!GatewayError::Unauthorized.is_transient());
        assert!(!GatewayError::NotFound.is_transient());
        assert!(!GatewayError::Decode("x".into()).is_transient());
        let api = GatewayError::Api {
            status: 400,
            kind: "invalid_request_error".into(),
            code: "parameter_invalid".into(),
            param: Some("amount".into()),
            message: None,
        };
        assert!(!api.is_transient());
        assert_eq!(api.code(), Some("parameter_invalid"));
        assert_eq!(
            api.to_string(),
            "payment API refused the request (400 parameter_invalid, param amount)"
        );
        assert_eq!(
            api.cashier_message(),
            "Crypto.com Pay refused this: check the amount."
        );
    }

    #[test]
    fn rate_limit_tells_the_cashier_how_long_to_wait() {
        let e = GatewayError::RateLimited {
            retry_after: Some(Duration::from_millis(2500)),
        };
        assert_eq!(e.retry_after(), Some(Duration::from_millis(2500)));
        assert!(e.cashier_message().contains("3 seconds"));
        assert!(e.to_string().contains("retry after 3s"));
    }
}
