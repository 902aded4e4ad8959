//! The journal on a real SQLite file: what goes in comes back out as history, totals and
//! CSV; duplicates and stale snapshots change nothing; 128-bit amounts survive.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{FixedOffset, NaiveDate, TimeZone};
use paydesk_core::journal::{ActionId, ActionKind, Journal, JournalError, Total};
use paydesk_core::merge::Source;
use paydesk_core::{Currency, Money, Payment, PaymentStatus};

const TEN_POW_20: i128 = 100_000_000_000_000_000_000;

fn payment(id: &str, amount: i128, currency: &str, status: &str, created: i64) -> Payment {
    serde_json::from_str(&format!(
        r#"{{"id":"{id}","amount":{amount},"currency":"{currency}","status":"{status}","created":{created}}}"#
    ))
    .unwrap()
}

fn tz() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

/// Unix seconds of a local time on `day()` (hh:mm), or on the day before with `hh < 0`.
fn at(hh: i64, mm: i64) -> i64 {
    let midnight = tz()
        .from_local_datetime(&day().and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .timestamp();
    midnight + hh * 3600 + mm * 60
}

fn open() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path().join("data").join("journal.sqlite3")).unwrap();
    (dir, j)
}

fn record(j: &Journal, p: &Payment, source: &str) -> bool {
    let source = Source::parse(source).unwrap();
    j.record_snapshot(p, source, p.created * 1000 + 1)
        .unwrap()
        .is_some()
}

#[test]
fn history_totals_and_csv_match_the_payments_made() {
    let (_dir, j) = open();

    let mut p1 = payment("pay_1", 1250, "EUR", "pending", at(9, 0));
    p1.order_id = Some("A-1".into());
    p1.description = Some("Coffee, \"large\"".into());
    record(&j, &p1, "create");
    p1.status = PaymentStatus::Succeeded;
    p1.captured = true;
    p1.crypto_currency = Some("CRO".into());
    p1.crypto_amount = Some("98.5".into());
    record(&j, &p1, "push");

    let mut p2 = payment("pay_2", 725, "EUR", "succeeded", at(10, 0));
    p2.order_id = Some("=SUM(A1)".into());
    record(&j, &p2, "poll");
    p2.amount_refunded = 200;
    record(&j, &p2, "poll");

    let mut p3 = payment("pay_3", 300, "EUR", "pending", at(11, 0));
    record(&j, &p3, "create");
    p3.expired = true;
    record(&j, &p3, "poll");

    let p4 = payment("pay_4", 1500, "JPY", "cancelled", at(12, 0));
    record(&j, &p4, "poll");
    let p5 = payment("pay_5", TEN_POW_20, "CRO", "succeeded", at(13, 0));
    record(&j, &p5, "push");
    let p6 = payment("pay_6", 500, "EUR", "pending", at(14, 0));
    record(&j, &p6, "create");
    // 00:30 local is still the previous day in UTC: it belongs to this local day.
    let p7 = payment("pay_7", 100, "EUR", "succeeded", at(0, 30));
    record(&j, &p7, "poll");
    // 23:30 the day before and 00:00 the day after: other days.
    record(
        &j,
        &payment("pay_x", 999, "EUR", "succeeded", at(-1, 30)),
        "poll",
    );
    record(
        &j,
        &payment("pay_y", 999, "EUR", "succeeded", at(24, 0)),
        "poll",
    );

    let history = j.history(day(), &tz()).unwrap();
    let ids: Vec<&str> = history.iter().map(|e| e.payment.id.as_str()).collect();
    assert_eq!(
        ids,
        ["pay_7", "pay_1", "pay_2", "pay_3", "pay_4", "pay_5", "pay_6"]
    );
    let statuses: Vec<&str> = history.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "succeeded",
            "succeeded",
            "succeeded",
            "expired",
            "cancelled",
            "succeeded",
            "pending"
        ]
    );
    assert_eq!(history[1].payment.crypto_amount.as_deref(), Some("98.5"));

    let totals = j.totals(day(), &tz()).unwrap();
    let t = |currency: &str, status: PaymentStatus, count, sum_minor, refunded_minor| Total {
        currency: currency.into(),
        status,
        count,
        sum_minor,
        refunded_minor,
    };
    assert_eq!(
        totals,
        vec![
            t("CRO", PaymentStatus::Succeeded, 1, TEN_POW_20, 0),
            t("EUR", PaymentStatus::Expired, 1, 300, 0),
            t("EUR", PaymentStatus::Pending, 1, 500, 0),
            t("EUR", PaymentStatus::Succeeded, 3, 100 + 1250 + 725, 200),
            t("JPY", PaymentStatus::Cancelled, 1, 1500, 0),
        ]
    );
    assert_eq!(totals[3].sum().unwrap().to_string(), "20.75 EUR");

    let mut csv = Vec::new();
    assert_eq!(j.export_csv(day(), &tz(), &mut csv).unwrap(), 7);
    let csv = String::from_utf8(csv).unwrap();
    // The Payment Report's columns first (UTC), then what only the till knows.
    let expected = [
        "Time(UTC),Payment ID,Merchant Order ID,Status,Pricing Currency,Amount,Amount Refunded,Description,Local Time,Till,Cashier,Refunds Requested,Crypto Currency,Crypto Amount",
        "2026-11-24 23:30:00,pay_7,,succeeded,EUR,1.00,0.00,,2026-11-25 00:30:00+01:00,,,0.00,,",
        "2026-11-25 08:00:00,pay_1,A-1,succeeded,EUR,12.50,0.00,\"Coffee, \"\"large\"\"\",2026-11-25 09:00:00+01:00,,,0.00,CRO,98.5",
        "2026-11-25 09:00:00,pay_2,\"'=SUM(A1)\",succeeded,EUR,7.25,2.00,,2026-11-25 10:00:00+01:00,,,0.00,,",
        "2026-11-25 10:00:00,pay_3,,expired,EUR,3.00,0.00,,2026-11-25 11:00:00+01:00,,,0.00,,",
        "2026-11-25 11:00:00,pay_4,,cancelled,JPY,1500,0,,2026-11-25 12:00:00+01:00,,,0,,",
        "2026-11-25 12:00:00,pay_5,,succeeded,CRO,100.000000000000000000,0.000000000000000000,,2026-11-25 13:00:00+01:00,,,0.000000000000000000,,",
        "2026-11-25 13:00:00,pay_6,,pending,EUR,5.00,0.00,,2026-11-25 14:00:00+01:00,,,0.00,,",
        "",
    ]
    .join("\r\n");
    assert_eq!(csv, expected);

    // Another day has its own, smaller story.
    let before = day().pred_opt().unwrap();
    let ids: Vec<String> = j
        .history(before, &tz())
        .unwrap()
        .into_iter()
        .map(|e| e.payment.id)
        .collect();
    assert_eq!(ids, ["pay_x"]);
}

#[test]
fn the_same_snapshot_twice_records_nothing_new() {
    let (_dir, j) = open();
    let mut p = payment("pay_dup", 1000, "USD", "pending", at(9, 0));
    let first = j
        .record_snapshot(&p, Source::CreateResponse, 1)
        .unwrap()
        .unwrap();
    assert_eq!(first.from, None);
    assert_eq!(first.to, PaymentStatus::Pending);
    assert_eq!(j.record_snapshot(&p, Source::ApiRead, 2).unwrap(), None);
    // Only the countdown string differs: still nothing new.
    p.remaining_time = Some("9:41".into());
    assert_eq!(j.record_snapshot(&p, Source::ApiRead, 3).unwrap(), None);

    p.status = PaymentStatus::Succeeded;
    let paid = j
        .record_snapshot(&p, Source::RelayedWebhook, 4)
        .unwrap()
        .unwrap();
    assert_eq!(paid.from, Some(PaymentStatus::Pending));
    assert_eq!(paid.to, PaymentStatus::Succeeded);
    assert!(paid.status_changed() && !paid.refund_grew());
    // The push and then the poll that confirms it: one transition, not two.
    assert_eq!(j.record_snapshot(&p, Source::ApiRead, 5).unwrap(), None);
    assert_eq!(
        j.record_snapshot(&p, Source::RelayedWebhook, 6).unwrap(),
        None
    );

    let transitions = j.transitions("pay_dup").unwrap();
    assert_eq!(transitions.len(), 2);
    assert_eq!(transitions[1].source, Source::RelayedWebhook);
    assert_eq!(transitions[1].observed_at_ms, 4);
}

#[test]
fn a_status_never_moves_backwards_in_the_journal() {
    let (_dir, j) = open();
    let mut p = payment("pay_back", 1000, "USD", "succeeded", at(9, 0));
    p.captured = true;
    assert!(record(&j, &p, "push"));

    // A stale poll from before the capture arrives late.
    let stale = payment("pay_back", 1000, "USD", "pending", at(9, 0));
    assert!(!record(&j, &stale, "poll"));
    // A terminal status never turns into another.
    let mut expired = stale.clone();
    expired.expired = true;
    assert!(!record(&j, &expired, "poll"));
    let cancelled = payment("pay_back", 1000, "USD", "cancelled", at(9, 0));
    assert!(!record(&j, &cancelled, "poll"));

    let got = j.get("pay_back").unwrap().unwrap();
    assert_eq!(got.status, PaymentStatus::Succeeded);
    assert!(got.captured);
    assert!(j.pending().unwrap().is_empty());
    assert_eq!(j.transitions("pay_back").unwrap().len(), 1);

    // An unknown status is progress from pending, and can still end.
    let mut q = payment("pay_odd", 1000, "USD", "pending", at(9, 0));
    assert!(record(&j, &q, "create"));
    q.status = PaymentStatus::parse("under_review");
    assert!(record(&j, &q, "poll"));
    assert!(!record(
        &j,
        &payment("pay_odd", 1000, "USD", "pending", at(9, 0)),
        "poll"
    ));
    assert_eq!(j.pending().unwrap()[0].status, q.status);
    q.status = PaymentStatus::Succeeded;
    assert!(record(&j, &q, "poll"));
    let statuses: Vec<String> = j
        .transitions("pay_odd")
        .unwrap()
        .iter()
        .map(|t| t.to.to_string())
        .collect();
    assert_eq!(statuses, ["pending", "under_review", "succeeded"]);
}

#[test]
fn refunds_are_journaled_as_they_grow_and_never_shrink() {
    let (_dir, j) = open();
    let mut p = payment("pay_ref", 5000, "EUR", "succeeded", at(9, 0));
    record(&j, &p, "poll");
    p.amount_refunded = 1000;
    let partial = j.record_snapshot(&p, Source::ApiRead, 10).unwrap().unwrap();
    assert!(partial.refund_grew() && !partial.status_changed());
    assert_eq!(
        (partial.refunded_before_minor, partial.refunded_after_minor),
        (0, 1000)
    );
    p.amount_refunded = 5000;
    p.refunded = true;
    assert!(record(&j, &p, "push"));
    // A late snapshot from between the two refunds.
    let mut late = p.clone();
    late.amount_refunded = 1000;
    late.refunded = false;
    assert!(!record(&j, &late, "poll"));
    let got = j.get("pay_ref").unwrap().unwrap();
    assert_eq!(got.amount_refunded, 5000);
    assert!(got.refunded);
    assert_eq!(j.transitions("pay_ref").unwrap().len(), 3);
}

#[test]
fn amounts_of_ten_to_the_twentieth_survive() {
    let (dir, j) = open();
    let mut p = payment("pay_big", TEN_POW_20, "CRO", "succeeded", at(9, 0));
    p.amount_refunded = TEN_POW_20 / 2 + 1;
    record(&j, &p, "poll");
    let mut q = payment("pay_big2", i128::MAX / 4, "ETH", "succeeded", at(10, 0));
    q.original_amount = Some(i128::MAX / 4);
    record(&j, &q, "poll");
    record(
        &j,
        &payment("pay_big3", TEN_POW_20, "CRO", "succeeded", at(11, 0)),
        "poll",
    );
    drop(j);

    let j = Journal::open(dir.path().join("data").join("journal.sqlite3")).unwrap();
    assert_eq!(j.get("pay_big").unwrap().unwrap(), p);
    assert_eq!(j.get("pay_big2").unwrap().unwrap(), q);
    let totals = j.totals(day(), &tz()).unwrap();
    let cro = totals.iter().find(|t| t.currency == "CRO").unwrap();
    assert_eq!(cro.sum_minor, 2 * TEN_POW_20);
    assert_eq!(cro.refunded_minor, TEN_POW_20 / 2 + 1);
    assert_eq!(cro.sum().unwrap().to_string(), "200 CRO");
    let eth = totals.iter().find(|t| t.currency == "ETH").unwrap();
    assert_eq!(eth.sum_minor, i128::MAX / 4);
}

#[test]
fn intents_stay_unresolved_until_attached_or_abandoned() {
    let (_dir, j) = open();
    let eur = Currency::from_code("EUR").unwrap();
    let a = j
        .record_intent("ord-a", Money::new(1250, eur), Some("Tea"), "Front till")
        .unwrap();
    let b = j
        .record_intent("ord-b", Money::new(99, eur), None, "Front till")
        .unwrap();
    let open_ids: Vec<_> = j
        .unresolved_intents()
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open_ids, [a, b]);
    let first = &j.unresolved_intents().unwrap()[0];
    assert_eq!(first.money, Money::new(1250, eur));
    assert_eq!(first.description.as_deref(), Some("Tea"));

    // The API's answer names another order: refused, nothing attached.
    let mut wrong = payment("pay_a", 1250, "EUR", "pending", at(9, 0));
    wrong.order_id = Some("ord-z".into());
    assert!(matches!(
        j.attach_payment("ord-a", &wrong),
        Err(JournalError::OrderMismatch { .. })
    ));
    assert_eq!(j.unresolved_intents().unwrap().len(), 2);

    let created = payment("pay_a", 1250, "EUR", "pending", at(9, 0));
    let t = j.attach_payment("ord-a", &created).unwrap().unwrap();
    assert_eq!(t.source, Source::CreateResponse);
    let entry = j.entry("pay_a").unwrap().unwrap();
    assert_eq!(entry.terminal.as_deref(), Some("Front till"));
    assert_eq!(entry.payment.order_id.as_deref(), Some("ord-a"));
    assert_eq!(j.pending().unwrap().len(), 1);

    j.abandon_intent(b, "the API refused the amount").unwrap();
    j.abandon_intent(b, "again").unwrap();
    assert!(j.unresolved_intents().unwrap().is_empty());
    assert!(matches!(
        j.abandon_intent(a, "no"),
        Err(JournalError::IntentAttached(_))
    ));
    assert!(matches!(
        j.abandon_intent(paydesk_core::journal::IntentId(999), "no"),
        Err(JournalError::UnknownIntent(999))
    ));
    assert!(matches!(
        j.record_intent(" ", Money::new(1, eur), None, "t"),
        Err(JournalError::EmptyOrderId)
    ));
}

#[test]
fn find_matches_payment_id_or_order_id_prefix() {
    let (_dir, j) = open();
    for (id, order, hh) in [
        ("a1b2", "shop-17", 9),
        ("a1c3", "shop-18", 10),
        ("ff00", "x_%", 11),
    ] {
        let mut p = payment(id, 100, "USD", "pending", at(hh, 0));
        p.order_id = Some(order.into());
        record(&j, &p, "create");
    }
    let ids = |q: &str| -> Vec<String> {
        j.find(q)
            .unwrap()
            .into_iter()
            .map(|e| e.payment.id)
            .collect()
    };
    assert_eq!(ids("a1"), ["a1c3", "a1b2"]);
    assert_eq!(ids("a1b2"), ["a1b2"]);
    assert_eq!(ids("shop-18"), ["a1c3"]);
    // LIKE wildcards are plain characters here.
    assert_eq!(ids("x_%"), ["ff00"]);
    assert!(ids("x%").is_empty());
    assert!(ids("zz").is_empty());
    assert!(matches!(j.find("  "), Err(JournalError::EmptyQuery)));
}

#[test]
fn a_journal_from_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let j = Journal::open(&path).unwrap();
    assert_eq!(
        j.schema_version().unwrap(),
        paydesk_core::journal::SCHEMA_VERSION
    );
    drop(j);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Journal::open(&path).unwrap_err();
    assert!(
        matches!(err, JournalError::TooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer PayDesk"));
}

#[test]
fn two_processes_worth_of_connections_write_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let app = std::sync::Arc::new(Journal::open(&path).unwrap());
    let cli = std::sync::Arc::new(Journal::open(&path).unwrap());
    let handles: Vec<_> = [app.clone(), cli.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, j)| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    let p = payment(&format!("pay_{n}_{i}"), 100, "USD", "pending", at(9, i));
                    j.record_snapshot(&p, Source::CreateResponse, 1).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(app.history(day(), &tz()).unwrap().len(), 100);
    assert_eq!(cli.pending().unwrap().len(), 100);
}

#[test]
fn a_refund_request_stays_open_until_its_answer_is_journaled() {
    let (_dir, j) = open();
    let eur = Currency::from_code("EUR").unwrap();
    let mut p = payment("pay_r", 5000, "EUR", "succeeded", at(9, 0));
    record(&j, &p, "poll");
    let amount = Money::new(1500, eur);
    let refund = j
        .record_action("pay_r", &ActionKind::Refund { amount }, Some("broken cup"))
        .unwrap();
    let cancel = j.record_action("pay_r", &ActionKind::Cancel, None).unwrap();
    let open_requests = j.unresolved_actions().unwrap();
    assert_eq!(open_requests.len(), 2);
    assert_eq!(open_requests[0].kind, ActionKind::Refund { amount });
    assert_eq!(open_requests[0].reason.as_deref(), Some("broken cup"));
    assert_eq!(open_requests[1].kind, ActionKind::Cancel);

    // The answer for another payment is refused, and resolves nothing.
    let other = payment("pay_other", 1, "EUR", "succeeded", at(9, 0));
    assert!(matches!(
        j.resolve_action(refund, "refunded", Some(&other)),
        Err(JournalError::ActionMismatch { .. })
    ));
    assert_eq!(j.unresolved_actions().unwrap().len(), 2);

    p.amount_refunded = 1500;
    let t = j
        .resolve_action(refund, "refunded", Some(&p))
        .unwrap()
        .unwrap();
    assert_eq!(t.source, Source::ApiRead);
    assert!(t.refund_grew());
    j.resolve_action(cancel, "refused: payment already succeeded", None)
        .unwrap();
    assert!(j.unresolved_actions().unwrap().is_empty());
    assert_eq!(j.get("pay_r").unwrap().unwrap().amount_refunded, 1500);
    assert!(matches!(
        j.resolve_action(ActionId(77), "x", None),
        Err(JournalError::UnknownAction(77))
    ));
}

#[test]
fn the_intent_token_tells_apart_two_charges_with_one_order_id() {
    let (_dir, j) = open();
    let eur = Currency::from_code("EUR").unwrap();
    // "Charge again" after an expiry, with the same order id typed by the cashier.
    let first = j
        .record_intent("table-4", Money::new(1000, eur), None, "Bar")
        .unwrap();
    let second = j
        .record_intent("table-4", Money::new(1000, eur), None, "Bar")
        .unwrap();
    let first_token = j.intent(first).unwrap().unwrap().token;
    let second_token = j.intent(second).unwrap().unwrap().token;
    assert_ne!(first_token, second_token);

    // Reconciliation finds the payment of the FIRST charge (its metadata says so): it
    // must resolve the first intent, not the newest one.
    let mut p: Payment = serde_json::from_str(&format!(
        r#"{{"id":"pay_t1","amount":1000,"currency":"EUR","status":"expired","created":{},
            "order_id":"table-4","metadata":{{"{}":"{first_token}"}}}}"#,
        at(9, 0),
        paydesk_core::journal::INTENT_METADATA_KEY
    ))
    .unwrap();
    j.attach_payment_from("table-4", &p, Source::Reconciliation, 1)
        .unwrap();
    let open_ids: Vec<_> = j
        .unresolved_intents()
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open_ids, [second]);

    // Without a token the newest open intent for the order id is taken.
    p.id = "pay_t2".into();
    p.metadata = None;
    j.attach_payment("table-4", &p).unwrap();
    assert!(j.unresolved_intents().unwrap().is_empty());
}

#[test]
fn days_list_the_local_days_with_payments_newest_first() {
    let (_dir, j) = open();
    for (id, created) in [
        ("d1", at(-30, 0)),
        ("d2", at(0, 30)),
        ("d3", at(23, 59)),
        ("d4", at(26, 0)),
    ] {
        record(&j, &payment(id, 1, "USD", "succeeded", created), "poll");
    }
    let d = day();
    let days = j.days(&tz(), 10).unwrap();
    assert_eq!(
        days,
        [
            d.succ_opt().unwrap(),
            d,
            d.pred_opt().unwrap().pred_opt().unwrap()
        ]
    );
    assert_eq!(j.days(&tz(), 1).unwrap(), [d.succ_opt().unwrap()]);
}

#[test]
fn a_payment_without_a_creation_time_belongs_to_the_day_it_was_seen() {
    let (_dir, j) = open();
    let p = payment("pay_nocreated", 100, "USD", "pending", 0);
    let seen_ms = at(15, 0) * 1000;
    j.record_snapshot(&p, Source::RelayedWebhook, seen_ms)
        .unwrap();
    let entry = j.entry("pay_nocreated").unwrap().unwrap();
    assert_eq!(entry.created_at_ms, seen_ms);
    assert_eq!(j.history(day(), &tz()).unwrap().len(), 1);
}

#[test]
fn a_damaged_journal_file_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let garbage = b"this is not a database, but it may be the only copy of one".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::Open { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("not a database") && msg.contains("journal.sqlite3"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[cfg(unix)]
#[test]
fn the_journal_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, j) = open();
    record(
        &j,
        &payment("pay_p", 1, "USD", "pending", at(9, 0)),
        "create",
    );
    let data = dir.path().join("data");
    for name in ["journal.sqlite3", "journal.sqlite3-wal"] {
        let mode = std::fs::metadata(data.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name}: {mode:o}");
    }
}

#[test]
fn the_cashier_of_a_charge_follows_it_to_the_payment_history_and_reports() {
    use paydesk_core::journal::{summarize_by_cashier, Who};
    let (_dir, j) = open();
    let eur = Currency::from_code("EUR").unwrap();
    let cara = Who {
        cashier_id: Some(3),
        cashier: Some("Cara".into()),
        approved_by: None,
    };
    j.record_intent_as("o-1", Money::new(1000, eur), None, "Till 1", &cara)
        .unwrap();
    let mut mine = payment("pay_c1", 1000, "EUR", "succeeded", at(9, 0));
    mine.order_id = Some("o-1".into());
    j.attach_payment("o-1", &mine).unwrap();
    // Another till's PayDesk named its cashier in the metadata; this till only watched it.
    let mut theirs = payment("pay_c2", 500, "EUR", "succeeded", at(10, 0));
    theirs.metadata = Some(serde_json::json!({ "paydesk_cashier": "Ben" }));
    record(&j, &theirs, "poll");
    // Nobody: unattended, or from before staff.
    record(
        &j,
        &payment("pay_c3", 200, "EUR", "succeeded", at(11, 0)),
        "poll",
    );

    assert_eq!(j.creator("pay_c1").unwrap(), Some(3));
    assert_eq!(j.creator("pay_c2").unwrap(), None);
    let entries = j.history(day(), &tz()).unwrap();
    let cashiers: Vec<Option<&str>> = entries.iter().map(|e| e.cashier.as_deref()).collect();
    assert_eq!(cashiers, [Some("Cara"), Some("Ben"), None]);
    let by = summarize_by_cashier(&entries).unwrap();
    let rows: Vec<(Option<&str>, i128)> = by
        .iter()
        .map(|c| (c.cashier.as_deref(), c.currencies[0].paid_minor))
        .collect();
    assert_eq!(
        rows,
        [(Some("Ben"), 500), (Some("Cara"), 1000), (None, 200)]
    );

    // A refund request keeps who asked and who approved it.
    let sam_for_cara = Who {
        approved_by: Some("Sam".into()),
        ..cara.clone()
    };
    let amount = Money::new(100, eur);
    j.record_action_as(
        "pay_c1",
        &ActionKind::Refund { amount },
        None,
        &sam_for_cara,
    )
    .unwrap();
    let requests = j.requests("pay_c1").unwrap();
    assert_eq!(requests[0].0.who, sam_for_cara);
    assert_eq!(requests[0].1, None, "unresolved");
}
