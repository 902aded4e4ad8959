//! The sale as it prints: each line, the tax per rate, the tip and the total, as text.
//!
//! Every figure comes from [`Totals`] through `Money`'s `Display`, and the totals are sums
//! of those same figures, so the printed lines plus the printed added tax plus the printed
//! tip are the printed total to the last minor unit (a property test checks it).

use serde::Serialize;

use crate::catalog::TaxKind;
use crate::totals::Totals;

/// A receipt's sale part. The header, the payment and the footer are the printer's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub lines: Vec<ReceiptLine>,
    pub subtotal: String,
    /// Additive rates first (they add up to the total), then the included ones ("incl.").
    pub taxes: Vec<ReceiptTax>,
    /// `None` when there is no tip.
    pub tip: Option<String>,
    pub total: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptLine {
    pub name: String,
    pub quantity: u32,
    /// "2 × 3.50 EUR" when more than one.
    pub detail: Option<String>,
    /// The line total.
    pub amount: String,
    /// The tax rate's label; `None`: untaxed.
    pub tax: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptTax {
    /// "VAT 20% incl." or "Sales tax 8.875%".
    pub label: String,
    /// True when the tax is inside the prices and does not add to the total.
    pub included: bool,
    /// The taxable base, tax excluded.
    pub net: String,
    pub tax: String,
}

impl Receipt {
    pub fn from_totals(totals: &Totals) -> Receipt {
        let label_of = |id: &str| {
            totals
                .taxes
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.label.clone())
        };
        let lines = totals
            .lines
            .iter()
            .map(|l| ReceiptLine {
                name: l.name.clone(),
                quantity: l.quantity,
                detail: (l.quantity > 1).then(|| format!("{} × {}", l.quantity, l.unit)),
                amount: l.amount.to_string(),
                tax: l.tax.as_deref().and_then(label_of),
            })
            .collect();
        let mut taxes: Vec<&_> = totals.taxes.iter().collect();
        taxes.sort_by_key(|t| t.kind == TaxKind::Inclusive);
        let taxes = taxes
            .into_iter()
            .map(|t| {
                let included = t.kind == TaxKind::Inclusive;
                ReceiptTax {
                    label: if included {
                        format!("{} incl.", t.label)
                    } else {
                        t.label.clone()
                    },
                    included,
                    net: t.net.to_string(),
                    tax: t.tax.to_string(),
                }
            })
            .collect();
        Receipt {
            lines,
            subtotal: totals.subtotal.to_string(),
            taxes,
            tip: (totals.tip.minor != 0).then(|| totals.tip.to_string()),
            total: totals.total.to_string(),
        }
    }
}
