//! Why a receipt did not print, in words a cashier can act on.
//!
//! Every transport maps what went wrong to one of these; the message names the printer and
//! says what to check. Nothing here is fatal to a sale: the receipt stays with the payment
//! and can be printed again.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("{printer} does not answer — check it is on and connected")]
    Unreachable { printer: String },
    #[error(
        "{printer} stopped taking the receipt — check the paper and the cover, then print it again"
    )]
    Stalled {
        printer: String,
        /// Bytes the printer (or the operating system on its behalf) had taken.
        sent: usize,
        total: usize,
    },
    #[error("{printer} dropped the connection mid-receipt — print it again")]
    ConnectionLost { printer: String },
    #[error("{printer} is out of paper — load a new roll, then print the receipt again")]
    OutOfPaper {
        printer: String,
        /// The paper ran out while this receipt printed (part of it may be on paper).
        mid_receipt: bool,
    },
    #[error("{printer} reports an error — check the paper, the cover and the error light")]
    PrinterFault { printer: String },
    #[error("{printer} is not connected — check the cable and that it is switched on")]
    NotConnected { printer: String },
    #[error("{printer} is in use by another program — close it, then print again")]
    DeviceBusy { printer: String },
    #[error("PayDesk may not write to the printer ({printer}) — {hint}")]
    PermissionDenied { printer: String, hint: &'static str },
    #[error("{printer} is not a serial port — check the address in the printer settings")]
    NotSerial { printer: String },
    #[error("the `lp` command is not installed — install CUPS (the cups-client package) or print to a tcp:// printer")]
    SpoolerMissing,
    #[error("{printer} refused the receipt: {message}")]
    SpoolerRefused { printer: String, message: String },
    #[error("{printer} did not take the receipt in time — check the printer, then print again")]
    TimedOut { printer: String },
    #[error("{printer} is still busy with the previous receipt — print again in a moment")]
    Busy { printer: String },
    #[error("{printer}: {what} is not available on this system")]
    Unsupported { printer: String, what: &'static str },
    #[error("{printer} could not be used: {source}")]
    Io {
        printer: String,
        #[source]
        source: io::Error,
    },
}

impl PrintError {
    /// A stable name for the UI and logs ("unreachable", "out_of_paper"...).
    pub fn code(&self) -> &'static str {
        match self {
            PrintError::Unreachable { .. } => "unreachable",
            PrintError::Stalled { .. } => "stalled",
            PrintError::ConnectionLost { .. } => "connection_lost",
            PrintError::OutOfPaper { .. } => "out_of_paper",
            PrintError::PrinterFault { .. } => "printer_fault",
            PrintError::NotConnected { .. } => "not_connected",
            PrintError::DeviceBusy { .. } => "device_busy",
            PrintError::PermissionDenied { .. } => "permission_denied",
            PrintError::NotSerial { .. } => "not_serial",
            PrintError::SpoolerMissing => "spooler_missing",
            PrintError::SpoolerRefused { .. } => "spooler_refused",
            PrintError::TimedOut { .. } => "timed_out",
            PrintError::Busy { .. } => "busy",
            PrintError::Unsupported { .. } => "unsupported",
            PrintError::Io { .. } => "io",
        }
    }

    /// Whether part of the receipt may have printed (so the reprint is a second copy).
    pub fn maybe_partly_printed(&self) -> bool {
        matches!(
            self,
            PrintError::Stalled { .. }
                | PrintError::ConnectionLost { .. }
                | PrintError::OutOfPaper {
                    mid_receipt: true,
                    ..
                }
                | PrintError::TimedOut { .. }
        )
    }
}
