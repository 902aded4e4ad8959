//! The counter's day on a real journal file: shifts, which payments a shift and a day
//! count, the report's arithmetic, the stored close that reprints as it was, and the CSV.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Local;
use paydesk_core::day::{self, Period, RepairKind, Report};
use paydesk_core::journal::{Journal, JournalError, JournalHandle, CASHIER_METADATA_KEY};
use paydesk_core::merge::{Source, Update};
use paydesk_core::payment::{Refund, RefundStatus};
use paydesk_core::{Currency, Money, Payment, PaymentStatus};

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

fn payment(id: &str, amount: i128, currency: &str, status: &str) -> Payment {
    serde_json::from_str(&format!(
        r#"{{"id":"{id}","amount":{amount},"currency":"{currency}","status":"{status}","created":{}}}"#,
        now_s()
    ))
    .unwrap()
}

fn open() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path().join("journal.sqlite3")).unwrap();
    (dir, j)
}

fn eur(minor: i128) -> Money {
    Money::new(minor, Currency::from_code("EUR").unwrap())
}

/// A charge as a till makes it: the intent (stamped with the open shift), then the create
/// answer attached, then (optionally) the API's later word.
fn charge(j: &Journal, till: &str, id: &str, money: Money, cashier: Option<&str>) -> Payment {
    let order = format!("{till}-{id}");
    j.record_intent(&order, money, None, till).unwrap();
    let mut p = payment(id, money.minor, money.currency.code(), "pending");
    p.order_id = Some(order.clone());
    if let Some(c) = cashier {
        p.metadata = Some(serde_json::json!({ CASHIER_METADATA_KEY: c }));
    }
    j.attach_payment(&order, &p).unwrap();
    p
}

fn paid(j: &Journal, mut p: Payment, refunded: i128) {
    p.status = PaymentStatus::Succeeded;
    p.captured = true;
    p.amount_refunded = refunded;
    j.record_snapshot(&p, Source::ApiRead, now_s() * 1000)
        .unwrap();
}

fn refund_requested(j: &Journal, p: &Payment, id: &str, amount: i128) {
    let r = Refund {
        id: id.into(),
        payment_id: p.id.clone(),
        amount,
        currency: p.currency.clone(),
        status: RefundStatus::Pending,
        created: now_s(),
        debit_amount: None,
        debit_currency: None,
        reason: None,
        description: None,
    };
    j.observe(&Update::Refund(r), Source::ApiRead, now_s() * 1000)
        .unwrap();
}

#[test]
fn the_report_sums_gross_refunds_and_net_per_currency_till_and_cashier() {
    let (_dir, j) = open();
    let a = charge(&j, "Front", "p1", eur(1000), Some("Ana"));
    paid(&j, a, 400); // refund sent: 4.00
    let b = charge(&j, "Front", "p2", eur(500), Some("Ben"));
    paid(&j, b.clone(), 0);
    refund_requested(&j, &b, "r2", 150); // asked for, not sent yet
    let c = charge(&j, "Back", "p3", eur(700), None);
    let mut c2 = c.clone();
    c2.expired = true;
    j.record_snapshot(&c2, Source::ApiRead, now_s() * 1000)
        .unwrap();
    let d = charge(&j, "Back", "p4", eur(300), None);
    let mut d2 = d.clone();
    d2.status = PaymentStatus::Cancelled;
    j.record_snapshot(&d2, Source::ApiRead, now_s() * 1000)
        .unwrap();
    let usd = charge(
        &j,
        "Back",
        "p5",
        Money::new(2500, Currency::from_code("USD").unwrap()),
        None,
    );
    paid(&j, usd, 0);
    let _pending = charge(&j, "Back", "p6", eur(999), None);

    let today = Local::now().date_naive();
    let report = day::compute(&j, Period::Day(today), now_s() * 1000).unwrap();

    assert_eq!(report.payments, 6);
    assert!(!report.closed);
    assert_eq!(report.title(), "X REPORT");
    let eur_totals = report.totals.iter().find(|t| t.currency == "EUR").unwrap();
    assert_eq!(eur_totals.paid_count, 2);
    assert_eq!(eur_totals.gross_minor, 1500);
    assert_eq!(eur_totals.refunded_minor, 400);
    assert_eq!(eur_totals.refund_requested_minor, 150);
    assert_eq!(eur_totals.net_minor, 1500 - 400 - 150);
    assert_eq!(eur_totals.expired_count, 1);
    assert_eq!(eur_totals.cancelled_count, 1);
    assert_eq!(eur_totals.pending_count, 1);
    assert_eq!((eur_totals.tips_minor, eur_totals.tax_minor), (None, None));
    let usd_totals = report.totals.iter().find(|t| t.currency == "USD").unwrap();
    assert_eq!((usd_totals.gross_minor, usd_totals.net_minor), (2500, 2500));

    // Per till: the tills' sums add up to the period's.
    let names: Vec<&str> = report.tills.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Back", "Front"]);
    let till_net: i128 = report
        .tills
        .iter()
        .flat_map(|g| &g.totals)
        .filter(|t| t.currency == "EUR")
        .map(|t| t.net_minor)
        .sum();
    assert_eq!(till_net, eur_totals.net_minor);
    let front = &report.tills[1].totals[0];
    assert_eq!((front.gross_minor, front.net_minor), (1500, 950));

    // Per cashier, from the payments' metadata.
    let ana = report.cashiers.iter().find(|g| g.name == "Ana").unwrap();
    assert_eq!(ana.totals[0].net_minor, 600);
    assert!(report.repairs.is_empty());

    // The slip says the same numbers.
    let slip = report.receipt(&paydesk_receipt::Shop {
        name: "Café".into(),
        address: vec![],
    });
    let line = |label: &str| {
        slip.totals
            .iter()
            .find(|t| t.label == label)
            .map(|t| t.value.as_str().to_owned())
    };
    assert_eq!(line("EUR paid (2)").as_deref(), Some("€15.00"));
    assert_eq!(line("EUR refunds sent").as_deref(), Some("-€4.00"));
    assert_eq!(line("EUR refunds requested").as_deref(), Some("-€1.50"));
    assert_eq!(line("EUR NET").as_deref(), Some("€9.50"));
    assert!(slip
        .footer
        .contains(&"Not reconciled with Crypto.com Pay".to_owned()));
}

#[test]
fn a_payment_belongs_to_the_shift_open_when_it_was_charged() {
    let (_dir, j) = open();
    let before = charge(&j, "Front", "early", eur(100), None);
    paid(&j, before, 0);
    let first = j.open_shift("Front", Some("Ana")).unwrap();
    assert!(first.is_open());
    assert_eq!(first.opened_by.as_deref(), Some("Ana"));
    let in_first = charge(&j, "Front", "one", eur(200), None);
    // Another till's charge is not this shift's, though made meanwhile.
    let other = charge(&j, "Back", "elsewhere", eur(5000), None);
    let closed = j.close_shift("Front", Some("Ana")).unwrap();
    assert!(!closed.is_open());
    let second = j.open_shift("Front", None).unwrap();
    let in_second = charge(&j, "Front", "two", eur(300), None);
    // The create answer attached after the shift changed still counts where it was charged.
    paid(&j, in_first.clone(), 0);

    let ids = |shift| {
        j.shift_payments(&j.shift(shift).unwrap().unwrap())
            .unwrap()
            .into_iter()
            .map(|e| e.payment.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(first.id), [in_first.id.as_str()]);
    assert_eq!(ids(second.id), [in_second.id.as_str()]);
    assert_eq!(j.shift_of_payment(&in_first.id).unwrap(), Some(first.id));
    assert_eq!(j.shift_of_payment(&other.id).unwrap(), None);
}

#[test]
fn a_till_has_at_most_one_open_shift() {
    let (_dir, j) = open();
    let s = j.open_shift("Front", None).unwrap();
    match j.open_shift("Front", None).unwrap_err() {
        JournalError::ShiftOpen { id, till } => assert_eq!((id, till.as_str()), (s.id.0, "Front")),
        other => panic!("{other:?}"),
    }
    // Another till may open its own.
    j.open_shift("Back", None).unwrap();
    j.close_shift("Front", None).unwrap();
    assert!(matches!(
        j.close_shift("Front", None).unwrap_err(),
        JournalError::NoOpenShift { .. }
    ));
    assert!(j.open_shift_of("Front").unwrap().is_none());
    assert!(j.open_shift_of("Back").unwrap().is_some());
}

#[tokio::test]
async fn a_closed_day_reprints_as_it_was_closed() {
    let dir = tempfile::tempdir().unwrap();
    let j = Arc::new(Journal::open(dir.path().join("journal.sqlite3")).unwrap());
    let p = charge(&j, "Front", "p1", eur(1250), None);
    paid(&j, p, 0);
    let handle = JournalHandle::spawn(j.clone()).unwrap();
    let today = Local::now().date_naive();

    let closed = day::close_day(&handle, today, None).await.unwrap();
    assert!(closed.closed);
    assert_eq!(closed.title(), "Z REPORT");
    assert_eq!(closed.reconciliation, None);

    // A sale after the close does not change the stored report…
    let late = charge(&j, "Front", "late", eur(100), None);
    paid(&j, late, 0);
    let again = day::report(&handle, Period::Day(today)).await.unwrap();
    assert_eq!(again, closed);
    assert_eq!(again.totals[0].gross_minor, 1250);
    // …closing again does.
    let reclosed = day::close_day(&handle, today, None).await.unwrap();
    assert_eq!(reclosed.totals[0].gross_minor, 1350);
    assert_eq!(
        day::report(&handle, Period::Day(today)).await.unwrap(),
        reclosed
    );
}

#[tokio::test]
async fn closing_a_shift_stores_its_report_under_the_shift() {
    let dir = tempfile::tempdir().unwrap();
    let j = Arc::new(Journal::open(dir.path().join("journal.sqlite3")).unwrap());
    let handle = JournalHandle::spawn(j.clone()).unwrap();
    let shift = day::open_shift(&handle, "Front", Some("Ana".into()))
        .await
        .unwrap();
    let p = charge(&j, "Front", "p1", eur(800), None);
    paid(&j, p, 300);

    let report = day::close_shift(&handle, "Front", Some("Ben".into()), None)
        .await
        .unwrap();
    assert_eq!(report.period, Period::Shift(shift.id));
    assert_eq!(report.title(), format!("SHIFT {} REPORT", shift.id));
    let s = report.shift.as_ref().unwrap();
    assert_eq!(s.closed_by.as_deref(), Some("Ben"));
    assert_eq!(report.totals[0].net_minor, 500);
    let stored = day::report(&handle, Period::Shift(shift.id)).await.unwrap();
    assert_eq!(stored, report);
    assert!(day::current_shift(&handle, "Front")
        .await
        .unwrap()
        .is_none());
}

#[test]
fn reconciliation_transitions_are_listed_as_repairs() {
    let (_dir, j) = open();
    let p = charge(&j, "Front", "p1", eur(1000), None);
    // Paid and partly refunded while the till was away, as reconciliation found it.
    let mut api = p.clone();
    api.status = PaymentStatus::Succeeded;
    api.captured = true;
    api.amount_refunded = 250;
    j.record_snapshot(&api, Source::Reconciliation, now_s() * 1000)
        .unwrap();
    // A payment of this till that the journal never had.
    let mut unknown = payment("p9", 400, "EUR", "succeeded");
    unknown.order_id = Some("Front-p9".into());
    j.record_snapshot(&unknown, Source::Reconciliation, now_s() * 1000)
        .unwrap();

    let report = day::compute(&j, Period::Day(Local::now().date_naive()), now_s() * 1000).unwrap();
    let kinds: Vec<(String, RepairKind)> = report
        .repairs
        .iter()
        .map(|r| (r.payment_id.clone(), r.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("p1".to_owned(), RepairKind::Status),
            ("p1".to_owned(), RepairKind::Refund),
            ("p9".to_owned(), RepairKind::Found),
        ]
    );
    let status = &report.repairs[0];
    assert_eq!(status.till_had, Some(PaymentStatus::Pending));
    assert_eq!(status.api_says, PaymentStatus::Succeeded);
    assert!(
        report.repairs[1].describe().contains("2.50 EUR"),
        "{}",
        report.repairs[1].describe()
    );
    let eur_totals = &report.totals[0];
    assert_eq!(eur_totals.gross_minor, 1400);
    assert_eq!(eur_totals.net_minor, 1150);
}

#[test]
fn the_csv_has_one_row_per_currency_group_and_repair() {
    let (_dir, j) = open();
    let p = charge(&j, "=Front", "p1", eur(1000), None);
    paid(&j, p, 100);
    let report: Report =
        day::compute(&j, Period::Day(Local::now().date_naive()), now_s() * 1000).unwrap();
    let mut out = Vec::new();
    report.write_csv(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], day::CSV_HEADER.join(","));
    assert_eq!(lines[1], "total,,EUR,1,10.00,0.00,1.00,9.00,0,0,0,0,,,");
    // A till name that looks like a formula is defused.
    assert_eq!(
        lines[2],
        "till,\"'=Front\",EUR,1,10.00,0.00,1.00,9.00,0,0,0,0,,,"
    );
    assert_eq!(lines.len(), 3);
}
