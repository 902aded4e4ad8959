//! A configured receipt printer: settings in, receipts out, within a deadline.
//!
//! The till holds one [`Printer`] built from its `[printer]` settings and calls
//! [`Printer::print`] off the payment's path (on Paid when printing is automatic, on a tap,
//! on a reprint from history). A print never takes longer than [`Timeouts::total`] plus
//! the wait for a previous print to the same printer, which is bounded the same way; it
//! fails with a [`PrintError`] to show the cashier, and the receipt can be printed again.

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::{timeout, Instant};

use crate::codepage::CodePage;
use crate::error::PrintError;
use crate::escpos::{self, Cut, PaperSensor};
use crate::layout::{Layout, COLUMNS_58MM, COLUMNS_80MM, MIN_COLUMNS};
use crate::receipt::{Field, Receipt, Shop};

/// What the test page's QR code says (a phone's camera shows it).
pub const TEST_PAGE_QR: &str = "PayDesk printer test";
use crate::target::{Target, TargetError};
use crate::transport::{self, Timeouts, Transport};

/// Roll width. Font A prints 32 characters on 58 mm paper and 48 on 80 mm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Paper {
    #[serde(rename = "58mm")]
    Mm58,
    #[default]
    #[serde(rename = "80mm")]
    Mm80,
}

impl Paper {
    pub fn columns(self) -> usize {
        match self {
            Paper::Mm58 => COLUMNS_58MM,
            Paper::Mm80 => COLUMNS_80MM,
        }
    }

    /// QR module size in dots: the payment id's code about 2.5 cm wide on either roll.
    fn qr_module(self) -> u8 {
        match self {
            Paper::Mm58 => 6,
            Paper::Mm80 => 8,
        }
    }
}

/// The `[printer]` section of the till's settings.
///
/// ```toml
/// [printer]
/// url = "tcp://192.168.1.50:9100"
/// paper = "80mm"        # or "58mm"
/// code_page = "cp858"   # or "wpc1252", "cp437"
/// cut = "partial"       # or "full", "none"
/// # columns = 42        # only for printers set to another font width
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterSettings {
    pub url: String,
    #[serde(default)]
    pub paper: Paper,
    #[serde(default)]
    pub code_page: CodePage,
    #[serde(default)]
    pub cut: Cut,
    /// Characters per line when the printer is not at its paper's Font A default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<usize>,
}

impl PrinterSettings {
    pub fn new(url: impl Into<String>) -> PrinterSettings {
        PrinterSettings {
            url: url.into(),
            paper: Paper::default(),
            code_page: CodePage::default(),
            cut: Cut::default(),
            columns: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{0} characters per line is not a receipt width: use {MIN_COLUMNS} to 64")]
    Columns(usize),
}

/// What a print achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Printed {
    pub bytes: usize,
    /// The paper sensor, from printers that answer the status query.
    pub paper: Option<PaperSensor>,
}

impl Printed {
    /// Worth telling the cashier: the roll is nearly used up.
    pub fn paper_low(&self) -> bool {
        self.paper == Some(PaperSensor::NearEnd)
    }
}

#[derive(Debug)]
pub struct Printer {
    target: Target,
    transport: Box<dyn Transport>,
    columns: usize,
    options: escpos::Options,
    timeouts: Timeouts,
    /// One job at a time: a printer takes one connection, and receipts must not interleave.
    turn: Mutex<()>,
}

impl Printer {
    pub fn new(settings: &PrinterSettings) -> Result<Printer, SettingsError> {
        let target: Target = settings.url.parse()?;
        let columns = match settings.columns {
            Some(c) if !(MIN_COLUMNS..=64).contains(&c) => return Err(SettingsError::Columns(c)),
            Some(c) => c,
            None => settings.paper.columns(),
        };
        Ok(Printer {
            transport: transport::for_target(&target),
            target,
            columns,
            options: escpos::Options {
                code_page: settings.code_page,
                cut: settings.cut,
                qr_module: settings.paper.qr_module(),
            },
            timeouts: Timeouts::default(),
            turn: Mutex::new(()),
        })
    }

    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Printer {
        self.timeouts = timeouts;
        self
    }

    /// Replaces the transport the address chose (another `lp`, say).
    pub fn with_transport(mut self, transport: Box<dyn Transport>) -> Printer {
        self.transport = transport;
        self
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The page an installer prints to check a printer: its address, width, code page and
    /// cut; a ruler exactly one line wide (it wraps if the width setting is too wide);
    /// the currency signs (they print as EUR/GBP/JPY if the code page is wrong for them,
    /// garbage only if the printer ignores `ESC t`); a QR code; and the cut.
    pub fn test_page(&self, shop: &Shop) -> Receipt {
        let mut page = Receipt::report(shop, "PRINTER TEST");
        page.fields = vec![
            Field::new("Printer", self.target.to_string()),
            Field::new("Width", format!("{} characters", self.columns)),
            Field::new("Code page", self.options.code_page.name()),
            Field::new(
                "Cut",
                match self.options.cut {
                    Cut::Partial => "partial",
                    Cut::Full => "full",
                    Cut::None => "none",
                },
            ),
        ];
        let ruler: String = (1..=self.columns)
            .map(|i| char::from(b'0' + u8::try_from(i % 10).unwrap_or(0)))
            .collect();
        page.footer = vec![
            ruler,
            "€ £ ¥ - Ä Ö Ü ß é ñ".to_owned(),
            TEST_PAGE_QR.to_owned(),
        ];
        page.qr = Some(TEST_PAGE_QR.to_owned());
        page
    }

    /// The receipt as this printer will print it (text reduced to its code page).
    pub fn layout(&self, receipt: &Receipt) -> Layout {
        Layout::new(receipt, self.columns, Some(self.options.code_page))
    }

    /// The ESC/POS job for `receipt`.
    pub fn encode(&self, receipt: &Receipt) -> Vec<u8> {
        escpos::encode(&self.layout(receipt), &self.options)
    }

    pub async fn print(&self, receipt: &Receipt) -> Result<Printed, PrintError> {
        self.send(&self.encode(receipt)).await
    }

    /// Sends a ready job (a reprint of stored bytes, a test page).
    pub async fn send(&self, job: &[u8]) -> Result<Printed, PrintError> {
        let printer = self.target.describe();
        let started = Instant::now();
        let budget = self.timeouts.total();
        let result = match timeout(budget, self.turn.lock()).await {
            Err(_) => Err(PrintError::Busy {
                printer: printer.clone(),
            }),
            Ok(_turn) => {
                // The transport keeps its own deadlines; this one is the promise to the
                // caller, whatever a transport does.
                match timeout(budget, self.transport.send(job, self.timeouts)).await {
                    Ok(result) => result,
                    Err(_) => Err(PrintError::TimedOut {
                        printer: printer.clone(),
                    }),
                }
            }
        };
        let elapsed_ms = started.elapsed().as_millis();
        match &result {
            Ok(delivery) => {
                tracing::info!(%printer, bytes = job.len(), elapsed_ms, paper = ?delivery.paper, "receipt printed");
            }
            Err(e) => {
                tracing::warn!(%printer, bytes = job.len(), elapsed_ms, code = e.code(), error = %e, "receipt not printed");
            }
        }
        result.map(|delivery| Printed {
            bytes: job.len(),
            paper: delivery.paper,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_from_the_tills_toml() {
        let settings: PrinterSettings = toml::from_str(
            r#"
            url = "tcp://10.0.0.5"
            paper = "58mm"
            code_page = "wpc1252"
            cut = "full"
            "#,
        )
        .unwrap();
        let printer = Printer::new(&settings).unwrap();
        assert_eq!(printer.columns(), 32);
        assert_eq!(printer.options.code_page, CodePage::Wpc1252);
        assert_eq!(printer.options.cut, Cut::Full);

        let defaults: PrinterSettings = toml::from_str(r#"url = "/dev/usb/lp0""#).unwrap();
        let printer = Printer::new(&defaults).unwrap();
        assert_eq!(printer.columns(), 48);
        assert_eq!(printer.options.code_page, CodePage::Cp858);
        assert_eq!(printer.options.cut, Cut::Partial);

        let typo = toml::from_str::<PrinterSettings>("url = \"lp://\"\ncodepage = \"cp437\"");
        assert!(typo.is_err());
    }

    #[test]
    fn odd_widths_are_refused() {
        let mut settings = PrinterSettings::new("tcp://10.0.0.5");
        settings.columns = Some(3);
        assert_eq!(
            Printer::new(&settings).unwrap_err(),
            SettingsError::Columns(3)
        );
        settings.columns = Some(42);
        assert_eq!(Printer::new(&settings).unwrap().columns(), 42);
    }
}
