//! What the cashier's window renders of a sale: the quick-key grid of the catalog and the
//! cart with its totals. Serializable, amounts as printed (`Money`'s `Display`) beside the
//! exact minor units, so the app draws them without arithmetic of its own.

use paydesk_protocol::Money;
use serde::Serialize;

use super::{Cart, CartError, Catalog, LineId, Receipt, Tip};

/// The catalog as the grid of quick keys beside the keypad.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuickKeysView {
    pub currency: String,
    pub categories: Vec<CategoryView>,
    /// In quick-key order (by position, then file order).
    pub keys: Vec<QuickKey>,
    /// Whether the customer display asks for a tip before the payment.
    pub ask_customer_for_tip: bool,
    /// The tip buttons the customer display offers ("10%", "15%", "20%").
    pub tip_presets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CategoryView {
    pub id: String,
    pub name: String,
    pub colour: Option<String>,
}

/// One quick key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuickKey {
    pub sku: String,
    pub name: String,
    /// "3.50 EUR".
    pub price: String,
    pub price_minor: i128,
    pub category: Option<String>,
    /// The key's colour, else its category's.
    pub colour: Option<String>,
    /// The tax rate's label ("VAT 20%"); `None`: untaxed.
    pub tax: Option<String>,
}

impl QuickKeysView {
    pub fn of(catalog: &Catalog) -> QuickKeysView {
        let category_colour = |id: &Option<String>| {
            id.as_deref().and_then(|id| {
                catalog
                    .categories()
                    .iter()
                    .find(|c| c.id == id)
                    .and_then(|c| c.colour.clone())
            })
        };
        QuickKeysView {
            currency: catalog.currency().code().to_owned(),
            categories: catalog
                .categories()
                .iter()
                .map(|c| CategoryView {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    colour: c.colour.clone(),
                })
                .collect(),
            keys: catalog
                .quick_keys()
                .into_iter()
                .map(|i| QuickKey {
                    sku: i.sku.clone(),
                    name: i.name.clone(),
                    price: i.price.to_string(),
                    price_minor: i.price.minor,
                    category: i.category.clone(),
                    colour: i.colour.clone().or_else(|| category_colour(&i.category)),
                    tax: i
                        .tax
                        .as_deref()
                        .and_then(|id| catalog.tax(id))
                        .map(|t| t.label.clone()),
                })
                .collect(),
            ask_customer_for_tip: catalog.tips().ask_customer,
            tip_presets: catalog
                .tips()
                .presets
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

/// The cart as the cashier's window shows it, before any tip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CartView {
    pub lines: Vec<CartLine>,
    /// Subtotal, tax per rate and total, as printed.
    pub receipt: Receipt,
    /// What the payment would be without a tip.
    pub total: Money,
    /// False for an empty cart (or one that totals zero): nothing to charge.
    pub can_charge: bool,
}

/// One line, with the handle the UI removes it or changes its quantity by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CartLine {
    pub id: LineId,
    /// `None`: a typed amount.
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    pub unit: String,
    pub amount: String,
    pub tax: Option<String>,
}

impl CartView {
    pub fn of(cart: &Cart) -> Result<CartView, CartError> {
        let totals = cart.totals(&Tip::None)?;
        let receipt = Receipt::from_totals(&totals);
        let lines = totals
            .lines
            .iter()
            .zip(&receipt.lines)
            .map(|(l, printed)| CartLine {
                id: l.id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit: l.unit.to_string(),
                amount: printed.amount.clone(),
                tax: printed.tax.clone(),
            })
            .collect();
        Ok(CartView {
            lines,
            can_charge: totals.charge_amount().is_ok(),
            total: totals.total,
            receipt,
        })
    }
}
