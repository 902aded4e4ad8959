//! Receipts printed over TCP to a fake ESC/POS printer on loopback, decoded back: amounts,
//! ids, the currency signs in the right code page, the QR code, the cut; and the printers
//! that are off, out of paper, or stop reading mid-receipt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use paydesk_receipt::testing::{Behaviour, FakePrinter, UnansweringPrinter};
use paydesk_receipt::{Block, Cut, PaperSensor, PrintError, Printer, Receipt, Size, TEST_PAGE_QR};
use tokio::time::timeout;

#[tokio::test]
async fn a_euro_sale_prints_the_euro_sign_at_0xd5_in_cp858_with_qr_and_cut() {
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let printer = printer(settings(&fake.url(), "80mm", "cp858"));
    let receipt = euro_sale_with_items();

    let printed = printer.print(&receipt).await.unwrap();
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();

    assert!(job.complete);
    assert_eq!(
        printed.bytes + 3,
        job.bytes.len(),
        "the job and one status query"
    );
    // ESC t 19 selects PC858, and € travels as its one byte there.
    assert!(job.bytes.windows(3).any(|w| w == [0x1B, b't', 19]));
    assert!(job.bytes.windows(6).any(|w| w == b"\xD512.50"));
    let decoded = job.decode().unwrap();
    assert!(decoded.initialised);
    assert_eq!(decoded.code_pages, [paydesk_receipt::CodePage::Cp858]);
    assert_eq!(decoded.status_queries, 1);
    assert_eq!(decoded.cut, Some(Cut::Partial));
    assert_eq!(decoded.qr_codes(), [PAYMENT_ID]);

    let total = decoded.line_with("TOTAL").unwrap();
    assert!(total.bold);
    assert_eq!(total.size, Size::Tall);
    assert!(total.text.ends_with("€12.50"), "{}", total.text);
    assert_eq!(total.text.chars().count(), 48);
    let title = decoded.line_with("RECEIPT").unwrap();
    assert_eq!(title.size, Size::Large);
    assert!(decoded
        .spans
        .iter()
        .any(|s| s.bold && s.text == "Café Müller"));

    for expected in [
        "Café Müller",
        "Hauptstraße 1",
        PAYMENT_ID,
        "T1-0042",
        "Front desk",
        "2 x €2.50",
        "€5.00 A",
        "€7.50 A",
        "A VAT 19% on €10.50",
        "€2.00",
        "100 CRO",
        "Confirmed by Crypto.com Pay",
    ] {
        assert!(
            decoded.lines().iter().any(|l| l.contains(expected)),
            "{expected:?} not printed:\n{}",
            decoded.text(48)
        );
    }
    // What was printed is what the screen shows.
    let layout = printer.layout(&receipt);
    assert_eq!(decoded.blocks, layout.blocks());
    assert_eq!(decoded.text(48), layout.text());
}

#[tokio::test]
async fn a_pound_refund_slip_fits_58mm_paper() {
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let printer = printer(settings(&fake.url(), "58mm", "cp858"));

    printer.print(&pound_refund()).await.unwrap();
    let decoded = timeout(ARRIVES, fake.next_job())
        .await
        .unwrap()
        .unwrap()
        .decode()
        .unwrap();

    // £ is 0x9C in PC858 and decodes back to £.
    let total = decoded.line_with("REFUND ").unwrap();
    assert!(total.text.ends_with("-£5.00"), "{}", total.text);
    assert!(decoded.line_with("Wrong size").is_some());
    assert!(decoded.line_with("b2f1e0d9-refund").is_some());
    // A dash PC858 lacks prints as '-', not as garbage.
    assert!(decoded.line_with("DEMO - not a real payment").is_some());
    for block in &decoded.blocks {
        if let Block::Line(line) = block {
            let width = line.text.chars().count() * line.size.width_factor();
            assert!(width <= 32, "{line:?} is wider than 58 mm paper");
        }
    }
    // The 36-character payment id does not fit 32 columns: it wraps, right-aligned.
    let text = decoded.text(32);
    assert!(
        text.contains("Payment\n7c9a5a1e-4b0f-4c1e-9d0a-2f6c8e1b\n"),
        "{text}"
    );
    assert_eq!(decoded.qr_codes(), [PAYMENT_ID]);
}

#[tokio::test]
async fn a_crypto_amount_beyond_64_bits_prints_exactly() {
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let printer = printer(settings(&fake.url(), "58mm", "cp858"));
    // 10^20 base units of CRO (18 decimals) is 100 CRO; and a long one with every digit.
    let hundred = money(10_i128.pow(20), "CRO");
    let long = money(123_456_789_012_345_678_901_234, "CRO");

    for (crypto, shown) in [
        (hundred, "100 CRO"),
        (long, "123,456.789012345678901234 CRO"),
    ] {
        let receipt = Receipt::sale(&shop(), &sale(money(4200, "USD"), Some(crypto)));
        printer.print(&receipt).await.unwrap();
        let decoded = timeout(ARRIVES, fake.next_job())
            .await
            .unwrap()
            .unwrap()
            .decode()
            .unwrap();
        assert!(decoded.line_with(shown).is_some(), "{}", decoded.text(32));
        assert!(decoded.line_with("$42.00").is_some());
    }
}

#[tokio::test]
async fn wpc1252_puts_the_euro_at_0x80_and_cp437_spells_it_out() {
    let fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let receipt = Receipt::sale(&shop(), &sale(money(1250, "EUR"), None));

    printer(settings(&fake.url(), "80mm", "wpc1252"))
        .print(&receipt)
        .await
        .unwrap();
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    assert!(job.bytes.windows(3).any(|w| w == [0x1B, b't', 16]));
    assert!(job.bytes.windows(6).any(|w| w == b"\x8012.50"));
    assert!(job.decode().unwrap().line_with("€12.50").is_some());

    printer(settings(&fake.url(), "80mm", "cp437"))
        .print(&receipt)
        .await
        .unwrap();
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    assert!(job.bytes.windows(3).any(|w| w == [0x1B, b't', 0]));
    let decoded = job.decode().unwrap();
    assert!(decoded.line_with("EUR 12.50").is_some());
    assert!(!decoded.lines().concat().contains('€'));
    // CP437 has ü and é; they print as themselves.
    assert!(decoded.line_with("Café Müller").is_some());
}

#[tokio::test]
async fn an_unreachable_printer_says_check_it_is_on_within_the_deadline() {
    let url = FakePrinter::refusing_url().unwrap();
    let printer = printer(settings(&url, "80mm", "cp858"));
    let started = Instant::now();

    let error = printer
        .print(&euro_sale_with_items())
        .await
        .expect_err("nothing listens there");

    assert!(matches!(error, PrintError::Unreachable { .. }), "{error:?}");
    let port = url.rsplit(':').next().unwrap();
    assert_eq!(
        error.to_string(),
        format!("Printer at 127.0.0.1:{port} does not answer — check it is on and connected")
    );
    assert!(started.elapsed() <= timeouts().total());
}

#[tokio::test]
async fn a_printer_that_never_answers_the_connection_is_given_up_at_the_connect_deadline() {
    let silent = UnansweringPrinter::start().await.unwrap();
    let mut timeouts = timeouts();
    timeouts.connect = std::time::Duration::from_millis(500);
    let printer = Printer::new(&settings(&silent.url(), "80mm", "cp858"))
        .unwrap()
        .with_timeouts(timeouts);
    let started = Instant::now();

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert!(matches!(error, PrintError::Unreachable { .. }), "{error:?}");
    let waited = started.elapsed();
    assert!(
        waited >= timeouts.connect,
        "gave up after {waited:?}, before the deadline"
    );
    assert!(waited <= timeouts.total());
}

#[tokio::test]
async fn a_printer_switched_off_between_two_sales_fails_only_the_second() {
    let mut fake = FakePrinter::start(Behaviour::silent()).await.unwrap();
    let printer = printer(settings(&fake.url(), "80mm", "cp858"));
    printer.print(&euro_sale_with_items()).await.unwrap();
    assert!(timeout(ARRIVES, fake.next_job()).await.unwrap().is_some());

    fake.switch_off().await;
    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert_eq!(error.code(), "unreachable");
    assert!(!error.maybe_partly_printed());
}

#[tokio::test]
async fn a_printer_that_stops_reading_mid_receipt_is_reported_within_the_deadline() {
    // Like an Epson: answers status, then stops taking bytes 200 bytes into the job.
    let behaviour = Behaviour::answering(PaperSensor::Present).stop_reading_after(200);
    let fake = FakePrinter::start(behaviour).await.unwrap();
    let printer = printer(settings(&fake.url(), "80mm", "cp858"));
    let started = Instant::now();

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert!(matches!(error, PrintError::Stalled { .. }), "{error:?}");
    assert!(error.maybe_partly_printed());
    assert!(error.to_string().contains("stopped taking the receipt"));
    assert!(started.elapsed() <= timeouts().total());
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    assert!(!job.complete);
    assert_eq!(job.bytes.len(), 200);
}

#[tokio::test]
async fn a_silent_printer_that_stops_reading_a_long_report_stalls_the_write() {
    // No status channel, so only the write can tell: a report far larger than the socket
    // buffers on both sides.
    let fake = FakePrinter::start(Behaviour::silent().stop_reading_after(100))
        .await
        .unwrap();
    let printer = printer(settings(&fake.url(), "80mm", "cp858"));
    let mut report = Receipt::report(&shop(), "Z REPORT");
    for i in 0..20_000 {
        report.fields.push(paydesk_receipt::Field::new(
            format!("Payment {i}"),
            "7c9a5a1e-4b0f-4c1e",
        ));
    }
    let started = Instant::now();

    let error = printer.print(&report).await.unwrap_err();

    match error {
        PrintError::Stalled { sent, total, .. } => assert!(sent < total, "{sent} of {total}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() <= timeouts().total());
}

#[tokio::test]
async fn an_empty_roll_gets_nothing_and_asks_for_paper() {
    let fake = FakePrinter::start(Behaviour::answering(PaperSensor::Out))
        .await
        .unwrap();
    let printer = printer(settings(&fake.url(), "80mm", "cp858"));

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert!(matches!(
        error,
        PrintError::OutOfPaper {
            mid_receipt: false,
            ..
        }
    ));
    assert!(error
        .to_string()
        .contains("is out of paper — load a new roll"));
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    assert_eq!(job.bytes, [0x10, 0x04, 4], "only the status query");
}

#[tokio::test]
async fn a_nearly_empty_roll_prints_and_warns() {
    let fake = FakePrinter::start(Behaviour::answering(PaperSensor::NearEnd))
        .await
        .unwrap();
    let printer = printer(settings(&fake.url(), "80mm", "cp858"));

    let printed = printer.print(&euro_sale_with_items()).await.unwrap();

    assert!(printed.paper_low());
    let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
    let decoded = job.decode().unwrap();
    assert_eq!(decoded.status_queries, 2, "asked before and after the job");
    assert_eq!(decoded.qr_codes(), [PAYMENT_ID]);
}

#[tokio::test]
async fn two_receipts_at_once_print_one_after_the_other_whole() {
    let fake = FakePrinter::start(Behaviour::answering(PaperSensor::Present))
        .await
        .unwrap();
    let printer = Arc::new(printer(settings(&fake.url(), "58mm", "cp858")));
    let sale = euro_sale_with_items();
    let refund = pound_refund();

    let (a, b) = tokio::join!(printer.print(&sale), printer.print(&refund));
    a.unwrap();
    b.unwrap();

    let mut titles = Vec::new();
    for _ in 0..2 {
        let job = timeout(ARRIVES, fake.next_job()).await.unwrap().unwrap();
        let decoded = job.decode().unwrap();
        assert_eq!(decoded.qr_codes().len(), 1);
        assert_eq!(decoded.cut, Some(Cut::Partial));
        let title = decoded
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Line(l) if l.size == Size::Large => Some(l.text.clone()),
                _ => None,
            })
            .unwrap();
        titles.push(title);
    }
    titles.sort();
    assert_eq!(titles, ["RECEIPT", "REFUND"]);
}

#[tokio::test]
async fn the_installers_test_page_shows_width_code_page_and_signs() {
    let fake = FakePrinter::start(Behaviour::answering(PaperSensor::Present))
        .await
        .unwrap();
    for (paper, columns) in [("58mm", 32), ("80mm", 48)] {
        let printer = printer(settings(&fake.url(), paper, "cp858"));

        printer.print(&printer.test_page(&shop())).await.unwrap();

        let decoded = timeout(ARRIVES, fake.next_job())
            .await
            .unwrap()
            .unwrap()
            .decode()
            .unwrap();
        let ruler = decoded.line_with("1234567890").unwrap();
        assert_eq!(ruler.text.chars().count(), columns);
        assert!(decoded.line_with("€ £ ¥ - Ä Ö Ü ß é ñ").is_some());
        assert!(decoded.line_with("cp858").is_some());
        assert!(decoded.line_with(&fake.url()).is_some());
        assert_eq!(decoded.qr_codes(), [TEST_PAGE_QR]);
        assert_eq!(decoded.cut, Some(Cut::Partial));
    }
}
