//! Store provisioning files: one TOML file per till, written by whoever installs the shop,
//! applied with `paydesk-cli provision <file>`. The keys go to the OS keychain, everything
//! else to the config file; the app reads both on its next start.
//!
//! ```toml
//! terminal_name = "Front till"
//! currency      = "EUR"            # or default_currency
//! mode          = "live"           # demo | test | live
//! api_url       = "https://pay.crypto.com/api/"
//! relay_url     = "wss://relay.shop.example/ws"
//! merchant      = "Corner Shop"
//! secret_key    = "sk_live_…"      # optional; goes to the keychain
//! terminal_key  = "…"              # optional; goes to the keychain
//! owner_name    = "Olga"           # optional, with owner_pin: the till's first owner
//! owner_pin     = "…"              # 4–6 digits; goes to the staff file as a hash only
//! kiosk         = true             # optional: kiosk mode, started at login
//!
//! [catalog]                        # optional: quick keys, tax rates, tips (docs/sale.md)
//! default_tax = "vat20"
//! [[catalog.tax]]
//! id = "vat20"
//! label = "VAT 20%"
//! rate = "20"
//! kind = "inclusive"
//! [[catalog.item]]
//! sku = "latte"
//! name = "Latte"
//! price = "3.50"
//! ```
//!
//! The same file can provision many tills of a shop: the catalog replaces the till's whole
//! `[catalog]`. Its prices are read in the file's `currency` (or the catalog's own), so a
//! file with a catalog must name one; every problem is reported with its line.
//!
//! A file holding keys or a PIN must be private to its owner (`chmod 600`): it is refused
//! otherwise. The owner is set only on a till with nobody on its staff yet; after that the
//! owner manages people and PINs with their own PIN.
//! No error from this module repeats a line of the file, since that line may hold a key.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use paydesk_sale::Catalog;

use crate::config::{catalog_section, syntax_position, Config, ConfigError, ConfigLayer, Mode};
use crate::secrets::{resolve_with, Account, Secret, SecretStore, SecretsError};
use crate::staff::{Person, Pin, StaffError, StaffStore};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("cannot read the provisioning file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} holds keys or a PIN and is readable by other users (mode {mode:03o}); run \
         `chmod 600 {path}` and try again"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path}: owner_name and owner_pin go together (the till's first owner)")]
    OwnerIncomplete { path: PathBuf },
    #[error("{path}: owner_pin: {message}")]
    BadOwner { path: PathBuf, message: String },
    #[error(
        "this till already has staff, so owner_name and owner_pin cannot be applied: remove \
         them from {path} (the owner changes PINs with `paydesk-cli staff set-pin`)"
    )]
    AlreadyStaffed { path: PathBuf },
    #[error("cannot set the owner: {0}")]
    Staff(#[from] StaffError),
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: '{key}' must be a non-empty string")]
    BadSecret { path: PathBuf, key: &'static str },
    #[error("{path} has nothing to apply")]
    Empty { path: PathBuf },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot store the keys: {0}")]
    Secrets(#[from] SecretsError),
}

/// A parsed provisioning file. Its `Debug` never shows the keys.
#[derive(Clone, Debug)]
pub struct Provisioning {
    /// What goes to the config file.
    pub settings: ConfigLayer,
    pub secret_key: Option<Secret>,
    pub terminal_key: Option<Secret>,
    /// The till's first owner (`owner_name`, `owner_pin`).
    pub owner: Option<Owner>,
    pub path: PathBuf,
}

/// The first owner a provisioning file sets. Its `Debug` never shows the PIN.
#[derive(Clone, Debug)]
pub struct Owner {
    pub name: String,
    pub pin: Pin,
}

/// What [`Provisioning::apply`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The keychain accounts written.
    pub stored: Vec<Account>,
    pub config_path: PathBuf,
    /// The config file's settings after the merge.
    pub settings: ConfigLayer,
}

impl Provisioning {
    /// Reads and checks a provisioning file. On Unix a file holding keys must not be
    /// readable by group or others.
    pub fn load(path: impl AsRef<Path>) -> Result<Provisioning, ProvisionError> {
        let path = path.as_ref();
        let read_err = |source| ProvisionError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        // The mode of the file we hold open, not of whatever the path names a moment later.
        let meta = file.metadata().map_err(read_err)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(read_err)?;
        let provisioning = Provisioning::parse(&text, path)?;
        if provisioning.has_keys() {
            check_private(path, &meta)?;
        }
        Ok(provisioning)
    }

    /// Parses provisioning TOML. `path` only names the origin in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Provisioning, ProvisionError> {
        let mut table = text
            .parse::<toml::Table>()
            .map_err(|e| ProvisionError::Syntax {
                path: path.to_owned(),
                message: syntax_position(text, &e),
            })?;
        let secret_key = take_secret(&mut table, "secret_key", path)?;
        let terminal_key = take_secret(&mut table, "terminal_key", path)?;
        let owner_pin = take_secret(&mut table, "owner_pin", path)?;
        let owner_name = match table.remove("owner_name") {
            None => None,
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(_) => {
                return Err(ProvisionError::Invalid {
                    path: path.to_owned(),
                    message: "owner_name must be a non-empty string".into(),
                })
            }
        };
        let owner = match (owner_name, owner_pin) {
            (None, None) => None,
            (Some(name), Some(pin)) => Some(Owner {
                name,
                pin: Pin::try_from(pin).map_err(|e| ProvisionError::BadOwner {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?,
            }),
            _ => {
                return Err(ProvisionError::OwnerIncomplete {
                    path: path.to_owned(),
                })
            }
        };
        if let Some(currency) = table.remove("currency") {
            if table.contains_key("default_currency") {
                return Err(ProvisionError::Invalid {
                    path: path.to_owned(),
                    message: "give either currency or default_currency, not both".into(),
                });
            }
            table.insert("default_currency".into(), currency);
        }
        let invalid = |message: String| ProvisionError::Invalid {
            path: path.to_owned(),
            message,
        };
        let origin = path.display().to_string();
        let catalog = table
            .remove("catalog")
            .map(|c| catalog_section(c, text, &origin))
            .transpose()?;
        let mut settings = ConfigLayer::deserialize(toml::Value::Table(table))
            .map_err(|e| invalid(e.message().to_owned()))?;
        settings
            .validate(&origin)
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(section) = &catalog {
            // The prices are in the file's currency, else the catalog's own.
            let currency = match (settings.default_currency, &section.currency) {
                (Some(c), _) => Some(c),
                (None, Some(code)) => Some(
                    crate::money::Currency::from_code(code.trim())
                        .map_err(|e| invalid(format!("[catalog] currency: {e}")))?,
                ),
                (None, None) => None,
            };
            match currency {
                Some(c) => {
                    Catalog::from_toml(text, c).map_err(|source| ConfigError::Catalog {
                        origin: origin.clone(),
                        source,
                    })?;
                }
                None if section.items.is_empty() => {}
                None => {
                    return Err(invalid(
                        "the catalog's prices need their currency: add currency = \"EUR\" \
                         (or currency in [catalog])"
                            .into(),
                    ))
                }
            }
        }
        settings.catalog = catalog;
        let provisioning = Provisioning {
            settings,
            secret_key,
            terminal_key,
            owner,
            path: path.to_owned(),
        };
        if provisioning.settings == ConfigLayer::default() && !provisioning.has_keys() {
            return Err(ProvisionError::Empty {
                path: path.to_owned(),
            });
        }
        // A live mode with a test key (or the reverse) is caught here, not at the till.
        if let (Some(_), Some(key)) = (provisioning.settings.mode, &provisioning.secret_key) {
            Config::from_layer(provisioning.settings.clone(), path)?.effective_mode(Some(key))?;
        }
        Ok(provisioning)
    }

    /// Whether the file holds a key or a PIN (and so must be private, and shredded).
    pub fn has_keys(&self) -> bool {
        self.secret_key.is_some() || self.terminal_key.is_some() || self.owner.is_some()
    }

    /// Refuses, before anything is applied, an owner for a till that already has staff.
    pub fn check_owner(&self, staff: &StaffStore) -> Result<(), ProvisionError> {
        if self.owner.is_some() && staff.is_provisioned()? {
            return Err(ProvisionError::AlreadyStaffed {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Sets the till's first owner, if the file names one (after [`Provisioning::apply`]).
    pub fn apply_owner(&self, staff: &StaffStore) -> Result<Option<Person>, ProvisionError> {
        let Some(owner) = &self.owner else {
            return Ok(None);
        };
        self.check_owner(staff)?;
        let person = staff.provision_owner(&owner.name, &owner.pin)?;
        tracing::info!(person = %person.id, "owner provisioned from a provisioning file");
        Ok(Some(person))
    }

    /// Stores the keys in `store`, then merges the settings into the config file at
    /// `config_path` (written atomically; settings the file does not name are kept).
    /// Keys first: re-running after a failure repeats nothing harmful, and a config that
    /// says "live" is never written before its key is in place. A test or live mode with
    /// no secret key anywhere (file, environment, store), or with a key of the other
    /// kind, is refused before the config is touched.
    pub fn apply(
        &self,
        store: &dyn SecretStore,
        config_path: &Path,
    ) -> Result<Applied, ProvisionError> {
        self.apply_with_env(store, config_path, |var| std::env::var(var).ok())
    }

    fn apply_with_env(
        &self,
        store: &dyn SecretStore,
        config_path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Applied, ProvisionError> {
        let mut stored = Vec::new();
        for (account, secret) in [
            (Account::SecretKey, &self.secret_key),
            (Account::TerminalKey, &self.terminal_key),
        ] {
            if let Some(secret) = secret {
                store.set(account, secret)?;
                stored.push(account);
            }
        }
        let mut settings = ConfigLayer::load(config_path)?.overlaid(self.settings.clone());
        // A till given a key without a mode runs in the key's mode: write it down, so the
        // till knows it has keys without asking the keychain (which may be locked).
        if settings.mode.is_none() {
            if let Some(key) = &self.secret_key {
                settings.mode = Config::from_layer(settings.clone(), config_path)?
                    .effective_mode(Some(key))
                    .ok()
                    .filter(|m| *m != Mode::Demo);
            }
        }
        // A catalog priced in another currency than the till charges in is refused here,
        // not when the till next starts.
        Config::from_layer(settings.clone(), config_path)?.catalog()?;
        if let Some(Mode::Test | Mode::Live) = settings.mode {
            let key = match &self.secret_key {
                Some(key) => Some(key.clone()),
                None => resolve_with(store, Account::SecretKey, env)?.map(|r| r.secret),
            };
            Config::from_layer(settings.clone(), config_path)?.effective_mode(key.as_ref())?;
        }
        settings.save(config_path)?;
        tracing::info!(config = %config_path.display(), keys = ?stored, "provisioned");
        Ok(Applied {
            stored,
            config_path: config_path.to_owned(),
            settings,
        })
    }
}

fn take_secret(
    table: &mut toml::Table,
    key: &'static str,
    path: &Path,
) -> Result<Option<Secret>, ProvisionError> {
    match table.remove(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(Secret::new(s.trim()))),
        Some(_) => Err(ProvisionError::BadSecret {
            path: path.to_owned(),
            key,
        }),
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), ProvisionError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o044 != 0 {
        return Err(ProvisionError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), ProvisionError> {
    // Windows ACLs default to the owner and administrators in the user's profile; there is
    // no portable mode bit to check.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::secrets::MemoryStore;

    const FULL: &str = r#"
terminal_name = "Front till"
currency = "EUR"
mode = "live"
relay_url = "wss://relay.shop.example/ws"
merchant = "Corner Shop"
secret_key = "sk_live_provisioned"
terminal_key = "tk_provisioned"
"#;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    #[test]
    fn apply_puts_keys_in_the_store_and_the_rest_in_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "till.toml", FULL, 0o600);
        let config_path = dir.path().join("cfg").join("config.toml");
        ConfigLayer {
            poll_interval_secs: Some(4),
            terminal_name: Some("old name".into()),
            ..ConfigLayer::default()
        }
        .save(&config_path)
        .unwrap();

        let p = Provisioning::load(&file).unwrap();
        assert!(!format!("{p:?}").contains("provisioned"));
        let store = MemoryStore::new();
        let applied = p.apply(&store, &config_path).unwrap();
        assert_eq!(
            applied.stored,
            vec![Account::SecretKey, Account::TerminalKey]
        );
        assert_eq!(
            store.get(Account::SecretKey).unwrap().unwrap().expose(),
            "sk_live_provisioned"
        );
        assert_eq!(
            store.get(Account::TerminalKey).unwrap().unwrap().expose(),
            "tk_provisioned"
        );

        let written = std::fs::read_to_string(&config_path).unwrap();
        assert!(!written.contains("provisioned"), "{written}");
        let c = Config::load_from(&config_path, |_| None, ConfigLayer::default()).unwrap();
        assert_eq!(c.terminal_name, "Front till");
        assert_eq!(c.default_currency.code(), "EUR");
        assert_eq!(c.mode, Some(Mode::Live));
        assert_eq!(c.merchant.as_deref(), Some("Corner Shop"));
        assert_eq!(c.poll_interval, Some(std::time::Duration::from_secs(4)));
        let key = store.get(Account::SecretKey).unwrap();
        assert_eq!(c.effective_mode(key.as_ref()).unwrap(), Mode::Live);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_with_keys_readable_by_others_is_refused_with_chmod_600() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604] {
            let file = write(dir.path(), "till.toml", FULL, mode);
            let err = Provisioning::load(&file).unwrap_err();
            assert!(
                matches!(err, ProvisionError::TooOpen { .. }),
                "{mode:o}: {err}"
            );
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        // Without keys the same mode is fine.
        let file = write(
            dir.path(),
            "settings-only.toml",
            "terminal_name = \"B\"\nmode = \"demo\"\n",
            0o644,
        );
        assert!(Provisioning::load(&file).is_ok());
    }

    #[test]
    fn errors_never_repeat_a_key() {
        let p = Path::new("till.toml");
        for text in [
            "secret_key = \"sk_live_leak\nmode = \"live\"\n",
            "secret_key = [\"sk_live_leak\"]\n",
            "mode = \"test\"\nsecret_key = \"sk_live_leak\"\n",
            "secret_key = \"sk_live_leak\"\nbogus = 1\n",
        ] {
            let err = Provisioning::parse(text, p).unwrap_err();
            assert!(!err.to_string().contains("leak"), "{err}");
        }
        let err =
            Provisioning::parse("mode = \"test\"\nsecret_key = \"sk_live_x\"\n", p).unwrap_err();
        assert!(matches!(
            err,
            ProvisionError::Config(ConfigError::KeyModeMismatch { .. })
        ));
        let err = Provisioning::parse("secret_key = \"\"\n", p).unwrap_err();
        assert!(matches!(
            err,
            ProvisionError::BadSecret {
                key: "secret_key",
                ..
            }
        ));
        assert!(matches!(
            Provisioning::parse("# nothing\n", p),
            Err(ProvisionError::Empty { .. })
        ));
        let err = Provisioning::parse("relay_url = \"relay.example\"\n", p).unwrap_err();
        assert!(err.to_string().contains("relay_url"), "{err}");
    }

    #[test]
    fn a_live_till_without_any_secret_key_is_not_configured() {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.toml");
        let p = Provisioning::parse(
            "mode = \"live\"\nterminal_key = \"tk_1\"\n",
            Path::new("till.toml"),
        )
        .unwrap();
        let store = MemoryStore::new();
        let no_env = |_: &str| None;
        let err = p.apply_with_env(&store, &config_path, no_env).unwrap_err();
        assert!(
            matches!(err, ProvisionError::Config(ConfigError::MissingKey { .. })),
            "{err}"
        );
        assert!(!config_path.exists());
        // A headless till's key in the environment counts.
        let env = |v: &str| (v == "PAYDESK_SECRET_KEY").then(|| "sk_live_env".to_owned());
        p.apply_with_env(&store, &config_path, env).unwrap();
        std::fs::remove_file(&config_path).unwrap();
        // A test key already in the keychain is a mismatch; a live one applies.
        store
            .set(Account::SecretKey, &Secret::new("sk_test_old"))
            .unwrap();
        assert!(matches!(
            p.apply_with_env(&store, &config_path, no_env),
            Err(ProvisionError::Config(ConfigError::KeyModeMismatch { .. }))
        ));
        assert!(!config_path.exists());
        store
            .set(Account::SecretKey, &Secret::new("sk_live_ok"))
            .unwrap();
        p.apply_with_env(&store, &config_path, no_env).unwrap();
        assert!(config_path.exists());
    }

    #[test]
    fn an_owner_pin_is_a_secret_that_sets_the_first_owner_once() {
        let dir = tempfile::tempdir().unwrap();
        let text = "owner_name = \"Olga\"\nowner_pin = \"739251\"\nkiosk = true\n";
        #[cfg(unix)]
        {
            let open = write(dir.path(), "open.toml", text, 0o644);
            let err = Provisioning::load(&open).unwrap_err();
            assert!(matches!(err, ProvisionError::TooOpen { .. }), "{err}");
        }
        let file = write(dir.path(), "till.toml", text, 0o600);
        let p = Provisioning::load(&file).unwrap();
        assert!(!format!("{p:?}").contains("739251"));
        assert_eq!(p.settings.kiosk, Some(true));
        let policy = crate::staff::Policy {
            pin_cost: crate::staff::PinCost::new(8 * 1024, 1, 1).unwrap(),
            ..crate::staff::Policy::default()
        };
        let staff = StaffStore::open(dir.path().join("staff.sqlite3"), policy).unwrap();
        let owner = p.apply_owner(&staff).unwrap().unwrap();
        assert_eq!(owner.name, "Olga");
        assert!(staff.sign_in(&"739251".parse().unwrap()).is_ok());
        // The file's text never reaches the staff file, and a second run is refused.
        let bytes = std::fs::read(dir.path().join("staff.sqlite3")).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"739251"));
        assert!(matches!(
            p.check_owner(&staff),
            Err(ProvisionError::AlreadyStaffed { .. })
        ));

        let path = Path::new("till.toml");
        for (text, what) in [
            ("owner_name = \"Olga\"\n", "incomplete"),
            ("owner_pin = \"1234\"\n", "incomplete"),
            ("owner_name = \"O\"\nowner_pin = \"12a4567\"\n", "bad"),
        ] {
            let err = Provisioning::parse(text, path).unwrap_err();
            match what {
                "incomplete" => {
                    assert!(
                        matches!(err, ProvisionError::OwnerIncomplete { .. }),
                        "{err}"
                    )
                }
                _ => assert!(matches!(err, ProvisionError::BadOwner { .. }), "{err}"),
            }
            assert!(!err.to_string().contains("12a4567"), "{err}");
        }
    }

    #[test]
    fn a_missing_file_says_which() {
        let err = Provisioning::load("/nonexistent/till.toml").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/till.toml"), "{err}");
    }

    #[test]
    fn a_provisioning_file_may_set_the_shop_and_the_printer() {
        let p = Provisioning::parse(
            "terminal_name = \"Front\"\n[shop]\nname = \"Café\"\n[printer]\nurl = \"/dev/usb/lp0\"\nauto_print = true\n",
            Path::new("till.toml"),
        )
        .unwrap();
        let c = Config::from_layer(p.settings, Path::new("x")).unwrap();
        assert_eq!(c.shop.name, "Café");
        assert_eq!(c.printer.unwrap().url, "/dev/usb/lp0");
        assert!(c.auto_print);
    }
}
