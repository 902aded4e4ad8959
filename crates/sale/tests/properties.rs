//! Properties of the sale arithmetic over random carts: inclusive and additive tax at the
//! rates shops use (0, 5.5, 7.25, 8.875, 19, 20, 25 %), both tax roundings, both rounding
//! modes, currencies with 0, 2 and 8 decimals, and amounts up to the limits of `i128`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use paydesk_protocol::{Currency, Money, MoneyError};
use paydesk_sale::section::{ItemEntry, Scalar, TaxEntry};
use paydesk_sale::totals::tax_of;
use paydesk_sale::{
    description, metadata, AmountTax, Cart, CartError, Catalog, CatalogSection, MetadataLimits,
    Percent, Receipt, RoundingMode, TaxKind, TaxRounding, Tip, Totals, DESCRIPTION_MAX_CHARS,
};
use proptest::prelude::*;

const RATES: [&str; 7] = ["0", "5.5", "7.25", "8.875", "19", "20", "25"];
const CURRENCIES: [&str; 3] = ["JPY", "EUR", "BTC"];
const KINDS: [TaxKind; 2] = [TaxKind::Inclusive, TaxKind::Additive];
const RULES: [TaxRounding; 2] = [TaxRounding::PerLine, TaxRounding::PerTotal];
const MODES: [RoundingMode; 2] = [RoundingMode::HalfUp, RoundingMode::HalfEven];

fn tax_id(kind: TaxKind, rate: usize) -> String {
    match kind {
        TaxKind::Inclusive => format!("i{rate}"),
        TaxKind::Additive => format!("a{rate}"),
    }
}

/// A rate of the test catalog: (kind, index into RATES); `None` is untaxed.
type TaxPick = Option<(usize, usize)>;

fn pick_id(pick: TaxPick) -> Option<String> {
    pick.map(|(k, r)| tax_id(KINDS[k], r))
}

#[derive(Clone, Debug)]
enum Op {
    Item { index: usize, quantity: u32 },
    Amount { minor: i128, tax: TaxPick },
}

#[derive(Clone, Debug)]
struct Sale {
    currency: &'static str,
    /// Price in minor units and tax of each catalog item.
    items: Vec<(i128, TaxPick)>,
    ops: Vec<Op>,
}

/// Every rate at both kinds, the given items, and the rule and mode under test.
fn catalog(sale: &Sale, rule: TaxRounding, mode: RoundingMode) -> Arc<Catalog> {
    let currency = Currency::from_code(sale.currency).unwrap();
    let mut section = CatalogSection {
        tax_rounding: Some(rule),
        rounding_mode: Some(mode),
        ..CatalogSection::default()
    };
    for kind in KINDS {
        for (i, rate) in RATES.iter().enumerate() {
            section.taxes.push(TaxEntry {
                id: tax_id(kind, i),
                label: format!("{kind:?} {rate}%"),
                rate: Scalar::text(*rate),
                kind,
            });
        }
    }
    for (n, (price, tax)) in sale.items.iter().enumerate() {
        section.items.push(ItemEntry {
            sku: format!("sku{n}"),
            name: format!("Item {n}"),
            price: Scalar::Text(Money::new(*price, currency).amount_string()),
            category: None,
            tax: Some(pick_id(*tax).unwrap_or_else(|| "none".into())),
            colour: None,
            position: None,
        });
    }
    Arc::new(Catalog::from_section(&section, currency).unwrap())
}

/// Rings the sale up; `Err` only for sums too large for `i128`.
fn ring_up(sale: &Sale, rule: TaxRounding, mode: RoundingMode) -> Result<Cart, CartError> {
    let mut cart = Cart::new(catalog(sale, rule, mode));
    let currency = cart.catalog().currency();
    for op in &sale.ops {
        match op {
            Op::Item { index, quantity } => {
                cart.add_item(&format!("sku{index}"), *quantity)?;
            }
            Op::Amount { minor, tax } => {
                let tax = pick_id(*tax).map_or(AmountTax::Untaxed, AmountTax::Rate);
                cart.add_amount(Money::new(*minor, currency), Some("Typed"), tax)?;
            }
        }
    }
    Ok(cart)
}

fn tax_pick() -> impl Strategy<Value = TaxPick> {
    prop_oneof![
        1 => Just(None),
        6 => (0..KINDS.len(), 0..RATES.len()).prop_map(Some),
    ]
}

fn sale_with(prices: impl Strategy<Value = i128> + Clone + 'static) -> impl Strategy<Value = Sale> {
    (
        prop::sample::select(&CURRENCIES[..]),
        prop::collection::vec((prices.clone(), tax_pick()), 1..8),
    )
        .prop_flat_map(move |(currency, items)| {
            let n = items.len();
            let op = prop_oneof![
                3 => (0..n, 1u32..=20).prop_map(|(index, quantity)| Op::Item { index, quantity }),
                1 => (prices.clone().prop_map(|p| p.max(1)), tax_pick())
                    .prop_map(|(minor, tax)| Op::Amount { minor, tax }),
            ];
            prop::collection::vec(op, 1..16).prop_map(move |ops| Sale {
                currency,
                items: items.clone(),
                ops,
            })
        })
}

/// Everyday amounts: a few units of anything, up to large crypto amounts.
fn everyday_price() -> impl Strategy<Value = i128> + Clone {
    prop_oneof![
        0i128..=1_000,
        0i128..=100_000,
        0i128..=10_000_000_000_000_000
    ]
}

/// Amounts near the top of `i128`.
fn huge_price() -> impl Strategy<Value = i128> + Clone {
    prop_oneof![
        (i128::MAX / 4)..=i128::MAX,
        (i128::MAX / 100_000_000)..=(i128::MAX / 1_000),
        0i128..=1_000,
    ]
}

/// The totals' figures add up, each rate's tax is within half a minor unit of exact where
/// it is rounded once, and inclusive tax never exceeds what it is included in.
fn check_totals(cart: &Cart, t: &Totals) {
    let catalog = cart.catalog();
    let mode = catalog.rounding_mode();
    let sum = |it: &mut dyn Iterator<Item = i128>| it.fold(0i128, |a, b| a.checked_add(b).unwrap());

    for (line, lt) in cart.lines().iter().zip(&t.lines) {
        assert_eq!(lt.amount.minor, line.unit.minor * i128::from(line.quantity));
    }
    assert_eq!(t.lines.len(), cart.lines().len());
    assert_eq!(
        t.subtotal.minor,
        sum(&mut t.lines.iter().map(|l| l.amount.minor))
    );
    let untaxed = sum(&mut t
        .lines
        .iter()
        .filter(|l| l.tax.is_none())
        .map(|l| l.amount.minor));
    assert_eq!(t.untaxed.minor, untaxed);

    for rate in &t.taxes {
        let lines: Vec<_> = cart
            .lines()
            .iter()
            .filter(|l| l.tax.as_ref().map(|r| &r.id) == Some(&rate.id))
            .collect();
        assert_eq!(rate.lines, lines.len());
        let base = sum(&mut lines.iter().map(|l| l.amount().unwrap().minor));
        assert_eq!(rate.net.minor + rate.tax.minor, rate.gross.minor);
        assert!(rate.tax.minor >= 0 && rate.net.minor >= 0);
        let r = catalog.tax(&rate.id).unwrap();
        let n = r.rate.numerator();
        let den = match rate.kind {
            TaxKind::Inclusive => {
                assert_eq!(rate.gross.minor, base);
                assert!(
                    rate.tax.minor <= rate.gross.minor,
                    "inclusive tax exceeds the price"
                );
                Percent::DENOMINATOR + n
            }
            TaxKind::Additive => {
                assert_eq!(rate.net.minor, base);
                Percent::DENOMINATOR
            }
        };
        match catalog.tax_rounding() {
            TaxRounding::PerLine => {
                let line_taxes = lines
                    .iter()
                    .map(|l| tax_of(l.amount().unwrap(), r, mode).unwrap().minor);
                assert_eq!(rate.tax.minor, sum(&mut line_taxes.into_iter()));
            }
            TaxRounding::PerTotal => {
                // |tax − base·n/den| ≤ ½ ⇔ |tax·den − base·n| ≤ den/2, when it fits.
                if let (Some(a), Some(b)) = (rate.tax.minor.checked_mul(den), base.checked_mul(n)) {
                    assert!(
                        (a - b).abs() * 2 <= den,
                        "{rate:?} is not the exact tax rounded"
                    );
                }
            }
        }
        for l in &lines {
            let a = l.amount().unwrap();
            assert!(tax_of(a, r, mode).unwrap().minor <= a.minor);
        }
    }

    let by_kind = |kind| {
        sum(&mut t
            .taxes
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.tax.minor))
    };
    assert_eq!(t.added_tax.minor, by_kind(TaxKind::Additive));
    assert_eq!(t.included_tax.minor, by_kind(TaxKind::Inclusive));
    assert_eq!(t.before_tip.minor, t.subtotal.minor + t.added_tax.minor);
    assert_eq!(t.total.minor, t.before_tip.minor + t.tip.minor);
}

/// A printed amount back to minor units ("1 234.50 EUR", "0.0001324 BTC").
fn printed(s: &str, currency: Currency) -> i128 {
    let number = s.strip_suffix(&format!(" {}", currency.code())).unwrap();
    match Money::parse(number, currency) {
        Ok(m) => m.minor,
        Err(MoneyError::Zero) => 0,
        Err(e) => panic!("{s}: {e}"),
    }
}

/// What the receipt prints adds up to what it prints as the total.
fn check_receipt(t: &Totals) {
    let r = Receipt::from_totals(t);
    let c = t.currency;
    let lines: i128 = r.lines.iter().map(|l| printed(&l.amount, c)).sum();
    let added: i128 = r
        .taxes
        .iter()
        .filter(|x| !x.included)
        .map(|x| printed(&x.tax, c))
        .sum();
    let tip = r.tip.as_deref().map_or(0, |s| printed(s, c));
    assert_eq!(printed(&r.subtotal, c), lines);
    assert_eq!(lines + added + tip, printed(&r.total, c), "{r:#?}");
    for x in &r.taxes {
        assert!(printed(&x.tax, c) >= 0 && printed(&x.net, c) >= 0);
    }
}

/// The metadata is bounded and says what the totals say.
fn check_metadata(t: &Totals) {
    let limits = MetadataLimits::default();
    let meta = metadata(t, limits);
    assert!(meta.len() <= limits.max_keys);
    for v in meta.values() {
        assert!(v.as_str().unwrap().len() <= limits.max_value_bytes);
    }
    assert!(meta["sale"].as_str().unwrap().len() < 400);
    let sale: serde_json::Value = serde_json::from_str(meta["sale"].as_str().unwrap()).unwrap();
    assert_eq!(sale["total"], t.total.amount_string());
    assert_eq!(sale["tip"], t.tip.amount_string());
    assert_eq!(sale["subtotal"], t.subtotal.amount_string());
    assert_eq!(sale["taxes_omitted"], 0);
    let mut lines = Vec::new();
    let keys =
        std::iter::once("sale_lines".to_owned()).chain((2..).map(|i| format!("sale_lines_{i}")));
    for key in keys {
        let Some(v) = meta.get(&key) else { break };
        let chunk: Vec<serde_json::Value> = serde_json::from_str(v.as_str().unwrap()).unwrap();
        lines.extend(chunk);
    }
    assert_eq!(
        lines.len() + sale["lines_omitted"].as_u64().unwrap() as usize,
        t.lines.len()
    );
    for (l, lt) in lines.iter().zip(&t.lines) {
        assert_eq!(l[3], lt.unit.amount_string());
        assert_eq!(l[4], lt.amount.amount_string());
    }
    assert!(description(t, DESCRIPTION_MAX_CHARS).chars().count() <= DESCRIPTION_MAX_CHARS);
}

proptest! {

    #[test]
    fn totals_equal_the_sum_of_their_parts_and_the_receipt_adds_up(
        sale in sale_with(everyday_price()),
        rule in prop::sample::select(&RULES[..]),
        mode in prop::sample::select(&MODES[..]),
        tip in prop_oneof![
            Just(Tip::None),
            Just(Tip::RoundUp),
            (0u32..=10_000).prop_map(|bp| Tip::Percent(Percent::from_basis_points(bp).unwrap())),
        ],
    ) {
        let cart = ring_up(&sale, rule, mode).unwrap();
        let t = cart.totals(&tip).unwrap();
        check_totals(&cart, &t);
        check_receipt(&t);
        check_metadata(&t);
    }

    #[test]
    fn per_total_differs_from_per_line_by_at_most_one_unit_per_line(
        sale in sale_with(everyday_price()),
        mode in prop::sample::select(&MODES[..]),
    ) {
        let per_line = ring_up(&sale, TaxRounding::PerLine, mode).unwrap().totals(&Tip::None).unwrap();
        let per_total = ring_up(&sale, TaxRounding::PerTotal, mode).unwrap().totals(&Tip::None).unwrap();
        prop_assert_eq!(per_line.taxes.len(), per_total.taxes.len());
        for (a, b) in per_line.taxes.iter().zip(&per_total.taxes) {
            prop_assert_eq!(&a.id, &b.id);
            prop_assert!((a.tax.minor - b.tax.minor).unsigned_abs() <= a.lines as u128, "{:?} vs {:?}", a, b);
        }
        let all = |t: &Totals| t.added_tax.minor + t.included_tax.minor;
        prop_assert!((all(&per_line) - all(&per_total)).unsigned_abs() <= per_line.lines.len() as u128);
        prop_assert_eq!(per_line.subtotal, per_total.subtotal);
    }

    #[test]
    fn half_even_differs_from_half_up_only_by_exact_halves(
        sale in sale_with(everyday_price()),
        rule in prop::sample::select(&RULES[..]),
    ) {
        let up = ring_up(&sale, rule, RoundingMode::HalfUp).unwrap().totals(&Tip::None).unwrap();
        let even = ring_up(&sale, rule, RoundingMode::HalfEven).unwrap().totals(&Tip::None).unwrap();
        for (a, b) in up.taxes.iter().zip(&even.taxes) {
            let roundings = match rule { TaxRounding::PerLine => a.lines as i128, TaxRounding::PerTotal => 1 };
            prop_assert!(b.tax.minor <= a.tax.minor && a.tax.minor - b.tax.minor <= roundings);
        }
    }

    #[test]
    fn huge_amounts_are_refused_cleanly_or_add_up(
        sale in sale_with(huge_price()),
        rule in prop::sample::select(&RULES[..]),
        mode in prop::sample::select(&MODES[..]),
        tip in prop_oneof![Just(Tip::None), Just(Tip::RoundUp), Just(Tip::Percent(Percent::whole(15).unwrap()))],
    ) {
        match ring_up(&sale, rule, mode) {
            Err(e) => prop_assert_eq!(e, CartError::TooLarge),
            Ok(cart) => match cart.totals(&tip) {
                Err(e) => prop_assert_eq!(e, CartError::TooLarge),
                Ok(t) => {
                    check_totals(&cart, &t);
                    check_receipt(&t);
                    check_metadata(&t);
                }
            },
        }
    }

    #[test]
    fn tip_presets_on_round_amounts_give_the_expected_values(
        currency in prop::sample::select(&CURRENCIES[..]),
        units in 1i128..=1_000_000,
        mode in prop::sample::select(&MODES[..]),
    ) {
        let c = Currency::from_code(currency).unwrap();
        let whole = 10i128.pow(u32::from(c.exponent()));
        // A bill of whole units that is also a multiple of 20 minor units: every preset exact.
        let bill = units * whole * 20;
        let sale = Sale { currency, items: vec![], ops: vec![Op::Amount { minor: bill, tax: None }] };
        let cart = ring_up(&sale, TaxRounding::PerTotal, mode).unwrap();
        let before = cart.totals(&Tip::None).unwrap().before_tip;
        let choices = cart.catalog().tips().choices(before, mode).unwrap();
        let amounts: Vec<(String, i128)> = choices.iter().map(|c| (c.label.clone(), c.amount.minor)).collect();
        prop_assert_eq!(amounts, vec![
            ("No tip".to_owned(), 0),
            ("10%".to_owned(), bill / 10),
            ("15%".to_owned(), bill * 3 / 20),
            ("20%".to_owned(), bill / 5),
        ], "round up adds nothing to whole units, so it is not offered");
        for choice in choices {
            let t = cart.totals(&choice.tip).unwrap();
            prop_assert_eq!(t.total.minor, bill + choice.amount.minor);
        }
    }

    #[test]
    fn round_up_reaches_the_next_whole_unit(
        currency in prop::sample::select(&CURRENCIES[..]),
        bill in 1i128..=1_000_000_000_000,
    ) {
        let sale = Sale { currency, items: vec![], ops: vec![Op::Amount { minor: bill, tax: None }] };
        let cart = ring_up(&sale, TaxRounding::PerTotal, RoundingMode::HalfUp).unwrap();
        let t = cart.totals(&Tip::RoundUp).unwrap();
        let whole = 10i128.pow(u32::from(cart.catalog().currency().exponent()));
        prop_assert_eq!(t.total.minor % whole, 0);
        prop_assert!(t.tip.minor >= 0 && t.tip.minor < whole);
    }
}
