//! The till's print service against a fake ESC/POS printer on loopback: a sale prints by
//! itself on Paid and decodes back to its amounts, ids, € in CP858, QR and cut; a refund
//! slip; a printer that is off or stops mid-receipt is reported while the sale stays paid
//! and journaled, and the receipt prints again later.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::journal::{Journal, JournalHandle};
use paydesk_core::merge::{Source, Update};
use paydesk_core::payment::{Refund, RefundStatus};
use paydesk_core::receipts::{
    PrintJob, PrintOutcome, PrintService, ReceiptEvent, ReceiptSetup, ReceiptView,
};
use paydesk_core::tracker::{Keep, Subscription, Tracker, TrackerEvent};
use paydesk_core::{Payment, PaymentStatus};
use paydesk_receipt::testing::{Behaviour, FakePrinter};
use paydesk_receipt::{CodePage, Confirmation, Cut, Kind, PrinterSettings, Shop, Timeouts};
use tokio::time::timeout;

/// Upper bound for anything the test caused to arrive.
const ARRIVES: Duration = Duration::from_secs(10);

struct Till {
    _dir: tempfile::TempDir,
    journal: Arc<Journal>,
    handle: JournalHandle,
    tracker: Tracker,
}

fn till() -> Till {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path().join("journal.sqlite3")).unwrap());
    let handle = JournalHandle::spawn(journal.clone()).unwrap();
    let tracker = Tracker::new(Arc::new(handle.clone()));
    Till {
        _dir: dir,
        journal,
        handle,
        tracker,
    }
}

fn setup(url: Option<String>, auto_print: bool) -> ReceiptSetup {
    ReceiptSetup {
        shop: Shop {
            name: "Café Müller".into(),
            address: vec!["Hauptstraße 1".into()],
        },
        printer: url.map(|u| PrinterSettings {
            code_page: CodePage::Cp858,
            ..PrinterSettings::new(u)
        }),
        auto_print,
        confirmation: Confirmation::Live,
        till: "Front".into(),
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            status: Duration::from_millis(300),
            write: Duration::from_secs(2),
        },
    }
}

const PAYMENT_ID: &str = "7c9a5a1e-4b0f-4c1e-9d2a-5b8f1e0c3d21";

fn pending() -> Payment {
    serde_json::from_value(serde_json::json!({
        "id": PAYMENT_ID,
        "amount": 1250,
        "currency": "EUR",
        "status": "pending",
        "created": chrono::Utc::now().timestamp(),
        "order_id": "T1-20261128-0042",
        "metadata": { "paydesk_cashier": "Ana" },
    }))
    .unwrap()
}

fn paid() -> Payment {
    let mut p = pending();
    p.status = PaymentStatus::Succeeded;
    p.captured = true;
    p.crypto_currency = Some("CRO".into());
    p.crypto_amount = Some("98.5".into());
    p
}

/// The charge, then the API's answer that it is paid, through the tracker as a till does.
async fn pay(t: &Till) {
    t.tracker
        .track(pending(), Source::CreateResponse)
        .await
        .unwrap();
    t.tracker.apply(paid(), Source::ApiRead).await.unwrap();
}

async fn next_receipt_event(sub: &mut Subscription) -> ReceiptEvent {
    timeout(ARRIVES, async {
        loop {
            if let Some(TrackerEvent::Receipt(e)) = sub.recv().await {
                return e;
            }
        }
    })
    .await
    .expect("no receipt event")
}

#[tokio::test]
async fn a_sale_prints_by_itself_on_paid_with_amounts_ids_euro_sign_qr_and_cut() {
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let t = till();
    let mut sub = t.tracker.subscribe();
    let service = PrintService::start(
        setup(Some(fake.url()), true),
        t.handle.clone(),
        t.tracker.clone(),
        4,
    );

    pay(&t).await;
    let event = next_receipt_event(&mut sub).await;
    assert_eq!(event.outcome, PrintOutcome::Printed { paper_low: false });
    assert!(event.job.automatic);
    assert_eq!(event.job.kind, Kind::Sale);
    assert_eq!(event.job.payment_id.as_deref(), Some(PAYMENT_ID));

    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    assert!(job.complete);
    // € is one byte in PC858 (ESC t 19), right before the amount.
    assert!(job.bytes.windows(3).any(|w| w == [0x1B, b't', 19]));
    assert!(job.bytes.windows(6).any(|w| w == b"\xD512.50"));
    let decoded = job.decode().unwrap();
    assert_eq!(decoded.code_pages, [CodePage::Cp858]);
    assert_eq!(decoded.cut, Some(Cut::Partial));
    assert_eq!(decoded.qr_codes(), [PAYMENT_ID]);
    let total = decoded.line_with("TOTAL").unwrap();
    assert!(total.text.ends_with("€12.50"), "{}", total.text);
    for expected in [
        "Café Müller",
        "Hauptstraße 1",
        PAYMENT_ID,
        "T1-20261128-0042",
        "Front",
        "Ana",
        "98.5 CRO",
        "Confirmed by Crypto.com Pay",
    ] {
        assert!(
            decoded.lines().iter().any(|l| l.contains(expected)),
            "{expected} missing from\n{}",
            decoded.text(48)
        );
    }
    service.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_printer_is_reported_the_sale_stays_paid_and_prints_later() {
    let t = till();
    let mut sub = t.tracker.subscribe();
    let off = FakePrinter::refusing_url().unwrap();
    let service = PrintService::start(
        setup(Some(off), true),
        t.handle.clone(),
        t.tracker.clone(),
        4,
    );

    pay(&t).await;
    let event = next_receipt_event(&mut sub).await;
    match &event.outcome {
        PrintOutcome::Failed {
            code,
            message,
            partly_printed,
        } => {
            assert_eq!(code, "unreachable");
            assert!(
                message.contains("check it is on and connected"),
                "{message}"
            );
            assert!(!partly_printed);
        }
        other => panic!("{other:?}"),
    }
    // The sale is paid and journaled all the same.
    let entry = t.journal.entry(PAYMENT_ID).unwrap().unwrap();
    assert_eq!(entry.status, PaymentStatus::Succeeded);
    service.shutdown().await;

    // The printer is back: a reprint from History prints it.
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let service = PrintService::start(
        setup(Some(fake.url()), true),
        t.handle.clone(),
        t.tracker.clone(),
        4,
    );
    service
        .print(PrintJob::Sale {
            payment_id: PAYMENT_ID.into(),
        })
        .unwrap();
    let event = next_receipt_event(&mut sub).await;
    assert_eq!(event.outcome, PrintOutcome::Printed { paper_low: false });
    assert!(!event.job.automatic);
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    assert_eq!(job.decode().unwrap().qr_codes(), [PAYMENT_ID]);
    service.shutdown().await;
}

#[tokio::test]
async fn a_printer_that_stops_mid_receipt_is_reported_as_maybe_partly_printed() {
    let fake = FakePrinter::start(Behaviour::silent().stop_reading_after(100))
        .await
        .unwrap();
    let t = till();
    pay(&t).await;
    let mut sub = t.tracker.subscribe();
    let service = PrintService::start(
        setup(Some(fake.url()), false),
        t.handle.clone(),
        t.tracker.clone(),
        4,
    );
    // A report far larger than the socket buffers, so the stall shows in the write.
    let mut report = paydesk_receipt::Receipt::report(&setup(None, false).shop, "Z REPORT");
    for i in 0..20_000 {
        report.fields.push(paydesk_receipt::Field::new(
            format!("Payment {i}"),
            PAYMENT_ID,
        ));
    }
    service.print(PrintJob::Receipt(Box::new(report))).unwrap();

    let event = next_receipt_event(&mut sub).await;
    assert_eq!(event.job.kind, Kind::Report);
    match &event.outcome {
        PrintOutcome::Failed {
            code,
            partly_printed,
            ..
        } => {
            assert_eq!(code, "stalled");
            assert!(partly_printed);
        }
        other => panic!("{other:?}"),
    }
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    assert!(!job.complete);
    assert_eq!(
        t.journal.entry(PAYMENT_ID).unwrap().unwrap().status,
        PaymentStatus::Succeeded
    );
    service.shutdown().await;
}

#[tokio::test]
async fn a_refund_slip_prints_the_refund_negative_with_its_ids() {
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let t = till();
    pay(&t).await;
    let refund = Refund {
        id: "ref_1".into(),
        payment_id: PAYMENT_ID.into(),
        amount: 500,
        currency: "EUR".into(),
        status: RefundStatus::Pending,
        created: chrono::Utc::now().timestamp(),
        debit_amount: None,
        debit_currency: None,
        reason: Some("Wrong size".into()),
        description: None,
    };
    t.tracker
        .merge_in(Update::Refund(refund), Source::ApiRead, Keep::Journal)
        .await
        .unwrap();
    let mut sub = t.tracker.subscribe();
    let service = PrintService::start(
        setup(Some(fake.url()), false),
        t.handle.clone(),
        t.tracker.clone(),
        4,
    );
    service
        .print(PrintJob::Refund {
            payment_id: PAYMENT_ID.into(),
            refund_id: "ref_1".into(),
        })
        .unwrap();
    assert_eq!(
        next_receipt_event(&mut sub).await.outcome,
        PrintOutcome::Printed { paper_low: false }
    );
    let decoded = timeout(ARRIVES, fake.next_job())
        .await
        .unwrap()
        .unwrap()
        .decode()
        .unwrap();
    let text = decoded.text(48);
    for expected in [
        "REFUND",
        "-€5.00",
        "ref_1",
        PAYMENT_ID,
        "Requested",
        "Wrong size",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    // An unknown refund is a clear error, not a panic.
    service
        .print(PrintJob::Refund {
            payment_id: PAYMENT_ID.into(),
            refund_id: "nope".into(),
        })
        .unwrap();
    match next_receipt_event(&mut sub).await.outcome {
        PrintOutcome::Failed { code, .. } => assert_eq!(code, "unknown_refund"),
        other => panic!("{other:?}"),
    }
    service.shutdown().await;
}

#[tokio::test]
async fn without_a_printer_a_print_says_so_and_the_screen_still_shows_the_receipt() {
    let t = till();
    pay(&t).await;
    let mut sub = t.tracker.subscribe();
    let setup = setup(None, true);
    let service = PrintService::start(setup.clone(), t.handle.clone(), t.tracker.clone(), 1);
    service
        .print(PrintJob::Sale {
            payment_id: PAYMENT_ID.into(),
        })
        .unwrap();
    match next_receipt_event(&mut sub).await.outcome {
        PrintOutcome::Failed { code, message, .. } => {
            assert_eq!(code, "no_printer");
            assert!(message.contains("Settings"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    service.shutdown().await;

    let entry = t.journal.entry(PAYMENT_ID).unwrap().unwrap();
    let view: ReceiptView = setup.screen(&setup.sale(&entry).unwrap());
    assert!(view.text.contains("€12.50"), "{}", view.text);
    assert_eq!(view.qr.as_deref(), Some(PAYMENT_ID));
    assert_eq!(view.columns, 48);
    // A payment that is not paid has no receipt.
    let mut unpaid = entry.clone();
    unpaid.status = PaymentStatus::Pending;
    assert_eq!(setup.sale(&unpaid).unwrap_err().code(), "not_paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_prints_the_receipt_when_its_charge_is_paid_at_the_sandbox() {
    use paydesk_core::money::Money;
    use paydesk_core::secrets::Secret;
    use paydesk_core::terminal::{Terminal, TerminalSetup};

    paydesk_core::init_tls();
    let sandbox = paydesk_sandbox::spawn(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        paydesk_sandbox::SandboxConfig::default(),
    )
    .await
    .unwrap();
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path().join("journal.sqlite3")).unwrap());
    let mut setup = TerminalSetup::new("Front", sandbox.api_url(), Secret::new("sk_test_sandbox"));
    setup.receipts = Some(self::setup(Some(fake.url()), true));
    // No relay: the till polls, as a till whose relay is down does.
    setup.session.fallback_after = Duration::from_millis(100);
    setup.session.poll_interval = Duration::from_millis(200);
    let terminal = Terminal::start(setup, journal).await.unwrap();
    let mut sub = terminal.subscribe();

    let payment = terminal
        .charge(
            Money::parse("12.50", paydesk_core::Currency::from_code("EUR").unwrap()).unwrap(),
            None,
        )
        .await
        .unwrap();
    sandbox.pay(&payment.id).unwrap();

    let event = next_receipt_event(&mut sub).await;
    assert_eq!(event.outcome, PrintOutcome::Printed { paper_low: false });
    assert_eq!(event.job.payment_id.as_deref(), Some(payment.id.as_str()));
    let decoded = timeout(ARRIVES, fake.next_job())
        .await
        .unwrap()
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(decoded.qr_codes(), [payment.id.as_str()]);
    assert!(decoded.line_with("TOTAL").unwrap().text.ends_with("€12.50"));
    // The same receipt for the screen, and a reprint on a tap.
    let view = terminal.receipt(&payment.id, None).await.unwrap();
    assert!(view.text.contains("€12.50"), "{}", view.text);
    assert_eq!(view.qr.as_deref(), Some(payment.id.as_str()));
    terminal
        .printing()
        .unwrap()
        .print(PrintJob::Sale {
            payment_id: payment.id.clone(),
        })
        .unwrap();
    assert!(!next_receipt_event(&mut sub).await.job.automatic);
    terminal.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_printer_whose_roll_is_nearly_used_up_prints_and_says_paper_low() {
    let fake = FakePrinter::start(Behaviour::answering(paydesk_receipt::PaperSensor::NearEnd))
        .await
        .unwrap();
    let t = till();
    pay(&t).await;
    let mut sub = t.tracker.subscribe();
    let service = PrintService::start(
        setup(Some(fake.url()), false),
        t.handle.clone(),
        t.tracker.clone(),
        4,
    );
    service
        .print(PrintJob::Sale {
            payment_id: PAYMENT_ID.into(),
        })
        .unwrap();
    assert_eq!(
        next_receipt_event(&mut sub).await.outcome,
        PrintOutcome::Printed { paper_low: true }
    );
    assert!(
        timeout(ARRIVES, fake.next_job())
            .await
            .unwrap()
            .unwrap()
            .complete
    );
    service.shutdown().await;
}
