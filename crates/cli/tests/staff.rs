//! Staff at the command line: `paydesk-cli staff …` and the gated commands (`charge`,
//! `cancel`, `refund`, `history --csv`) run as the real binary against a real sandbox and
//! relay, with right, wrong and missing PINs, and the documented exit statuses: 5 a PIN is
//! needed, 6 the PIN was refused, 7 the role does not allow it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{payment_id_of, run, Finished, Running, Shop, Till};
use tokio::process::Command;

const WINDOW: Duration = Duration::from_secs(600);
const OWNER_PIN: &str = "900001";
const SUPERVISOR_PIN: &str = "5005";
const CASHIER_PIN: &str = "4821";
const OTHER_CASHIER_PIN: &str = "24680";

const EXIT_PIN_NEEDED: i32 = 5;
const EXIT_PIN_REFUSED: i32 = 6;
const EXIT_NOT_ALLOWED: i32 = 7;

/// `cmd` with a new PIN for `staff add` / `set-pin` in the environment.
fn with_new_pin(mut cmd: Command, pin: &str) -> Command {
    cmd.env("PAYDESK_NEW_PIN", pin);
    cmd
}

/// A till with Olga (owner), Sam (supervisor), Cara and Cy (cashiers).
async fn staffed(shop: &Shop, till: &Till) {
    run(with_new_pin(
        till.cli(shop, &["staff", "add", "Olga", "--role", "owner"]),
        OWNER_PIN,
    ))
    .await
    .assert_code(0);
    for (name, role, pin) in [
        ("Sam", "supervisor", SUPERVISOR_PIN),
        ("Cara", "cashier", CASHIER_PIN),
        ("Cy", "cashier", OTHER_CASHIER_PIN),
    ] {
        run(with_new_pin(
            till.cli(
                shop,
                &["staff", "add", name, "--role", role, "--pin", OWNER_PIN],
            ),
            pin,
        ))
        .await
        .assert_code(0);
    }
}

fn said(done: &Finished, words: &str) {
    assert!(
        done.stderr.contains(words) || done.stdout.contains(words),
        "expected {words:?}\nstdout:\n{}\nstderr:\n{}",
        done.stdout,
        done.stderr
    );
}

/// Charges 5 EUR as whoever `pin` belongs to; the customer pays; returns the payment id.
async fn paid_charge(shop: &Shop, till: &Till, pin: &str) -> String {
    let mut cli = Running::spawn(till.cli(
        shop,
        &["charge", "--amount", "5", "--currency", "EUR", "--pin", pin],
    ));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.line_where("a live connection", |l| l.starts_with("connection: live"))
        .await;
    shop.pay(&id).await;
    cli.finish().await.assert_code(0);
    id
}

/// Charges as `pin`'s owner and leaves the payment pending (the CLI is killed).
async fn pending_charge(shop: &Shop, till: &Till, pin: &str) -> String {
    let mut cli = Running::spawn(till.cli(
        shop,
        &["charge", "--amount", "3", "--currency", "EUR", "--pin", pin],
    ));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    cli.kill().await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_commands_take_the_owners_pin_and_say_so_when_it_is_missing_or_wrong() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();

    // A till without staff: nothing to list, and the first person must be the owner.
    let done = run(till.cli(&shop, &["staff", "list"])).await;
    done.assert_code(0);
    said(&done, "No staff on this till");
    let done = run(with_new_pin(
        till.cli(&shop, &["staff", "add", "Cara"]),
        CASHIER_PIN,
    ))
    .await;
    done.assert_code(1);
    said(&done, "the first person is its owner");
    staffed(&shop, &till).await;

    let add_zed = |pin: Option<&str>| {
        let mut args = vec!["staff", "add", "Zed"];
        if let Some(p) = pin {
            args.extend(["--pin", p]);
        }
        with_new_pin(till.cli(&shop, &args), "13579")
    };
    let done = run(add_zed(None)).await;
    done.assert_code(EXIT_PIN_NEEDED);
    said(&done, "A staff PIN is needed to manage staff");
    said(&done, "PAYDESK_PIN");
    let done = run(add_zed(Some("777777"))).await;
    done.assert_code(EXIT_PIN_REFUSED);
    said(&done, "That PIN is not recognised.");
    let done = run(add_zed(Some("12a4"))).await;
    done.assert_code(EXIT_PIN_REFUSED);
    said(&done, "A PIN is 4 to 6 digits");
    let done = run(add_zed(Some(SUPERVISOR_PIN))).await;
    done.assert_code(EXIT_NOT_ALLOWED);
    said(&done, "Only the owner can manage staff.");
    // PAYDESK_PIN does what --pin does.
    let mut cmd = add_zed(None);
    cmd.env("PAYDESK_PIN", OWNER_PIN);
    run(cmd).await.assert_code(0);

    let done = run(till.cli(&shop, &["staff", "list", "--json", "--pin", OWNER_PIN])).await;
    done.assert_code(0);
    let list = done
        .events()
        .into_iter()
        .find(|e| e["type"] == "staff")
        .unwrap();
    let names: Vec<(&str, &str)> = list["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("Cara", "cashier"),
            ("Cy", "cashier"),
            ("Olga", "owner"),
            ("Sam", "supervisor"),
            ("Zed", "cashier")
        ]
    );

    // A new PIN for Cara: the old one stops working, the new one works.
    run(with_new_pin(
        till.cli(&shop, &["staff", "set-pin", "cara", "--pin", OWNER_PIN]),
        "1357",
    ))
    .await
    .assert_code(0);
    let list_as = |pin: &str| till.cli(&shop, &["staff", "list", "--pin", pin]);
    // (A cashier's PIN that works is "not allowed"; one that does not is "refused".)
    run(list_as(CASHIER_PIN))
        .await
        .assert_code(EXIT_PIN_REFUSED);
    run(list_as("1357")).await.assert_code(EXIT_NOT_ALLOWED);
    // Removing Cy: his PIN is refused from then on; the last owner cannot be removed.
    run(till.cli(&shop, &["staff", "remove", "Cy", "--pin", OWNER_PIN]))
        .await
        .assert_code(0);
    run(list_as(OTHER_CASHIER_PIN))
        .await
        .assert_code(EXIT_PIN_REFUSED);
    let done = run(till.cli(&shop, &["staff", "remove", "Olga", "--pin", OWNER_PIN])).await;
    done.assert_code(1);
    said(&done, "is the last owner");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charge_refund_and_export_are_gated_by_role_and_name_the_cashier() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    staffed(&shop, &till).await;

    // No PIN, a wrong PIN: nothing is created at Crypto.com Pay.
    let charge = |pin: Option<&str>| {
        let mut args = vec!["charge", "--amount", "5", "--currency", "EUR"];
        if let Some(p) = pin {
            args.extend(["--pin", p]);
        }
        till.cli(&shop, &args)
    };
    let done = run(charge(None)).await;
    done.assert_code(EXIT_PIN_NEEDED);
    said(&done, "A staff PIN is needed to take a payment.");
    run(charge(Some("000000")))
        .await
        .assert_code(EXIT_PIN_REFUSED);
    assert!(shop.payments().await.is_empty());

    // Cara charges; the payment's metadata and History name her.
    let id = paid_charge(&shop, &till, CASHIER_PIN).await;
    let at_service = shop.payment(&id).await;
    assert_eq!(at_service["metadata"]["paydesk_cashier"], "Cara");
    let history = run(till.cli(&shop, &["history"])).await;
    history.assert_code(0);
    let row = history
        .stdout
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{}", history.stdout));
    assert!(row.trim_end().ends_with("Cara"), "{row}");

    // A cashier cannot refund; a supervisor can.
    let refund = |pin: &str| till.cli(&shop, &["refund", &id, "--amount", "1", "--pin", pin]);
    let done = run(refund(CASHIER_PIN)).await;
    done.assert_code(EXIT_NOT_ALLOWED);
    said(&done, "Only a supervisor can refund.");
    assert_eq!(shop.payment(&id).await["amount_refunded"], 0);
    run(refund("4444")).await.assert_code(EXIT_PIN_REFUSED);
    run(till.cli(&shop, &["refund", &id, "--amount", "1"]))
        .await
        .assert_code(EXIT_PIN_NEEDED);
    run(refund(SUPERVISOR_PIN)).await.assert_code(0);
    assert_eq!(shop.payment(&id).await["amount_refunded"], 100);

    // The export is the owner's, and the CSV's Cashier column names Cara.
    let export = |pin: Option<&str>| {
        let mut args = vec!["history", "--csv"];
        if let Some(p) = pin {
            args.extend(["--pin", p]);
        }
        till.cli(&shop, &args)
    };
    run(export(None)).await.assert_code(EXIT_PIN_NEEDED);
    run(export(Some(SUPERVISOR_PIN)))
        .await
        .assert_code(EXIT_NOT_ALLOWED);
    let done = run(export(Some(OWNER_PIN))).await;
    done.assert_code(0);
    let header: Vec<&str> = done.stdout.lines().next().unwrap().split(',').collect();
    let cashier = header.iter().position(|h| *h == "Cashier").unwrap();
    let row = done.stdout.lines().find(|l| l.contains(&id)).unwrap();
    assert_eq!(row.split(',').nth(cashier), Some("Cara"), "{row}");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_cancels_her_own_pending_payment_but_not_a_colleagues() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    staffed(&shop, &till).await;
    let id = pending_charge(&shop, &till, CASHIER_PIN).await;

    let cancel = |pin: &str| till.cli(&shop, &["cancel", &id, "--pin", pin]);
    let done = run(cancel(OTHER_CASHIER_PIN)).await;
    done.assert_code(EXIT_NOT_ALLOWED);
    said(
        &done,
        "Only a supervisor can cancel another cashier's payment.",
    );
    run(till.cli(&shop, &["cancel", &id]))
        .await
        .assert_code(EXIT_PIN_NEEDED);
    assert_eq!(shop.payment(&id).await["status"], "pending");
    let done = run(cancel(CASHIER_PIN)).await;
    done.assert_code(0);
    said(&done, "CANCELLED 3.00 EUR");
    assert_eq!(shop.payment(&id).await["status"], "cancelled");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_without_staff_asks_for_no_pin() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let id = paid_charge(&shop, &till, "1111").await;
    run(till.cli(&shop, &["refund", &id, "--amount", "1"]))
        .await
        .assert_code(0);
    let done = run(till.cli(&shop, &["history", "--csv"])).await;
    done.assert_code(0);
    assert!(done.stdout.contains(&id), "{}", done.stdout);
    shop.shutdown().await;
}
