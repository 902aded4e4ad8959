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

pub use paydesk_protocol::Secret;

pub use keychain::Keychain;
pub use store::{
    require, resolve, resolve_with, Account, MemoryStore, Resolved, SecretSource, SecretStore,
    SecretsError,
};
