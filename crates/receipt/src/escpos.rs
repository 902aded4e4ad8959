//! ESC/POS: a [`Layout`] as the bytes a thermal printer prints, and the status byte it
//! answers with.
//!
//! Written here rather than taken from the `escpos` crate (evaluated at 0.20.1): it needs
//! Rust 1.88 where the workspace promises 1.85, builds its commands only through its own
//! blocking drivers (we need async writes with deadlines on four transports), and reports
//! a character its code page lacks as an error or an HTML entity where a receipt wants
//! "EUR". The subset a receipt needs is a dozen commands, listed below; the test decoder
//! (`testing::decode`) reads exactly these back.
//!
//! | Bytes | Command |
//! | --- | --- |
//! | `ESC @` | initialise (styles off, code page back to the printer's default) |
//! | `ESC t n` | code page: 0 = PC437, 16 = WPC1252, 19 = PC858 |
//! | `ESC a n` | alignment: 0 left, 1 centre, 2 right |
//! | `ESC E n` | bold on (1) or off (0) |
//! | `GS ! n` | character size: 0x00 normal, 0x01 double height, 0x11 double width and height |
//! | `LF` | print the line |
//! | `GS ( k` | QR code, model 2: model, module size, error correction M, store, print |
//! | `ESC d n` | print and feed n lines |
//! | `GS V 65/66 n` | feed to the cutter and cut, full (65) or partial (66) |
//! | `DLE EOT 4` | real-time status: roll paper sensor (sent by the TCP transport) |

use serde::{Deserialize, Serialize};

use crate::codepage::CodePage;
use crate::layout::{Align, Block, Layout, Size};

pub(crate) const ESC: u8 = 0x1B;
pub(crate) const GS: u8 = 0x1D;
pub(crate) const DLE: u8 = 0x10;
pub(crate) const EOT: u8 = 0x04;
pub(crate) const LF: u8 = 0x0A;

/// `cn` of `GS ( k` for QR codes, and its functions.
pub(crate) const QR: u8 = 49;
pub(crate) const QR_MODEL: u8 = 65;
pub(crate) const QR_MODULE: u8 = 67;
pub(crate) const QR_CORRECTION: u8 = 69;
pub(crate) const QR_STORE: u8 = 80;
pub(crate) const QR_PRINT: u8 = 81;
/// QR model 2 (every current printer) and error correction level M.
const QR_MODEL_2: u8 = 50;
const QR_LEVEL_M: u8 = 49;
/// Longest payload stored in one `GS ( k` (its length field is 16-bit; printers cap lower).
pub const QR_MAX_BYTES: usize = 700;

pub(crate) const CUT_FULL: u8 = 65;
pub(crate) const CUT_PARTIAL: u8 = 66;

/// `DLE EOT 4`: transmit the roll paper sensor status.
pub const PAPER_STATUS_QUERY: [u8; 3] = [DLE, EOT, 4];

/// How the job ends. Printers without a cutter ignore the cut and just feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// Leaves a small tab holding the receipt (the usual choice).
    #[default]
    Partial,
    Full,
    /// Feed only; the cashier tears the paper off.
    None,
}

/// How the layout is turned into bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub code_page: CodePage,
    pub cut: Cut,
    /// QR module size in dots (1–16): 6 suits 58 mm paper, 8 suits 80 mm.
    pub qr_module: u8,
}

/// The whole job: initialise, select the code page, every line with its alignment and
/// style, the QR code, feed and cut. Styles are set only when they change.
pub fn encode(layout: &Layout, options: &Options) -> Vec<u8> {
    let page = options.code_page;
    let mut out = Vec::with_capacity(layout.columns() * layout.blocks().len() + 64);
    out.extend_from_slice(&[ESC, b'@', ESC, b't', page.escpos_number()]);
    let mut style = Style::default();
    for block in layout.blocks() {
        match block {
            Block::Line(line) => {
                style.set(&mut out, line.align, line.bold, line.size);
                out.extend(page.encode(&line.text));
                out.push(LF);
            }
            Block::Qr(payload) if payload.len() <= QR_MAX_BYTES => {
                style.set(&mut out, Align::Center, false, Size::Normal);
                qr(&mut out, payload.as_bytes(), options.qr_module.clamp(1, 16));
            }
            Block::Qr(payload) => {
                tracing::warn!(bytes = payload.len(), "QR payload too long; not printed");
            }
        }
    }
    style.set(&mut out, Align::Left, false, Size::Normal);
    match options.cut {
        Cut::None => out.extend_from_slice(&[ESC, b'd', 4]),
        Cut::Partial => out.extend_from_slice(&[GS, b'V', CUT_PARTIAL, 3]),
        Cut::Full => out.extend_from_slice(&[GS, b'V', CUT_FULL, 3]),
    }
    out
}

/// The printer's state after `ESC @`.
struct Style {
    align: Align,
    bold: bool,
    size: Size,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            align: Align::Left,
            bold: false,
            size: Size::Normal,
        }
    }
}

impl Style {
    fn set(&mut self, out: &mut Vec<u8>, align: Align, bold: bool, size: Size) {
        if align != self.align {
            out.extend_from_slice(&[ESC, b'a', align_byte(align)]);
        }
        if bold != self.bold {
            out.extend_from_slice(&[ESC, b'E', u8::from(bold)]);
        }
        if size != self.size {
            out.extend_from_slice(&[GS, b'!', size_byte(size)]);
        }
        *self = Style { align, bold, size };
    }
}

pub(crate) fn align_byte(align: Align) -> u8 {
    match align {
        Align::Left => 0,
        Align::Center => 1,
        Align::Right => 2,
    }
}

pub(crate) fn size_byte(size: Size) -> u8 {
    match size {
        Size::Normal => 0x00,
        Size::Tall => 0x01,
        Size::Large => 0x11,
    }
}

fn qr(out: &mut Vec<u8>, data: &[u8], module: u8) {
    let function = |out: &mut Vec<u8>, body: &[u8]| {
        // pL pH count cn, fn and the parameters; `body` is at most QR_MAX_BYTES + 3.
        let len = u16::try_from(body.len() + 1)
            .unwrap_or(u16::MAX)
            .to_le_bytes();
        out.extend_from_slice(&[GS, b'(', b'k', len[0], len[1], QR]);
        out.extend_from_slice(body);
    };
    function(out, &[QR_MODEL, QR_MODEL_2, 0]);
    function(out, &[QR_MODULE, module]);
    function(out, &[QR_CORRECTION, QR_LEVEL_M]);
    let mut store = vec![QR_STORE, 48];
    store.extend_from_slice(data);
    function(out, &store);
    function(out, &[QR_PRINT, 48]);
}

/// The roll paper sensor, from the byte a printer answers `DLE EOT 4` with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaperSensor {
    Present,
    NearEnd,
    Out,
}

impl PaperSensor {
    /// `None` if `byte` is not shaped like a status byte (bits 1 and 4 set, 0 and 7 clear).
    pub fn from_status(byte: u8) -> Option<PaperSensor> {
        if byte & 0b1001_0011 != 0b0001_0010 {
            return None;
        }
        Some(if byte & 0b0110_0000 != 0 {
            PaperSensor::Out
        } else if byte & 0b0000_1100 != 0 {
            PaperSensor::NearEnd
        } else {
            PaperSensor::Present
        })
    }

    /// The byte a printer in this state answers (for the fake printer).
    pub fn status_byte(self) -> u8 {
        match self {
            PaperSensor::Present => 0x12,
            PaperSensor::NearEnd => 0x12 | 0x0C,
            PaperSensor::Out => 0x12 | 0x0C | 0x60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes_decode_both_ways() {
        for paper in [PaperSensor::Present, PaperSensor::NearEnd, PaperSensor::Out] {
            assert_eq!(PaperSensor::from_status(paper.status_byte()), Some(paper));
        }
        assert_eq!(PaperSensor::from_status(0x00), None);
        assert_eq!(PaperSensor::from_status(0xFF), None);
        // Paper end without the near-end bits still means out.
        assert_eq!(PaperSensor::from_status(0x72), Some(PaperSensor::Out));
    }

    #[test]
    fn a_qr_code_is_stored_with_its_length_then_printed() {
        let mut out = Vec::new();
        qr(&mut out, b"pay_1", 6);
        let store = [
            GS, b'(', b'k', 8, 0, QR, QR_STORE, 48, b'p', b'a', b'y', b'_', b'1',
        ];
        assert!(out.windows(store.len()).any(|w| w == store));
        assert!(out.ends_with(&[GS, b'(', b'k', 3, 0, QR, QR_PRINT, 48]));
    }
}
