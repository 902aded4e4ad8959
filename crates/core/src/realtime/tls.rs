//! Whom a till trusts when it talks to the relay, and how it gets there.
//!
//! Shops run the relay behind their own TLS: a public certificate, a corporate CA pushed
//! into the operating system's store, or a private CA handed to the till as a file. So the
//! till trusts the operating system's certificate store (rustls-native-certs; the bundled
//! Mozilla roots only when the system store is empty or unreadable) plus an optional extra
//! CA file (`RelayEndpoint::ca_file`). One rustls configuration serves both the ticket
//! request (reqwest) and the WebSocket handshake (`super::handshake`), so the two can
//! never disagree about a certificate. A shop's HTTP proxy is honoured the same way for
//! both: reqwest reads `HTTPS_PROXY`/`NO_PROXY` itself, and the handshake tunnels through
//! the same proxy with CONNECT (`super::handshake::Proxy`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

use super::config::RelayEndpoint;
use super::handshake::Proxies;

/// Why the relay's trust could not be set up. Safe to show.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("relay CA file {path}: {message}")]
    CaFile { path: PathBuf, message: String },
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// The system store, read once per process (it is the same for every session).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "part of the system certificate store is unreadable");
        }
        tracing::debug!(certificates = found.certs.len(), "system certificate store");
        found.certs
    })
}

/// Every certificate in a PEM file (a CA bundle may hold several).
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::CaFile {
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in it".into()));
    }
    Ok(certs)
}

/// The roots a till trusts for its relay: the system store (or the bundled roots when
/// that is empty) and the extra CA file.
pub(crate) fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
    if added == 0 {
        tracing::info!("no usable system certificate store; using the bundled roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = ca_file {
        for cert in read_ca_file(path)? {
            roots.add(cert).map_err(|e| TlsError::CaFile {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        }
    }
    Ok(roots)
}

/// How this till reaches its relay: one TLS configuration and the proxy settings of the
/// environment, built once per session and used for every reconnect.
#[derive(Clone)]
pub(crate) struct RelayTransport {
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) proxies: Proxies,
}

impl RelayTransport {
    pub(crate) fn new(endpoint: &RelayEndpoint) -> Result<RelayTransport, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_root_certificates(roots(endpoint.ca_file.as_deref())?)
            .with_no_client_auth();
        Ok(RelayTransport {
            tls: Arc::new(tls),
            proxies: Proxies::from_env(),
        })
    }

    /// The HTTP client for ticket requests: the same roots; proxies from the environment
    /// (reqwest's own reading of `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
    pub(crate) fn http_client(&self, timeout: Duration) -> Result<reqwest::Client, TlsError> {
        reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls).clone())
            .timeout(timeout)
            .build()
            .map_err(|e| TlsError::Setup(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_store_is_trusted_and_an_extra_ca_file_adds_to_it() {
        let system = roots(None).unwrap();
        assert!(!system.is_empty(), "system store or bundled roots");
        let dir = tempfile::tempdir().unwrap();
        // Any certificate will do as a CA here: one from the system store, re-encoded.
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64_lines(system_roots().first().map_or(&[][..], |c| c.as_ref()))
        );
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, pem).unwrap();
        if !system_roots().is_empty() {
            let with_file = roots(Some(&file)).unwrap();
            assert_eq!(with_file.len(), system.len() + 1);
        }
        std::fs::write(&file, "no certificate here").unwrap();
        let err = roots(Some(&file)).unwrap_err().to_string();
        assert!(
            err.contains("ca.pem") && err.contains("no certificate"),
            "{err}"
        );
        let missing = roots(Some(&dir.path().join("nope.pem"))).unwrap_err();
        assert!(missing.to_string().contains("nope.pem"));
    }

    fn base64_lines(der: &[u8]) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        b64.as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
