//! The arithmetic of a sale, in one function: lines → subtotal, tax per rate, tip, total.
//!
//! Every figure is whole minor units (`i128`); the only division is
//! [`RoundingMode::mul_div`]. Lines are grouped by tax rate (in order of first appearance);
//! a rate's tax is
//!
//! - additive: `base × rate`, added to the bill;
//! - inclusive: `gross × rate / (100 % + rate)`, already inside the prices;
//!
//! rounded per line and then summed ([`TaxRounding::PerLine`]) or summed exactly and
//! rounded once ([`TaxRounding::PerTotal`]). Then `before_tip = subtotal + additive tax`,
//! the tip is computed on `before_tip`, and `total = before_tip + tip`. Any sum that does
//! not fit an `i128` is [`CartError::TooLarge`], never a wrap or a panic.

use paydesk_protocol::{Currency, Money};
use serde::{Deserialize, Serialize};

use crate::cart::{CartError, Line, LineId};
use crate::catalog::{Catalog, TaxKind, TaxRate};
use crate::percent::Percent;
use crate::rounding::{RoundingMode, TaxRounding};
use crate::tip::Tip;

/// Everything the receipt, the payment and the journal need to know about a sale.
/// Serializable both ways: the till journals it and reads it back for receipts and reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub currency: Currency,
    pub lines: Vec<LineTotal>,
    /// The sum of the lines as priced (inclusive tax inside, additive tax not).
    pub subtotal: Money,
    /// Per rate, in order of first appearance in the cart.
    pub taxes: Vec<TaxTotal>,
    /// The sum of the lines without a tax rate.
    pub untaxed: Money,
    /// Additive tax: added to the subtotal.
    pub added_tax: Money,
    /// Inclusive tax: already inside the subtotal, shown as "incl.".
    pub included_tax: Money,
    /// `subtotal + added_tax`: what a percentage tip is computed on.
    pub before_tip: Money,
    pub tip: Money,
    /// `before_tip + tip`: the amount to charge.
    pub total: Money,
}

/// One line as it enters the totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTotal {
    pub id: LineId,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    pub unit: Money,
    /// `unit × quantity`.
    pub amount: Money,
    /// The tax rate's id; `None`: untaxed.
    pub tax: Option<String>,
    /// Whether this is a typed amount without a label.
    pub unlabelled: bool,
}

/// The tax of one rate over the sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxTotal {
    pub id: String,
    pub label: String,
    pub rate: Percent,
    pub kind: TaxKind,
    /// The taxable base, tax excluded.
    pub net: Money,
    pub tax: Money,
    /// `net + tax`.
    pub gross: Money,
    /// How many lines carry this rate.
    pub lines: usize,
}

impl Totals {
    /// All tax, added and included.
    pub fn tax(&self) -> Result<Money, CartError> {
        self.added_tax
            .checked_add(self.included_tax)
            .map_err(|_| CartError::TooLarge)
    }

    /// The amount of the payment to create; a sale of nothing cannot be charged.
    pub fn charge_amount(&self) -> Result<Money, CartError> {
        if self.total.minor > 0 {
            Ok(self.total)
        } else {
            Err(CartError::NothingToCharge)
        }
    }
}

pub(crate) fn compute(lines: &[Line], catalog: &Catalog, tip: &Tip) -> Result<Totals, CartError> {
    let currency = catalog.currency();
    let mode = catalog.rounding_mode();
    let rounding = catalog.tax_rounding();
    let zero = Money::new(0, currency);
    let add = |a: Money, b: Money| a.checked_add(b).map_err(|_| CartError::TooLarge);

    let mut line_totals = Vec::with_capacity(lines.len());
    let mut subtotal = zero;
    let mut untaxed = zero;
    let mut groups: Vec<Group<'_>> = Vec::new();
    for line in lines {
        let amount = line.amount()?;
        subtotal = add(subtotal, amount)?;
        match &line.tax {
            None => untaxed = add(untaxed, amount)?,
            Some(rate) => {
                let at = match groups.iter().position(|g| g.rate.id == rate.id) {
                    Some(at) => at,
                    None => {
                        groups.push(Group {
                            rate,
                            base: zero,
                            line_tax: zero,
                            lines: 0,
                        });
                        groups.len() - 1
                    }
                };
                let g = &mut groups[at];
                g.base = add(g.base, amount)?;
                g.line_tax = add(g.line_tax, tax_of(amount, rate, mode)?)?;
                g.lines += 1;
            }
        }
        line_totals.push(LineTotal {
            id: line.id,
            sku: line.sku.clone(),
            name: line.name.clone(),
            quantity: line.quantity,
            unit: line.unit,
            amount,
            tax: line.tax.as_ref().map(|t| t.id.clone()),
            unlabelled: line.is_unlabelled_amount(),
        });
    }

    let mut taxes = Vec::with_capacity(groups.len());
    let mut added_tax = zero;
    let mut included_tax = zero;
    for g in groups {
        let tax = match rounding {
            TaxRounding::PerLine => g.line_tax,
            TaxRounding::PerTotal => tax_of(g.base, g.rate, mode)?,
        };
        let (net, gross) = match g.rate.kind {
            TaxKind::Additive => {
                added_tax = add(added_tax, tax)?;
                (g.base, add(g.base, tax)?)
            }
            TaxKind::Inclusive => {
                included_tax = add(included_tax, tax)?;
                let net = g.base.checked_sub(tax).map_err(|_| CartError::TooLarge)?;
                (net, g.base)
            }
        };
        taxes.push(TaxTotal {
            id: g.rate.id.clone(),
            label: g.rate.label.clone(),
            rate: g.rate.rate,
            kind: g.rate.kind,
            net,
            tax,
            gross,
            lines: g.lines,
        });
    }

    let before_tip = add(subtotal, added_tax)?;
    let tip = tip.amount(before_tip, catalog.tips(), mode)?;
    let total = add(before_tip, tip)?;
    Ok(Totals {
        currency,
        lines: line_totals,
        subtotal,
        taxes,
        untaxed,
        added_tax,
        included_tax,
        before_tip,
        tip,
        total,
    })
}

struct Group<'a> {
    rate: &'a TaxRate,
    /// The lines' amounts: net for additive rates, gross for inclusive ones.
    base: Money,
    /// The sum of each line's rounded tax (used under per-line rounding).
    line_tax: Money,
    lines: usize,
}

/// The tax in `amount` (inclusive) or on it (additive), rounded by `mode`.
pub fn tax_of(amount: Money, rate: &TaxRate, mode: RoundingMode) -> Result<Money, CartError> {
    let n = rate.rate.numerator();
    let den = match rate.kind {
        TaxKind::Additive => Percent::DENOMINATOR,
        TaxKind::Inclusive => Percent::DENOMINATOR + n,
    };
    mode.mul_div(amount.minor, n, den)
        .map(|minor| Money::new(minor, amount.currency))
        .ok_or(CartError::TooLarge)
}
