//! What a print did: the job and its outcome, as the print service publishes them through
//! the tracker's event stream ([`crate::tracker::TrackerEvent::Receipt`]) to the app and the
//! CLI. A leaf: the tracker carries these and the print service in [`crate::receipts`]
//! makes them, so both stand on this module and neither on the other.

use paydesk_receipt::Kind;
use serde::Serialize;

/// What a print job was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobView {
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// Printed on Paid by itself (not asked for).
    pub automatic: bool,
}

/// How a print went, for the cashier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PrintOutcome {
    Printed {
        /// The roll is nearly used up: say so before it runs out mid-receipt.
        paper_low: bool,
    },
    Failed {
        /// `unreachable`, `out_of_paper`, `stalled`, `no_printer`, … (see
        /// `ReceiptError::code` in `crate::receipts`).
        code: String,
        /// What to tell the cashier; the receipt can be printed again.
        message: String,
        /// Part of it may be on paper: a reprint is a second copy.
        partly_printed: bool,
    },
}

/// One print's outcome, as the tracker's event stream carries it
/// ([`crate::tracker::TrackerEvent::Receipt`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptEvent {
    pub job: JobView,
    pub outcome: PrintOutcome,
}
