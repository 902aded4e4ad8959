//! `paydesk-cli` against Crypto.com Pay as it really is (docs/sandbox.md): refunds that take
//! time, and money that reaches a payment without paying it. Each test runs a till through
//! to the end against a real sandbox and relay, and checks the final status, the cashier's
//! words and JSON events, and History's totals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{payment_id_of, run, Running, Shop, Till};
use serde_json::{json, Value};

const WINDOW: Duration = Duration::from_secs(600);

/// `history --json` of today.
async fn history(till: &Till) -> Value {
    let done = run(till.bare(&["history", "--json"])).await;
    done.assert_code(0);
    done.events()
        .into_iter()
        .find(|e| e["type"] == "history")
        .unwrap_or_else(|| panic!("no history event: {}", done.stdout))
}

fn entry<'a>(h: &'a Value, id: &str) -> &'a Value {
    h["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["payment"]["id"] == id)
        .unwrap_or_else(|| panic!("payment {id} not in {h}"))
}

fn summary<'a>(h: &'a Value, currency: &str) -> &'a Value {
    h["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == currency)
        .unwrap_or_else(|| panic!("no {currency} summary in {h}"))
}

fn total<'a>(h: &'a Value, currency: &str, status: &str) -> &'a Value {
    h["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["currency"] == currency && t["status"] == status)
        .unwrap_or_else(|| panic!("no {currency} {status} total in {h}"))
}

fn json_line(
    kind: &'static str,
    field: &'static str,
    value: &'static str,
) -> impl Fn(&str) -> bool {
    move |l: &str| {
        serde_json::from_str::<Value>(l).is_ok_and(|v| v["type"] == kind && v[field] == value)
    }
}

/// Charges `amount` EUR through the relay and has the customer pay with `body`; returns
/// the payment id once the CLI exited 0.
async fn paid_charge(shop: &Shop, till: &Till, amount: &str, body: Value) -> String {
    let mut cli = Running::spawn(till.cli(
        shop,
        &["charge", "--amount", amount, "--currency", "EUR", "--json"],
    ));
    let id = cli.event("created").await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.line_where(
        "a live connection",
        json_line("connection", "state", "live"),
    )
    .await;
    let paid = shop.pay_with(&id, body).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let done = cli.finish().await;
    done.assert_code(0);
    assert_eq!(done.events().last().unwrap()["status"], "succeeded");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_payments_refund_is_sent_and_counted_as_sent() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let id = paid_charge(&shop, &till, "12.50", json!({"method": "app"})).await;

    let refund = run(till.cli(
        &shop,
        &["refund", &id, "--amount", "2.50", "--reason", "wrong size"],
    ))
    .await;
    refund.assert_code(0);
    for words in [
        format!("REFUNDED 2.50 EUR of payment {id}"),
        ", sent)".to_owned(),
        "Reason: wrong size".to_owned(),
        "The money is back in the customer's Crypto.com App balance.".to_owned(),
        "Refunded so far: 2.50 EUR of 12.50 EUR".to_owned(),
    ] {
        assert!(
            refund.stdout.contains(&words),
            "{words}:\n{}",
            refund.stdout
        );
    }
    assert!(!refund.stdout.contains("Requested"), "{}", refund.stdout);

    let rest = run(till.cli(&shop, &["refund", &id, "--json"])).await;
    rest.assert_code(0);
    let event = rest
        .events()
        .into_iter()
        .find(|e| e["type"] == "refund")
        .unwrap();
    assert_eq!(event["refund"]["status"], "succeeded", "{event}");
    assert_eq!(event["refund"]["amount"], 1000);
    assert_eq!(event["state"], "sent");
    assert_eq!(event["label"], "Sent");
    assert!(
        event["customer_sees"]
            .as_str()
            .unwrap()
            .contains("Crypto.com App balance"),
        "{event}"
    );

    let h = history(&till).await;
    let e = entry(&h, &id);
    assert_eq!(e["status"], "succeeded");
    let refunds = e["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2, "{e}");
    assert!(refunds.iter().all(|r| r["status"] == "succeeded"), "{e}");
    assert_eq!(refunds[0]["reason"], "wrong size");
    let s = summary(&h, "EUR");
    assert_eq!(
        (
            s["paid_count"].as_u64(),
            s["paid_minor"].as_i64(),
            s["refunded_minor"].as_i64(),
            s["refund_requested_minor"].as_i64()
        ),
        (Some(1), Some(1250), Some(1250), Some(0)),
        "{s}"
    );
    assert_eq!(total(&h, "EUR", "succeeded")["refunded_minor"], 1250);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onchain_refund_stays_requested_until_the_customer_answers_then_is_sent() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let id = paid_charge(&shop, &till, "12.50", json!({"method": "onchain"})).await;

    // Asked for: Crypto.com e-mails the customer for a wallet address.
    let refund = run(till.cli(
        &shop,
        &[
            "refund",
            &id,
            "--amount",
            "5",
            "--reason",
            "changed mind",
            "--json",
        ],
    ))
    .await;
    refund.assert_code(0);
    let event = refund
        .events()
        .into_iter()
        .find(|e| e["type"] == "refund")
        .unwrap();
    assert_eq!(event["refund"]["status"], "pending", "{event}");
    assert_eq!(event["state"], "requested");
    assert_eq!(event["label"], "Requested");
    assert!(
        event["customer_sees"]
            .as_str()
            .unwrap()
            .contains("e-mails the customer for a wallet address"),
        "{event}"
    );
    let refund_id = event["refund"]["id"].as_str().unwrap().to_owned();
    let words = run(till.bare(&["history"])).await;
    assert!(
        words.stdout.contains("5.00 EUR requested"),
        "{}",
        words.stdout
    );

    let h = history(&till).await;
    let e = entry(&h, &id);
    assert_eq!(e["refunds"][0]["status"], "pending", "{e}");
    assert_eq!(e["refunds"][0]["reason"], "changed mind");
    let s = summary(&h, "EUR");
    assert_eq!(
        (
            s["refunded_minor"].as_i64(),
            s["refund_requested_minor"].as_i64()
        ),
        (Some(0), Some(500)),
        "{s}"
    );
    assert_eq!(total(&h, "EUR", "succeeded")["refunded_minor"], 0);

    // `watch` waits for the refund; the customer answers; the relay pushes the transfer.
    let mut watch = Running::spawn(till.cli(&shop, &["watch", &id, "--json"]));
    watch
        .line_where(
            "the refund still requested",
            json_line("refund_update", "state", "requested"),
        )
        .await;
    watch
        .line_where(
            "a live connection",
            json_line("connection", "state", "live"),
        )
        .await;
    let sent = shop.transfer_refund(&refund_id).await;
    assert_eq!(sent["status"], "succeeded", "{sent}");
    let done = watch.finish().await;
    done.assert_code(0);
    let events = done.events();
    let update = events
        .iter()
        .find(|e| e["type"] == "refund_update" && e["state"] == "sent")
        .unwrap_or_else(|| panic!("no sent refund in {}", done.stdout));
    assert_eq!(update["refund"]["id"], refund_id.as_str());
    assert!(
        update["customer_sees"]
            .as_str()
            .unwrap()
            .contains("wallet address the customer gave"),
        "{update}"
    );
    let result = events.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["payment"]["amount_refunded"], 500);

    let h = history(&till).await;
    assert_eq!(entry(&h, &id)["refunds"][0]["status"], "succeeded");
    let s = summary(&h, "EUR");
    assert_eq!(
        (
            s["paid_minor"].as_i64(),
            s["refunded_minor"].as_i64(),
            s["refund_requested_minor"].as_i64()
        ),
        (Some(1250), Some(500), Some(0)),
        "{s}"
    );
    assert_eq!(total(&h, "EUR", "succeeded")["refunded_minor"], 500);
    // A paid payment with nothing left to wait for ends at once.
    let again = run(till.cli(&shop, &["watch", &id])).await;
    again.assert_code(0);
    assert!(
        again.stdout.contains(&format!(
            "PAID 12.50 EUR — refunded 5.00 EUR (payment {id})"
        )),
        "{}",
        again.stdout
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_sent_after_expiry_never_pays_and_the_cashier_hears_it_came_too_late() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    // A polling till sees the expiry at its next read (no webhook marks it).
    let mut cli = Running::spawn(till.cli_polling(
        &shop,
        &["charge", "--amount", "7", "--currency", "EUR", "--json"],
    ));
    let id = cli.event("created").await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.line_where("polling", json_line("connection", "state", "polling"))
        .await;
    shop.expire(&id).await;
    let done = cli.finish().await;
    done.assert_code(3);
    let result = done.events().pop().unwrap();
    assert_eq!(result["status"], "expired");
    assert!(result.get("unresolved").is_none(), "{result}");

    // The customer's wallet sends the money anyway: late.
    let late = shop.pay_with(&id, json!({"method": "onchain"})).await;
    assert_eq!(
        (&late["status"], &late["expired"]),
        (&json!("pending"), &json!(true))
    );
    assert_eq!(late["current_inbound_fund"]["mismatched_reason"], "late");

    let watched = run(till.cli_polling(&shop, &["watch", &id, "--json"])).await;
    watched.assert_code(3);
    let events = watched.events();
    assert!(
        !events.iter().any(|e| e["to"] == "succeeded"),
        "{}",
        watched.stdout
    );
    let result = events.last().unwrap();
    assert_eq!(result["status"], "expired");
    assert_eq!(result["payment"]["status"], "pending");
    assert_eq!(result["unresolved"]["reason"], "late");
    assert!(
        result["unresolved"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The customer paid too late; Crypto.com returns the money to them."),
        "{result}"
    );
    let words = run(till.cli_polling(&shop, &["watch", &id])).await;
    words.assert_code(3);
    assert!(
        words.stdout.contains(&format!(
            "EXPIRED 7.00 EUR (payment {id}): The customer paid too late; Crypto.com returns \
             the money to them. Nothing was charged — charge again."
        )),
        "{}",
        words.stdout
    );

    let h = history(&till).await;
    let e = entry(&h, &id);
    assert_eq!(e["status"], "expired");
    assert_eq!(
        e["payment"]["current_inbound_fund"]["mismatched_reason"],
        "late"
    );
    let s = summary(&h, "EUR");
    assert_eq!(
        (
            s["paid_count"].as_u64(),
            s["paid_minor"].as_i64(),
            s["expired_count"].as_u64()
        ),
        (Some(0), Some(0), Some(1)),
        "{s}"
    );
    assert_eq!(total(&h, "EUR", "expired")["sum_minor"], 700);
    let table = run(till.bare(&["history"])).await;
    assert!(
        table.stdout.contains("Unresolved") && table.stdout.contains("paid too late"),
        "{}",
        table.stdout
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_underpayment_never_pays_and_the_cashier_hears_it_was_too_little() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli = Running::spawn(till.cli_polling(
        &shop,
        &["charge", "--amount", "5", "--currency", "EUR", "--json"],
    ));
    let id = cli.event("created").await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.line_where("polling", json_line("connection", "state", "polling"))
        .await;
    let short = shop.pay_with(&id, json!({"underpay": "2.00"})).await;
    assert_eq!(short["status"], "pending", "{short}");
    assert_eq!(
        short["current_inbound_fund"]["mismatched_reason"],
        "underpaid"
    );

    // Said while the payment is still open, so nobody waits for a Paid that cannot come.
    let unresolved = cli.event("unresolved").await;
    assert_eq!(unresolved["payment_id"], id.as_str());
    assert_eq!(unresolved["reason"], "underpaid");
    assert!(
        unresolved["message"]
            .as_str()
            .unwrap()
            .starts_with("The customer paid too little; Crypto.com returns the money to them."),
        "{unresolved}"
    );
    shop.expire(&id).await;
    let done = cli.finish().await;
    done.assert_code(3);
    let events = done.events();
    assert!(
        !events.iter().any(|e| e["to"] == "succeeded"),
        "{}",
        done.stdout
    );
    let result = events.last().unwrap();
    assert_eq!(result["status"], "expired");
    assert_eq!(result["unresolved"]["reason"], "underpaid");

    let words = run(till.cli_polling(&shop, &["watch", &id])).await;
    words.assert_code(3);
    assert!(
        words.stdout.contains(&format!(
            "EXPIRED 5.00 EUR (payment {id}): The customer paid too little; Crypto.com \
             returns the money to them. Nothing was charged — charge again."
        )),
        "{}",
        words.stdout
    );

    let h = history(&till).await;
    assert_eq!(entry(&h, &id)["status"], "expired");
    let s = summary(&h, "EUR");
    assert_eq!(
        (s["paid_count"].as_u64(), s["expired_count"].as_u64()),
        (Some(0), Some(1)),
        "{s}"
    );
    assert_eq!(total(&h, "EUR", "expired")["sum_minor"], 500);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_underpaid_words_also_reach_a_person_reading_lines() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli_polling(&shop, &["charge", "--amount", "4", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.line_where("polling", |l| l.starts_with("connection: polling"))
        .await;
    shop.pay_with(&id, json!({"underpay": "1.00"})).await;
    cli.line_where("the unresolved words", |l| {
        l == "UNRESOLVED: The customer paid too little; Crypto.com returns the money to them. \
              Nothing was charged — charge again."
    })
    .await;
    shop.expire(&id).await;
    cli.finish().await.assert_code(3);
    shop.shutdown().await;
}
