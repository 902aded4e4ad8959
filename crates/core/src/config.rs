//! The till's settings: mode, terminal name, default currency, where the API and the relay
//! are, realtime tuning, and the catalog behind the quick keys (`[catalog]`).
//!
//! Three layers of the same shape ([`ConfigLayer`]), later wins: the TOML file in the OS
//! config directory (`PAYDESK_CONFIG` names another), the `PAYDESK_*` environment, and
//! explicit overrides (the CLI's flags, the Settings screen). [`Config`] is the merged
//! result the rest of the core reads.
//!
//! The `[catalog]` section is one setting, replaced as a whole by a later layer (the
//! Settings screen sends the whole section); it is checked in the till's currency when the
//! layers are merged, with the line of each problem when it came from the file.
//!
//! Secrets never come near this module: no type here has a field for one, and a config
//! file that holds a key is refused with a pointer to the keychain (the refusal never
//! repeats the file's text, which is where the key would be).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use paydesk_sale::{Catalog, CatalogError, CatalogSection};

use crate::money::Currency;
use crate::secrets::Secret;
use paydesk_receipt::{CodePage, Cut, Paper, Printer, PrinterSettings, Shop};

/// Names another config file.
pub const CONFIG_ENV: &str = "PAYDESK_CONFIG";
pub const MODE_ENV: &str = "PAYDESK_MODE";
pub const API_URL_ENV: &str = "PAYDESK_API_URL";
pub const RELAY_URL_ENV: &str = "PAYDESK_RELAY_URL";
pub const TERMINAL_NAME_ENV: &str = "PAYDESK_TERMINAL_NAME";
pub const CURRENCY_ENV: &str = "PAYDESK_CURRENCY";
pub const QR_CONTENT_ENV: &str = "PAYDESK_QR_CONTENT";
pub const ORDER_PREFIX_ENV: &str = "PAYDESK_ORDER_PREFIX";
pub const RELAY_CA_FILE_ENV: &str = "PAYDESK_RELAY_CA_FILE";
/// The receipt printer's address (`tcp://192.168.1.50:9100`, `/dev/usb/lp0`, …).
pub const PRINTER_ENV: &str = "PAYDESK_PRINTER";
/// `1` prints the receipt on Paid, `0` only on a tap.
pub const AUTO_PRINT_ENV: &str = "PAYDESK_AUTO_PRINT";

/// Lines of a shop's address a receipt prints at most, and characters a line.
const MAX_ADDRESS_LINES: usize = 6;
const MAX_SHOP_LINE: usize = 64;
/// `1` (or `true`) runs the till as a kiosk, `0` not.
pub const KIOSK_ENV: &str = "PAYDESK_KIOSK";
/// Seconds without activity before the till locks (`0`: only on demand).
pub const LOCK_AFTER_ENV: &str = "PAYDESK_LOCK_AFTER";

/// How long a till with staff stays signed in without activity, unless set.
pub const DEFAULT_LOCK_AFTER: Duration = Duration::from_secs(5 * 60);
/// The longest idle time a setting may ask for (a day).
const MAX_LOCK_AFTER_SECS: u64 = 24 * 60 * 60;

/// Crypto.com Pay's API.
pub const DEFAULT_API_URL: &str = "https://pay.crypto.com/api/";
pub const DEFAULT_TERMINAL_NAME: &str = "Till 1";
pub const DEFAULT_CURRENCY: &str = "USD";
/// The file name inside the config directory.
pub const FILE_NAME: &str = "config.toml";

/// Keys a config file must never hold; anything that smells of one is refused.
const SECRET_KEYS: &[&str] = &[
    "secret_key",
    "terminal_key",
    "api_key",
    "secret",
    "webhook_secret",
    "password",
    "token",
    "pin",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no config folder could be found for this user; set {CONFIG_ENV} to a file path")]
    NoConfigDir,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error(
        "{path} holds '{key}'; keys never go in the config file. Remove that line, then store \
         the key in the OS keychain (Settings, or `paydesk-cli provision`) or set \
         PAYDESK_SECRET_KEY / PAYDESK_TERMINAL_KEY"
    )]
    SecretInFile { path: PathBuf, key: String },
    #[error(
        "{path} holds '{key}'; PINs never go in the config file. Remove that line: the \
         owner's PIN is set with `paydesk-cli staff add --owner NAME` or in a provisioning \
         file, everyone else's by the owner"
    )]
    PinInFile { path: PathBuf, key: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("{mode} mode needs a secret API key: save one in Settings, run `paydesk-cli provision`, or set PAYDESK_SECRET_KEY")]
    MissingKey { mode: Mode },
    #[error("{mode} mode with a {key_kind} secret key; use a {mode} key (sk_{mode}_…) or switch the mode")]
    KeyModeMismatch { mode: Mode, key_kind: Mode },
    #[error(
        "cannot tell whether the secret key is a test or a live key (it starts with neither \
         sk_test_ nor sk_live_); set the mode explicitly"
    )]
    UnknownKeyKind,
    #[error("could not encode the config: {0}")]
    Encode(#[from] toml::ser::Error),
    #[error("{origin}: the catalog is not valid:{}", issue_lines(.source))]
    Catalog {
        origin: String,
        #[source]
        source: CatalogError,
    },
    #[error(
        "{origin}: the catalog prices items but the till has no currency; set \
         default_currency (the currency the prices are in)"
    )]
    CatalogWithoutCurrency { origin: String },
}

/// Each problem of a catalog on a line of its own.
fn issue_lines(e: &CatalogError) -> String {
    match e.issues() {
        [] => format!(" {e}"),
        issues => issues.iter().map(|i| format!("\n  {i}")).collect(),
    }
}

/// Which service the till talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The sandbox and relay run in-process on loopback; no keys, no money.
    Demo,
    /// Crypto.com Pay with test keys.
    Test,
    /// Crypto.com Pay with live keys: real money.
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Demo => "demo",
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "demo" => Ok(Mode::Demo),
            "test" => Ok(Mode::Test),
            "live" => Ok(Mode::Live),
            other => Err(format!("mode '{other}' is not one of demo, test, live")),
        }
    }
}

/// Which of a payment's two QR contents the customer scans. Crypto.com Pay returns both:
/// `payment_url` (the web checkout, which the App and any phone camera open) and `qr_code`
/// ("base64 encoded json … scanned by the main app"). Which one the App's in-store scanner
/// accepts is not known from public sources: an installer checks it with a real phone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrContent {
    #[default]
    PaymentUrl,
    QrCode,
}

impl QrContent {
    /// What the QR shows for `p` (the checkout URL when the App code is missing).
    pub fn pick(self, p: &crate::payment::Payment) -> Option<String> {
        match self {
            QrContent::PaymentUrl => p.payment_url.clone(),
            QrContent::QrCode => p.qr_code.clone().or_else(|| p.payment_url.clone()),
        }
    }
}

impl std::str::FromStr for QrContent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "payment_url" => Ok(QrContent::PaymentUrl),
            "qr_code" => Ok(QrContent::QrCode),
            other => Err(format!(
                "qr_content '{other}' is not payment_url or qr_code"
            )),
        }
    }
}

/// One layer of settings; every field optional. The file, the environment and the flags
/// each make one. Deliberately has no field for a secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_url: Option<String>,
    /// A label for the merchant (shown in the UI and the support bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    /// Declare the push channel dead after this long without a heartbeat (the realtime
    /// session's watchdog override; unset: what the relay's hello says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_secs: Option<u64>,
    /// Start polling the API after this long without word from the relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_after_secs: Option<u64>,
    /// How often to poll the API while the push channel is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<u64>,
    /// What the customer's QR code holds (default `payment_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_content: Option<QrContent>,
    /// The start of this till's readable order ids, `<prefix>-<YYYYMMDD>-<NNNN>`
    /// (default: from the terminal name, e.g. `T1` for "Till 1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_prefix: Option<String>,
    /// A CA certificate (PEM) the till trusts for the relay besides the operating
    /// system's store: a shop's own CA, or a TLS-inspecting proxy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_ca_file: Option<PathBuf>,
    /// `[shop]`: what the top of a receipt says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<ShopLayer>,
    /// `[printer]`: the receipt printer and whether it prints on Paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<PrinterLayer>,
    /// The quick keys, tax rates and tip settings (`[catalog]`); a later layer replaces
    /// the whole section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogSection>,
    /// Kiosk mode: full screen, one instance, started at login, the window cannot be
    /// closed while a payment is pending (docs/operations.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk: Option<bool>,
    /// Seconds without activity before the till locks and asks for a PIN again (default
    /// 300; `0`: only when someone presses Lock). Only a till with staff locks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_after_secs: Option<u64>,
    /// The monitor the customer display goes to (its name, as the installer picked it);
    /// when it is gone, the display falls back to another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_display: Option<String>,
}

/// The `[shop]` section.
///
/// ```toml
/// [shop]
/// name = "Café Müller"
/// address = ["Hauptstraße 1", "10115 Berlin"]
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Vec<String>>,
}

impl ShopLayer {
    fn overlaid(self, over: ShopLayer) -> ShopLayer {
        ShopLayer {
            name: over.name.or(self.name),
            address: over.address.or(self.address),
        }
    }
}

/// The `[printer]` section: paydesk-receipt's `PrinterSettings`, each field optional so
/// the file, `PAYDESK_PRINTER` and Settings can each set part of it, plus `auto_print`.
///
/// ```toml
/// [printer]
/// url = "tcp://192.168.1.50:9100"
/// paper = "80mm"
/// code_page = "cp858"
/// auto_print = true
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<Paper>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_page: Option<CodePage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<Cut>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<usize>,
    /// Print the sale's receipt as soon as it is Paid (default: only on a tap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_print: Option<bool>,
}

impl PrinterLayer {
    fn overlaid(self, over: PrinterLayer) -> PrinterLayer {
        PrinterLayer {
            url: over.url.or(self.url),
            paper: over.paper.or(self.paper),
            code_page: over.code_page.or(self.code_page),
            cut: over.cut.or(self.cut),
            columns: over.columns.or(self.columns),
            auto_print: over.auto_print.or(self.auto_print),
        }
    }

    /// The receipt crate's settings, when an address is set (a blank one means none).
    fn settings(&self) -> Option<PrinterSettings> {
        let url = self
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())?;
        let mut settings = PrinterSettings::new(url);
        settings.paper = self.paper.unwrap_or_default();
        settings.code_page = self.code_page.unwrap_or_default();
        settings.cut = self.cut.unwrap_or_default();
        settings.columns = self.columns;
        Some(settings)
    }
}

/// Two optional sections, overlaid field by field.
fn overlay_section<T>(low: Option<T>, high: Option<T>, f: impl FnOnce(T, T) -> T) -> Option<T> {
    match (low, high) {
        (Some(l), Some(h)) => Some(f(l, h)),
        (l, h) => h.or(l),
    }
}

impl ConfigLayer {
    /// `self` with every field `over` sets replaced.
    pub fn overlaid(self, over: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            mode: over.mode.or(self.mode),
            terminal_name: over.terminal_name.or(self.terminal_name),
            default_currency: over.default_currency.or(self.default_currency),
            api_url: over.api_url.or(self.api_url),
            relay_url: over.relay_url.or(self.relay_url),
            merchant: over.merchant.or(self.merchant),
            heartbeat_timeout_secs: over.heartbeat_timeout_secs.or(self.heartbeat_timeout_secs),
            fallback_after_secs: over.fallback_after_secs.or(self.fallback_after_secs),
            poll_interval_secs: over.poll_interval_secs.or(self.poll_interval_secs),
            qr_content: over.qr_content.or(self.qr_content),
            order_prefix: over.order_prefix.or(self.order_prefix),
            relay_ca_file: over.relay_ca_file.or(self.relay_ca_file),
            shop: overlay_section(self.shop, over.shop, ShopLayer::overlaid),
            printer: overlay_section(self.printer, over.printer, PrinterLayer::overlaid),
            catalog: over.catalog.or(self.catalog),
            kiosk: over.kiosk.or(self.kiosk),
            lock_after_secs: over.lock_after_secs.or(self.lock_after_secs),
            customer_display: over.customer_display.or(self.customer_display),
        }
    }

    /// Reads a config file; a missing file is an empty layer (first start).
    pub fn load(path: &Path) -> Result<ConfigLayer, ConfigError> {
        match read_text(path)? {
            Some(text) => ConfigLayer::parse(&text, path),
            None => Ok(ConfigLayer::default()),
        }
    }

    /// Parses config TOML. `path` only names the origin in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigLayer, ConfigError> {
        let mut table = parse_table(text, path)?;
        if let Some(key) = table.keys().find(|k| looks_secret(k)) {
            let (path, key) = (path.to_owned(), key.clone());
            return Err(if key.to_ascii_lowercase().ends_with("pin") {
                ConfigError::PinInFile { path, key }
            } else {
                ConfigError::SecretInFile { path, key }
            });
        }
        let catalog = table
            .remove("catalog")
            .map(|c| catalog_section(c, text, &path.display().to_string()))
            .transpose()?;
        // From the parsed table, not the text: toml's text errors quote the source line.
        let mut layer = ConfigLayer::deserialize(toml::Value::Table(table)).map_err(|e| {
            ConfigError::Invalid {
                origin: path.display().to_string(),
                message: e.message().to_owned(),
            }
        })?;
        layer.catalog = catalog;
        layer.validate(&path.display().to_string())?;
        Ok(layer)
    }

    /// The layer as the config file writes it (TOML), e.g. one section for an editor.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Writes the layer to `path` atomically: a temp file beside it, fsynced, renamed
    /// over, the directory fsynced. A crash leaves the old file or the new one.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = format!(
            "# PayDesk settings. Keys are never stored here: they live in the OS keychain.\n{}",
            self.to_toml()?
        );
        write_atomically(path, text.as_bytes()).map_err(|source| ConfigError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// The `PAYDESK_*` variables of `env`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<ConfigLayer, ConfigError> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid = |name: &str, message: String| ConfigError::Invalid {
            origin: name.to_owned(),
            message,
        };
        let layer = ConfigLayer {
            mode: get(MODE_ENV)
                .map(|v| v.parse().map_err(|m| invalid(MODE_ENV, m)))
                .transpose()?,
            terminal_name: get(TERMINAL_NAME_ENV),
            default_currency: get(CURRENCY_ENV)
                .map(|v| Currency::from_code(&v).map_err(|e| invalid(CURRENCY_ENV, e.to_string())))
                .transpose()?,
            api_url: get(API_URL_ENV),
            relay_url: get(RELAY_URL_ENV),
            qr_content: get(QR_CONTENT_ENV)
                .map(|v| v.parse().map_err(|m| invalid(QR_CONTENT_ENV, m)))
                .transpose()?,
            order_prefix: get(ORDER_PREFIX_ENV),
            relay_ca_file: get(RELAY_CA_FILE_ENV).map(PathBuf::from),
            printer: {
                let auto_print = get(AUTO_PRINT_ENV)
                    .map(|v| match v.as_str() {
                        "1" | "true" | "yes" | "on" => Ok(true),
                        "0" | "false" | "no" | "off" => Ok(false),
                        _ => Err(invalid(AUTO_PRINT_ENV, format!("'{v}' is not 1 or 0"))),
                    })
                    .transpose()?;
                let url = get(PRINTER_ENV);
                (url.is_some() || auto_print.is_some()).then(|| PrinterLayer {
                    url,
                    auto_print,
                    ..PrinterLayer::default()
                })
            },
            kiosk: get(KIOSK_ENV)
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" => Ok(true),
                    "0" | "false" | "no" => Ok(false),
                    _ => Err(invalid(KIOSK_ENV, format!("'{v}' is not 1 or 0"))),
                })
                .transpose()?,
            lock_after_secs: get(LOCK_AFTER_ENV)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        invalid(LOCK_AFTER_ENV, format!("'{v}' is not a number of seconds"))
                    })
                })
                .transpose()?,
            ..ConfigLayer::default()
        };
        layer.validate("environment")?;
        Ok(layer)
    }

    /// Checks what a file, the environment or a flag can get wrong, naming the origin.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        if let Some(url) = &self.api_url {
            check_url(url, &["http", "https"]).map_err(|m| invalid(format!("api_url: {m}")))?;
        }
        if let Some(url) = &self.relay_url {
            check_url(url, &["http", "https", "ws", "wss"])
                .map_err(|m| invalid(format!("relay_url: {m}")))?;
        }
        if let Some(name) = &self.terminal_name {
            if name.trim().is_empty()
                || name.chars().count() > 64
                || name.chars().any(char::is_control)
            {
                return Err(invalid(
                    "terminal_name must be 1 to 64 printable characters".into(),
                ));
            }
        }
        if let Some(prefix) = &self.order_prefix {
            if prefix.is_empty()
                || prefix.len() > 12
                || !prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(invalid(
                    "order_prefix must be 1 to 12 letters, digits or _".into(),
                ));
            }
        }
        if let Some(shop) = &self.shop {
            let printable =
                |l: &str| l.chars().count() <= MAX_SHOP_LINE && !l.chars().any(char::is_control);
            if let Some(name) = &shop.name {
                if name.trim().is_empty() || !printable(name) {
                    return Err(invalid(format!(
                        "shop.name must be 1 to {MAX_SHOP_LINE} printable characters"
                    )));
                }
            }
            if let Some(lines) = &shop.address {
                if lines.len() > MAX_ADDRESS_LINES || !lines.iter().all(|l| printable(l)) {
                    return Err(invalid(format!(
                        "shop.address must be at most {MAX_ADDRESS_LINES} lines of at most \
                         {MAX_SHOP_LINE} printable characters"
                    )));
                }
            }
        }
        if let Some(settings) = self.printer.as_ref().and_then(PrinterLayer::settings) {
            Printer::new(&settings).map_err(|e| invalid(format!("printer: {e}")))?;
        }
        if let Some(secs) = self.lock_after_secs {
            if secs > MAX_LOCK_AFTER_SECS {
                return Err(invalid(format!(
                    "lock_after_secs must be at most {MAX_LOCK_AFTER_SECS} seconds (0: lock only on demand)"
                )));
            }
        }
        if let Some(name) = &self.customer_display {
            if name.trim().is_empty()
                || name.chars().count() > 128
                || name.chars().any(char::is_control)
            {
                return Err(invalid(
                    "customer_display must be 1 to 128 printable characters (a monitor's name)"
                        .into(),
                ));
            }
        }
        for (field, value, range) in [
            (
                "heartbeat_timeout_secs",
                self.heartbeat_timeout_secs,
                1..=600,
            ),
            ("fallback_after_secs", self.fallback_after_secs, 1..=600),
            ("poll_interval_secs", self.poll_interval_secs, 1..=300),
        ] {
            if let Some(v) = value {
                if !range.contains(&v) {
                    return Err(invalid(format!(
                        "{field} must be between {} and {} seconds",
                        range.start(),
                        range.end()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The merged settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Config {
    /// `None` when no layer chose one; see [`Config::effective_mode`].
    pub mode: Option<Mode>,
    pub terminal_name: String,
    pub default_currency: Currency,
    /// Whether a layer chose the currency (else it is the built-in default, which a
    /// headless charge must not assume).
    pub currency_chosen: bool,
    pub api_url: String,
    pub relay_url: Option<String>,
    pub merchant: Option<String>,
    /// Overrides; `None` keeps the realtime session's defaults.
    pub heartbeat_timeout: Option<Duration>,
    pub fallback_after: Option<Duration>,
    pub poll_interval: Option<Duration>,
    pub qr_content: QrContent,
    /// The start of this till's order ids.
    pub order_prefix: String,
    pub relay_ca_file: Option<PathBuf>,
    /// What a receipt's head says: the shop's name (else the merchant label, else the
    /// terminal name) and address lines.
    pub shop: Shop,
    /// The receipt printer; `None`: receipts are shown on screen only.
    pub printer: Option<PrinterSettings>,
    /// Print the sale's receipt on Paid (only with a printer).
    pub auto_print: bool,
    /// The catalog as written (empty when no layer has one); [`Config::catalog`] checks it
    /// in the till's currency.
    pub catalog: CatalogSection,
    /// Kiosk mode (see [`crate::kiosk`]).
    pub kiosk: bool,
    /// How long the till stays signed in without activity; `None`: until someone locks it.
    pub lock_after: Option<Duration>,
    /// The monitor the installer picked for the customer display.
    pub customer_display: Option<String>,
    /// The file layer came from here (settings changes go back through [`ConfigLayer::save`]).
    pub path: PathBuf,
}

/// `$PAYDESK_CONFIG`, else `config.toml` in the OS config directory
/// (`~/.config/paydesk/`, `%APPDATA%\paydesk\PayDesk\config\`, `~/Library/Application
/// Support/com.paydesk.PayDesk/`).
pub fn default_path() -> Result<PathBuf, ConfigError> {
    default_path_with(|v| std::env::var_os(v))
}

fn default_path_with(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, ConfigError> {
    if let Some(p) = env(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    directories::ProjectDirs::from("com", "paydesk", "PayDesk")
        .map(|d| d.config_dir().join(FILE_NAME))
        .ok_or(ConfigError::NoConfigDir)
}

impl Config {
    /// File (at [`default_path`]), then the process environment, then `overrides`.
    pub fn load(overrides: ConfigLayer) -> Result<Config, ConfigError> {
        let path = default_path()?;
        Config::load_from(&path, |v| std::env::var(v).ok(), overrides)
    }

    /// [`Config::load`] with the file path and the environment supplied. The catalog is
    /// checked in the merged currency; when it is the file's, its problems name their lines.
    pub fn load_from(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
        overrides: ConfigLayer,
    ) -> Result<Config, ConfigError> {
        overrides.validate("command line")?;
        let text = read_text(path)?;
        let file = match &text {
            Some(text) => ConfigLayer::parse(text, path)?,
            None => ConfigLayer::default(),
        };
        let catalog_from_file = overrides.catalog.is_none() && file.catalog.is_some();
        let merged = file
            .overlaid(ConfigLayer::from_env(env)?)
            .overlaid(overrides);
        let config = Config::from_layer(merged, path)?;
        match text {
            Some(text) if catalog_from_file => {
                config.check_catalog_priced()?;
                Catalog::from_toml(&text, config.default_currency).map_err(|source| {
                    ConfigError::Catalog {
                        origin: path.display().to_string(),
                        source,
                    }
                })?;
            }
            _ => {
                config.catalog()?;
            }
        }
        Ok(config)
    }

    /// Fills the defaults in for whatever `layer` leaves unset.
    pub fn from_layer(layer: ConfigLayer, path: &Path) -> Result<Config, ConfigError> {
        let default_currency = match layer.default_currency {
            Some(c) => c,
            None => Currency::from_code(DEFAULT_CURRENCY).map_err(|e| ConfigError::Invalid {
                origin: "built-in default".into(),
                message: e.to_string(),
            })?,
        };
        let terminal_name = layer
            .terminal_name
            .unwrap_or_else(|| DEFAULT_TERMINAL_NAME.to_owned());
        Ok(Config {
            mode: layer.mode,
            terminal_name: terminal_name.clone(),
            default_currency,
            currency_chosen: layer.default_currency.is_some(),
            api_url: layer
                .api_url
                .map_or_else(|| DEFAULT_API_URL.to_owned(), |u| normalize_api_url(&u)),
            relay_url: layer.relay_url,
            merchant: layer.merchant.clone(),
            heartbeat_timeout: layer.heartbeat_timeout_secs.map(Duration::from_secs),
            fallback_after: layer.fallback_after_secs.map(Duration::from_secs),
            poll_interval: layer.poll_interval_secs.map(Duration::from_secs),
            qr_content: layer.qr_content.unwrap_or_default(),
            order_prefix: layer
                .order_prefix
                .unwrap_or_else(|| order_prefix_from_name(Some(&terminal_name))),
            relay_ca_file: layer.relay_ca_file,
            shop: Shop {
                name: layer
                    .shop
                    .as_ref()
                    .and_then(|s| s.name.clone())
                    .or_else(|| layer.merchant.clone())
                    .unwrap_or_else(|| terminal_name.clone()),
                address: layer
                    .shop
                    .as_ref()
                    .and_then(|s| s.address.clone())
                    .unwrap_or_default(),
            },
            printer: layer.printer.as_ref().and_then(PrinterLayer::settings),
            auto_print: layer
                .printer
                .as_ref()
                .and_then(|p| p.auto_print)
                .unwrap_or(false),
            catalog: layer.catalog.unwrap_or_default(),
            kiosk: layer.kiosk.unwrap_or(false),
            lock_after: match layer.lock_after_secs {
                None => Some(DEFAULT_LOCK_AFTER),
                Some(0) => None,
                Some(s) => Some(Duration::from_secs(s)),
            },
            customer_display: layer.customer_display,
            path: path.to_owned(),
        })
    }

    /// The catalog, checked in the till's currency ([`Config::default_currency`]).
    pub fn catalog(&self) -> Result<Catalog, ConfigError> {
        self.check_catalog_priced()?;
        Catalog::from_section(&self.catalog, self.default_currency).map_err(|source| {
            ConfigError::Catalog {
                origin: self.path.display().to_string(),
                source,
            }
        })
    }

    /// Prices mean nothing without their currency: a catalog with items needs the till's
    /// currency chosen, never the built-in default. (A `currency` inside the catalog is
    /// checked against it by the catalog.)
    fn check_catalog_priced(&self) -> Result<(), ConfigError> {
        if self.catalog.items.is_empty() || self.currency_chosen {
            Ok(())
        } else {
            Err(ConfigError::CatalogWithoutCurrency {
                origin: self.path.display().to_string(),
            })
        }
    }

    /// The mode to run in, given the secret key that [`crate::secrets::resolve`] found:
    /// the configured mode, checked against the key; else demo when there is no key, and
    /// test or live by the key's prefix when there is one.
    pub fn effective_mode(&self, secret_key: Option<&Secret>) -> Result<Mode, ConfigError> {
        let key_kind = secret_key.map(|k| {
            let k = k.expose();
            if k.starts_with("sk_test_") {
                Some(Mode::Test)
            } else if k.starts_with("sk_live_") {
                Some(Mode::Live)
            } else {
                None
            }
        });
        match (self.mode, key_kind) {
            (Some(Mode::Demo), _) | (None, None) => Ok(Mode::Demo),
            (Some(mode), None) => Err(ConfigError::MissingKey { mode }),
            (Some(mode), Some(Some(kind))) if kind != mode => Err(ConfigError::KeyModeMismatch {
                mode,
                key_kind: kind,
            }),
            (Some(mode), Some(_)) => Ok(mode),
            (None, Some(Some(kind))) => Ok(kind),
            (None, Some(None)) => Err(ConfigError::UnknownKeyKind),
        }
    }
}

/// The payment API's base as installers type it: a bare origin (what the sandbox prints,
/// `https://pay.crypto.com`) means its `/api/` path.
pub fn normalize_api_url(url: &str) -> String {
    let url = url.trim();
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        None => format!("{url}/api/"),
        Some(i) if after_scheme[i..].trim_matches('/').is_empty() => {
            format!("{}/api/", url.trim_end_matches('/'))
        }
        Some(_) => url.to_owned(),
    }
}

/// `T1` for "Till 1", `FRONT` for "Front desk": letters and digits of the name's words.
fn order_prefix_from_name(name: Option<&str>) -> String {
    let name = name.unwrap_or(DEFAULT_TERMINAL_NAME);
    let words: Vec<&str> = name.split_whitespace().collect();
    let mut out: String = if words.len() > 1 {
        words
            .iter()
            .filter_map(|w| {
                if w.chars().all(|c| c.is_ascii_digit()) {
                    Some(w.to_string())
                } else {
                    w.chars()
                        .find(char::is_ascii_alphanumeric)
                        .map(|c| c.to_string())
                }
            })
            .collect()
    } else {
        name.chars().filter(char::is_ascii_alphanumeric).collect()
    };
    out = out.to_ascii_uppercase();
    out.truncate(12);
    if out.is_empty() {
        "T".to_owned()
    } else {
        out
    }
}

/// A file's text; `None` when there is no file (first start).
fn read_text(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The `[catalog]` value of a parsed file as a section. A value of the wrong shape is
/// reported by the catalog's own reader, which names the line (never repeating it).
pub(crate) fn catalog_section(
    value: toml::Value,
    text: &str,
    origin: &str,
) -> Result<CatalogSection, ConfigError> {
    CatalogSection::deserialize(value).map_err(|e| {
        let currency = Currency::from_code(DEFAULT_CURRENCY);
        let source = match currency.map(|c| Catalog::from_toml(text, c)) {
            Ok(Err(syntax @ CatalogError::Syntax { .. })) => syntax,
            _ => CatalogError::Syntax {
                line: None,
                message: e.message().trim().to_owned(),
            },
        };
        ConfigError::Catalog {
            origin: origin.to_owned(),
            source,
        }
    })
}

fn parse_table(text: &str, path: &Path) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: syntax_position(text, &e),
        })
}

/// Where a TOML syntax error is, without the line's text (which may hold a key).
pub(crate) fn syntax_position(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("syntax error at line {line}, column {column}")
        }
        None => "syntax error".to_owned(),
    }
}

fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS
        .iter()
        .any(|s| k == *s || k.ends_with(&format!("_{s}")))
}

fn check_url(url: &str, schemes: &[&str]) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not a URL ({e})"))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(format!(
            "'{url}' must start with {}",
            schemes
                .iter()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Credentials in a URL end up in logs and in this file.
        return Err("must not carry a user name or password".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{url}' has no host"));
    }
    Ok(())
}

/// Temp file in the same directory, fsync, rename over, fsync the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_owned(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_api_origin_means_its_api_path() {
        assert_eq!(
            normalize_api_url("http://127.0.0.1:9000"),
            "http://127.0.0.1:9000/api/"
        );
        assert_eq!(
            normalize_api_url("https://pay.crypto.com/"),
            "https://pay.crypto.com/api/"
        );
        assert_eq!(
            normalize_api_url("https://pay.crypto.com/api/"),
            "https://pay.crypto.com/api/"
        );
        assert_eq!(normalize_api_url("http://h:1/v2/api"), "http://h:1/v2/api");
    }

    #[test]
    fn order_prefixes_come_from_the_terminal_name() {
        assert_eq!(order_prefix_from_name(Some("Till 1")), "T1");
        assert_eq!(order_prefix_from_name(Some("Front desk 12")), "FD12");
        assert_eq!(order_prefix_from_name(Some("Bar")), "BAR");
        assert_eq!(order_prefix_from_name(Some("éé")), "T");
    }

    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn later_layers_win_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "mode = \"test\"\nterminal_name = \"Front till\"\ndefault_currency = \"EUR\"\n\
             relay_url = \"https://relay.example\"\nheartbeat_timeout_secs = 20\n\
             fallback_after_secs = 5\n",
        )
        .unwrap();
        let env = env_of(&[
            ("PAYDESK_TERMINAL_NAME", "Env till"),
            ("PAYDESK_RELAY_URL", "wss://env-relay.example/ws"),
        ]);
        let flags = ConfigLayer {
            relay_url: Some("https://flag-relay.example".into()),
            ..ConfigLayer::default()
        };
        let c = Config::load_from(&path, env, flags).unwrap();
        assert_eq!(c.mode, Some(Mode::Test));
        assert_eq!(c.terminal_name, "Env till");
        assert_eq!(c.default_currency.code(), "EUR");
        assert_eq!(c.relay_url.as_deref(), Some("https://flag-relay.example"));
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.heartbeat_timeout, Some(Duration::from_secs(20)));
        assert_eq!(c.fallback_after, Some(Duration::from_secs(5)));
        assert_eq!(c.poll_interval, None);
    }

    #[test]
    fn no_file_and_no_keys_means_demo() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load_from(
            &dir.path().join("none.toml"),
            |_| None,
            ConfigLayer::default(),
        )
        .unwrap();
        assert_eq!(c.mode, None);
        assert_eq!(c.effective_mode(None).unwrap(), Mode::Demo);
        assert_eq!(c.terminal_name, DEFAULT_TERMINAL_NAME);
        assert_eq!(c.default_currency.code(), "USD");
    }

    #[test]
    fn mode_follows_the_key_unless_set_and_disagreements_are_refused() {
        let mut c = Config::from_layer(ConfigLayer::default(), Path::new("x")).unwrap();
        let test = Secret::new("sk_test_1");
        let live = Secret::new("sk_live_1");
        assert_eq!(c.effective_mode(Some(&test)).unwrap(), Mode::Test);
        assert_eq!(c.effective_mode(Some(&live)).unwrap(), Mode::Live);
        assert!(matches!(
            c.effective_mode(Some(&Secret::new("abc"))),
            Err(ConfigError::UnknownKeyKind)
        ));
        c.mode = Some(Mode::Live);
        assert!(matches!(
            c.effective_mode(None),
            Err(ConfigError::MissingKey { mode: Mode::Live })
        ));
        let err = c.effective_mode(Some(&test)).unwrap_err();
        assert!(matches!(err, ConfigError::KeyModeMismatch { .. }));
        assert!(!err.to_string().contains("sk_test_1"));
        c.mode = Some(Mode::Demo);
        assert_eq!(c.effective_mode(Some(&live)).unwrap(), Mode::Demo);
    }

    #[test]
    fn a_pin_in_the_config_file_is_refused_without_echoing_it() {
        for key in ["owner_pin", "pin"] {
            let err = ConfigLayer::parse(&format!("{key} = \"739251\"\n"), Path::new("c.toml"))
                .unwrap_err();
            assert!(matches!(err, ConfigError::PinInFile { .. }), "{err}");
            assert!(!err.to_string().contains("739251"), "{err}");
        }
    }

    #[test]
    fn kiosk_idle_lock_and_customer_display_settings_layer_and_validate() {
        let c = Config::load_from(
            Path::new("/nonexistent/c.toml"),
            env_of(&[("PAYDESK_KIOSK", "1"), ("PAYDESK_LOCK_AFTER", "0")]),
            ConfigLayer {
                customer_display: Some("HDMI-1".into()),
                ..ConfigLayer::default()
            },
        )
        .unwrap();
        assert!(c.kiosk);
        assert_eq!(c.lock_after, None, "0 locks on demand only");
        assert_eq!(c.customer_display.as_deref(), Some("HDMI-1"));
        let d = Config::from_layer(ConfigLayer::default(), Path::new("x")).unwrap();
        assert!(!d.kiosk);
        assert_eq!(d.lock_after, Some(DEFAULT_LOCK_AFTER));
        let layer = ConfigLayer::parse("kiosk = true\nlock_after_secs = 90\n", Path::new("c.toml"))
            .unwrap();
        assert_eq!(layer.kiosk, Some(true));
        assert_eq!(layer.lock_after_secs, Some(90));
        let err = ConfigLayer::parse("lock_after_secs = 999999", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("lock_after_secs"), "{err}");
        let err = ConfigLayer::from_env(env_of(&[("PAYDESK_KIOSK", "maybe")])).unwrap_err();
        assert!(err.to_string().starts_with("PAYDESK_KIOSK"), "{err}");
    }

    #[test]
    fn a_key_in_the_config_file_is_refused_without_echoing_it() {
        let err = ConfigLayer::parse(
            "terminal_name = \"A\"\nsecret_key = \"sk_live_topsecret\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::SecretInFile { ref key, .. } if key == "secret_key"));
        assert!(!err.to_string().contains("topsecret"));
        // A syntax error on a key's line names the position only.
        let err =
            ConfigLayer::parse("terminal_key = \"tk_topsecret\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(!err.to_string().contains("topsecret"), "{err}");
    }

    #[test]
    fn bad_values_name_their_origin() {
        let err = ConfigLayer::parse("api_url = \"ftp://x\"", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("api_url"), "{err}");
        let err = ConfigLayer::parse("mode = \"production\"", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("c.toml"), "{err}");
        let err = ConfigLayer::parse("colour = \"red\"", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = ConfigLayer::from_env(env_of(&[("PAYDESK_CURRENCY", "XYZ")])).unwrap_err();
        assert!(err.to_string().starts_with("PAYDESK_CURRENCY"), "{err}");
        let err = ConfigLayer::from_env(env_of(&[("PAYDESK_MODE", "prod")])).unwrap_err();
        assert!(err.to_string().contains("demo, test, live"), "{err}");
        let err = ConfigLayer::parse("relay_url = \"https://u:p@relay\"", Path::new("c.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        let err = ConfigLayer::parse("poll_interval_secs = 0", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("poll_interval_secs"), "{err}");
    }

    #[test]
    fn save_round_trips_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.toml");
        let layer = ConfigLayer {
            mode: Some(Mode::Live),
            terminal_name: Some("Till \"3\"".into()),
            default_currency: Some(Currency::from_code("JPY").unwrap()),
            relay_url: Some("wss://relay.example/ws".into()),
            poll_interval_secs: Some(3),
            ..ConfigLayer::default()
        };
        layer.save(&path).unwrap();
        assert_eq!(ConfigLayer::load(&path).unwrap(), layer);
        let overwrite = ConfigLayer {
            mode: Some(Mode::Test),
            ..layer.clone()
        };
        overwrite.save(&path).unwrap();
        assert_eq!(ConfigLayer::load(&path).unwrap(), overwrite);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["config.toml".to_owned()]);
    }

    #[test]
    fn shop_and_printer_sections_layer_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "merchant = \"Müller GmbH\"\n[shop]\naddress = [\"Hauptstraße 1\", \"Berlin\"]\n\
             [printer]\nurl = \"tcp://10.0.0.5\"\npaper = \"58mm\"\ncode_page = \"wpc1252\"\n",
        )
        .unwrap();
        let env = env_of(&[
            ("PAYDESK_PRINTER", "tcp://127.0.0.1:9100"),
            ("PAYDESK_AUTO_PRINT", "1"),
        ]);
        let c = Config::load_from(&path, env, ConfigLayer::default()).unwrap();
        // The name falls back to the merchant label; the address is the file's.
        assert_eq!(c.shop.name, "Müller GmbH");
        assert_eq!(c.shop.address, ["Hauptstraße 1", "Berlin"]);
        let printer = c.printer.unwrap();
        // The environment's address over the file's; the file's paper and code page kept.
        assert_eq!(printer.url, "tcp://127.0.0.1:9100");
        assert_eq!(printer.paper, Paper::Mm58);
        assert_eq!(printer.code_page, CodePage::Wpc1252);
        assert!(c.auto_print);

        let none = Config::from_layer(ConfigLayer::default(), Path::new("x")).unwrap();
        assert_eq!(none.printer, None);
        assert!(!none.auto_print);
        assert_eq!(none.shop.name, DEFAULT_TERMINAL_NAME);
    }

    #[test]
    fn bad_shop_and_printer_settings_are_refused_with_their_name() {
        let err =
            ConfigLayer::parse("[printer]\nurl = \"ftp://x\"", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("printer"), "{err}");
        let err = ConfigLayer::parse(
            "[printer]\nurl = \"tcp://x\"\ncolumns = 3",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("printer"), "{err}");
        let err = ConfigLayer::parse(
            "[printer]\nurl = \"tcp://x\"\nautoprint = true",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("autoprint"), "{err}");
        let err = ConfigLayer::parse("[shop]\nname = \"\"", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("shop.name"), "{err}");
        let lines = format!("[shop]\naddress = [{}]", ["\"l\""; 7].join(","));
        let err = ConfigLayer::parse(&lines, Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("shop.address"), "{err}");
        let err = ConfigLayer::from_env(env_of(&[("PAYDESK_AUTO_PRINT", "maybe")])).unwrap_err();
        assert!(err.to_string().starts_with("PAYDESK_AUTO_PRINT"), "{err}");
    }

    #[test]
    fn paydesk_config_env_names_the_file() {
        let p =
            default_path_with(|v| (v == CONFIG_ENV).then(|| "/etc/paydesk.toml".into())).unwrap();
        assert_eq!(p, PathBuf::from("/etc/paydesk.toml"));
        let p = default_path_with(|_| None).unwrap();
        assert!(p.ends_with(FILE_NAME));
    }
}
