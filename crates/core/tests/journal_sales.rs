//! Sales in the journal on a real SQLite file: a sale is written with its charge's intent,
//! follows the intent to its payment, is read back exactly, stays in its book, and the
//! day's summary sums the tips and the tax per rate of paid sales only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Local, NaiveDate};
use paydesk_core::config::Mode;
use paydesk_core::journal::{self, IntentOrder, Journal};
use paydesk_core::merge::Source;
use paydesk_core::sale::{Cart, Catalog, Sale, TaxKind, TipBy};
use paydesk_core::{Currency, Payment, PaymentStatus};
use paydesk_sale::{Percent, Tip};

fn catalog(vat: &str, currency: &str) -> Arc<Catalog> {
    let text = format!(
        r#"
[catalog]
default_tax = "vat"
[[catalog.tax]]
id = "vat"
label = "VAT {vat}%"
rate = "{vat}"
kind = "inclusive"
[[catalog.tax]]
id = "city"
label = "City tax"
rate = "2.5"
kind = "additive"
[[catalog.item]]
sku = "soup"
name = "Soup"
price = "4"
[[catalog.item]]
sku = "room"
name = "Room"
price = "100"
tax = "city"
"#
    );
    Arc::new(Catalog::from_toml(&text, Currency::from_code(currency).unwrap()).unwrap())
}

fn sale(catalog: &Arc<Catalog>, items: &[(&str, u32)], tip: &Tip) -> Sale {
    let mut cart = Cart::new(Arc::clone(catalog));
    for (sku, n) in items {
        cart.add_item(sku, *n).unwrap();
    }
    Sale::ring_up(&cart, tip, Some(TipBy::Customer)).unwrap()
}

fn percent(p: u32) -> Tip {
    Tip::Percent(Percent::whole(p).unwrap())
}

fn open(book: Mode) -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_book(dir.path().join("journal.sqlite3"), book).unwrap();
    (dir, j)
}

fn today() -> NaiveDate {
    Local::now().date_naive()
}

/// Journals `sale` as a charge, attaches the payment the service "created", and sets its
/// status. Returns the payment id.
fn charge(j: &Journal, id: &str, sale: &Sale, status: PaymentStatus) -> String {
    charge_by(j, id, sale, status, None)
}

/// [`charge`] with the cashier's name in the payment's metadata.
fn charge_by(
    j: &Journal,
    id: &str,
    sale: &Sale,
    status: PaymentStatus,
    cashier: Option<&str>,
) -> String {
    let intent = j
        .record_sale_intent(
            IntentOrder::Numbered {
                prefix: "T1",
                day: today(),
            },
            sale,
            Some("lunch"),
            "Till 1",
        )
        .unwrap();
    assert_eq!(intent.money, sale.amount());
    // From text: a JSON value cannot hold amounts beyond 64 bits.
    let mut payment: Payment = serde_json::from_str(&format!(
        r#"{{"id":"{id}","amount":{},"currency":"{}","status":"pending","order_id":"{}","metadata":{{"{}":"{}"{}}}}}"#,
        sale.amount().minor,
        sale.amount().currency.code(),
        intent.order_id,
        journal::INTENT_METADATA_KEY,
        intent.token,
        cashier
            .map(|c| format!(r#","{}":"{c}""#, journal::CASHIER_METADATA_KEY))
            .unwrap_or_default()
    ))
    .unwrap();
    j.attach_payment(&intent.order_id, &payment).unwrap();
    if status != PaymentStatus::Pending {
        payment.status = status;
        j.record_snapshot(&payment, Source::ApiRead, 1).unwrap();
    }
    id.to_owned()
}

#[test]
fn a_sale_follows_its_intent_to_the_payment_and_reads_back_exactly() {
    let (_dir, j) = open(Mode::Live);
    let big = catalog("20", "CRO");
    // The room is 100 CRO, 10^20 base units: amounts beyond 64 bits survive the round trip.
    let s = sale(&big, &[("soup", 3), ("room", 1)], &percent(10));
    let id = charge(&j, "pay_1", &s, PaymentStatus::Pending);
    assert_eq!(j.sale(&id).unwrap(), Some(s.clone()));
    let entry = j.entry(&id).unwrap().unwrap();
    assert_eq!(entry.sale, Some(s));
    assert!(j.unresolved_intents().unwrap().is_empty());
}

#[test]
fn a_plain_charge_has_no_sale_and_a_sale_stays_in_its_book() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let test = Journal::open_book(&path, Mode::Test).unwrap();
    let eur = catalog("20", "EUR");
    let id = charge(
        &test,
        "pay_t",
        &sale(&eur, &[("soup", 1)], &Tip::None),
        PaymentStatus::Succeeded,
    );
    let live = Journal::open_book(&path, Mode::Live).unwrap();
    assert_eq!(live.sale(&id).unwrap(), None);
    assert!(test.sale(&id).unwrap().is_some());

    let order = test
        .record_intent(
            "plain-1",
            paydesk_core::Money::new(500, Currency::from_code("EUR").unwrap()),
            None,
            "Till 1",
        )
        .unwrap();
    assert_eq!(test.intent_sale(order).unwrap(), None);
}

#[test]
fn the_days_summary_sums_tips_and_tax_per_rate_of_paid_sales_only() {
    let (_dir, j) = open(Mode::Live);
    let eur = catalog("20", "EUR");
    // Soup 4.00 × 2 (VAT 20 % incl. 1.33), Room 100 + 2.50 city tax; 10 % tip on 110.50.
    let a = sale(&eur, &[("soup", 2), ("room", 1)], &percent(10));
    assert_eq!(
        (
            a.amount().minor,
            a.tip().minor,
            a.totals().included_tax.minor,
            a.totals().added_tax.minor
        ),
        (12155, 1105, 133, 250)
    );
    charge(&j, "pay_a", &a, PaymentStatus::Succeeded);
    // The VAT rate was edited during the day: the same id at 10 % is a line of its own.
    let edited = catalog("10", "EUR");
    let b = sale(
        &edited,
        &[("soup", 1)],
        &Tip::Amount(paydesk_core::Money::new(
            50,
            Currency::from_code("EUR").unwrap(),
        )),
    );
    charge(&j, "pay_b", &b, PaymentStatus::Succeeded);
    // Not paid: not in the sums.
    charge(
        &j,
        "pay_c",
        &sale(&eur, &[("room", 3)], &percent(20)),
        PaymentStatus::Pending,
    );
    charge(
        &j,
        "pay_d",
        &sale(&eur, &[("room", 1)], &percent(20)),
        PaymentStatus::Cancelled,
    );
    // Another currency is summed apart.
    let yen = catalog("8", "JPY");
    let y = sale(&yen, &[("room", 1)], &percent(10));
    charge(&j, "pay_y", &y, PaymentStatus::Succeeded);

    let entries = j.history(today(), &Local).unwrap();
    assert_eq!(entries.len(), 5);
    let summary = journal::summarize(&entries).unwrap();
    let eur = summary.iter().find(|s| s.currency == "EUR").unwrap();
    assert_eq!(eur.paid_count, 2);
    assert_eq!(eur.sales_count, 2);
    assert_eq!(eur.paid_minor, 12155 + 450);
    assert_eq!(eur.tips_minor, 1105 + 50);
    // 1.33 + 2.50 and 0.36 (4.00 × 10/110).
    assert_eq!(eur.tax_minor, 133 + 250 + 36);
    let rates: Vec<(&str, String, TaxKind, i128, i128)> = eur
        .taxes
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                t.rate.to_string(),
                t.kind,
                t.net_minor,
                t.tax_minor,
            )
        })
        .collect();
    assert_eq!(
        rates,
        vec![
            ("vat", "20%".into(), TaxKind::Inclusive, 667, 133),
            ("city", "2.5%".into(), TaxKind::Additive, 10000, 250),
            ("vat", "10%".into(), TaxKind::Inclusive, 364, 36),
        ]
    );
    assert_eq!((eur.pending_count, eur.cancelled_count), (1, 1));
    let jpy = summary.iter().find(|s| s.currency == "JPY").unwrap();
    // 100 yen + 2.5 % (2.5 → 3 half up) = 103; 10 % of it is 10.3 → 10.
    assert_eq!((jpy.sales_count, jpy.tips_minor, jpy.tax_minor), (1, 10, 3));
}

#[test]
fn tips_are_summed_per_cashier_and_unnamed_payments_come_last() {
    let (_dir, j) = open(Mode::Live);
    let eur = catalog("20", "EUR");
    let paid = PaymentStatus::Succeeded;
    let soup = |tip| sale(&eur, &[("soup", 1)], &percent(tip));
    charge_by(&j, "pay_1", &soup(10), paid.clone(), Some("Zoe"));
    charge_by(&j, "pay_2", &soup(20), paid.clone(), Some("Ana"));
    charge_by(&j, "pay_3", &soup(15), paid.clone(), Some("Zoe"));
    charge_by(&j, "pay_4", &soup(10), PaymentStatus::Pending, Some("Ana"));
    charge(&j, "pay_5", &soup(5), paid);
    let entries = j.history(today(), &Local).unwrap();
    // 10 % of 4.00 is 0.40, 20 % 0.80, 15 % 0.60, 5 % 0.20; Ana's pending sale is no tip yet.
    let named: Vec<(Option<String>, u64, i128)> = journal::summarize_by_cashier(&entries)
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.cashier,
                c.currencies[0].paid_count,
                c.currencies[0].tips_minor,
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (Some("Ana".to_owned()), 1, 80),
            (Some("Zoe".to_owned()), 2, 40 + 60),
            (None, 1, 20),
        ]
    );
}

#[test]
fn the_days_report_carries_the_tips_and_tax_of_its_paid_sales_per_till_and_cashier() {
    use paydesk_core::day::{self, Period};
    let (_dir, j) = open(Mode::Live);
    let eur = catalog("20", "EUR");
    let paid = PaymentStatus::Succeeded;
    // Soup 4.00 (VAT 0.67 incl.): a 10 % tip is 0.40, 20 % is 0.80.
    charge_by(
        &j,
        "pay_1",
        &sale(&eur, &[("soup", 1)], &percent(10)),
        paid.clone(),
        Some("Zoe"),
    );
    charge_by(
        &j,
        "pay_2",
        &sale(&eur, &[("soup", 1)], &percent(20)),
        paid,
        Some("Ana"),
    );
    let report = day::compute(&j, Period::Day(today()), i64::MAX / 2).unwrap();
    let t = &report.totals[0];
    assert_eq!((t.tips_minor, t.tax_minor), (Some(40 + 80), Some(67 + 67)));
    let zoe = report.cashiers.iter().find(|g| g.name == "Zoe").unwrap();
    assert_eq!(zoe.totals[0].tips_minor, Some(40));
    // The printed report says them too.
    let text = paydesk_receipt::Layout::new(
        &report.receipt(&paydesk_receipt::Shop {
            name: "Café".into(),
            address: Vec::new(),
        }),
        48,
        None::<paydesk_receipt::CodePage>,
    )
    .text();
    assert!(text.contains("EUR tips"), "{text}");
    assert!(text.contains("EUR tax"), "{text}");
}

/// The receipt of a paid sale is itemised from what the journal kept: a line per item with
/// its rate's letter, the subtotal, the additive tax and the tip above the TOTAL, and the
/// tax per rate below — and what it prints adds up to what was charged.
#[test]
fn a_paid_sale_prints_its_lines_tip_and_tax_and_they_add_up() {
    use paydesk_core::receipts::{self, ReceiptView};
    use paydesk_receipt::{Confirmation, Shop};

    let cat = catalog("10", "EUR");
    let (_dir, j) = open(Mode::Live);
    let s = sale(&cat, &[("soup", 2), ("room", 1)], &percent(10));
    let id = charge_by(&j, "pay_r", &s, PaymentStatus::Succeeded, Some("Ana"));
    let entry = j.entry(&id).unwrap().unwrap();
    let shop = Shop {
        name: "Hotel Bar".into(),
        address: vec![],
    };
    let receipt = receipts::sale(&shop, &entry, Confirmation::Live, "Bar").unwrap();
    let items: Vec<(String, String, Option<String>)> = receipt
        .items
        .iter()
        .map(|i| (i.description.clone(), i.quantity.clone(), i.tax.clone()))
        .collect();
    assert_eq!(
        items,
        [
            ("Soup".into(), "2".into(), Some("A".into())),
            ("Room".into(), "1".into(), Some("B".into())),
        ]
    );
    let labels: Vec<&str> = receipt.totals.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["Subtotal", "City tax", "Tip", "TOTAL"]);
    let taxes: Vec<&str> = receipt.taxes.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(taxes, ["A VAT 10% incl.", "B City tax"]);
    // 8.00 + 100.00 = 108.00; city tax 2.50; tip 10 % of 110.50 = 11.05; total 121.55.
    let text = ReceiptView::of(&receipt, None).text;
    for line in [
        "Subtotal", "108.00", "2.50", "11.05", "121.55", "Cashier", "Ana",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert_eq!(s.amount().minor, 12155);
    let t = s.totals();
    assert_eq!(
        t.subtotal.minor + t.added_tax.minor + t.tip.minor,
        t.total.minor,
        "the printed parts add up to the total"
    );
}
