//! The counter's day through the real binary against a real sandbox and relay: a till
//! killed with a payment pending, paid and refunded behind its back, closes the day with
//! both repaired; shifts open and close with their report; receipts print to a fake
//! ESC/POS printer on loopback, or fail with the printer's words and exit 8.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{payment_id_of, run, Running, Shop, Till};
use paydesk_receipt::testing::{Behaviour, FakePrinter};
use tokio::time::timeout;

const WINDOW: Duration = Duration::from_secs(600);

fn event(events: &[serde_json::Value], kind: &str) -> serde_json::Value {
    events
        .iter()
        .find(|e| e["type"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} event in {events:?}"))
}

/// Charges `amount` EUR and has the customer pay; returns the payment id.
async fn paid_charge(shop: &Shop, till: &Till, amount: &str) -> String {
    let mut cli =
        Running::spawn(till.cli(shop, &["charge", "--amount", amount, "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    shop.pay(&id).await;
    cli.finish().await.assert_code(0);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_a_payment_pending_then_paid_and_refunded_behind_its_back_the_close_repairs_both(
) {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "10.00", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.kill().await;

    // While the till is dead: the customer pays, and the merchant refunds 4.00 in the
    // dashboard (an App payment's refund is sent at once).
    shop.pay(&id).await;
    let refund = shop.refund(&id, 400, "EUR").await;
    assert_eq!(refund["status"], "succeeded", "{refund}");
    let before = run(till.bare(&["history", "--json"])).await;
    assert_eq!(
        event(&before.events(), "history")["payments"][0]["status"],
        "pending"
    );

    let closed = run(till.cli(&shop, &["report", "--reconcile", "--json"])).await;
    closed.assert_code(0);
    let report = event(&closed.events(), "report")["report"].clone();
    assert_eq!(report["closed"], true, "{report}");
    assert_eq!(report["period"]["kind"], "day");
    let rec = &report["reconciliation"];
    assert_eq!(rec["checked"], 1, "{report}");
    assert_eq!(rec["unchecked"], serde_json::json!([]), "{report}");

    let repairs = report["repairs"].as_array().unwrap();
    assert_eq!(repairs.len(), 2, "{report}");
    assert_eq!(repairs[0]["payment_id"], id.as_str());
    assert_eq!(repairs[0]["kind"], "status");
    assert_eq!(repairs[0]["till_had"], "pending");
    assert_eq!(repairs[0]["api_says"], "succeeded");
    assert_eq!(repairs[1]["payment_id"], id.as_str());
    assert_eq!(repairs[1]["kind"], "refund");
    assert_eq!(repairs[1]["refunded_before_minor"], 0);
    assert_eq!(repairs[1]["refunded_after_minor"], 400);

    // The totals add up: 10.00 paid, 4.00 sent back, 6.00 net; per till the same.
    let eur = &report["totals"][0];
    assert_eq!(eur["currency"], "EUR");
    assert_eq!(eur["paid_count"], 1);
    assert_eq!(eur["gross_minor"], 1000);
    assert_eq!(eur["refunded_minor"], 400);
    assert_eq!(eur["refund_requested_minor"], 0);
    assert_eq!(eur["net_minor"], 600);
    assert_eq!(report["tills"][0]["name"], "Till 1");
    assert_eq!(report["tills"][0]["totals"][0]["net_minor"], 600);

    // As people read it: the Z report with the repairs marked.
    let text = run(till.bare(&["report"])).await;
    text.assert_code(0);
    assert!(text.stdout.contains("Z REPORT"), "{}", text.stdout);
    assert!(
        text.stdout.contains(&format!("REPAIRED {id}")),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("€6.00"), "{}", text.stdout);

    // The stored report reprints as closed, without keys; the journal was repaired.
    let again = run(till.bare(&["report", "--json"])).await;
    again.assert_code(0);
    assert_eq!(event(&again.events(), "report")["report"], report);
    let after = run(till.bare(&["history", "--json"])).await;
    let h = event(&after.events(), "history");
    assert_eq!(h["payments"][0]["status"], "succeeded");
    assert_eq!(h["payments"][0]["payment"]["amount_refunded"], 400);

    // And as CSV, for the accountant.
    let csv = run(till.bare(&["report", "--csv"])).await;
    csv.assert_code(0);
    assert!(
        csv.stdout
            .contains("total,,EUR,1,10.00,0.00,4.00,6.00,0,0,0,0,,,"),
        "{}",
        csv.stdout
    );
    assert!(csv.stdout.contains("repair:refund"), "{}", csv.stdout);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_finds_a_payment_with_this_tills_order_prefix_the_journal_never_had() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    paid_charge(&shop, &till, "2.00").await;
    let today = chrono::Local::now().format("%Y%m%d");
    let lost = shop
        .create_payment(750, "EUR", &format!("T1-{today}-0900"))
        .await;
    shop.pay(&lost).await;
    // Another till's order is not this till's business.
    let other = shop
        .create_payment(999, "EUR", &format!("T2-{today}-0001"))
        .await;
    shop.pay(&other).await;

    let closed = run(till.cli(&shop, &["report", "--reconcile", "--json"])).await;
    closed.assert_code(0);
    let report = event(&closed.events(), "report")["report"].clone();
    assert_eq!(report["reconciliation"]["found"], 1, "{report}");
    assert_eq!(report["reconciliation"]["listed"], true, "{report}");
    let repairs = report["repairs"].as_array().unwrap();
    assert_eq!(repairs.len(), 1, "{report}");
    assert_eq!(repairs[0]["kind"], "found");
    assert_eq!(repairs[0]["payment_id"], lost.as_str());
    assert_eq!(repairs[0]["till_had"], serde_json::Value::Null);
    assert_eq!(report["totals"][0]["gross_minor"], 950, "{report}");
    // 2.00 charged here and 7.50 found; the other till's 9.99 is not counted.
    assert_eq!(report["payments"], 2);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_opens_takes_payments_and_closes_with_its_report() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    paid_charge(&shop, &till, "1.00").await;
    let opened = run(till.bare(&["shift", "open", "--by", "Ana", "--json"])).await;
    opened.assert_code(0);
    let shift = event(&opened.events(), "shift")["shift"].clone();
    assert_eq!(shift["opened_by"], "Ana");
    let shift_id = shift["id"].as_i64().unwrap();
    let twice = run(till.bare(&["shift", "open"])).await;
    twice.assert_code(1);
    assert!(
        twice.stderr.contains("already has shift"),
        "{}",
        twice.stderr
    );

    paid_charge(&shop, &till, "3.50").await;
    let status = run(till.bare(&["shift", "status"])).await;
    status.assert_code(0);
    assert!(status.stdout.contains("X REPORT"), "{}", status.stdout);

    let closed = run(till.cli(&shop, &["shift", "close", "--by", "Ana", "--json"])).await;
    closed.assert_code(0);
    let report = event(&closed.events(), "report")["report"].clone();
    assert_eq!(
        report["period"],
        serde_json::json!({"kind": "shift", "of": shift_id})
    );
    assert_eq!(report["shift"]["closed_by"], "Ana");
    // Only the 3.50 charged during the shift, not the 1.00 before it.
    assert_eq!(report["payments"], 1, "{report}");
    assert_eq!(report["reconciliation"]["checked"], 1);
    assert_eq!(report["totals"][0]["net_minor"], 350);

    let status = run(till.bare(&["shift", "status"])).await;
    assert!(status.stdout.contains("no open shift"), "{}", status.stdout);
    let reprint = run(till.bare(&["report", "--shift", &shift_id.to_string(), "--json"])).await;
    reprint.assert_code(0);
    assert_eq!(event(&reprint.events(), "report")["report"], report);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_prints_a_paid_payment_to_the_printer_and_says_so_when_it_cannot() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let id = paid_charge(&shop, &till, "12.50").await;

    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let printed = run(till.bare(&["receipt", &id, "--printer", &fake.url(), "--json"])).await;
    printed.assert_code(0);
    let shown = event(&printed.events(), "receipt");
    assert_eq!(shown["printed"]["result"], "printed", "{shown}");
    let job = timeout(common::WAIT, fake.next_job())
        .await
        .unwrap()
        .unwrap();
    assert!(job.complete);
    assert!(
        job.bytes.windows(6).any(|w| w == b"\xD512.50"),
        "€ in CP858"
    );
    let decoded = job.decode().unwrap();
    assert_eq!(decoded.qr_codes(), [id.as_str()]);
    assert!(decoded.cut.is_some());
    let text = decoded.text(48);
    assert!(
        text.contains("TEST — not a real payment") || text.contains("TEST - not a real payment"),
        "{text}"
    );
    assert!(text.contains("T1-"), "{text}");

    // A printer that is off: the cashier's words, exit 8, the payment untouched.
    let off = FakePrinter::refusing_url().unwrap();
    let failed = run(till.bare(&["receipt", &id, "--printer", &off])).await;
    failed.assert_code(8);
    assert!(failed.stdout.contains("NOT PRINTED"), "{}", failed.stdout);
    assert!(
        failed.stderr.contains("check it is on and connected"),
        "{}",
        failed.stderr
    );

    // No printer at all: shown on screen.
    let shown = run(till.bare(&["receipt", &id])).await;
    shown.assert_code(0);
    assert!(shown.stdout.contains("€12.50"), "{}", shown.stdout);
    assert!(shown.stdout.contains(&id), "{}", shown.stdout);

    // Not a payment of this journal: a clear error.
    let unknown = run(till.bare(&["receipt", "nope"])).await;
    unknown.assert_code(1);
    assert!(
        unknown.stderr.contains("not in this till's journal"),
        "{}",
        unknown.stderr
    );
    shop.shutdown().await;
}

/// Olga (owner), Sam (supervisor) and Cara (cashier) on `till`.
async fn staffed(shop: &Shop, till: &Till) {
    for (name, role, pin, by) in [
        ("Olga", "owner", OWNER_PIN, None),
        ("Sam", "supervisor", SUPERVISOR_PIN, Some(OWNER_PIN)),
        ("Cara", "cashier", CASHIER_PIN, Some(OWNER_PIN)),
    ] {
        let mut args = vec!["staff", "add", name, "--role", role];
        if let Some(owner) = by {
            args.extend(["--pin", owner]);
        }
        let mut cmd = till.cli(shop, &args);
        cmd.env("PAYDESK_NEW_PIN", pin);
        run(cmd).await.assert_code(0);
    }
}

const OWNER_PIN: &str = "900001";
const SUPERVISOR_PIN: &str = "5005";
const CASHIER_PIN: &str = "4821";

fn said(done: &common::Finished, words: &str) {
    assert!(
        done.stderr.contains(words) || done.stdout.contains(words),
        "expected {words:?}\nstdout:\n{}\nstderr:\n{}",
        done.stdout,
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_shifts_and_reports_take_the_right_pin_on_a_till_with_staff() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    staffed(&shop, &till).await;
    let mut cli = Running::spawn(till.cli(
        &shop,
        &[
            "charge",
            "--amount",
            "12.50",
            "--currency",
            "EUR",
            "--pin",
            CASHIER_PIN,
        ],
    ));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.line_where("a live connection", |l| l.starts_with("connection: live"))
        .await;
    shop.pay(&id).await;
    cli.finish().await.assert_code(0);

    // A receipt shows without a PIN; printing it is a reprint: any cashier's PIN.
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    run(till.bare(&["receipt", &id])).await.assert_code(0);
    let url = fake.url();
    let print = |pin: Option<&str>| {
        let mut args = vec!["receipt", id.as_str(), "--printer", url.as_str()];
        if let Some(p) = pin {
            args.extend(["--pin", p]);
        }
        till.bare(&args)
    };
    let done = run(print(None)).await;
    done.assert_code(5);
    said(&done, "A staff PIN is needed to reprint a receipt.");
    run(print(Some("0000"))).await.assert_code(6);
    run(print(Some(CASHIER_PIN))).await.assert_code(0);
    let job = timeout(common::WAIT, fake.next_job())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.decode().unwrap().qr_codes(), [id.as_str()]);

    // A shift is opened by the cashier whose PIN it is, in her name, never in another's.
    run(till.bare(&["shift", "open"])).await.assert_code(5);
    let done = run(till.bare(&["shift", "open", "--by", "Ana", "--pin", CASHIER_PIN])).await;
    done.assert_code(1);
    said(&done, "this PIN is Cara's");
    let opened = run(till.bare(&["shift", "open", "--pin", CASHIER_PIN, "--json"])).await;
    opened.assert_code(0);
    assert_eq!(
        event(&opened.events(), "shift")["shift"]["opened_by"],
        "Cara"
    );

    // The numbers and the close are a supervisor's.
    let done = run(till.bare(&["shift", "status", "--pin", CASHIER_PIN])).await;
    done.assert_code(7);
    said(&done, "Only a supervisor can see the reports.");
    run(till.bare(&["shift", "status", "--pin", SUPERVISOR_PIN]))
        .await
        .assert_code(0);
    let done = run(till.cli(&shop, &["shift", "close", "--pin", CASHIER_PIN])).await;
    done.assert_code(7);
    said(&done, "Only a supervisor can close the shift.");
    let closed = run(till.cli(
        &shop,
        &["shift", "close", "--pin", SUPERVISOR_PIN, "--json"],
    ))
    .await;
    closed.assert_code(0);
    let report = event(&closed.events(), "report")["report"].clone();
    assert_eq!(report["shift"]["opened_by"], "Cara", "{report}");
    assert_eq!(report["shift"]["closed_by"], "Sam", "{report}");

    // The day's report: no PIN, a wrong one, a cashier's, then a supervisor's.
    run(till.bare(&["report"])).await.assert_code(5);
    run(till.bare(&["report", "--pin", "1111"]))
        .await
        .assert_code(6);
    run(till.bare(&["report", "--csv", "--pin", CASHIER_PIN]))
        .await
        .assert_code(7);
    let z = run(till.cli(
        &shop,
        &["report", "--reconcile", "--pin", SUPERVISOR_PIN, "--json"],
    ))
    .await;
    z.assert_code(0);
    assert_eq!(event(&z.events(), "report")["report"]["closed"], true);
    shop.shutdown().await;
}
