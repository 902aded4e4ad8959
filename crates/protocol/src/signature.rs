//! `Pay-Signature` — how Crypto.com Pay signs webhooks, and how we check them.
//!
//! `Pay-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` where
//! `v1 = hex(HMAC-SHA256(webhook_secret, "{t}.{raw_body}"))`. The sandbox signs with this
//! module and the relay verifies with it, so both sides cannot drift apart.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header name, as Crypto.com Pay sends it.
pub const HEADER: &str = "Pay-Signature";

/// How far `t` may lie from our clock by default (the relay's replay window).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Pay-Signature header")]
    Missing,
    #[error("Pay-Signature header is malformed")]
    Malformed,
    #[error("Pay-Signature has no v1 signature")]
    NoSignature,
    #[error("Pay-Signature timestamp is {age}s away from now (tolerance {tolerance}s)")]
    Stale { age: i64, tolerance: i64 },
    #[error("Pay-Signature does not match the body")]
    Mismatch,
}

impl SignatureError {
    /// A short, stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            SignatureError::Missing => "signature_missing",
            SignatureError::Malformed => "signature_malformed",
            SignatureError::NoSignature => "signature_missing",
            SignatureError::Stale { .. } => "signature_stale",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The hex `v1` signature of `body` at time `t`.
pub fn compute_v1(secret: &[u8], t: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, t, body).finalize().into_bytes())
}

/// The full header value the service would send for `body` at time `t`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", compute_v1(secret, t, body))
}

/// A parsed header: the timestamp and every `v1` signature (secret rotation sends several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSignature {
    pub t: i64,
    pub v1: Vec<Vec<u8>>,
}

pub fn parse(header: &str) -> Result<ParsedSignature, SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k.trim() {
            "t" => {
                t = Some(
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            // Unparseable v1 entries are skipped, not fatal: another may match.
            "v1" => {
                if let Ok(bytes) = hex::decode(v.trim()) {
                    v1.push(bytes);
                }
            }
            _ => {} // other schemes (v0, future ones) are ignored
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    Ok(ParsedSignature { t, v1 })
}

/// Verifies a header against the raw body: the timestamp within `tolerance_secs` of
/// `now_unix`, and any `v1` equal to ours, compared in constant time. Returns `t`.
pub fn verify(
    secrets: &[&[u8]],
    header: Option<&str>,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let parsed = parse(header.ok_or(SignatureError::Missing)?)?;
    let age = now_unix.saturating_sub(parsed.t);
    if age.abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            age,
            tolerance: tolerance_secs,
        });
    }
    for secret in secrets {
        let expected = mac(secret, parsed.t, body);
        for candidate in &parsed.v1 {
            // `verify_slice` compares in constant time.
            if expected.clone().verify_slice(candidate).is_ok() {
                return Ok(parsed.t);
            }
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_vector_computed_by_hand() {
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign(b"whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn accepts_any_of_several_v1_and_rejects_tampering() {
        let body = br#"{"id":"evt_1"}"#;
        let good = compute_v1(b"s", 100, body);
        let header = format!("t=100,v1={},v1={good}", "00".repeat(32));
        assert_eq!(verify(&[b"s"], Some(&header), body, 100, 300), Ok(100));
        assert_eq!(
            verify(&[b"s"], Some(&header), b"{}", 100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&[b"other"], Some(&header), body, 100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&[b"old", b"s"], Some(&header), body, 100, 300),
            Ok(100)
        );
    }

    #[test]
    fn rejects_stale_missing_and_malformed_headers() {
        let body = b"{}";
        let h = sign(b"s", 100, body);
        assert!(matches!(
            verify(&[b"s"], Some(&h), body, 100 + 301, 300),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify(&[b"s"], None, body, 100, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(&[b"s"], Some("garbage"), body, 100, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(&[b"s"], Some("t=100"), body, 100, 300),
            Err(SignatureError::NoSignature)
        );
    }
}
