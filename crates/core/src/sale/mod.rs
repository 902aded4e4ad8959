//! A sale as the till charges it: quick keys and typed amounts in a [`Cart`], a tip, and
//! the one payment they become.
//!
//! Place in the data flow: the arithmetic is `paydesk-sale`'s ([`Cart::totals`] → [`Totals`]);
//! here a totalled cart and its tip become a [`Sale`], the customer chooses the tip first
//! when the till asks ([`tips::TipDesk`]), and [`Terminal::charge_sale`] creates the payment
//! with the sale's [`Summary`] as its `description` and `metadata`. The sale is journaled
//! with the charge's intent in one transaction, so the receipt, History and the Z report
//! read the lines, the tax per rate and the tip back from the journal, never from the UI.
//!
//! [`Terminal::charge_sale`]: crate::terminal::Terminal::charge_sale

pub mod register;
pub mod tips;
pub mod view;

use paydesk_protocol::Money;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use paydesk_sale::{
    AmountTax, Cart, CartError, Catalog, CatalogError, CatalogSection, ItemSpec, ItemSpecError,
    LineId, Receipt, Summary, TaxKind, Tip, TipChoice, TipError, TipSettings, Totals,
};
pub use register::Register;
pub use tips::{CashierTipView, CustomerPick, CustomerTipView, PromptId, TipDesk, TipFlowError};
pub use view::{CartView, QuickKeysView};

/// Who chose a sale's tip. Journaled: a tip the cashier typed in is worth telling apart
/// from one the customer chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TipBy {
    /// On the customer display (including "No tip").
    Customer,
    /// Typed by the cashier (`--tip` on the CLI, or instead of the customer).
    Cashier,
}

impl TipBy {
    pub fn as_str(self) -> &'static str {
        match self {
            TipBy::Customer => "customer",
            TipBy::Cashier => "cashier",
        }
    }

    pub fn parse(s: &str) -> Option<TipBy> {
        match s {
            "customer" => Some(TipBy::Customer),
            "cashier" => Some(TipBy::Cashier),
            _ => None,
        }
    }
}

/// A cart totalled with its tip: what one payment charges, and what the journal keeps.
/// Made only by ringing up a cart (or read back from the journal), never from a window's
/// JSON: serialized for views, not deserialized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sale {
    totals: Totals,
    /// `None`: nobody chose one (the till did not ask, the cashier skipped, or the customer
    /// did not answer in time), so there is no tip.
    tip_by: Option<TipBy>,
}

impl Sale {
    /// Totals `cart` with `tip`. A sale of nothing (a total of zero) cannot be charged.
    pub fn ring_up(cart: &Cart, tip: &Tip, tip_by: Option<TipBy>) -> Result<Sale, CartError> {
        Sale::from_totals(cart.totals(tip)?, tip_by)
    }

    /// A sale from totals already computed (the tip included).
    pub fn from_totals(totals: Totals, tip_by: Option<TipBy>) -> Result<Sale, CartError> {
        totals.charge_amount()?;
        Ok(Sale { totals, tip_by })
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn tip_by(&self) -> Option<TipBy> {
        self.tip_by
    }

    /// The payment's amount: subtotal + additive tax + tip.
    pub fn amount(&self) -> Money {
        self.totals.total
    }

    pub fn tip(&self) -> Money {
        self.totals.tip
    }

    /// The payment's `description` and `metadata`.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.totals)
    }

    /// The sale part of a receipt, as printed strings.
    pub fn receipt(&self) -> Receipt {
        Receipt::from_totals(&self.totals)
    }
}

/// What one sale asks Crypto.com Pay for ([`Terminal::charge_sale`]).
///
/// [`Terminal::charge_sale`]: crate::terminal::Terminal::charge_sale
#[derive(Clone, Debug)]
pub struct SaleRequest {
    pub sale: Sale,
    /// Replaces the summary ("2× Latte, Croissant") as the payment's `description`; the
    /// lines still travel in the `metadata`.
    pub description: Option<String>,
    /// A shop system's own reference; `None`: the till's next readable order id.
    pub order_id: Option<String>,
    /// More `metadata` (the cashier). The sale's keys and PayDesk's own win over these.
    pub metadata: Map<String, Value>,
}

impl SaleRequest {
    pub fn new(sale: Sale) -> SaleRequest {
        SaleRequest {
            sale,
            description: None,
            order_id: None,
            metadata: Map::new(),
        }
    }
}
