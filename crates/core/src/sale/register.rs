//! The cashier's register: the cart being rung up, held in the core so the app's windows
//! stay thin (each command edits it and gets the new [`CartView`] back), and the
//! [`TipDesk`] through which the customer chooses the tip before the payment.
//!
//! A cart is opened on the catalog the till runs with when the sale starts, and keeps it:
//! a catalog edited in Settings applies from the next sale, never to the one in progress.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use paydesk_protocol::Money;

use super::tips::{CashierTipView, PromptId, TipDesk, TipFlowError};
use super::view::CartView;
use super::{AmountTax, Cart, CartError, Catalog, LineId};

/// One till's cart and tip desk.
#[derive(Debug, Default)]
pub struct Register {
    cart: Mutex<Option<Cart>>,
    tips: TipDesk,
}

impl Register {
    pub fn new() -> Register {
        Register::default()
    }

    pub fn tips(&self) -> &TipDesk {
        &self.tips
    }

    fn lock(&self) -> MutexGuard<'_, Option<Cart>> {
        // Cart operations change nothing when they fail, so a poisoned cart is whole.
        self.cart.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the cart with `f` (opened on `catalog` if no sale is in progress) and shows it.
    pub fn edit(
        &self,
        catalog: &Arc<Catalog>,
        f: impl FnOnce(&mut Cart) -> Result<(), CartError>,
    ) -> Result<CartView, CartError> {
        let mut slot = self.lock();
        let cart = match slot.take() {
            Some(cart) if !cart.is_empty() => cart,
            _ => Cart::new(Arc::clone(catalog)),
        };
        let cart = slot.insert(cart);
        f(cart)?;
        CartView::of(cart)
    }

    /// The cart as it is (empty, on `catalog`, when no sale is in progress).
    pub fn view(&self, catalog: &Arc<Catalog>) -> Result<CartView, CartError> {
        self.edit(catalog, |_| Ok(()))
    }

    /// A quick key: `quantity` of the item (a second tap adds to its line).
    pub fn add_item(
        &self,
        catalog: &Arc<Catalog>,
        sku: &str,
        quantity: u32,
    ) -> Result<CartView, CartError> {
        self.edit(catalog, |c| c.add_item(sku, quantity).map(drop))
    }

    /// A typed amount, as a line of its own.
    pub fn add_amount(
        &self,
        catalog: &Arc<Catalog>,
        amount: Money,
        label: Option<&str>,
        tax: AmountTax,
    ) -> Result<CartView, CartError> {
        self.edit(catalog, |c| c.add_amount(amount, label, tax).map(drop))
    }

    pub fn remove(&self, catalog: &Arc<Catalog>, line: LineId) -> Result<CartView, CartError> {
        self.edit(catalog, |c| c.remove(line).map(drop))
    }

    /// 0 removes the line.
    pub fn set_quantity(
        &self,
        catalog: &Arc<Catalog>,
        line: LineId,
        quantity: u32,
    ) -> Result<CartView, CartError> {
        self.edit(catalog, |c| c.set_quantity(line, quantity))
    }

    /// Empties the cart and withdraws a tip prompt still open.
    pub fn clear(&self) {
        *self.lock() = None;
        self.tips.reset();
    }

    /// Totals the cart and asks the customer for the tip (see [`TipDesk::propose`]).
    pub fn propose_tip(&self, timeout: Duration) -> Result<CashierTipView, TipFlowError> {
        let slot = self.lock();
        let cart = slot.as_ref().ok_or(CartError::NothingToCharge)?;
        self.tips.propose(cart, timeout)
    }

    /// The payment of prompt `id` was created: the tip desk closes and the cart empties.
    pub fn sold(&self, id: PromptId) {
        self.tips.close(id);
        *self.lock() = None;
    }
}
