//! The `[catalog]` section as an owner or an installer writes it: what is accepted, and
//! errors that name the line and the item for what is not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use paydesk_protocol::{Currency, Money};
use paydesk_sale::catalog::NO_TAX;
use paydesk_sale::{
    Catalog, CatalogError, CatalogSection, Percent, Place, Problem, RoundingMode, TaxKind,
    TaxRounding,
};

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

const CAFE: &str = r##"
terminal_name = "Front till"   # the rest of the config file is not the catalog's business
currency = "EUR"

[catalog]
default_tax = "vat20"
tax_rounding = "per_line"
rounding_mode = "half_even"

[catalog.tips]
presets = ["10%", "12.5%", 15]
max_percent = "50"
round_up_to = "0.50"
ask_customer = false

[[catalog.tax]]
id = "vat20"
label = "VAT 20%"
rate = "20"
kind = "inclusive"

[[catalog.tax]]
id = "vat5.5"
label = "VAT 5.5%"
rate = "5.5%"
kind = "inclusive"

[[catalog.category]]
id = "drinks"
name = "Drinks"
colour = "#6f4e37"

[[catalog.item]]
sku = "latte"
name = "Latte"
price = "3.50"
category = "drinks"
colour = "#c0a080"
position = 2

[[catalog.item]]
sku = "croissant"
name = "Croissant"
price = "1.80 EUR"
tax = "vat5.5"
position = 1

[[catalog.item]]
sku = "water"
name = "Tap water"
price = "0"
tax = "none"
"##;

#[test]
fn reads_a_cafe_catalog_from_a_config_file() {
    let c = Catalog::from_toml(CAFE, eur()).unwrap();
    assert_eq!(c.items().len(), 3);
    let latte = c.item("LATTE").unwrap();
    assert_eq!(latte.price, Money::new(350, eur()));
    assert_eq!(latte.tax.as_deref(), Some("vat20"), "the default rate");
    assert_eq!(latte.category.as_deref(), Some("drinks"));
    assert_eq!(c.item("croissant").unwrap().price.minor, 180);
    assert_eq!(c.item("water").unwrap().tax, None, "tax = \"none\"");
    assert_eq!(c.item("water").unwrap().price.minor, 0);
    let vat = c.tax("vat5.5").unwrap();
    assert_eq!(vat.rate, Percent::parse("5.5").unwrap());
    assert_eq!(vat.kind, TaxKind::Inclusive);
    assert_eq!(c.tax_rounding(), TaxRounding::PerLine);
    assert_eq!(c.rounding_mode(), RoundingMode::HalfEven);
    let tips = c.tips();
    assert!(!tips.ask_customer);
    assert_eq!(
        tips.presets,
        ["10", "12.5", "15"].map(|p| Percent::parse(p).unwrap())
    );
    assert_eq!(tips.max_percent, Percent::whole(50).unwrap());
    assert_eq!(tips.round_up_to, Money::new(50, eur()));
    let keys: Vec<&str> = c.quick_keys().iter().map(|i| i.sku.as_str()).collect();
    assert_eq!(keys, ["croissant", "latte", "water"]);
}

#[test]
fn a_file_without_a_catalog_is_an_empty_catalog_with_default_tips() {
    let c = Catalog::from_toml("terminal_name = \"Till\"\n", eur()).unwrap();
    assert_eq!(c, Catalog::empty(eur()));
    assert_eq!(c.tips().presets.len(), 3);
    assert_eq!(c.tax_rounding(), TaxRounding::PerTotal);
    assert_eq!(c.rounding_mode(), RoundingMode::HalfUp);
    assert_eq!(c.tips().round_up_to, Money::new(100, eur()));
}

#[test]
fn the_same_section_reads_from_the_json_the_settings_screen_sends() {
    let toml_catalog = Catalog::from_toml(CAFE, eur()).unwrap();
    let doc: toml::Table = toml::from_str(CAFE).unwrap();
    let json = serde_json::to_value(&doc["catalog"]).unwrap();
    let section: CatalogSection = serde_json::from_value(json).unwrap();
    assert_eq!(
        Catalog::from_section(&section, eur()).unwrap(),
        toml_catalog
    );
    // …and writes back to TOML that reads the same.
    let mut doc = toml::Table::new();
    doc.insert("catalog".into(), toml::Value::try_from(&section).unwrap());
    let written = toml::to_string(&doc).unwrap();
    assert_eq!(
        Catalog::from_toml(&written, eur()).unwrap(),
        toml_catalog,
        "{written}"
    );
}

fn issues(text: &str) -> Vec<(Option<usize>, Place, Problem)> {
    match Catalog::from_toml(text, eur()) {
        Err(CatalogError::Invalid(issues)) => issues
            .into_iter()
            .map(|i| (i.line, i.place, i.problem))
            .collect(),
        other => panic!("expected issues, got {other:?}"),
    }
}

#[test]
fn every_problem_names_its_line_and_item() {
    let text = r#"[catalog]
currency = "EUR"

[[catalog.tax]]
id = "vat19"
label = "MwSt 19%"
rate = "119"
kind = "inclusive"

[[catalog.tax]]
id = "none"
label = "Nothing"
rate = "0"
kind = "additive"

[[catalog.item]]
sku = "latte"
name = "Latte"
price = "3.50"
tax = "vat7"

[[catalog.item]]
sku = "Latte"
name = "Latte again"
price = "-1"

[[catalog.item]]
sku = "bagel"
name = "Bagel"
price = "2.00 USD"
category = "food"
"#;
    let found = issues(text);
    let item = |index: usize, sku: &str| Place::Item {
        index,
        sku: sku.to_owned(),
    };
    let expected = [
        (
            Some(4),
            Place::Tax {
                index: 0,
                id: "vat19".into(),
            },
        ),
        (
            Some(10),
            Place::Tax {
                index: 1,
                id: "none".into(),
            },
        ),
        (Some(16), item(0, "latte")),
        (Some(22), item(1, "Latte")),
        (Some(22), item(1, "Latte")),
        (Some(27), item(2, "bagel")),
        (Some(27), item(2, "bagel")),
    ];
    let places: Vec<(Option<usize>, Place)> =
        found.iter().map(|(l, p, _)| (*l, p.clone())).collect();
    assert_eq!(places, expected, "{found:#?}");
    let problems: Vec<&Problem> = found.iter().map(|(_, _, p)| p).collect();
    assert!(matches!(
        problems[0],
        Problem::OutOfRange { field: "rate", .. }
    ));
    assert_eq!(problems[1], &Problem::ReservedId);
    assert!(matches!(problems[2], Problem::UnknownTax { id, .. } if id == "vat7"));
    assert_eq!(problems[3], &Problem::DuplicateSku { first: 1 });
    assert_eq!(problems[4], &Problem::Negative { field: "price" });
    assert!(matches!(problems[5], Problem::WrongCurrency { found, .. } if found == "USD"));
    assert!(matches!(problems[6], Problem::UnknownCategory { id, .. } if id == "food"));

    let message = Catalog::from_toml(text, eur()).unwrap_err().to_string();
    assert!(
        message.contains("line 16: item 1 'latte': unknown tax rate 'vat7' (declared: none)"),
        "{message}"
    );
    assert!(
        message.contains("line 22: item 2 'Latte': the SKU is used by item 1 too"),
        "{message}"
    );
    assert!(
        message.contains("rate 119% is out of range (0% to 100%)"),
        "{message}"
    );
}

#[test]
fn floats_are_refused_with_the_way_to_write_them() {
    let text = "[catalog]\n[[catalog.item]]\nsku = \"tea\"\nname = \"Tea\"\nprice = 2.5\n";
    let found = issues(text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, Some(2));
    assert_eq!(
        found[0].2.to_string(),
        "price 2.5 is a float; write it as a string, e.g. price = \"2.5\""
    );
    let rate = "[catalog]\n[[catalog.tax]]\nid = \"t\"\nlabel = \"T\"\nrate = 8.875\nkind = \"additive\"\n";
    assert!(matches!(
        issues(rate)[0].2,
        Problem::Float { field: "rate", .. }
    ));
}

#[test]
fn whole_number_prices_are_whole_units() {
    let text = "[catalog]\n[[catalog.item]]\nsku = \"ramen\"\nname = \"Ramen\"\nprice = 980\n";
    let jpy = Currency::from_code("JPY").unwrap();
    let c = Catalog::from_toml(text, jpy).unwrap();
    assert_eq!(c.item("ramen").unwrap().price, Money::new(980, jpy));
    let c = Catalog::from_toml(text, eur()).unwrap();
    assert_eq!(c.item("ramen").unwrap().price.minor, 98_000);
}

#[test]
fn typos_and_syntax_errors_give_a_line_without_echoing_the_file() {
    let typo = "secret_key = \"sk_live_do_not_print\"\n[catalog]\n[[catalog.item]]\nsku = \"tea\"\nname = \"Tea\"\nprcie = \"2\"\n";
    let err = Catalog::from_toml(typo, eur()).unwrap_err();
    let CatalogError::Syntax { line, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, Some(6));
    assert!(message.contains("prcie"), "{message}");
    assert!(!err.to_string().contains("sk_live"), "{err}");

    let broken = "secret_key = \"sk_live_do_not_print\n[catalog]\n";
    let err = Catalog::from_toml(broken, eur()).unwrap_err();
    assert!(
        matches!(err, CatalogError::Syntax { line: Some(1), .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("sk_live"), "{err}");
}

#[test]
fn the_catalog_currency_must_be_the_tills() {
    let found = issues("[catalog]\ncurrency = \"USD\"\n");
    assert_eq!(found[0].0, Some(1));
    assert_eq!(found[0].1, Place::Catalog);
    assert_eq!(
        found[0].2.to_string(),
        "the catalog is in USD, but this till charges in EUR"
    );
}

#[test]
fn default_tax_must_be_declared_and_none_means_untaxed() {
    let found = issues("[catalog]\ndefault_tax = \"vat\"\n");
    assert!(
        matches!(&found[0].2, Problem::UnknownTax { id, declared } if id == "vat" && declared == "none")
    );
    let c = Catalog::from_toml(&format!("[catalog]\ndefault_tax = \"{NO_TAX}\"\n"), eur()).unwrap();
    assert!(c.default_tax().is_none());
}

#[test]
fn quick_key_details_are_checked() {
    let text = r#"[catalog]
[[catalog.item]]
sku = "a b"
name = ""
price = "1"
colour = "red"
position = 1

[[catalog.item]]
sku = "c"
name = "C"
price = "1.234"
position = 1

[[catalog.item]]
sku = "d"
name = "Line\nbreak"
price = "1"
"#;
    let found = issues(text);
    let problems: Vec<String> = found.iter().map(|(_, _, p)| p.to_string()).collect();
    assert_eq!(
        problems,
        [
            "sku 'a b' may hold only letters, digits, '-', '_' and '.'",
            "name is empty",
            "colour 'red' is not #rgb or #rrggbb",
            "price: EUR has at most 2 decimal places",
            "quick-key position 1 is taken by item 1 too",
            "name holds control characters (a line break, a tab, …)",
        ]
    );
}

#[test]
fn tip_settings_are_checked() {
    let text = "[catalog.tips]\npresets = [\"10%\", \"60%\", 12.5]\nmax_percent = \"50\"\nround_up_to = \"0\"\n";
    let found = issues(text);
    assert!(found
        .iter()
        .all(|(line, place, _)| *line == Some(1) && *place == Place::Tips));
    let problems: Vec<String> = found.iter().map(|(_, _, p)| p.to_string()).collect();
    assert_eq!(
        problems,
        [
            "presets 60% is out of range (0% to 50%)",
            "presets 12.5 is a float; write it as a string, e.g. presets = \"12.5\"",
            "round_up_to: must be more than zero",
        ]
    );
}
