//! Ringing up: the cart's operations, and the worked examples of `docs/sale.md` to the
//! last minor unit (totals, receipt, description, metadata).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use paydesk_protocol::{Currency, Money};
use paydesk_sale::{
    description, metadata, AmountTax, Cart, CartError, Catalog, LineId, MetadataLimits, Percent,
    Receipt, RoundingMode, Summary, TaxKind, TaxRounding, Tip, TipError, DESCRIPTION_MAX_CHARS,
};

fn cur(code: &str) -> Currency {
    Currency::from_code(code).unwrap()
}

fn catalog(text: &str, currency: &str) -> Arc<Catalog> {
    Arc::new(Catalog::from_toml(text, cur(currency)).unwrap())
}

const CAFE: &str = r#"
[catalog]
default_tax = "vat20"

[[catalog.tax]]
id = "vat20"
label = "VAT 20%"
rate = "20"
kind = "inclusive"

[[catalog.tax]]
id = "vat5.5"
label = "VAT 5.5%"
rate = "5.5"
kind = "inclusive"

[[catalog.item]]
sku = "latte"
name = "Latte"
price = "3.50"

[[catalog.item]]
sku = "croissant"
name = "Croissant"
price = "1.80"
tax = "vat5.5"
"#;

fn pct(p: &str) -> Tip {
    Tip::Percent(Percent::parse(p).unwrap())
}

#[test]
fn example_cafe_two_lattes_and_a_croissant_with_a_15_percent_tip() {
    let mut cart = Cart::new(catalog(CAFE, "EUR"));
    cart.add_item("latte", 1).unwrap();
    cart.add_item("croissant", 1).unwrap();
    cart.add_item("latte", 1).unwrap();
    assert_eq!(cart.lines().len(), 2, "a second tap adds to the line");

    let t = cart.totals(&pct("15")).unwrap();
    let minor = |m: Money| m.minor;
    assert_eq!(minor(t.subtotal), 880);
    assert_eq!(t.taxes.len(), 2);
    // 7.00 × 20/120 = 1.1666… → 1.17; 1.80 × 5.5/105.5 = 0.0938… → 0.09
    assert_eq!(
        (t.taxes[0].id.as_str(), minor(t.taxes[0].tax)),
        ("vat20", 117)
    );
    assert_eq!((minor(t.taxes[0].net), minor(t.taxes[0].gross)), (583, 700));
    assert_eq!(
        (t.taxes[1].id.as_str(), minor(t.taxes[1].tax)),
        ("vat5.5", 9)
    );
    assert_eq!(minor(t.included_tax), 126);
    assert_eq!(minor(t.added_tax), 0);
    assert_eq!(minor(t.before_tip), 880);
    assert_eq!(minor(t.tip), 132); // 8.80 × 15 % = 1.32
    assert_eq!(minor(t.total), 1012);
    assert_eq!(t.charge_amount().unwrap().minor, 1012);

    let r = Receipt::from_totals(&t);
    assert_eq!(r.lines[0].name, "Latte");
    assert_eq!(r.lines[0].detail.as_deref(), Some("2 × 3.50 EUR"));
    assert_eq!(r.lines[0].amount, "7.00 EUR");
    assert_eq!(r.lines[0].tax.as_deref(), Some("VAT 20%"));
    assert_eq!(r.lines[1].detail, None);
    assert_eq!(r.taxes[0].label, "VAT 20% incl.");
    assert!(r.taxes[0].included);
    assert_eq!(
        (r.taxes[0].net.as_str(), r.taxes[0].tax.as_str()),
        ("5.83 EUR", "1.17 EUR")
    );
    assert_eq!(r.tip.as_deref(), Some("1.32 EUR"));
    assert_eq!(r.total, "10.12 EUR");

    let summary = Summary::of(&t);
    assert_eq!(summary.description, "2× Latte, Croissant");
    let meta = summary.metadata;
    let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(
        meta["sale"],
        r#"{"added_tax":"0.00","currency":"EUR","included_tax":"1.26","lines":2,"lines_omitted":0,"subtotal":"8.80","taxes_omitted":0,"tip":"1.32","total":"10.12","v":1}"#
    );
    assert_eq!(
        meta["sale_tax"],
        r#"[["vat20","20%","incl","5.83","1.17"],["vat5.5","5.5%","incl","1.71","0.09"]]"#
    );
    assert_eq!(
        meta["sale_lines"],
        r#"[["latte","Latte",2,"3.50","7.00"],["croissant","Croissant",1,"1.80","1.80"]]"#
    );
}

const DINER: &str = r#"
[catalog]
default_tax = "nyc"
tax_rounding = "per_line"

[[catalog.tax]]
id = "nyc"
label = "Sales tax"
rate = "8.875"
kind = "additive"

[[catalog.item]]
sku = "bagel"
name = "Bagel"
price = "1.00"

[[catalog.item]]
sku = "coffee"
name = "Coffee"
price = "1.00"
"#;

#[test]
fn example_per_line_and_per_total_rounding_of_additive_sales_tax() {
    // Two lines of 1.00 at 8.875 %: 8.875 ¢ each.
    let per_line = catalog(DINER, "USD");
    let per_total = catalog(&DINER.replace("per_line", "per_total"), "USD");
    let mut totals = Vec::new();
    for c in [per_line, per_total] {
        assert_eq!(c.tax("nyc").unwrap().kind, TaxKind::Additive);
        let mut cart = Cart::new(c);
        cart.add_item("bagel", 1).unwrap();
        cart.add_item("coffee", 1).unwrap();
        totals.push(cart.totals(&Tip::None).unwrap());
    }
    // per line: 9 ¢ + 9 ¢; per total: 17.75 ¢ → 18 ¢. Added to the bill either way.
    assert_eq!(totals[0].added_tax.minor, 18);
    assert_eq!(totals[1].added_tax.minor, 18);
    assert_eq!(totals[0].total.minor, 218);

    // Two lines of 0.10 at 7.25 %: 0.725 ¢ each → 1 + 1 per line, 1.45 → 1 per total.
    let text = "[catalog]\ntax_rounding = \"per_line\"\n[[catalog.tax]]\nid = \"t\"\nlabel = \"Tax\"\nrate = \"7.25\"\nkind = \"additive\"\n";
    let mut tax = Vec::new();
    for rule in ["per_line", "per_total"] {
        let mut cart = Cart::new(catalog(&text.replace("per_line", rule), "USD"));
        for _ in 0..2 {
            cart.add_amount(
                Money::new(10, cur("USD")),
                None,
                AmountTax::Rate("t".into()),
            )
            .unwrap();
        }
        tax.push(cart.totals(&Tip::None).unwrap().added_tax.minor);
    }
    assert_eq!(tax, [2, 1]);
}

#[test]
fn example_half_up_and_half_even_on_an_exact_half() {
    // 5 % of 0.10 is exactly half a cent.
    let text = "[catalog]\nrounding_mode = \"half_up\"\n[[catalog.tax]]\nid = \"t\"\nlabel = \"Tax\"\nrate = \"5\"\nkind = \"additive\"\n";
    let mut got = Vec::new();
    for mode in ["half_up", "half_even"] {
        let c = catalog(&text.replace("half_up", mode), "EUR");
        let mut cart = Cart::new(c);
        cart.add_amount(
            Money::new(10, cur("EUR")),
            Some("Stamp"),
            AmountTax::Rate("t".into()),
        )
        .unwrap();
        got.push(cart.totals(&Tip::None).unwrap().added_tax.minor);
    }
    assert_eq!(got, [1, 0]);
}

#[test]
fn example_zero_and_eight_decimal_currencies() {
    let jp = "[catalog]\n[[catalog.tax]]\nid = \"c10\"\nlabel = \"消費税 10%\"\nrate = 10\nkind = \"additive\"\n[[catalog.tax]]\nid = \"i8\"\nlabel = \"8% incl.\"\nrate = 8\nkind = \"inclusive\"\n[[catalog.item]]\nsku = \"ramen\"\nname = \"Ramen\"\nprice = 980\ntax = \"c10\"\n[[catalog.item]]\nsku = \"bento\"\nname = \"Bento\"\nprice = 980\ntax = \"i8\"\n";
    let mut cart = Cart::new(catalog(jp, "JPY"));
    cart.add_item("ramen", 1).unwrap();
    cart.add_item("bento", 1).unwrap();
    let t = cart.totals(&Tip::RoundUp).unwrap();
    assert_eq!(t.added_tax.minor, 98);
    assert_eq!(t.included_tax.minor, 73); // 980 × 8/108 = 72.59…
    assert_eq!(t.tip.minor, 0, "round up to a whole yen adds nothing");
    assert_eq!(t.total.minor, 980 + 98 + 980);
    assert_eq!(Receipt::from_totals(&t).total, "2\u{2009}058 JPY");

    let btc = "[catalog]\n[[catalog.tax]]\nid = \"t\"\nlabel = \"Tax\"\nrate = \"7.25\"\nkind = \"additive\"\n[[catalog.item]]\nsku = \"sticker\"\nname = \"Sticker\"\nprice = \"0.00012345\"\ntax = \"t\"\n";
    let mut cart = Cart::new(catalog(btc, "BTC"));
    cart.add_item("sticker", 1).unwrap();
    let t = cart.totals(&Tip::None).unwrap();
    assert_eq!(t.added_tax.minor, 895); // 12 345 sat × 7.25 % = 895.0125
    assert_eq!(Receipt::from_totals(&t).total, "0.0001324 BTC");
}

#[test]
fn typed_amounts_are_lines_with_the_default_rate_or_the_one_chosen() {
    let mut cart = Cart::new(catalog(CAFE, "EUR"));
    let eur = |m| Money::new(m, cur("EUR"));
    let a = cart.add_amount(eur(500), None, AmountTax::Default).unwrap();
    let b = cart
        .add_amount(eur(250), Some("Gift wrap"), AmountTax::Untaxed)
        .unwrap();
    let c = cart
        .add_amount(eur(100), Some(" Cake "), AmountTax::Rate("vat5.5".into()))
        .unwrap();
    assert_ne!(a, b);
    let lines = cart.lines();
    assert_eq!(lines[0].name, "Amount");
    assert_eq!(lines[0].tax.as_ref().unwrap().id, "vat20");
    assert_eq!(lines[1].tax, None);
    assert_eq!(lines[2].name, "Cake");
    let t = cart.totals(&Tip::None).unwrap();
    assert_eq!(t.untaxed.minor, 250);
    assert_eq!(description(&t, 120), "5.00 EUR, Gift wrap, Cake");

    assert_eq!(
        cart.add_amount(eur(0), None, AmountTax::Default),
        Err(CartError::AmountNotPositive)
    );
    assert_eq!(
        cart.add_amount(Money::new(1, cur("USD")), None, AmountTax::Default),
        Err(CartError::WrongCurrency {
            found: "USD",
            till: "EUR"
        })
    );
    assert_eq!(
        cart.add_amount(eur(1), None, AmountTax::Rate("vat7".into())),
        Err(CartError::UnknownTax("vat7".into()))
    );
    assert_eq!(
        cart.add_amount(eur(1), Some(&"x".repeat(65)), AmountTax::Default),
        Err(CartError::LabelTooLong)
    );
    assert_eq!(
        cart.add_amount(eur(1), Some("Cake\x1b@"), AmountTax::Default),
        Err(CartError::BadLabel)
    );
    cart.remove(c).unwrap();
    assert_eq!(cart.lines().len(), 2);
}

#[test]
fn lines_can_be_removed_and_requantified_by_id() {
    let mut cart = Cart::new(catalog(CAFE, "EUR"));
    let latte = cart.add_item("Latte", 3).unwrap();
    let croissant = cart.add_item("croissant", 1).unwrap();
    cart.set_quantity(latte, 5).unwrap();
    assert_eq!(cart.lines()[0].quantity, 5);
    assert_eq!(
        cart.set_quantity(latte, 10_000),
        Err(CartError::BadQuantity)
    );
    assert_eq!(cart.add_item("latte", 9995), Err(CartError::BadQuantity));
    cart.set_quantity(latte, 0).unwrap();
    assert_eq!(cart.lines().len(), 1);
    assert_eq!(cart.remove(latte), Err(CartError::NoSuchLine(latte)));
    assert_eq!(cart.remove(croissant).unwrap().name, "Croissant");
    assert!(cart.is_empty());
    assert_eq!(
        cart.totals(&Tip::None).unwrap().charge_amount(),
        Err(CartError::NothingToCharge)
    );
    assert_eq!(
        cart.add_item("muffin", 1),
        Err(CartError::UnknownSku("muffin".into()))
    );
    assert_eq!(cart.add_item("latte", 0), Err(CartError::BadQuantity));
    assert_eq!(
        cart.set_quantity(LineId(999), 1),
        Err(CartError::NoSuchLine(LineId(999)))
    );
}

#[test]
fn a_cart_keeps_the_catalog_it_was_opened_with() {
    let old = catalog(CAFE, "EUR");
    let mut cart = Cart::new(old);
    cart.add_item("latte", 1).unwrap();
    // The owner raises the price in Settings; the sale in progress is unchanged.
    let _new = catalog(&CAFE.replace("\"3.50\"", "\"3.90\""), "EUR");
    assert_eq!(cart.totals(&Tip::None).unwrap().subtotal.minor, 350);
}

#[test]
fn a_sale_has_a_bounded_number_of_lines() {
    let mut cart = Cart::new(catalog(CAFE, "EUR"));
    for _ in 0..paydesk_sale::cart::MAX_LINES {
        cart.add_amount(Money::new(1, cur("EUR")), None, AmountTax::Untaxed)
            .unwrap();
    }
    assert_eq!(
        cart.add_amount(Money::new(1, cur("EUR")), None, AmountTax::Untaxed),
        Err(CartError::TooManyLines)
    );
}

#[test]
fn sums_beyond_i128_are_an_error_not_a_wrap() {
    let mut cart = Cart::new(catalog(CAFE, "EUR"));
    let huge = Money::new(i128::MAX / 2 + 1, cur("EUR"));
    let line = cart.add_amount(huge, None, AmountTax::Untaxed).unwrap();
    assert_eq!(cart.set_quantity(line, 2), Err(CartError::TooLarge));
    cart.add_amount(huge, None, AmountTax::Untaxed).unwrap();
    assert_eq!(cart.totals(&Tip::None), Err(CartError::TooLarge));
    cart.remove(line).unwrap();
    let t = cart.totals(&Tip::None).unwrap();
    assert_eq!(t.total, huge);
    assert_eq!(
        cart.totals(&pct("100")),
        Err(CartError::TooLarge),
        "a tip that would overflow the total"
    );
}

#[test]
fn the_customer_display_offers_presets_with_their_amounts() {
    let cart = {
        let mut c = Cart::new(catalog(CAFE, "EUR"));
        c.add_item("latte", 2).unwrap();
        c.add_item("croissant", 1).unwrap();
        c
    };
    let t = cart.totals(&Tip::None).unwrap();
    let choices = cart
        .catalog()
        .tips()
        .choices(t.before_tip, RoundingMode::HalfUp)
        .unwrap();
    let shown: Vec<(String, i128)> = choices
        .iter()
        .map(|c| (c.label.clone(), c.amount.minor))
        .collect();
    assert_eq!(
        shown,
        [
            ("No tip".to_owned(), 0),
            ("10%".to_owned(), 88),
            ("15%".to_owned(), 132),
            ("20%".to_owned(), 176),
            ("Round up".to_owned(), 20),
        ]
    );
    // Whatever the customer taps is what the totals charge.
    for c in choices {
        assert_eq!(cart.totals(&c.tip).unwrap().tip, c.amount);
    }
    let err = cart
        .totals(&Tip::Amount(Money::new(100_000, cur("EUR"))))
        .unwrap_err();
    assert!(
        matches!(err, CartError::Tip(TipError::TooLarge { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "a tip of 1\u{2009}000.00 EUR is more than 100% of the bill; the largest tip is 8.80 EUR"
    );
}

#[test]
fn the_description_is_cut_at_a_whole_line() {
    let mut text = String::from("[catalog]\n");
    for i in 0..20 {
        text.push_str(&format!(
            "[[catalog.item]]\nsku = \"i{i}\"\nname = \"Pastry number {i}\"\nprice = \"1\"\n"
        ));
    }
    let mut cart = Cart::new(catalog(&text, "EUR"));
    for i in 0..20 {
        cart.add_item(&format!("i{i}"), 1 + i % 3).unwrap();
    }
    let t = cart.totals(&Tip::None).unwrap();
    let d = description(&t, DESCRIPTION_MAX_CHARS);
    assert!(d.chars().count() <= DESCRIPTION_MAX_CHARS, "{d}");
    assert!(
        d.starts_with("Pastry number 0, 2× Pastry number 1, 3× Pastry number 2, "),
        "{d}"
    );
    assert!(d.ends_with(", …"), "{d}");

    let mut cart = Cart::new(catalog(CAFE, "EUR"));
    cart.add_amount(
        Money::new(100, cur("EUR")),
        Some(&"Very long label ".repeat(4)),
        AmountTax::Untaxed,
    )
    .unwrap();
    let d = description(&cart.totals(&Tip::None).unwrap(), 20);
    assert_eq!(d, "Very long label Ver…");
}

#[test]
fn metadata_stays_within_its_keys_and_counts_what_it_left_out() {
    let mut cart = Cart::new(catalog(CAFE, "EUR"));
    for i in 0..100 {
        let label = format!("Line {i:03} with a rather long label to fill the metadata");
        cart.add_amount(
            Money::new(12_345 + i, cur("EUR")),
            Some(&label),
            AmountTax::Default,
        )
        .unwrap();
    }
    let t = cart.totals(&Tip::None).unwrap();
    let limits = MetadataLimits::default();
    let meta = metadata(&t, limits);
    assert_eq!(meta.len(), limits.max_keys, "100 lines use every key");
    assert!(meta
        .values()
        .all(|v| v.as_str().unwrap().len() <= limits.max_value_bytes));
    let sale: serde_json::Value = serde_json::from_str(meta["sale"].as_str().unwrap()).unwrap();
    let mut kept = 0;
    let keys =
        std::iter::once("sale_lines".to_owned()).chain((2..).map(|i| format!("sale_lines_{i}")));
    for key in keys {
        let Some(v) = meta.get(&key) else { break };
        let lines: Vec<serde_json::Value> = serde_json::from_str(v.as_str().unwrap()).unwrap();
        for l in lines {
            assert_eq!(
                l[1],
                format!("Line {kept:03} with a rather long label to fill the metadata")
            );
            kept += 1;
        }
    }
    assert!(kept > 0);
    assert_eq!(sale["lines"], 100);
    assert_eq!(sale["lines_omitted"], 100 - kept);
    assert_eq!(sale["total"], t.total.amount_string());
}

#[test]
fn tax_rounding_and_mode_default_to_per_total_half_up() {
    let c = Catalog::empty(cur("EUR"));
    assert_eq!(c.tax_rounding(), TaxRounding::PerTotal);
    assert_eq!(c.rounding_mode(), RoundingMode::HalfUp);
}
