//! A till killed (SIGKILL, no cleanup) at each step a test can reach loses no payment: the
//! next run finds it in the journal and follows it to the status the service reached
//! while the till was dead.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{payment_id_of, run, Running, Shop, Till};

const WINDOW: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_printing_the_id_then_paid_while_dead_watch_exits_0() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "9.99", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.kill().await;

    // Journaled as pending before the id was shown.
    let history = run(till.bare(&["history", "--json"])).await;
    let h = history
        .events()
        .into_iter()
        .find(|e| e["type"] == "history")
        .unwrap();
    assert_eq!(h["payments"][0]["payment"]["id"], id.as_str(), "{h}");
    assert_eq!(h["payments"][0]["status"], "pending", "{h}");

    shop.pay(&id).await;
    let watch = run(till.cli(&shop, &["watch", &id])).await;
    watch.assert_code(0);
    assert!(
        watch
            .stdout
            .contains(&format!("PAID 9.99 EUR (payment {id})")),
        "{}",
        watch.stdout
    );

    let history = run(till.bare(&["history", "--json"])).await;
    let h = history
        .events()
        .into_iter()
        .find(|e| e["type"] == "history")
        .unwrap();
    assert_eq!(h["payments"][0]["status"], "succeeded", "{h}");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_countdown_runs_then_expired_while_dead_watch_exits_3() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli = Running::spawn(till.cli(
        &shop,
        &["charge", "--amount", "4", "--currency", "EUR", "--json"],
    ));
    let id = cli.event("created").await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.event("tick").await;
    cli.kill().await;

    shop.expire(&id).await;
    let watch = run(till.cli(&shop, &["watch", &id, "--json"])).await;
    watch.assert_code(3);
    let result = watch
        .events()
        .into_iter()
        .find(|e| e["type"] == "result")
        .unwrap();
    assert_eq!(result["status"], "expired");
    assert_eq!(result["payment_id"], id.as_str());
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_watching_then_cancelled_the_next_watch_exits_4() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "2.50", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.kill().await;

    // A second process follows it from the journal, and is killed too.
    let mut watch = Running::spawn(till.cli(&shop, &["watch", &id]));
    watch
        .line_where("the payment", |l| {
            l.starts_with(&format!("Payment {id}: 2.50 EUR pending"))
        })
        .await;
    watch
        .line_where("a countdown", |l| l.ends_with(" left"))
        .await;
    watch.kill().await;

    shop.cancel(&id).await;
    let watch = run(till.cli(&shop, &["watch", &id])).await;
    watch.assert_code(4);
    assert!(
        watch
            .stdout
            .contains(&format!("CANCELLED 2.50 EUR (payment {id})")),
        "{}",
        watch.stdout
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_charge_after_a_kill_names_the_payment_left_pending_and_watch_finds_it() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "1", "--currency", "EUR"]));
    let first = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.kill().await;

    // The next start resumes it and says how to follow it.
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "2", "--currency", "EUR"]));
    let second = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    assert_ne!(first, second);
    shop.pay(&second).await;
    let done = cli.finish().await;
    done.assert_code(0);
    assert!(
        done.stderr.contains(&format!("paydesk-cli watch {first}")),
        "stderr: {}",
        done.stderr
    );

    shop.pay(&first).await;
    run(till.cli(&shop, &["watch", &first]))
        .await
        .assert_code(0);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_leaves_the_payment_pending_and_says_how_to_watch_it() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "11", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.line_where("a countdown", |l| l.ends_with(" left"))
        .await;
    let pid = cli.child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let done = cli.finish().await;
    done.assert_code(130);
    assert!(
        done.stdout.contains(&format!("paydesk-cli watch {id}")),
        "{}",
        done.stdout
    );
    assert_eq!(
        shop.payment(&id).await["status"],
        "pending",
        "nothing was cancelled"
    );

    shop.pay(&id).await;
    run(till.cli(&shop, &["watch", &id])).await.assert_code(0);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_lost_is_found_by_order_id_never_charged_twice() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    // Crypto.com Pay creates the payment, but its answer never reaches the till.
    shop.faults(serde_json::json!({ "drop_create_responses": 1 }))
        .await;
    let mut cli = Running::spawn(till.cli(
        &shop,
        &[
            "charge",
            "--amount",
            "15",
            "--currency",
            "EUR",
            "--order-id",
            "till-1-0042",
        ],
    ));
    let line = cli
        .line_where("the payment id or an error", |l| {
            l.starts_with("Payment id:")
        })
        .await;
    let id = payment_id_of(&line);
    shop.pay(&id).await;
    cli.finish().await.assert_code(0);
    let same_order: Vec<_> = shop
        .payments()
        .await
        .into_iter()
        .filter(|p| p["order_id"] == "till-1-0042")
        .collect();
    assert_eq!(same_order.len(), 1, "charged twice: {same_order:?}");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_the_journal_while_the_api_is_down_and_sees_paid_when_it_returns() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cli =
        Running::spawn(till.cli_polling(&shop, &["charge", "--amount", "5", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.kill().await;

    // Every API request fails with 503 now.
    shop.faults(serde_json::json!({ "error_rate_permille": 1000 }))
        .await;
    let mut watch = Running::spawn(till.cli_polling(&shop, &["watch", &id]));
    watch
        .line_where("the journal's copy", |l| {
            l.starts_with(&format!("Payment {id}: 5.00 EUR pending"))
        })
        .await;
    watch
        .line_where("the offline state", |l| {
            l.starts_with("connection: offline")
        })
        .await;
    shop.clear_faults().await;
    shop.pay(&id).await;
    let done = watch.finish().await;
    done.assert_code(0);
    assert!(
        done.stderr.contains("following the journal's copy"),
        "{}",
        done.stderr
    );

    // A refused key is not waited out.
    let mut cmd = till.cli_polling(&shop, &["watch", &id]);
    cmd.env("PAYDESK_SECRET_KEY", "sk_test_wrong");
    let refused = run(cmd).await;
    refused.assert_code(1);
    assert!(refused.stderr.contains("API key"), "{}", refused.stderr);
    shop.shutdown().await;
}
