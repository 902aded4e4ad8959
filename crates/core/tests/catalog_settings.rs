//! `[catalog]` in the till's settings and in store provisioning files, on real files:
//! checked in the till's currency, each problem with its line, replaced as a whole by a
//! later layer, saved and read back, provisioned into the config.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use paydesk_core::config::{Config, ConfigError, ConfigLayer};
use paydesk_core::provision::{ProvisionError, Provisioning};
use paydesk_core::secrets::{Account, MemoryStore, SecretStore};
use paydesk_sale::section::{ItemEntry, Scalar};
use paydesk_sale::CatalogSection;

const CATALOG: &str = r#"
[catalog]
default_tax = "vat20"

[[catalog.tax]]
id = "vat20"
label = "VAT 20%"
rate = "20"
kind = "inclusive"

[[catalog.item]]
sku = "latte"
name = "Latte"
price = "3.50"
"#;

fn no_env(_: &str) -> Option<String> {
    None
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_files_catalog_is_checked_in_the_tills_currency_naming_each_problems_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "default_currency = \"EUR\"\n{CATALOG}\n[[catalog.item]]\nsku = \"bagel\"\nname = \
         \"Bagel\"\nprice = \"2.00 USD\"\ntax = \"vat7\"\n"
    );
    let path = write(dir.path(), "config.toml", &text);
    let err = Config::load_from(&path, no_env, ConfigLayer::default()).unwrap_err();
    assert!(matches!(err, ConfigError::Catalog { .. }), "{err}");
    let bagel = line_of(&text, "sku = \"bagel\"") - 1;
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "line {bagel}: item 2 'bagel': unknown tax rate 'vat7' (declared: vat20)"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "line {bagel}: item 2 'bagel': price is in USD, but this till charges in EUR"
        )),
        "{message}"
    );
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
}

#[test]
fn a_misspelt_catalog_key_is_refused_at_its_line() {
    let text = format!("default_currency = \"EUR\"\n{CATALOG}prcie = \"1\"\n");
    let err = ConfigLayer::parse(&text, Path::new("c.toml")).unwrap_err();
    let line = line_of(&text, "prcie");
    assert!(
        err.to_string().contains(&format!(
            "cannot be read at line {line}: unknown field `prcie`"
        )),
        "{err}"
    );
}

#[test]
fn a_float_price_is_refused_with_how_to_write_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = "default_currency = \"EUR\"\n[catalog]\n[[catalog.item]]\nsku = \"tea\"\nname = \
                \"Tea\"\nprice = 2.5\n";
    let path = write(dir.path(), "config.toml", text);
    let err = Config::load_from(&path, no_env, ConfigLayer::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("line 3: item 1 'tea': price 2.5 is a float; write it as a string, e.g. price = \"2.5\""),
        "{err}"
    );
}

#[test]
fn the_environments_currency_prices_the_files_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "config.toml", CATALOG);
    let eur = |v: &str| (v == "PAYDESK_CURRENCY").then(|| "EUR".to_owned());
    let config = Config::load_from(&path, eur, ConfigLayer::default()).unwrap();
    let catalog = config.catalog().unwrap();
    assert_eq!(catalog.currency().code(), "EUR");
    assert_eq!(catalog.item("latte").unwrap().price.minor, 350);
    // In yen "3.50" has decimals the currency has not: the line says so.
    let jpy = |v: &str| (v == "PAYDESK_CURRENCY").then(|| "JPY".to_owned());
    let err = Config::load_from(&path, jpy, ConfigLayer::default()).unwrap_err();
    let line = line_of(CATALOG, "sku = \"latte\"") - 1;
    assert!(
        err.to_string()
            .contains(&format!("line {line}: item 1 'latte': price")),
        "{err}"
    );
}

#[test]
fn prices_without_a_currency_anywhere_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "config.toml", CATALOG);
    let err = Config::load_from(&path, no_env, ConfigLayer::default()).unwrap_err();
    assert!(
        matches!(err, ConfigError::CatalogWithoutCurrency { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("default_currency"), "{err}");
}

#[test]
fn a_later_layer_replaces_the_whole_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "config.toml",
        &format!("default_currency = \"EUR\"\n{CATALOG}"),
    );
    let settings = CatalogSection {
        items: vec![ItemEntry {
            sku: "tea".into(),
            name: "Tea".into(),
            price: Scalar::text("2.20"),
            category: None,
            tax: None,
            colour: None,
            position: None,
        }],
        ..CatalogSection::default()
    };
    let overrides = ConfigLayer {
        catalog: Some(settings),
        ..ConfigLayer::default()
    };
    let config = Config::load_from(&path, no_env, overrides).unwrap();
    let catalog = config.catalog().unwrap();
    let skus: Vec<&str> = catalog.items().iter().map(|i| i.sku.as_str()).collect();
    assert_eq!(skus, vec!["tea"]);
    assert!(
        catalog.taxes().is_empty(),
        "nothing of the file's section is kept"
    );
}

#[test]
fn a_catalog_survives_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "default_currency = \"EUR\"\nterminal_name = \"Bar\"\n{CATALOG}\n[catalog.tips]\npresets \
         = [\"5%\", 10]\nround_up_to = \"0.50\"\n[[catalog.category]]\nid = \"drinks\"\nname = \
         \"Drinks\"\ncolour = \"#6f4e37\"\n"
    );
    let layer = ConfigLayer::parse(&text, Path::new("c.toml")).unwrap();
    let path = dir.path().join("saved.toml");
    layer.save(&path).unwrap();
    let again = ConfigLayer::load(&path).unwrap();
    assert_eq!(again, layer);
    let config = Config::load_from(&path, no_env, ConfigLayer::default()).unwrap();
    let catalog = config.catalog().unwrap();
    assert_eq!(catalog.tips().round_up_to.minor, 50);
    assert_eq!(catalog.categories()[0].colour.as_deref(), Some("#6f4e37"));
}

const STORE: &str = r#"
terminal_name = "Front till"
currency = "EUR"

[catalog]
default_tax = "vat20"

[[catalog.tax]]
id = "vat20"
label = "VAT 20%"
rate = "20"
kind = "inclusive"

[[catalog.item]]
sku = "latte"
name = "Latte"
price = "3.50"
"#;

#[test]
fn a_store_file_provisions_the_catalog_into_the_tills_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "till.toml", STORE);
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, "poll_interval_secs = 4\n").unwrap();
    let p = Provisioning::load(&file).unwrap();
    p.apply(&MemoryStore::new(), &config_path).unwrap();
    let config = Config::load_from(&config_path, no_env, ConfigLayer::default()).unwrap();
    assert_eq!(config.terminal_name, "Front till");
    let catalog = config.catalog().unwrap();
    assert_eq!(catalog.item("latte").unwrap().price.minor, 350);
    assert_eq!(catalog.default_tax().unwrap().label, "VAT 20%");
}

#[test]
fn a_store_files_catalog_errors_name_their_lines_and_never_a_key() {
    let text = format!(
        "secret_key = \"sk_live_leak\"\n{}",
        STORE.replace("price = \"3.50\"\n", "price = \"3.50\"\ntax = \"vat9\"\n")
    );
    let err = Provisioning::parse(&text, Path::new("till.toml")).unwrap_err();
    let line = line_of(&text, "sku = \"latte\"") - 1;
    assert!(
        err.to_string().contains(&format!(
            "line {line}: item 1 'latte': unknown tax rate 'vat9'"
        )),
        "{err}"
    );
    assert!(!err.to_string().contains("leak"), "{err}");
}

#[test]
fn a_store_files_prices_need_their_currency() {
    let text = STORE.replace("currency = \"EUR\"\n", "");
    let err = Provisioning::parse(&text, Path::new("till.toml")).unwrap_err();
    assert!(matches!(err, ProvisionError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("currency"), "{err}");
    // Named in the catalog itself, it is enough.
    let text = text.replace("[catalog]\n", "[catalog]\ncurrency = \"EUR\"\n");
    Provisioning::parse(&text, Path::new("till.toml")).unwrap();
}

#[test]
fn a_catalog_in_another_currency_than_the_tills_is_refused_before_the_config_changes() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    let before = "default_currency = \"USD\"\n";
    std::fs::write(&config_path, before).unwrap();
    let text = STORE
        .replace("currency = \"EUR\"\n", "")
        .replace("[catalog]\n", "[catalog]\ncurrency = \"EUR\"\n");
    let p = Provisioning::parse(&text, Path::new("till.toml")).unwrap();
    let store = MemoryStore::new();
    let err = p.apply(&store, &config_path).unwrap_err();
    assert!(
        err.to_string()
            .contains("the catalog is in EUR, but this till charges in USD"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), before);
    assert!(store.get(Account::SecretKey).unwrap().is_none());
}

#[test]
fn the_example_provisioning_file_and_its_catalog_are_accepted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/provisioning.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let p = Provisioning::parse(&text, &path).unwrap();
    let config = Config::from_layer(p.settings, &path).unwrap();
    let catalog = config.catalog().unwrap();
    let keys: Vec<&str> = catalog
        .quick_keys()
        .iter()
        .map(|i| i.sku.as_str())
        .collect();
    assert_eq!(keys, vec!["latte", "espresso", "croissant"]);
    assert_eq!(
        catalog.item("croissant").unwrap().tax.as_deref(),
        Some("vat5.5")
    );
}
