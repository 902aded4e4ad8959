//! ESC/POS bytes back into what a printer would have printed.
//!
//! Reads exactly the commands `escpos.rs` writes (and `DLE EOT` status queries), decoding
//! text in the code page active at that point, and rebuilds the layout's [`Block`]s, so a
//! test compares what was printed with what was meant, and [`Decoded::text`] with
//! `Layout::text`. Anything else is an error: a byte the encoder should not have sent
//! fails the test that sent it.

use crate::codepage::CodePage;
use crate::escpos::{
    CUT_FULL, CUT_PARTIAL, DLE, EOT, ESC, GS, LF, QR, QR_CORRECTION, QR_MODEL, QR_MODULE, QR_PRINT,
    QR_STORE,
};
use crate::layout::{self, Align, Block, Line, Size};
use crate::Cut;

/// A run of text printed in one style on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub bold: bool,
    pub size: Size,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub blocks: Vec<Block>,
    /// Every styled run of text, in order.
    pub spans: Vec<Span>,
    /// Each code page selected with `ESC t`, in order.
    pub code_pages: Vec<CodePage>,
    /// `ESC @` came before anything was printed or styled (status queries aside).
    pub initialised: bool,
    pub cut: Option<Cut>,
    /// Lines fed with `ESC d` or by the cut.
    pub feeds: usize,
    /// `DLE EOT` real-time status queries in the stream.
    pub status_queries: usize,
}

impl Decoded {
    /// The text of every printed line (no alignment padding).
    pub fn lines(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Line(line) => Some(line.text.as_str()),
                Block::Qr(_) => None,
            })
            .collect()
    }

    /// The payloads of the QR codes printed.
    pub fn qr_codes(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Qr(payload) => Some(payload.as_str()),
                Block::Line(_) => None,
            })
            .collect()
    }

    /// The printed line holding `needle`, if any.
    pub fn line_with(&self, needle: &str) -> Option<&Line> {
        self.blocks.iter().find_map(|b| match b {
            Block::Line(line) if line.text.contains(needle) => Some(line),
            _ => None,
        })
    }

    /// As monospaced text on `columns`, the way `Layout::text` renders.
    pub fn text(&self, columns: usize) -> String {
        layout::plain_text(&self.blocks, columns)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected byte {byte:#04x} at {offset}")]
    Unexpected { offset: usize, byte: u8 },
    #[error("unknown command {command:02x?} at {offset}")]
    Unknown { offset: usize, command: Vec<u8> },
    #[error("the stream ends inside a command at {offset}")]
    Truncated { offset: usize },
}

struct State {
    page: CodePage,
    align: Align,
    bold: bool,
    size: Size,
    line: Option<Line>,
    qr: Vec<u8>,
}

impl State {
    fn reset(&mut self) {
        self.page = CodePage::Cp437;
        self.align = Align::Left;
        self.bold = false;
        self.size = Size::Normal;
    }

    fn style_line(&self) -> Line {
        Line {
            text: String::new(),
            align: self.align,
            bold: self.bold,
            size: self.size,
        }
    }
}

/// Decodes a whole job.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut out = Decoded::default();
    let mut st = State {
        page: CodePage::Cp437,
        align: Align::Left,
        bold: false,
        size: Size::Normal,
        line: None,
        qr: Vec::new(),
    };
    let mut i = 0;
    // Whether anything but a status query came before the current byte.
    let mut started = false;
    let arg = |at: usize| {
        bytes
            .get(at)
            .copied()
            .ok_or(DecodeError::Truncated { offset: at })
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b == ESC && bytes.get(i + 1) == Some(&b'@') {
            out.initialised |= !started;
        } else if b != DLE {
            started = true;
        }
        match b {
            LF => {
                let line = st.line.take().unwrap_or_else(|| st.style_line());
                out.blocks.push(Block::Line(line));
                i += 1;
            }
            ESC => {
                let command = arg(i + 1)?;
                let n = arg(i + 2);
                match command {
                    b'@' => {
                        st.reset();
                        i += 2;
                        continue;
                    }
                    b't' => {
                        let n = n?;
                        st.page = CodePage::from_escpos_number(n).ok_or_else(|| {
                            DecodeError::Unknown {
                                offset: i,
                                command: vec![ESC, b't', n],
                            }
                        })?;
                        out.code_pages.push(st.page);
                    }
                    b'a' => {
                        st.align = match n? {
                            0 | 48 => Align::Left,
                            1 | 49 => Align::Center,
                            2 | 50 => Align::Right,
                            other => return Err(unknown(i, &[ESC, b'a', other])),
                        }
                    }
                    b'E' => st.bold = n? & 1 == 1,
                    b'd' => {
                        flush(&mut out, &mut st);
                        out.feeds += usize::from(n?);
                    }
                    other => return Err(unknown(i, &[ESC, other])),
                }
                i += 3;
            }
            GS => match arg(i + 1)? {
                b'!' => {
                    st.size = match arg(i + 2)? {
                        0x00 => Size::Normal,
                        0x01 => Size::Tall,
                        0x11 => Size::Large,
                        other => return Err(unknown(i, &[GS, b'!', other])),
                    };
                    i += 3;
                }
                b'V' => {
                    flush(&mut out, &mut st);
                    let m = arg(i + 2)?;
                    let (cut, len) = match m {
                        0 | 48 => (Cut::Full, 3),
                        1 | 49 => (Cut::Partial, 3),
                        CUT_FULL => (Cut::Full, 4),
                        CUT_PARTIAL => (Cut::Partial, 4),
                        other => return Err(unknown(i, &[GS, b'V', other])),
                    };
                    if len == 4 {
                        out.feeds += usize::from(arg(i + 3)?);
                    }
                    out.cut = Some(cut);
                    i += len;
                }
                b'(' => {
                    if arg(i + 2)? != b'k' {
                        return Err(unknown(i, &bytes[i..i + 3]));
                    }
                    let len = usize::from(arg(i + 3)?) + 256 * usize::from(arg(i + 4)?);
                    let start = i + 5;
                    let body = bytes
                        .get(start..start + len)
                        .ok_or(DecodeError::Truncated { offset: i })?;
                    qr_function(&mut out, &mut st, i, body)?;
                    i = start + len;
                }
                other => return Err(unknown(i, &[GS, other])),
            },
            DLE => {
                if arg(i + 1)? != EOT {
                    return Err(unknown(i, &bytes[i..i + 2]));
                }
                let _n = arg(i + 2)?;
                out.status_queries += 1;
                i += 3;
            }
            0x20..=0x7E | 0x80..=0xFF => {
                let c = st.page.decode_byte(b);
                let first = st.line.is_none();
                let line = st.line.get_or_insert(Line {
                    text: String::new(),
                    align: st.align,
                    bold: st.bold,
                    size: st.size,
                });
                line.text.push(c);
                match out.spans.last_mut() {
                    Some(span) if !first && span.bold == st.bold && span.size == st.size => {
                        span.text.push(c)
                    }
                    _ => out.spans.push(Span {
                        text: c.to_string(),
                        bold: st.bold,
                        size: st.size,
                    }),
                }
                i += 1;
            }
            _ => return Err(DecodeError::Unexpected { offset: i, byte: b }),
        }
    }
    flush(&mut out, &mut st);
    Ok(out)
}

fn unknown(offset: usize, command: &[u8]) -> DecodeError {
    DecodeError::Unknown {
        offset,
        command: command.to_vec(),
    }
}

/// Text waiting without a line feed prints when the paper moves (feed, cut, end of job).
fn flush(out: &mut Decoded, st: &mut State) {
    if let Some(line) = st.line.take() {
        out.blocks.push(Block::Line(line));
    }
}

fn qr_function(
    out: &mut Decoded,
    st: &mut State,
    offset: usize,
    body: &[u8],
) -> Result<(), DecodeError> {
    match body {
        [QR, QR_MODEL, _, _] | [QR, QR_MODULE, _] | [QR, QR_CORRECTION, _] => Ok(()),
        [QR, QR_STORE, 48, data @ ..] => {
            st.qr = data.to_vec();
            Ok(())
        }
        [QR, QR_PRINT, 48] => {
            flush(out, st);
            out.blocks
                .push(Block::Qr(String::from_utf8_lossy(&st.qr).into_owned()));
            Ok(())
        }
        _ => {
            let mut command = vec![GS, b'(', b'k'];
            command.extend_from_slice(body.get(..2).unwrap_or(body));
            Err(unknown(offset, &command))
        }
    }
}
