//! TLS terminated in the relay itself, for shops without a reverse proxy.
//!
//! The certificate chain and key are PEM files named in the config. They are read at start
//! and again on every reload (SIGHUP, after certbot or an ACME client renewed them): the
//! new pair serves every handshake from then on, while sessions already open keep the
//! connection they have. A pair that fails to load is reported and the previous one stays.
//! rustls with the ring provider, chosen here rather than process-wide, so embedding the
//! relay next to other rustls users (the app's demo mode) needs no global choice.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Where the certificate chain and the key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server certificate first, then its intermediates.
    pub cert_file: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// Why a certificate or key could not be used. Never holds key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate file {path}: {message}")]
    Cert { path: PathBuf, message: String },
    #[error("TLS key file {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("TLS: {0}")]
    Config(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads and checks a certificate chain and its key (the key must match the first
/// certificate).
pub fn load(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let cert_err = |path: &Path, message: String| TlsError::Cert {
        path: path.to_owned(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert_file)
        .map_err(|e| cert_err(&files.cert_file, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(&files.cert_file, e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err(&files.cert_file, "no certificate in it".into()));
    }
    // The parser's errors name the PEM section, never its content.
    let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|e| TlsError::Key {
        path: files.key_file.clone(),
        message: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::Key {
        path: files.key_file.clone(),
        message: format!("does not fit the certificate: {e}"),
    })
}

/// The certificate in force; swapped whole on reload.
#[derive(Debug)]
pub struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificates {
    pub fn load(files: TlsFiles) -> Result<Arc<Certificates>, TlsError> {
        let key = load(&files)?;
        Ok(Arc::new(Certificates {
            files,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again; on success new handshakes use the new pair. On failure the
    /// previous pair stays in force.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(load(&self.files)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// A TLS acceptor that asks this store for the certificate at every handshake.
    pub fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        // The relay serves HTTP/1.1 only (WebSocket upgrades need it).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}
