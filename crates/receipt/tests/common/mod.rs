//! What the receipt tests share: a shop, sales and refunds in several currencies, and
//! short deadlines (upper bounds only; nothing waits on them to synchronise).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;

use paydesk_protocol::{Currency, Money};
use paydesk_receipt::{
    Confirmation, Item, Printer, PrinterSettings, Receipt, RefundSlip, Sale, Shop, TaxLine,
    Timeouts,
};

pub fn money(minor: i128, code: &str) -> Money {
    Money::new(minor, Currency::from_code(code).unwrap())
}

pub fn shop() -> Shop {
    Shop {
        name: "Café Müller".into(),
        address: vec!["Hauptstraße 1".into(), "10115 Berlin".into()],
    }
}

pub const PAYMENT_ID: &str = "7c9a5a1e-4b0f-4c1e-9d0a-2f6c8e1b3a57";

pub fn sale(amount: Money, crypto: Option<Money>) -> Sale {
    Sale {
        till: "Front desk".into(),
        time: "2026-11-28 14:05".into(),
        amount,
        crypto,
        payment_id: PAYMENT_ID.into(),
        order_id: Some("T1-0042".into()),
        cashier: None,
        items: Vec::new(),
        subtotals: Vec::new(),
        taxes: Vec::new(),
        confirmation: Confirmation::Live,
    }
}

/// Two lines and 19% VAT, all in euros: 2 × €2.50 + €7.50 = €12.50.
pub fn euro_sale_with_items() -> Receipt {
    let eur = |minor| money(minor, "EUR");
    let mut sale = sale(eur(1250), Some(money(100 * 10_i128.pow(18), "CRO")));
    sale.items = vec![
        Item::new("Espresso", "2", eur(250), eur(500)).with_tax("A"),
        Item::new("Apple tart with cream", "1", eur(750), eur(750)).with_tax("A"),
    ];
    sale.taxes = vec![TaxLine::new("A VAT 19%", eur(1050), eur(200))];
    Receipt::sale(&shop(), &sale)
}

pub fn pound_refund() -> Receipt {
    Receipt::refund(
        &shop(),
        &RefundSlip {
            till: "Front desk".into(),
            time: "2026-11-28 15:30".into(),
            refund_id: "b2f1e0d9-refund".into(),
            payment_id: PAYMENT_ID.into(),
            order_id: None,
            amount: money(500, "GBP"),
            status: "Pending".into(),
            reason: Some("Wrong size".into()),
            cashier: Some("Ana".into()),
            confirmation: Confirmation::Demo,
        },
    )
}

pub fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        status: Duration::from_millis(300),
        write: Duration::from_secs(1),
    }
}

pub fn printer(settings: PrinterSettings) -> Printer {
    Printer::new(&settings).unwrap().with_timeouts(timeouts())
}

pub fn settings(url: &str, paper: &str, code_page: &str) -> PrinterSettings {
    let mut settings = PrinterSettings::new(url);
    settings.paper = match paper {
        "58mm" => paydesk_receipt::Paper::Mm58,
        _ => paydesk_receipt::Paper::Mm80,
    };
    settings.code_page = code_page.parse().unwrap();
    settings
}

/// Generous upper bound for a job to reach the fake printer.
pub const ARRIVES: Duration = Duration::from_secs(10);
