//! paydesk-receipt: receipts on screen and on thermal printers.
//!
//! The flow, one way: a [`Receipt`] (what the slip says, built by the till from a payment,
//! a refund or a report; amounts only from `Money`) → a [`Layout`] for a paper width (the
//! one place lines are wrapped and aligned) → plain text for the screen
//! ([`Layout::text`]) or ESC/POS bytes ([`escpos::encode`], in a [`CodePage`] the printer
//! has) → a [`Transport`] chosen by the printer's address ([`Target`]: `tcp://`, a device
//! file, `serial://`, the OS queue) → the printer, within [`Timeouts`]. [`Printer`] ties
//! these together for the till; [`PrintError`] says what the cashier can do when it fails.
//!
//! Nothing here touches the payment: a receipt that does not print is printed again later.

mod amount;
pub mod codepage;
mod error;
pub mod escpos;
pub mod layout;
mod printer;
mod receipt;
pub mod target;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use amount::Amount;
pub use codepage::CodePage;
pub use error::PrintError;
pub use escpos::{Cut, PaperSensor};
pub use layout::{Align, Block, Layout, Line, Size};
pub use printer::{Paper, Printed, Printer, PrinterSettings, SettingsError, TEST_PAGE_QR};
pub use receipt::{
    Confirmation, Field, Item, Kind, Receipt, RefundSlip, Sale, Shop, TaxLine, Total,
};
pub use target::{FlowControl, Target, TargetError};
pub use transport::{Delivery, Timeouts, Transport};
