//! The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) through the `keyring` crate: service "paydesk", one account per [`Account`].
//!
//! keyring's errors are mapped so that a machine with no keychain at all gets the
//! documented way out (the environment variables), and so that no error text ever carries
//! a secret (`keyring::Error::BadEncoding` holds the stored bytes; it is never printed).

use keyring::Entry;

use super::store::{Account, SecretStore, SecretsError};
use super::Secret;

/// The OS keychain. Cheap to create; every call opens its own entry.
#[derive(Clone, Debug)]
pub struct Keychain {
    service: String,
}

impl Default for Keychain {
    fn default() -> Self {
        Keychain::new()
    }
}

impl Keychain {
    /// The service name the app and the CLI share.
    pub const SERVICE: &'static str = "paydesk";

    pub fn new() -> Self {
        Keychain::with_service(Self::SERVICE)
    }

    /// A keychain under another service name (tests, several tills on one login).
    pub fn with_service(service: impl Into<String>) -> Self {
        Keychain {
            service: service.into(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: Account) -> Result<Entry, SecretsError> {
        Entry::new(&self.service, account.name()).map_err(|e| map_error(account, e))
    }
}

impl SecretStore for Keychain {
    fn get(&self, account: Account) -> Result<Option<Secret>, SecretsError> {
        match self.entry(account)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(account, e)),
        }
    }

    fn set(&self, account: Account, secret: &Secret) -> Result<(), SecretsError> {
        if secret.is_empty() {
            return Err(SecretsError::Empty(account));
        }
        self.entry(account)?
            .set_password(secret.expose())
            .map_err(|e| map_error(account, e))
    }

    fn delete(&self, account: Account) -> Result<(), SecretsError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(account, e)),
        }
    }
}

fn map_error(account: Account, e: keyring::Error) -> SecretsError {
    match e {
        // On Linux a platform failure is mostly the Secret Service not answering (no
        // session bus, no keyring daemon on it); a locked collection also lands here.
        keyring::Error::PlatformFailure(inner) => {
            let reason = inner.to_string();
            if reason.to_ascii_lowercase().contains("locked") {
                SecretsError::Locked { reason }
            } else {
                SecretsError::Unavailable { reason }
            }
        }
        keyring::Error::NoStorageAccess(inner) => SecretsError::Locked {
            reason: inner.to_string(),
        },
        keyring::Error::BadEncoding(_) => SecretsError::BadEncoding { account },
        keyring::Error::TooLong(attr, max) => SecretsError::Rejected {
            account,
            reason: format!("'{attr}' is longer than {max} characters"),
        },
        keyring::Error::Invalid(attr, why) => SecretsError::Rejected {
            account,
            reason: format!("'{attr}' {why}"),
        },
        keyring::Error::Ambiguous(items) => SecretsError::Rejected {
            account,
            reason: format!(
                "{} keychain entries match; remove the duplicates in the keychain app",
                items.len()
            ),
        },
        keyring::Error::NoEntry => SecretsError::Rejected {
            account,
            reason: "the entry vanished".into(),
        },
        other => SecretsError::Rejected {
            account,
            reason: other.to_string(),
        },
    }
}
