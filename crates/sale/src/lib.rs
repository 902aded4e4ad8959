//! paydesk-sale: what a sale is before it becomes a payment.
//!
//! A cashier taps quick keys and types amounts into a [`Cart`]; the customer picks a
//! [`Tip`]; [`Cart::totals`] turns the lines into exact [`Totals`] (subtotal, tax per rate,
//! tip, total — `i128` minor units, rounding by a documented, configurable rule). From the
//! totals come the [`Receipt`] lines, the payment's [`Summary`] (its `description` and
//! `metadata`), and the amount to charge. The [`Catalog`] behind the quick keys is
//! read from the `[catalog]` section of the till's config or a provisioning file.
//!
//! Pure and synchronous: no I/O, no clock, no async. The till core, the app and the CLI all
//! ring up through here, so a receipt, a payment and a report can never disagree on a sum.
//! See `docs/sale.md` for the rules with worked examples.

pub mod cart;
pub mod catalog;
pub mod item_spec;
pub mod percent;
pub mod receipt;
pub mod rounding;
pub mod section;
pub mod summary;
pub mod tip;
pub mod totals;

pub use cart::{AmountTax, Cart, CartError, Line, LineId};
pub use catalog::{Catalog, CatalogError, Category, Issue, Item, Place, Problem, TaxKind, TaxRate};
pub use item_spec::{ItemSpec, ItemSpecError};
pub use percent::{Percent, PercentError};
pub use receipt::{Receipt, ReceiptLine, ReceiptTax};
pub use rounding::{RoundingMode, TaxRounding};
pub use section::CatalogSection;
pub use summary::{description, metadata, MetadataLimits, Summary, DESCRIPTION_MAX_CHARS};
pub use tip::{Tip, TipChoice, TipError, TipSettings};
pub use totals::{LineTotal, TaxTotal, Totals};
