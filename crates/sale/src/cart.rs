//! The sale being rung up: quick-key items and typed amounts as lines, with quantities.
//!
//! A line keeps a copy of what it was rung up at (name, unit price, tax rate), so editing
//! the catalog in Settings never changes a sale in progress. The cart holds the catalog it
//! was opened with; [`Cart::totals`] hands the lines to [`crate::totals`], the one place the
//! arithmetic lives.

use std::sync::Arc;

use paydesk_protocol::Money;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, TaxRate};
use crate::tip::{Tip, TipError};
use crate::totals::{self, Totals};

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: u32 = 9999;
pub const MAX_LABEL_CHARS: usize = 64;
/// The name of a typed amount without a label.
pub const AMOUNT_NAME: &str = "Amount";

/// A line's handle, stable while the cart lives (the UI removes lines by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LineId(pub u32);

/// One line of the cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    pub id: LineId,
    /// The catalog item; `None` for a typed amount.
    pub sku: Option<String>,
    /// The item's name, the typed amount's label, or [`AMOUNT_NAME`].
    pub name: String,
    pub unit: Money,
    pub quantity: u32,
    /// `None`: untaxed.
    pub tax: Option<TaxRate>,
}

impl Line {
    /// `unit × quantity`.
    pub fn amount(&self) -> Result<Money, CartError> {
        self.unit
            .minor
            .checked_mul(i128::from(self.quantity))
            .map(|minor| Money::new(minor, self.unit.currency))
            .ok_or(CartError::TooLarge)
    }

    /// A typed amount the cashier gave no label.
    pub fn is_unlabelled_amount(&self) -> bool {
        self.sku.is_none() && self.name == AMOUNT_NAME
    }
}

/// The tax of a typed amount.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AmountTax {
    /// The catalog's default rate, or none when it has no default.
    #[default]
    Default,
    Untaxed,
    /// A rate of the catalog, by id.
    Rate(String),
}

/// Why the cart refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("no item with SKU '{0}'")]
    UnknownSku(String),
    #[error("no tax rate '{0}'")]
    UnknownTax(String),
    #[error("no line {} in this sale", .0.0)]
    NoSuchLine(LineId),
    #[error("the quantity must be 1 to {MAX_QUANTITY}")]
    BadQuantity,
    #[error("a sale has at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("a typed amount must be more than zero")]
    AmountNotPositive,
    #[error("the amount is in {found}, but this till charges in {till}")]
    WrongCurrency {
        found: &'static str,
        till: &'static str,
    },
    #[error("a label has at most {MAX_LABEL_CHARS} characters")]
    LabelTooLong,
    #[error("a label cannot hold line breaks, tabs or other control characters")]
    BadLabel,
    #[error("the sale is too large")]
    TooLarge,
    #[error("there is nothing to charge")]
    NothingToCharge,
    #[error(transparent)]
    Tip(#[from] TipError),
}

/// The sale being rung up.
#[derive(Clone, Debug)]
pub struct Cart {
    catalog: Arc<Catalog>,
    lines: Vec<Line>,
    next_id: u32,
}

impl Cart {
    pub fn new(catalog: Arc<Catalog>) -> Cart {
        Cart {
            catalog,
            lines: Vec::new(),
            next_id: 1,
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn clear(&mut self) {
        self.lines.clear();
    }

    /// Rings up `quantity` of an item. A second tap of the same quick key adds to its line.
    pub fn add_item(&mut self, sku: &str, quantity: u32) -> Result<LineId, CartError> {
        check_quantity(quantity)?;
        let item = self
            .catalog
            .item(sku)
            .ok_or_else(|| CartError::UnknownSku(sku.trim().to_owned()))?;
        if let Some(line) = self
            .lines
            .iter()
            .position(|l| l.sku.as_deref() == Some(item.sku.as_str()))
        {
            let id = self.lines[line].id;
            let more = self.lines[line]
                .quantity
                .checked_add(quantity)
                .ok_or(CartError::BadQuantity)?;
            self.set_quantity(id, more)?;
            return Ok(id);
        }
        let tax = item
            .tax
            .as_deref()
            .and_then(|id| self.catalog.tax(id))
            .cloned();
        let line = Line {
            id: LineId(0),
            sku: Some(item.sku.clone()),
            name: item.name.clone(),
            unit: item.price,
            quantity,
            tax,
        };
        self.push(line)
    }

    /// Rings up a typed amount as a line of its own.
    pub fn add_amount(
        &mut self,
        amount: Money,
        label: Option<&str>,
        tax: AmountTax,
    ) -> Result<LineId, CartError> {
        let till = self.catalog.currency();
        if amount.currency != till {
            return Err(CartError::WrongCurrency {
                found: amount.currency.code(),
                till: till.code(),
            });
        }
        if amount.minor <= 0 {
            return Err(CartError::AmountNotPositive);
        }
        let name = match label.map(str::trim).filter(|l| !l.is_empty()) {
            Some(l) if l.chars().count() > MAX_LABEL_CHARS => return Err(CartError::LabelTooLong),
            // A receipt printer would take them for commands.
            Some(l) if l.chars().any(char::is_control) => return Err(CartError::BadLabel),
            Some(l) => l.to_owned(),
            None => AMOUNT_NAME.to_owned(),
        };
        let tax = match tax {
            AmountTax::Default => self.catalog.default_tax().cloned(),
            AmountTax::Untaxed => None,
            AmountTax::Rate(id) => Some(
                self.catalog
                    .tax(id.trim())
                    .cloned()
                    .ok_or(CartError::UnknownTax(id))?,
            ),
        };
        self.push(Line {
            id: LineId(0),
            sku: None,
            name,
            unit: amount,
            quantity: 1,
            tax,
        })
    }

    pub fn remove(&mut self, id: LineId) -> Result<Line, CartError> {
        let at = self.index(id)?;
        Ok(self.lines.remove(at))
    }

    /// Sets a line's quantity; 0 removes the line.
    pub fn set_quantity(&mut self, id: LineId, quantity: u32) -> Result<(), CartError> {
        let at = self.index(id)?;
        if quantity == 0 {
            self.lines.remove(at);
            return Ok(());
        }
        check_quantity(quantity)?;
        let mut line = self.lines[at].clone();
        line.quantity = quantity;
        line.amount()?;
        self.lines[at] = line;
        Ok(())
    }

    /// The totals with `tip` on top. Before the customer has chosen, pass [`Tip::None`]:
    /// its `before_tip` is what the tip buttons are computed on.
    pub fn totals(&self, tip: &Tip) -> Result<Totals, CartError> {
        totals::compute(&self.lines, &self.catalog, tip)
    }

    fn push(&mut self, mut line: Line) -> Result<LineId, CartError> {
        if self.lines.len() >= MAX_LINES {
            return Err(CartError::TooManyLines);
        }
        line.amount()?;
        let id = LineId(self.next_id);
        self.next_id = self.next_id.checked_add(1).ok_or(CartError::TooManyLines)?;
        line.id = id;
        self.lines.push(line);
        Ok(id)
    }

    fn index(&self, id: LineId) -> Result<usize, CartError> {
        self.lines
            .iter()
            .position(|l| l.id == id)
            .ok_or(CartError::NoSuchLine(id))
    }
}

fn check_quantity(quantity: u32) -> Result<(), CartError> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(())
    } else {
        Err(CartError::BadQuantity)
    }
}
