//! The receipt as a document, before any printer: what it says, not how it is drawn.
//!
//! The till builds one from what it knows — the shop from settings, the payment from the
//! tracker, lines and tax from the catalog once it exists, the cashier once staff exists —
//! with [`Receipt::sale`], [`Receipt::refund`] or, for shift and close-of-day reports,
//! [`Receipt::report`]. Every amount is an [`Amount`] made from a `Money`. The layout
//! (`layout.rs`) arranges it for a paper width; the screen and the printer both draw that.

use paydesk_protocol::Money;
use serde::{Deserialize, Serialize};

use crate::amount::Amount;

/// What a printed slip is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Sale,
    Refund,
    Report,
}

/// A printer-independent receipt. Build it with the constructors, or field by field for a
/// report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub kind: Kind,
    /// Printed large: "RECEIPT", "REFUND", "Z REPORT".
    pub title: String,
    /// The shop's name (first line, bold) and address lines.
    pub header: Vec<String>,
    /// Till, time, cashier, payment id, order id...
    pub fields: Vec<Field>,
    pub items: Vec<Item>,
    pub totals: Vec<Total>,
    /// Tax per rate, after the totals.
    pub taxes: Vec<TaxLine>,
    /// "Confirmed by Crypto.com Pay", "DEMO — not a real payment", thanks, returns policy.
    pub footer: Vec<String>,
    /// Printed as a QR code under the footer (the payment id).
    pub qr: Option<String>,
}

/// A label and its value on one line ("Till" ... "Front desk").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub label: String,
    pub value: String,
}

impl Field {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Field {
        Field {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// One line of what was sold. The catalog computes the line total (and its rounding); the
/// receipt prints it as given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub description: String,
    /// As the catalog counts it: "2", "0.250 kg".
    pub quantity: String,
    pub unit_price: Amount,
    pub total: Amount,
    /// Short tax label printed after the line total ("A", "20%"), matching a [`TaxLine`].
    pub tax: Option<String>,
}

impl Item {
    pub fn new(
        description: impl Into<String>,
        quantity: impl Into<String>,
        unit_price: Money,
        total: Money,
    ) -> Item {
        Item {
            description: description.into(),
            quantity: quantity.into(),
            unit_price: unit_price.into(),
            total: total.into(),
            tax: None,
        }
    }

    pub fn with_tax(mut self, label: impl Into<String>) -> Item {
        self.tax = Some(label.into());
        self
    }
}

/// A total line; the emphasised one (the amount to pay, or refunded) prints tall and bold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    pub label: String,
    pub value: Amount,
    pub emphasis: bool,
}

impl Total {
    pub fn new(label: impl Into<String>, value: impl Into<Amount>) -> Total {
        Total {
            label: label.into(),
            value: value.into(),
            emphasis: false,
        }
    }

    pub fn emphasised(label: impl Into<String>, value: impl Into<Amount>) -> Total {
        Total {
            emphasis: true,
            ..Total::new(label, value)
        }
    }
}

/// Tax at one rate: "VAT 20% on €10.00 ... €2.00".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    /// "A VAT 20%": the item lines' label first, so a reader can match them.
    pub label: String,
    pub base: Amount,
    pub tax: Amount,
}

impl TaxLine {
    pub fn new(label: impl Into<String>, base: Money, tax: Money) -> TaxLine {
        TaxLine {
            label: label.into(),
            base: base.into(),
            tax: tax.into(),
        }
    }
}

/// The shop as its settings describe it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shop {
    pub name: String,
    #[serde(default)]
    pub address: Vec<String>,
}

/// Who stands behind the payment, said at the foot of every slip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// A live Crypto.com Pay account.
    Live,
    /// PayDesk's demo mode: the in-process sandbox.
    Demo,
    /// A Crypto.com Pay test key.
    Test,
}

impl Confirmation {
    fn footer(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Confirmation::Live, Kind::Refund) => "Refunded through Crypto.com Pay",
            (Confirmation::Live, _) => "Confirmed by Crypto.com Pay",
            (Confirmation::Demo, _) => "DEMO — not a real payment",
            (Confirmation::Test, _) => "TEST — not a real payment",
        }
    }
}

/// A captured payment, as the till knows it when it is Paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sale {
    pub till: String,
    /// Formatted by the caller in the shop's time zone.
    pub time: String,
    /// What the customer was charged, in the shop's currency.
    pub amount: Money,
    /// What the customer paid in crypto, once Crypto.com Pay reports it.
    pub crypto: Option<Money>,
    pub payment_id: String,
    pub order_id: Option<String>,
    pub cashier: Option<String>,
    pub items: Vec<Item>,
    /// Printed above the TOTAL: the subtotal, tax added on top, the tip (a plain charge
    /// has none).
    pub subtotals: Vec<Total>,
    pub taxes: Vec<TaxLine>,
    pub confirmation: Confirmation,
}

/// A refund of a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundSlip {
    pub till: String,
    pub time: String,
    pub refund_id: String,
    pub payment_id: String,
    pub order_id: Option<String>,
    /// The refunded amount, positive; it prints with a minus sign.
    pub amount: Money,
    /// "Pending", "Succeeded": a slip may print before Crypto.com Pay completes the refund.
    pub status: String,
    pub reason: Option<String>,
    pub cashier: Option<String>,
    pub confirmation: Confirmation,
}

impl Receipt {
    fn blank(kind: Kind, title: &str, shop: &Shop) -> Receipt {
        let mut header = vec![shop.name.clone()];
        header.extend(shop.address.iter().cloned());
        Receipt {
            kind,
            title: title.to_owned(),
            header,
            fields: Vec::new(),
            items: Vec::new(),
            totals: Vec::new(),
            taxes: Vec::new(),
            footer: Vec::new(),
            qr: None,
        }
    }

    /// The customer's receipt for a captured payment.
    pub fn sale(shop: &Shop, sale: &Sale) -> Receipt {
        let mut receipt = Receipt::blank(Kind::Sale, "RECEIPT", shop);
        receipt.fields.push(Field::new("Till", &sale.till));
        receipt.fields.push(Field::new("Time", &sale.time));
        if let Some(cashier) = &sale.cashier {
            receipt.fields.push(Field::new("Cashier", cashier));
        }
        receipt.fields.push(Field::new("Payment", &sale.payment_id));
        if let Some(order) = &sale.order_id {
            receipt.fields.push(Field::new("Order", order));
        }
        receipt.items = sale.items.clone();
        receipt.totals.extend(sale.subtotals.iter().cloned());
        receipt.totals.push(Total::emphasised("TOTAL", sale.amount));
        if let Some(crypto) = sale.crypto {
            receipt
                .totals
                .push(Total::new(format!("Paid in {}", crypto.currency), crypto));
        }
        receipt.taxes = sale.taxes.clone();
        receipt
            .footer
            .push(sale.confirmation.footer(Kind::Sale).to_owned());
        receipt.qr = Some(sale.payment_id.clone());
        receipt
    }

    /// The slip for one refund.
    pub fn refund(shop: &Shop, refund: &RefundSlip) -> Receipt {
        let mut receipt = Receipt::blank(Kind::Refund, "REFUND", shop);
        receipt.fields.push(Field::new("Till", &refund.till));
        receipt.fields.push(Field::new("Time", &refund.time));
        if let Some(cashier) = &refund.cashier {
            receipt.fields.push(Field::new("Cashier", cashier));
        }
        receipt.fields.push(Field::new("Refund", &refund.refund_id));
        receipt
            .fields
            .push(Field::new("Payment", &refund.payment_id));
        if let Some(order) = &refund.order_id {
            receipt.fields.push(Field::new("Order", order));
        }
        receipt.fields.push(Field::new("Status", &refund.status));
        if let Some(reason) = &refund.reason {
            receipt.fields.push(Field::new("Reason", reason));
        }
        receipt
            .totals
            .push(Total::emphasised("REFUND", Amount::negated(refund.amount)));
        receipt
            .footer
            .push(refund.confirmation.footer(Kind::Refund).to_owned());
        receipt.qr = Some(refund.payment_id.clone());
        receipt
    }

    /// A shift or close-of-day report: the caller fills fields, totals and footer.
    pub fn report(shop: &Shop, title: impl Into<String>) -> Receipt {
        let mut receipt = Receipt::blank(Kind::Report, "", shop);
        receipt.title = title.into();
        receipt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_protocol::Currency;

    fn eur(minor: i128) -> Money {
        Money::new(minor, Currency::from_code("EUR").unwrap())
    }

    fn shop() -> Shop {
        Shop {
            name: "Café Müller".into(),
            address: vec!["Hauptstraße 1".into(), "10115 Berlin".into()],
        }
    }

    #[test]
    fn a_sale_says_who_confirmed_it_and_carries_the_payment_id_as_qr() {
        let sale = Sale {
            till: "Front".into(),
            time: "2026-11-28 14:05".into(),
            amount: eur(1250),
            crypto: None,
            payment_id: "pay_123".into(),
            order_id: Some("A-7".into()),
            cashier: None,
            items: vec![],
            subtotals: vec![],
            taxes: vec![],
            confirmation: Confirmation::Demo,
        };
        let receipt = Receipt::sale(&shop(), &sale);
        assert_eq!(receipt.header[0], "Café Müller");
        assert_eq!(receipt.qr.as_deref(), Some("pay_123"));
        assert_eq!(receipt.footer, ["DEMO — not a real payment"]);
        assert_eq!(receipt.totals[0].value.as_str(), "€12.50");
        assert!(receipt.totals[0].emphasis);
        let labels: Vec<_> = receipt.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(labels, ["Till", "Time", "Payment", "Order"]);
    }

    #[test]
    fn a_refund_prints_its_amount_negative() {
        let slip = RefundSlip {
            till: "Front".into(),
            time: "t".into(),
            refund_id: "ref_1".into(),
            payment_id: "pay_1".into(),
            order_id: None,
            amount: eur(500),
            status: "Pending".into(),
            reason: Some("Wrong size".into()),
            cashier: Some("Ana".into()),
            confirmation: Confirmation::Live,
        };
        let receipt = Receipt::refund(&shop(), &slip);
        assert_eq!(receipt.kind, Kind::Refund);
        assert_eq!(receipt.totals[0].value.as_str(), "-€5.00");
        assert_eq!(receipt.footer, ["Refunded through Crypto.com Pay"]);
    }
}
