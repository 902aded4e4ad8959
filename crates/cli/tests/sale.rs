//! `paydesk-cli charge --item … --tip …` against a real sandbox and relay: the till rings
//! up items of its catalog, shows the lines, tax and tip before the QR code, and the
//! payment Crypto.com Pay (the sandbox) holds has the sale's amount, description and
//! metadata; `history` then shows the tip and the tax per rate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{payment_id_of, run, Running, Shop, Till};

const WINDOW: Duration = Duration::from_secs(600);

const CAFE: &str = r#"
default_currency = "EUR"

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

fn cafe_till() -> Till {
    let till = Till::new();
    std::fs::write(till.config_path(), CAFE).unwrap();
    till
}

/// The JSON a metadata value holds.
fn json_in(metadata: &serde_json::Value, key: &str) -> serde_json::Value {
    let text = metadata[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {metadata}"));
    serde_json::from_str(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charge_rings_up_items_with_a_tip_and_the_sandbox_holds_the_sale() {
    let shop = Shop::start(WINDOW).await;
    let till = cafe_till();
    let mut cli = Running::spawn(till.cli(
        &shop,
        &[
            "charge",
            "--item",
            "latte×2",
            "--item",
            "croissant",
            "--tip",
            "15%",
        ],
    ));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.line_where("a live connection", |l| l.starts_with("connection: live"))
        .await;

    // The lines, the tax and the tip came first, before the QR code.
    let before_qr: Vec<&String> = cli
        .transcript
        .iter()
        .take_while(|l| !l.contains('▀') && !l.contains('▄'))
        .collect();
    let shown = |needle: &str| before_qr.iter().any(|l| l.contains(needle));
    for needle in [
        "Latte  2 × 3.50 EUR",
        "7.00 EUR  VAT 20%",
        "Croissant",
        "Subtotal",
        "VAT 20% incl.",
        "1.17 EUR",
        "VAT 5.5% incl.",
        "Tip",
        "1.32 EUR",
        "Total",
        "10.12 EUR",
        "Charging 10.12 EUR on Till 1",
    ] {
        assert!(
            shown(needle),
            "{needle:?} not shown before the QR code:\n{before_qr:#?}"
        );
    }

    // What Crypto.com Pay holds.
    let remote = shop.payment(&id).await;
    assert_eq!(remote["amount"], 1012, "{remote}");
    assert_eq!(remote["currency"], "EUR");
    assert_eq!(remote["description"], "2× Latte, Croissant");
    let metadata = &remote["metadata"];
    let sale = json_in(metadata, "sale");
    assert_eq!(
        (
            &sale["subtotal"],
            &sale["included_tax"],
            &sale["tip"],
            &sale["total"]
        ),
        (
            &serde_json::json!("8.80"),
            &serde_json::json!("1.26"),
            &serde_json::json!("1.32"),
            &serde_json::json!("10.12")
        ),
        "{sale}"
    );
    assert_eq!(
        json_in(metadata, "sale_lines"),
        serde_json::json!([
            ["latte", "Latte", 2, "3.50", "7.00"],
            ["croissant", "Croissant", 1, "1.80", "1.80"]
        ])
    );
    assert_eq!(
        json_in(metadata, "sale_tax"),
        serde_json::json!([
            ["vat20", "20%", "incl", "5.83", "1.17"],
            ["vat5.5", "5.5%", "incl", "1.71", "0.09"]
        ])
    );
    assert_eq!(metadata["plugin_name"], "paydesk");
    assert!(metadata["paydesk_intent"].is_string(), "{metadata}");

    shop.pay(&id).await;
    let done = cli.finish().await;
    done.assert_code(0);
    assert!(
        done.stdout
            .contains(&format!("PAID 10.12 EUR (payment {id})")),
        "{}",
        done.stdout
    );

    // History: the payment's sale, and the day's tips and tax apart.
    let history = run(till.bare(&["history", "--json"])).await;
    history.assert_code(0);
    let h = history
        .events()
        .into_iter()
        .find(|e| e["type"] == "history")
        .unwrap();
    let entry = &h["payments"][0];
    assert_eq!(entry["sale"]["totals"]["tip"]["minor"], 132, "{entry}");
    assert_eq!(entry["sale"]["tip_by"], "cashier", "{entry}");
    let eur = &h["summary"][0];
    assert_eq!(
        (&eur["currency"], &eur["tips_minor"], &eur["tax_minor"]),
        (
            &serde_json::json!("EUR"),
            &serde_json::json!(132),
            &serde_json::json!(126)
        ),
        "{eur}"
    );
    assert_eq!(eur["taxes"][0]["id"], "vat20");
    assert_eq!(eur["taxes"][0]["tax_minor"], 117);
    let table = run(till.bare(&["history"])).await;
    table.assert_code(0);
    for needle in [
        "TIP",
        "1.32 EUR",
        "Paid sales",
        "Tax per rate",
        "VAT 5.5% incl.",
    ] {
        assert!(table.stdout.contains(needle), "{needle}:\n{}", table.stdout);
    }
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_events_carry_the_sale_before_the_payment_and_a_typed_amount_is_a_line() {
    let shop = Shop::start(WINDOW).await;
    let till = cafe_till();
    let mut cli = Running::spawn(till.cli(
        &shop,
        &[
            "charge",
            "--item",
            "croissant",
            "--amount",
            "2,50",
            "--tip",
            "round",
            "--order-id",
            "table-7",
            "--json",
        ],
    ));
    let sale = cli.event("sale").await;
    assert_eq!(sale["description"], "Croissant, 2.50 EUR", "{sale}");
    assert_eq!(sale["tip_by"], "cashier");
    let totals = &sale["totals"];
    // 1.80 + 2.50 = 4.30 (VAT inside, the typed amount at the default rate); round up to 5.
    assert_eq!(totals["subtotal"]["minor"], 430, "{totals}");
    assert_eq!(totals["tip"]["minor"], 70);
    assert_eq!(totals["total"]["minor"], 500);
    assert_eq!(totals["lines"][1]["sku"], serde_json::Value::Null);
    assert_eq!(totals["lines"][1]["tax"], "vat20");
    assert_eq!(sale["receipt"]["tip"], "0.70 EUR");
    let created = cli.event("created").await;
    assert_eq!(created["payment"]["amount"], 500);
    assert_eq!(created["payment"]["order_id"], "table-7");
    let id = created["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(
        shop.payment(&id).await["description"],
        "Croissant, 2.50 EUR"
    );
    // The relay pushes; wait until the till listens before the customer pays.
    cli.line_where("a live connection", |l| {
        serde_json::from_str::<serde_json::Value>(l)
            .is_ok_and(|v| v["type"] == "connection" && v["state"] == "live")
    })
    .await;
    shop.pay(&id).await;
    let done = cli.finish().await;
    done.assert_code(0);
    let result = done.events().into_iter().last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["payment"]["amount"], 500);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_item_or_a_tip_above_the_cap_is_refused_before_anything_is_created() {
    let shop = Shop::start(WINDOW).await;
    let till = cafe_till();

    let unknown = run(till.cli(&shop, &["charge", "--item", "bagel×2"])).await;
    unknown.assert_code(1);
    assert!(
        unknown.stderr.contains(
            "--item bagel×2: no item with SKU 'bagel' (the catalog has: latte, croissant)"
        ),
        "{}",
        unknown.stderr
    );

    let greedy = run(till.cli(&shop, &["charge", "--item", "latte", "--tip", "500"])).await;
    greedy.assert_code(1);
    assert!(
        greedy.stderr.contains(
            "a tip of 500.00 EUR is more than 100% of the bill; the largest tip is 3.50 EUR"
        ),
        "{}",
        greedy.stderr
    );

    let bad_tip = run(till.cli(&shop, &["charge", "--amount", "3", "--tip", "lots"])).await;
    bad_tip.assert_code(1);
    assert!(bad_tip.stderr.contains("--tip lots"), "{}", bad_tip.stderr);

    assert!(shop.payments().await.is_empty(), "nothing was created");
    // Without keys `bare` shows the demo book, whose export the demo owner's public PIN
    // allows.
    let history = run(till.bare(&["history", "--csv", "--pin", "1234"])).await;
    assert_eq!(history.stdout.lines().count(), 1, "{}", history.stdout);

    // A till without a catalog says where items come from.
    let bare = Till::new();
    let none = run(bare.cli(&shop, &["charge", "--item", "latte", "--currency", "EUR"])).await;
    none.assert_code(1);
    assert!(
        none.stderr.contains("this till has no catalog"),
        "{}",
        none.stderr
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_error_names_its_line_and_stops_the_till() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    std::fs::write(
        till.config_path(),
        CAFE.replace("tax = \"vat5.5\"", "tax = \"vat7\""),
    )
    .unwrap();
    let refused = run(till.cli(&shop, &["charge", "--amount", "1"])).await;
    refused.assert_code(1);
    let line = CAFE
        .lines()
        .position(|l| l.contains("sku = \"croissant\""))
        .unwrap();
    assert!(
        refused.stderr.contains(&format!(
            "line {line}: item 2 'croissant': unknown tax rate 'vat7' (declared: vat20, vat5.5)"
        )),
        "{}",
        refused.stderr
    );
    assert!(shop.payments().await.is_empty());
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_rings_up_the_tills_catalog_without_keys() {
    let till = cafe_till();
    let done = run(till.bare(&[
        "demo",
        "--time-window",
        "60",
        "charge",
        "--item",
        "latte",
        "--tip",
        "1",
        "--pay-after",
        "1",
    ]))
    .await;
    done.assert_code(0);
    assert!(done.stdout.contains("Latte"), "{}", done.stdout);
    assert!(done.stdout.contains("PAID 4.50 EUR"), "{}", done.stdout);
}
