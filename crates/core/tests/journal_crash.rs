//! A till killed at any point loses no payment: this test binary re-runs itself as a child
//! "till" that journals a charge step by step, the parent SIGKILLs it after each step (and,
//! in the stress test, in the middle of writes), then reopens the journal the way a
//! restarted till does, reconciles with the "API", and checks every payment ends right.
//!
//! The child role is the `child_till` test below, selected by `CRASH_CHILD_ROLE`; run
//! without it, that test returns at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::Duration;

use paydesk_core::journal::{ActionKind, Journal};
use paydesk_core::merge::Source;
use paydesk_core::{Currency, Money, Payment, PaymentStatus};

const ROLE_ENV: &str = "CRASH_CHILD_ROLE";
const DB_ENV: &str = "CRASH_CHILD_DB";
const STOP_ENV: &str = "CRASH_CHILD_STOP_AFTER";

/// What the till does for one charge, in order: the charge intent before the create
/// call, the create's answer, a duplicate poll, the push that says paid, a stale poll
/// arriving late, the refund request before the refund call, the refund's answer.
const STEPS: &[&str] = &[
    "opened",
    "intent",
    "created",
    "duplicate-poll",
    "paid",
    "late-stale-poll",
    "refund-request",
    "refunded",
];

fn payment_at(step: &str) -> Payment {
    let status = match step {
        "paid" | "late-stale-poll" | "refund-request" | "refunded" => "succeeded",
        _ => "pending",
    };
    let refunded = if step == "refunded" { 400 } else { 0 };
    serde_json::from_str(&format!(
        r#"{{"id":"pay_crash","amount":100000000000000000000,"amount_refunded":{refunded},
            "currency":"CRO","status":"{status}","created":1764000000,"order_id":"ord-crash",
            "captured":{}}}"#,
        status == "succeeded"
    ))
    .unwrap()
}

fn cro() -> Money {
    Money::new(
        100_000_000_000_000_000_000,
        Currency::from_code("CRO").unwrap(),
    )
}

/// One step of the till's work, as the tracker would do it.
fn run_step(j: &Journal, step: &str) {
    match step {
        "opened" => {}
        "intent" => {
            j.record_intent("ord-crash", cro(), Some("crash test"), "Till 9")
                .unwrap();
        }
        "created" => {
            j.attach_payment("ord-crash", &payment_at("created"))
                .unwrap();
        }
        "duplicate-poll" => {
            assert!(j
                .record_snapshot(&payment_at("created"), Source::ApiRead, 2)
                .unwrap()
                .is_none());
        }
        "paid" => {
            j.record_snapshot(&payment_at("paid"), Source::RelayedWebhook, 3)
                .unwrap();
        }
        "late-stale-poll" => {
            j.record_snapshot(&payment_at("created"), Source::ApiRead, 4)
                .unwrap();
        }
        "refund-request" => {
            let amount = Money::new(400, cro().currency);
            j.record_action("pay_crash", &ActionKind::Refund { amount }, None)
                .unwrap();
        }
        "refunded" => {
            let request = j.unresolved_actions().unwrap()[0].id;
            j.resolve_action(request, "refunded", Some(&payment_at("refunded")))
                .unwrap();
        }
        other => panic!("unknown step {other}"),
    }
}

/// Tells the parent a point was reached, then waits to be killed.
fn report_and_hang(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "CHILD {line}").unwrap();
    out.flush().unwrap();
    drop(out);
    let mut buf = String::new();
    // The parent never writes; this returns only if the parent died first.
    let _ = std::io::stdin().read_line(&mut buf);
    std::process::exit(0);
}

#[test]
fn child_till() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let db = std::env::var(DB_ENV).unwrap();
    let j = Journal::open(&db).unwrap();
    match role.as_str() {
        "steps" => {
            let stop: usize = std::env::var(STOP_ENV).unwrap().parse().unwrap();
            for step in &STEPS[..=stop] {
                run_step(&j, step);
            }
            report_and_hang(STEPS[stop]);
        }
        "stress" => {
            // Charge after charge, reporting each one fully journaled; the parent kills
            // the process while the next one is being written.
            for i in 0.. {
                let order = format!("ord-{i}");
                let mut p = payment_at("created");
                p.id = format!("pay-{i}");
                p.order_id = Some(order.clone());
                j.record_intent(&order, cro(), None, "Till 9").unwrap();
                j.attach_payment(&order, &p).unwrap();
                p.status = PaymentStatus::Succeeded;
                j.record_snapshot(&p, Source::RelayedWebhook, 1).unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "CHILD done {i}").unwrap();
                out.flush().unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

/// Upper bound on waiting for the child's next report; it normally takes milliseconds.
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);

/// The child's reports ("CHILD …", wherever libtest's own text puts them on a line),
/// delivered by a reader thread so that waiting for one has a deadline.
fn reports(child: &mut Child) -> Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = sync_channel(16);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some(at) = line.find("CHILD ") {
                if tx.send(line[at + "CHILD ".len()..].to_owned()).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

fn next_report(child: &mut Child, rx: &Receiver<String>) -> String {
    match rx.recv_timeout(REPORT_TIMEOUT) {
        Ok(report) => report,
        Err(e) => {
            let _ = child.kill();
            panic!("the child till did not report ({e})");
        }
    }
}

/// Starts the child till in `role`.
fn spawn_child(db: &Path, role: &str, stop: Option<usize>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_till", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .env(DB_ENV, db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(stop) = stop {
        cmd.env(STOP_ENV, stop.to_string());
    }
    cmd.spawn().unwrap()
}

/// What a restarted till does: resolve interrupted creates against the API by order id,
/// re-read payments with an interrupted cancel or refund, then poll every pending payment
/// once. `api` is the service's current view, or `None` when the create never reached it.
fn restart_and_reconcile(db: &Path, api: Option<&Payment>) -> Journal {
    let j = Journal::open(db).unwrap();
    for action in j.unresolved_actions().unwrap() {
        let truth = api.filter(|p| p.id == action.payment_id);
        j.resolve_action(action.id, "reconciled", truth).unwrap();
    }
    for intent in j.unresolved_intents().unwrap() {
        match api.filter(|p| p.order_id.as_deref() == Some(intent.order_id.as_str())) {
            Some(found) => {
                j.attach_payment_from(&intent.order_id, found, Source::Reconciliation, 10)
                    .unwrap();
            }
            None => j
                .abandon_intent(intent.id, "no payment at the API")
                .unwrap(),
        }
    }
    for pending in j.pending().unwrap() {
        if let Some(truth) = api.filter(|p| p.id == pending.id) {
            j.record_snapshot(truth, Source::ApiRead, 11).unwrap();
        }
    }
    j
}

#[test]
fn a_payment_survives_sigkill_after_every_step() {
    for (stop, step) in STEPS.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("journal.sqlite3");
        let mut child = spawn_child(&db, "steps", Some(stop));
        let rx = reports(&mut child);
        assert_eq!(next_report(&mut child, &rx), *step);
        child.kill().unwrap(); // SIGKILL: no destructor, no flush, no checkpoint.
        let status = child.wait().unwrap();
        assert!(!status.success(), "{step}: the child was killed");

        // What the journal holds right after the kill: exactly the steps done.
        let j = Journal::open(&db).unwrap();
        let intents = j.unresolved_intents().unwrap();
        let stored = j.get("pay_crash").unwrap();
        let requests = j.unresolved_actions().unwrap();
        assert_eq!(
            requests.len(),
            usize::from(*step == "refund-request"),
            "{step}"
        );
        match *step {
            "opened" => assert!(intents.is_empty() && stored.is_none(), "{step}"),
            "intent" => {
                assert_eq!(intents.len(), 1, "{step}");
                assert_eq!(intents[0].money, cro());
                assert!(stored.is_none());
            }
            _ => {
                assert!(intents.is_empty(), "{step}");
                let stored = stored.expect("payment journaled");
                let want = match *step {
                    "created" | "duplicate-poll" => payment_at("created"),
                    "paid" | "late-stale-poll" | "refund-request" => payment_at("paid"),
                    _ => payment_at("refunded"),
                };
                assert_eq!(stored, want, "{step}");
            }
        }
        drop(j);

        // The till restarts. Meanwhile the customer paid. Where the till cannot know
        // whether its last call reached the API (the create after "intent", the refund
        // after "refund-request"), both worlds are checked.
        let paid = payment_at("paid");
        let refunded = payment_at("refunded");
        let worlds: Vec<Option<&Payment>> = match *step {
            "intent" => vec![Some(&paid), None],
            "refund-request" => vec![Some(&paid), Some(&refunded)],
            "refunded" => vec![Some(&refunded)],
            _ => vec![Some(&paid)],
        };
        for api in worlds {
            let truth = api.cloned();
            let world_dir = tempfile::tempdir().unwrap();
            let world_db = world_dir.path().join("journal.sqlite3");
            copy_journal(&db, &world_db);
            let j = restart_and_reconcile(&world_db, api);
            assert!(j.unresolved_actions().unwrap().is_empty(), "{step}");
            assert!(j.unresolved_intents().unwrap().is_empty(), "{step}");
            assert!(j.pending().unwrap().is_empty(), "{step}");
            match (step, api) {
                (&"opened", _) | (_, None) => assert_eq!(j.get("pay_crash").unwrap(), None),
                _ => {
                    let got = j.entry("pay_crash").unwrap().unwrap();
                    assert_eq!(got.status, PaymentStatus::Succeeded, "{step}");
                    assert_eq!(got.payment.amount, 100_000_000_000_000_000_000);
                    assert_eq!(Some(&got.payment), truth.as_ref(), "{step}");
                    assert_eq!(got.terminal.as_deref(), Some("Till 9"), "{step}");
                    // The journal's story only ever moved forward.
                    let seen: Vec<String> = j
                        .transitions("pay_crash")
                        .unwrap()
                        .iter()
                        .map(|t| format!("{}:{}", t.to, t.refunded_after_minor))
                        .collect();
                    let refund_seen = got.payment.amount_refunded > 0;
                    let expected: &[&str] = match (*step, refund_seen) {
                        ("intent", _) => &["succeeded:0"],
                        (_, true) => &["pending:0", "succeeded:0", "succeeded:400"],
                        (_, false) => &["pending:0", "succeeded:0"],
                    };
                    assert_eq!(seen, expected, "{step}");
                }
            }
        }
    }
}

#[test]
fn sigkill_in_the_middle_of_writes_loses_no_journaled_charge() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("journal.sqlite3");
        let mut child = spawn_child(&db, "stress", None);
        let rx = reports(&mut child);
        // Let a few charges complete, then kill while the next is being written. The
        // count varies per round so the kill lands at different points of a charge.
        let target = 20 + round * 7;
        let mut done = 0;
        while done < target {
            let report = next_report(&mut child, &rx);
            let n = report.strip_prefix("done ").expect("a progress report");
            done = n.parse::<usize>().unwrap() + 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(done, target);

        let j = Journal::open(&db).unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        // Every charge reported done is there, paid.
        for i in 0..done {
            let p = j
                .get(&format!("pay-{i}"))
                .unwrap()
                .expect("journaled charge");
            assert_eq!(p.status, PaymentStatus::Succeeded);
        }
        // The charge cut short is either not started, an unresolved intent, or a
        // pending payment to resume: never half a row, never a lost intent.
        let intents = j.unresolved_intents().unwrap();
        let pending = j.pending().unwrap();
        assert!(
            intents.len() + pending.len() <= 1,
            "{intents:?} {pending:?}"
        );
        for intent in &intents {
            assert!(intent.order_id.starts_with("ord-"));
        }
    }
}

/// A copy of the journal as a killed process left it: the main file and its WAL.
fn copy_journal(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    for suffix in ["-wal", "-shm"] {
        let src = with_suffix(from, suffix);
        if src.exists() {
            std::fs::copy(&src, with_suffix(to, suffix)).unwrap();
        }
    }
}

fn with_suffix(p: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}
