//! `paydesk-cli charge`, `watch`, `cancel`, `refund` and `history` against a real sandbox
//! and relay: every way a payment ends, with the documented exit status and output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{payment_id_of, run, Running, Shop, Till};

const WINDOW: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_charge_prints_qr_and_id_streams_status_and_exits_0() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli = Running::spawn(till.cli(
        &shop,
        &[
            "charge",
            "--amount",
            "12.50",
            "--currency",
            "EUR",
            "--description",
            "coffee",
        ],
    ));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    // The relay pushes; wait until the till listens before the customer pays.
    cli.line_where("a live connection", |l| l.starts_with("connection: live"))
        .await;
    cli.line_where("a countdown", |l| l.ends_with(" left"))
        .await;
    shop.pay(&id).await;
    let done = cli.finish().await;
    done.assert_code(0);
    // The QR code is drawn with half blocks, and its URL is printed beside it.
    assert!(
        done.stdout.contains('▀') || done.stdout.contains('▄'),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains(&format!("/checkout/{id}")),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("pending → succeeded"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains(&format!("PAID 12.50 EUR (payment {id})")),
        "{}",
        done.stdout
    );
    assert_eq!(shop.payment(&id).await["status"], "succeeded");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_charge_streams_json_events_and_exits_3() {
    // A short window: the countdown runs out for real and the API confirms the expiry.
    let shop = Shop::start(Duration::from_secs(3)).await;
    let till = Till::new();
    let mut cli = Running::spawn(till.cli(
        &shop,
        &[
            "charge",
            "--amount",
            "7",
            "--currency",
            "EUR",
            "--order-id",
            "order-expiry-1",
            "--json",
        ],
    ));
    let created = cli.event("created").await;
    assert_eq!(created["payment"]["order_id"], "order-expiry-1");
    assert_eq!(created["payment"]["amount"], 700);
    let tick = cli.event("tick").await;
    assert!(tick["remaining_secs"].as_u64().unwrap() <= 3, "{tick}");
    let done = cli.finish().await;
    done.assert_code(3);
    let events = done.events();
    assert!(events.iter().all(|e| e["type"].is_string()), "{events:?}");
    assert!(
        events.iter().any(|e| e["type"] == "expired"),
        "{}",
        done.stdout
    );
    let result = events.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "expired");
    assert_eq!(result["exit_code"], 3);
    // Crypto.com Pay's form (the sandbox's default): the flag, the status still pending.
    assert_eq!(
        (&result["payment"]["expired"], &result["payment"]["status"]),
        (&serde_json::json!(true), &serde_json::json!("pending")),
        "{result}"
    );
    assert!(result.get("unresolved").is_none(), "{result}");
    let id = result["payment_id"].as_str().unwrap();
    assert_eq!(shop.payment(id).await["status"], "pending");

    // History reads the flag as expired, and counts it so.
    let history = run(till.bare(&["history", "--json"])).await;
    let h = history
        .events()
        .into_iter()
        .find(|e| e["type"] == "history")
        .unwrap();
    assert_eq!(h["payments"][0]["status"], "expired", "{h}");
    assert_eq!(h["payments"][0]["payment"]["expired"], true, "{h}");
    let expired = h["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["status"] == "expired")
        .unwrap_or_else(|| panic!("no expired total in {h}"));
    assert_eq!(
        (expired["count"].as_u64(), expired["sum_minor"].as_i64()),
        (Some(1), Some(700))
    );
    assert_eq!(h["summary"][0]["expired_count"], 1);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_charge_exits_4_and_cancel_exits_0() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli_polling(&shop, &["charge", "--amount", "3", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.line_where("the polling state", |l| {
        l.starts_with("connection: polling")
    })
    .await;
    let cancel = run(till.cli(&shop, &["cancel", &id])).await;
    cancel.assert_code(0);
    assert!(
        cancel
            .stdout
            .contains(&format!("CANCELLED 3.00 EUR (payment {id})")),
        "{}",
        cancel.stdout
    );
    let done = cli.finish().await;
    done.assert_code(4);
    assert!(
        done.stdout
            .contains(&format!("CANCELLED 3.00 EUR (payment {id})")),
        "{}",
        done.stdout
    );
    // Cancelling again is refused: nothing pending to cancel.
    let again = run(till.cli(&shop, &["cancel", &id])).await;
    assert_ne!(again.code, Some(0), "{again:?}");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_partial_then_the_rest_and_history_and_csv_match() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();

    // One paid payment, refunded in two steps.
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "12.50", "--currency", "EUR"]));
    let paid = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    shop.pay(&paid).await;
    cli.finish().await.assert_code(0);

    let refund = run(till.cli(
        &shop,
        &["refund", &paid, "--amount", "5", "--reason", "broken cup"],
    ))
    .await;
    refund.assert_code(0);
    assert!(
        refund
            .stdout
            .contains(&format!("REFUNDED 5.00 EUR of payment {paid}")),
        "{}",
        refund.stdout
    );
    assert!(
        refund
            .stdout
            .contains("Refunded so far: 5.00 EUR of 12.50 EUR"),
        "{}",
        refund.stdout
    );
    // More than is left is refused, and nothing changes.
    let too_much = run(till.cli(&shop, &["refund", &paid, "--amount", "8"])).await;
    too_much.assert_code(1);
    assert!(
        too_much.stderr.contains("at most 7.50 EUR"),
        "{}",
        too_much.stderr
    );
    let rest = run(till.cli(&shop, &["refund", &paid, "--json"])).await;
    rest.assert_code(0);
    let event = rest
        .events()
        .into_iter()
        .find(|e| e["type"] == "refund")
        .unwrap();
    assert_eq!(event["refund"]["amount"], 750);
    assert_eq!(event["payment"]["amount_refunded"], 1250);
    assert_eq!(shop.payment(&paid).await["amount_refunded"], 1250);

    // Watching a paid, refunded payment ends at once with 0.
    let watch = run(till.cli(&shop, &["watch", &paid])).await;
    watch.assert_code(0);
    assert!(
        watch.stdout.contains("PAID 12.50 EUR — refunded 12.50 EUR"),
        "{}",
        watch.stdout
    );

    // One cancelled payment, one unpaid payment in another currency (left pending).
    let mut cli =
        Running::spawn(till.cli_polling(&shop, &["charge", "--amount", "3", "--currency", "EUR"]));
    let cancelled = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    run(till.cli(&shop, &["cancel", &cancelled]))
        .await
        .assert_code(0);
    cli.finish().await.assert_code(4);
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "20", "--currency", "USD"]));
    let pending = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.kill().await;

    let history = run(till.bare(&["history", "--json"])).await;
    history.assert_code(0);
    let h = history
        .events()
        .into_iter()
        .find(|e| e["type"] == "history")
        .unwrap();
    let payments = h["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 3, "{h}");
    let status_of = |id: &str| {
        payments
            .iter()
            .find(|p| p["payment"]["id"] == id)
            .map(|p| p["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of(&paid).as_deref(), Some("succeeded"));
    assert_eq!(status_of(&cancelled).as_deref(), Some("cancelled"));
    assert_eq!(status_of(&pending).as_deref(), Some("pending"));
    let totals = h["totals"].as_array().unwrap();
    let total = |cur: &str, status: &str| {
        totals
            .iter()
            .find(|t| t["currency"] == cur && t["status"] == status)
            .cloned()
            .unwrap_or_else(|| panic!("no {cur} {status} total in {h}"))
    };
    let t = total("EUR", "succeeded");
    assert_eq!(
        (
            t["count"].as_u64(),
            t["sum_minor"].as_i64(),
            t["refunded_minor"].as_i64()
        ),
        (Some(1), Some(1250), Some(1250))
    );
    let t = total("EUR", "cancelled");
    assert_eq!(
        (t["count"].as_u64(), t["sum_minor"].as_i64()),
        (Some(1), Some(300))
    );
    let t = total("USD", "pending");
    assert_eq!(
        (t["count"].as_u64(), t["sum_minor"].as_i64()),
        (Some(1), Some(2000))
    );

    let table = run(till.bare(&["history"])).await;
    table.assert_code(0);
    for id in [&paid, &cancelled, &pending] {
        assert!(table.stdout.contains(id.as_str()), "{}", table.stdout);
    }
    assert!(table.stdout.contains("Totals"), "{}", table.stdout);
    assert!(
        table.stdout.contains("refunded 12.50 EUR"),
        "{}",
        table.stdout
    );

    let csv = run(till.bare(&["history", "--csv"])).await;
    csv.assert_code(0);
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(
        rows.len(),
        4,
        "a header and three payments:\n{}",
        csv.stdout
    );
    let row_of = |id: &str| rows.iter().find(|r| r.contains(id)).copied().unwrap();
    assert!(
        row_of(&paid).contains("succeeded") && row_of(&paid).contains("12.50"),
        "{}",
        csv.stdout
    );
    assert!(
        row_of(&cancelled).contains("cancelled") && row_of(&cancelled).contains("3.00"),
        "{}",
        csv.stdout
    );
    assert!(
        row_of(&pending).contains("pending") && row_of(&pending).contains("USD"),
        "{}",
        csv.stdout
    );

    // Another day holds none of them.
    let other = run(till.bare(&["history", "--date", "2001-01-01", "--csv"])).await;
    assert_eq!(other.stdout.lines().count(), 1, "{}", other.stdout);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_key_charge_says_how_to_get_one() {
    let till = Till::new();
    let done = run(till.bare(&["charge", "--amount", "5"])).await;
    done.assert_code(1);
    assert!(
        done.stderr.contains("PAYDESK_SECRET_KEY"),
        "{}",
        done.stderr
    );
    let bad = run(till.bare(&["history", "--date", "yesterday"])).await;
    bad.assert_code(1);
    assert!(bad.stderr.contains("YYYY-MM-DD"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_c_while_charging_cancels_at_the_service_and_exits_4() {
    use tokio::io::AsyncWriteExt;
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cmd = till.cli(&shop, &["charge", "--amount", "8", "--currency", "EUR"]);
    cmd.stdin(std::process::Stdio::piped());
    let mut cli = Running::spawn(cmd);
    let mut stdin = cli.child.stdin.take().unwrap();
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.line_where("a countdown", |l| l.ends_with(" left"))
        .await;
    // Other words do nothing.
    stdin.write_all(b"hello\nc\n").await.unwrap();
    stdin.flush().await.unwrap();
    let done = cli.finish().await;
    done.assert_code(4);
    assert!(done.stdout.contains("cancelling …"), "{}", done.stdout);
    assert!(
        done.stdout
            .contains(&format!("CANCELLED 8.00 EUR (payment {id})")),
        "{}",
        done.stdout
    );
    assert_eq!(shop.payment(&id).await["status"], "cancelled");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_charge_is_paid_by_the_demo_customer_without_any_keys() {
    let till = Till::new();
    let done = run(till.bare(&[
        "demo",
        "--time-window",
        "60",
        "charge",
        "--amount",
        "5",
        "--currency",
        "EUR",
        "--pay-after",
        "1",
    ]))
    .await;
    done.assert_code(0);
    assert!(
        done.stdout.starts_with("DEMO — no real money."),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("pending → succeeded (pushed by the relay)"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("PAID 5.00 EUR"), "{}", done.stdout);
    // The demo's payments stay out of the till's own journal. (A till without keys shows
    // its demo book, whose export the demo owner's public PIN allows.)
    let history = run(till.bare(&["history", "--csv", "--pin", "1234"])).await;
    assert_eq!(history.stdout.lines().count(), 1, "{}", history.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_layer_file_then_environment_then_flags() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    std::fs::write(
        till.config_path(),
        "terminal_name = \"File till\"\ndefault_currency = \"USD\"\napi_url = \"http://127.0.0.1:9/api\"\n",
    )
    .unwrap();
    // The file's API URL is wrong; the environment's wins over it. The file names the
    // till; the environment renames it. The file's currency loses to the flag.
    let mut cmd = till.bare(&["charge", "--amount", "1", "--currency", "EUR", "--json"]);
    cmd.env("PAYDESK_API_URL", &shop.api_url)
        .env("PAYDESK_TERMINAL_NAME", "Env till")
        .env("PAYDESK_SECRET_KEY", &shop.secret_key);
    let mut cli = Running::spawn(cmd);
    let created = cli.event("created").await;
    assert_eq!(created["payment"]["currency"], "EUR");
    let id = created["payment_id"].as_str().unwrap().to_owned();
    shop.pay(&id).await;
    cli.finish().await.assert_code(0);
    let history = run(till.bare(&["history", "--json"])).await;
    let h = history
        .events()
        .into_iter()
        .find(|e| e["type"] == "history")
        .unwrap();
    assert_eq!(h["payments"][0]["terminal"], "Env till", "{h}");

    // A file that holds a key is refused, and the refusal does not repeat it.
    std::fs::write(till.config_path(), "secret_key = \"sk_test_in_the_file\"\n").unwrap();
    let refused = run(till.cli(&shop, &["history"])).await;
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("keys never go in the config file"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("sk_test_in_the_file"),
        "{}",
        refused.stderr
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_a_payment_this_till_never_saw() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    // Created by another system (a web shop) straight at the API.
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/payments", shop.api_url))
        .bearer_auth(&shop.secret_key)
        .json(&serde_json::json!({"amount": 4200, "currency": "USD", "order_id": "web-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let mut cli = Running::spawn(till.cli(&shop, &["watch", &id]));
    cli.line_where("the payment", |l| {
        l.starts_with(&format!("Payment {id}: 42.00 USD pending"))
    })
    .await;
    cli.line_where("a live connection", |l| l.starts_with("connection: live"))
        .await;
    shop.pay(&id).await;
    let done = cli.finish().await;
    done.assert_code(0);
    assert!(
        done.stdout
            .contains(&format!("PAID 42.00 USD (payment {id})")),
        "{}",
        done.stdout
    );
    assert!(
        done.stderr.is_empty(),
        "logs belong in files, not on stderr: {}",
        done.stderr
    );

    let unknown = run(till.cli(&shop, &["watch", "no-such-payment", "--json"])).await;
    unknown.assert_code(1);
    let error = unknown
        .events()
        .into_iter()
        .find(|e| e["type"] == "error")
        .unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("does not know payment no-such-payment"),
        "{error}"
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_p_in_a_demo_charge_makes_the_demo_customer_pay() {
    use tokio::io::AsyncWriteExt;
    let till = Till::new();
    let mut cmd = till.bare(&["demo", "charge", "--amount", "2", "--currency", "EUR"]);
    cmd.stdin(std::process::Stdio::piped());
    let mut cli = Running::spawn(cmd);
    let mut stdin = cli.child.stdin.take().unwrap();
    cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
        .await;
    cli.line_where("a live connection", |l| l.starts_with("connection: live"))
        .await;
    stdin.write_all(b"p\n").await.unwrap();
    stdin.flush().await.unwrap();
    let done = cli.finish().await;
    done.assert_code(0);
    assert!(
        done.stdout.contains("the demo customer pays"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("PAID 2.00 EUR"), "{}", done.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_relay_dies_mid_charge_the_till_says_so_polls_and_still_sees_paid() {
    let mut shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli = Running::spawn(till.cli(
        &shop,
        &["charge", "--amount", "19.90", "--currency", "EUR", "--json"],
    ));
    let id = cli.event("created").await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.line_where("a live connection", |l| {
        serde_json::from_str::<serde_json::Value>(l)
            .is_ok_and(|v| v["type"] == "connection" && v["state"] == "live")
    })
    .await;
    shop.stop_relay().await;
    cli.line_where("the polling fallback", |l| {
        serde_json::from_str::<serde_json::Value>(l)
            .is_ok_and(|v| v["type"] == "connection" && v["state"] == "polling")
    })
    .await;
    shop.pay(&id).await;
    let done = cli.finish().await;
    done.assert_code(0);
    let paid = done
        .events()
        .into_iter()
        .find(|e| e["type"] == "transition" && e["to"] == "succeeded")
        .unwrap();
    assert_eq!(
        paid["source"], "api_read",
        "paid must come from a poll: {paid}"
    );
    shop.shutdown().await;
}
