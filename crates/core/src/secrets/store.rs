//! Where the till's two keys are kept: the [`SecretStore`] trait, the in-memory store for
//! tests, and [`resolve`], which prefers the environment (headless use) over the store.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use super::Secret;

/// The secrets a till holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Account {
    /// The merchant's secret API key (`sk_test_…` / `sk_live_…`).
    SecretKey,
    /// The key this till trades for relay tickets.
    TerminalKey,
}

impl Account {
    pub const ALL: [Account; 2] = [Account::SecretKey, Account::TerminalKey];

    /// The keychain account name.
    pub fn name(self) -> &'static str {
        match self {
            Account::SecretKey => "secret-key",
            Account::TerminalKey => "terminal-key",
        }
    }

    /// The environment variable that supplies it on a machine without a keychain.
    pub fn env_var(self) -> &'static str {
        match self {
            Account::SecretKey => "PAYDESK_SECRET_KEY",
            Account::TerminalKey => "PAYDESK_TERMINAL_KEY",
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Account::SecretKey => "secret API key",
            Account::TerminalKey => "terminal key",
        })
    }
}

/// Why a secret could not be read or stored. Never carries a secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "no OS keychain is available ({reason}). On a machine without one (a headless \
         server, CI), set PAYDESK_SECRET_KEY and PAYDESK_TERMINAL_KEY in the environment \
         instead"
    )]
    Unavailable { reason: String },
    #[error(
        "the OS keychain is locked or refused access ({reason}). Unlock it (log in to the \
         desktop session), or set PAYDESK_SECRET_KEY and PAYDESK_TERMINAL_KEY in the \
         environment instead"
    )]
    Locked { reason: String },
    #[error(
        "the keychain entry for the {account} is not valid text; delete it and save the key \
         again"
    )]
    BadEncoding { account: Account },
    #[error("the keychain cannot store the {account}: {reason}")]
    Rejected { account: Account, reason: String },
    #[error("the {0} cannot be empty")]
    Empty(Account),
    #[error(
        "no {account} is configured: save it in Settings, run `paydesk-cli provision <file>`, \
         or set {env}",
        env = .account.env_var()
    )]
    Missing { account: Account },
}

impl SecretsError {
    /// True when there is no keychain to talk to at all (headless), as opposed to one that
    /// answered with an error.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, SecretsError::Unavailable { .. })
    }
}

/// A place secrets live. `get` answers `Ok(None)` for a secret never stored; `delete` of a
/// missing secret succeeds. Calls may block on IPC: async callers use `spawn_blocking`.
pub trait SecretStore: Send + Sync {
    fn get(&self, account: Account) -> Result<Option<Secret>, SecretsError>;
    fn set(&self, account: Account, secret: &Secret) -> Result<(), SecretsError>;
    fn delete(&self, account: Account) -> Result<(), SecretsError>;
}

/// Secrets in memory, for unit tests and demo mode (keyring's own mock forgets a secret
/// between two `Entry` values, so it cannot stand in for a keychain).
#[derive(Debug, Default)]
pub struct MemoryStore {
    secrets: Mutex<HashMap<Account, Secret>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, account: Account) -> Result<Option<Secret>, SecretsError> {
        let map = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map.get(&account).cloned())
    }

    fn set(&self, account: Account, secret: &Secret) -> Result<(), SecretsError> {
        if secret.is_empty() {
            return Err(SecretsError::Empty(account));
        }
        let mut map = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(account, secret.clone());
        Ok(())
    }

    fn delete(&self, account: Account) -> Result<(), SecretsError> {
        let mut map = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&account);
        Ok(())
    }
}

/// Where a resolved secret came from — safe to show and log, unlike the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum SecretSource {
    /// The named environment variable.
    Env(&'static str),
    /// The OS keychain (or whatever store was passed in).
    Keychain,
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "environment variable {var}"),
            SecretSource::Keychain => f.write_str("OS keychain"),
        }
    }
}

/// A secret and where it came from. Its `Debug` shows the source, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub secret: Secret,
    pub source: SecretSource,
}

/// The secret for `account`: the environment variable when set and not empty (so a
/// headless machine never touches a keychain), else the store. `Ok(None)` when neither
/// has it.
pub fn resolve(
    store: &dyn SecretStore,
    account: Account,
) -> Result<Option<Resolved>, SecretsError> {
    resolve_with(store, account, |var| std::env::var(var).ok())
}

/// [`resolve`], with a missing secret as an error that says how to supply it.
pub fn require(store: &dyn SecretStore, account: Account) -> Result<Resolved, SecretsError> {
    resolve(store, account)?.ok_or(SecretsError::Missing { account })
}

/// [`resolve`] with the environment supplied by the caller (tests, a CLI's own env map).
pub fn resolve_with(
    store: &dyn SecretStore,
    account: Account,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Resolved>, SecretsError> {
    if let Some(value) = env(account.env_var()).filter(|v| !v.trim().is_empty()) {
        return Ok(Some(Resolved {
            secret: Secret::new(value.trim()),
            source: SecretSource::Env(account.env_var()),
        }));
    }
    Ok(store.get(account)?.map(|secret| Resolved {
        secret,
        source: SecretSource::Keychain,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that has no keychain behind it, to show the environment wins without
    /// asking it.
    struct NoKeychain;

    impl SecretStore for NoKeychain {
        fn get(&self, _: Account) -> Result<Option<Secret>, SecretsError> {
            Err(SecretsError::Unavailable {
                reason: "no session bus".into(),
            })
        }
        fn set(&self, _: Account, _: &Secret) -> Result<(), SecretsError> {
            self.get(Account::SecretKey).map(|_| ())
        }
        fn delete(&self, _: Account) -> Result<(), SecretsError> {
            self.get(Account::SecretKey).map(|_| ())
        }
    }

    #[test]
    fn memory_store_round_trips_each_account_separately() {
        let store = MemoryStore::new();
        assert_eq!(store.get(Account::SecretKey).unwrap(), None);
        store
            .set(Account::SecretKey, &Secret::new("sk_test_a"))
            .unwrap();
        store
            .set(Account::TerminalKey, &Secret::new("tk_b"))
            .unwrap();
        assert_eq!(
            store.get(Account::SecretKey).unwrap().unwrap().expose(),
            "sk_test_a"
        );
        store.delete(Account::SecretKey).unwrap();
        store.delete(Account::SecretKey).unwrap();
        assert_eq!(store.get(Account::SecretKey).unwrap(), None);
        assert_eq!(
            store.get(Account::TerminalKey).unwrap().unwrap().expose(),
            "tk_b"
        );
        assert!(matches!(
            store.set(Account::TerminalKey, &Secret::new("")),
            Err(SecretsError::Empty(Account::TerminalKey))
        ));
    }

    #[test]
    fn environment_wins_over_the_keychain_and_says_so() {
        let store = MemoryStore::new();
        store
            .set(Account::SecretKey, &Secret::new("sk_test_keychain"))
            .unwrap();
        let env = |var: &str| (var == "PAYDESK_SECRET_KEY").then(|| "sk_test_env\n".to_owned());
        let got = resolve_with(&store, Account::SecretKey, env)
            .unwrap()
            .unwrap();
        assert_eq!(got.secret.expose(), "sk_test_env");
        assert_eq!(got.source, SecretSource::Env("PAYDESK_SECRET_KEY"));
        assert_eq!(
            got.source.to_string(),
            "environment variable PAYDESK_SECRET_KEY"
        );
        assert!(!format!("{got:?}").contains("sk_test_env"));

        let got = resolve_with(&store, Account::SecretKey, |_| None)
            .unwrap()
            .unwrap();
        assert_eq!(got.secret.expose(), "sk_test_keychain");
        assert_eq!(got.source, SecretSource::Keychain);
        assert_eq!(
            resolve_with(&store, Account::TerminalKey, |_| Some(" ".into())).unwrap(),
            None
        );
        let missing = SecretsError::Missing {
            account: Account::TerminalKey,
        };
        assert!(
            missing.to_string().contains("PAYDESK_TERMINAL_KEY"),
            "{missing}"
        );
    }

    #[test]
    fn headless_machine_uses_env_without_touching_a_keychain() {
        let env = |var: &str| (var == "PAYDESK_TERMINAL_KEY").then(|| "tk_env".to_owned());
        let got = resolve_with(&NoKeychain, Account::TerminalKey, env)
            .unwrap()
            .unwrap();
        assert_eq!(got.secret.expose(), "tk_env");
        let err = resolve_with(&NoKeychain, Account::SecretKey, env).unwrap_err();
        assert!(err.is_unavailable());
        let msg = err.to_string();
        assert!(
            msg.contains("PAYDESK_SECRET_KEY") && msg.contains("PAYDESK_TERMINAL_KEY"),
            "{msg}"
        );
    }
}
