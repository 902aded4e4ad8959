//! Secrets: the secret API key, the terminal key, webhook secrets.
//!
//! A [`Secret`] cannot be printed: its `Debug` and `Display` say `[redacted]`, so it can
//! sit in any struct that gets logged. The only way to the value is [`Secret::expose`],
//! which is easy to grep for.
//!
//! On a till the two keys live in the OS keychain ([`Keychain`]) behind the small
//! [`SecretStore`] trait; headless machines pass them in the environment instead, and
//! [`resolve`] picks whichever is there and says where it came from.

mod keychain;
mod store;

use std::fmt;

pub use keychain::Keychain;
pub use store::{
    require, resolve, resolve_with, Account, MemoryStore, Resolved, SecretSource, SecretStore,
    SecretsError,
};

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself. Call it only where the secret leaves for its one destination
    /// (an auth header, the keychain).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("sk_test_123");
        assert_eq!(format!("{s} {s:?}"), "[redacted] Secret([redacted])");
        assert_eq!(s.expose(), "sk_test_123");
    }
}
