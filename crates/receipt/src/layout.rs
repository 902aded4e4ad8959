//! A receipt arranged for a paper width: the lines both the screen and the printer draw.
//!
//! Receipt (`receipt.rs`) → [`Layout`] → plain text for the screen ([`Layout::text`]) or
//! ESC/POS bytes (`escpos.rs`). Every decision about where text goes — wrapping, a label
//! and its value on one line, what is centred, what prints tall — is made here once, on
//! text already reduced to what the code page can print, so a column on screen is a column
//! on paper. The test decoder rebuilds [`Block`]s from printed bytes and renders them with
//! the same [`plain_text`], so "what was printed" and "what was meant" compare as equals.

use serde::Serialize;

use crate::codepage::{self, CodePage};
use crate::receipt::Receipt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    Left,
    Center,
    Right,
}

/// Character size. Double width halves the characters a line holds, so only short centred
/// titles use it; the total is double height only and keeps the full width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    Normal,
    /// Double height.
    Tall,
    /// Double width and height.
    Large,
}

impl Size {
    pub fn width_factor(self) -> usize {
        match self {
            Size::Normal | Size::Tall => 1,
            Size::Large => 2,
        }
    }
}

/// One printed line: the text holds no trailing spaces and fits the line at its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    pub text: String,
    pub align: Align,
    pub bold: bool,
    pub size: Size,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Line(Line),
    /// A QR code of this payload, centred.
    Qr(String),
}

/// Font A columns on the common paper widths.
pub const COLUMNS_58MM: usize = 32;
pub const COLUMNS_80MM: usize = 48;
/// Narrower than this and a label and its amount cannot share a line.
pub const MIN_COLUMNS: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layout {
    columns: usize,
    blocks: Vec<Block>,
}

impl Layout {
    /// Lays `receipt` out on `columns` characters. With a code page, text is first reduced
    /// to what that page prints (the printer's layout); without one it stays Unicode (the
    /// screen's).
    pub fn new(receipt: &Receipt, columns: usize, code_page: Option<CodePage>) -> Layout {
        let mut out = Builder {
            columns: columns.max(MIN_COLUMNS),
            code_page,
            blocks: Vec::new(),
        };
        out.receipt(receipt);
        Layout {
            columns: out.columns,
            blocks: out.blocks,
        }
    }

    pub fn columns(&self) -> usize {
        self.columns
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The receipt as monospaced text, one line per printed line (the QR code is left to
    /// the caller, which has it in `Receipt::qr`).
    pub fn text(&self) -> String {
        plain_text(&self.blocks, self.columns)
    }
}

/// Renders lines as monospaced text: centred and right-aligned lines padded with spaces
/// (a double-width line is centred on its characters, as it looks in a monospaced font).
pub fn plain_text(blocks: &[Block], columns: usize) -> String {
    let mut out = String::new();
    for block in blocks {
        if let Block::Line(line) = block {
            let free = columns.saturating_sub(line.text.chars().count());
            let pad = match line.align {
                Align::Left => 0,
                Align::Center => free / 2,
                Align::Right => free,
            };
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&line.text);
            out.push('\n');
        }
    }
    out
}

struct Builder {
    columns: usize,
    code_page: Option<CodePage>,
    blocks: Vec<Block>,
}

impl Builder {
    fn receipt(&mut self, r: &Receipt) {
        let mut header = r.header.iter().filter(|h| !h.trim().is_empty());
        if let Some(name) = header.next() {
            self.text(name, Align::Center, true, Size::Normal);
        }
        for line in header {
            self.text(line, Align::Center, false, Size::Normal);
        }
        if !r.title.trim().is_empty() {
            self.blank();
            let title = self.clean(&r.title);
            if title.chars().count() <= self.columns / 2 {
                self.text(&title, Align::Center, false, Size::Large);
            } else {
                self.text(&title, Align::Center, true, Size::Normal);
            }
        }
        self.blank();
        for field in &r.fields {
            self.pair(&field.label, &field.value, false, Size::Normal);
        }
        if !r.items.is_empty() {
            self.rule();
            for item in &r.items {
                let total = match &item.tax {
                    Some(tax) => format!("{} {tax}", item.total),
                    None => item.total.to_string(),
                };
                self.pair(&item.description, &total, false, Size::Normal);
                if item.quantity.trim() != "1" {
                    let each = format!("{} x {}", item.quantity.trim(), item.unit_price);
                    self.indented(&each, 2);
                }
            }
        }
        if !r.totals.is_empty() || !r.taxes.is_empty() {
            self.rule();
        }
        for total in &r.totals {
            let size = if total.emphasis {
                Size::Tall
            } else {
                Size::Normal
            };
            self.pair(&total.label, total.value.as_str(), total.emphasis, size);
        }
        for tax in &r.taxes {
            let label = format!("{} on {}", tax.label, tax.base);
            self.pair(&label, tax.tax.as_str(), false, Size::Normal);
        }
        if !r.footer.is_empty() || r.qr.is_some() {
            self.rule();
        }
        for line in &r.footer {
            self.text(line, Align::Center, false, Size::Normal);
        }
        if let Some(payload) = r.qr.as_ref().filter(|p| !p.is_empty()) {
            self.blocks.push(Block::Qr(payload.clone()));
        }
    }

    fn clean(&self, text: &str) -> String {
        match self.code_page {
            Some(page) => page.printable(text),
            None => codepage::screen_text(text),
        }
    }

    fn push(&mut self, text: String, align: Align, bold: bool, size: Size) {
        self.blocks.push(Block::Line(Line {
            text: text.trim_end().to_owned(),
            align,
            bold,
            size,
        }));
    }

    fn blank(&mut self) {
        self.push(String::new(), Align::Left, false, Size::Normal);
    }

    fn rule(&mut self) {
        self.push("-".repeat(self.columns), Align::Left, false, Size::Normal);
    }

    /// Text wrapped at word boundaries to the line's capacity at this size.
    fn text(&mut self, text: &str, align: Align, bold: bool, size: Size) {
        let capacity = self.columns / size.width_factor();
        for line in wrap(&self.clean(text), capacity) {
            self.push(line, align, bold, size);
        }
    }

    /// Text wrapped and set in by `indent` spaces (an item's quantity under its name).
    fn indented(&mut self, text: &str, indent: usize) {
        let capacity = self.columns.saturating_sub(indent);
        for line in wrap(&self.clean(text), capacity) {
            let line = format!("{}{line}", " ".repeat(indent));
            self.push(line, Align::Left, false, Size::Normal);
        }
    }

    /// A label on the left and its value on the right of the same line; when both do not
    /// fit, the label wraps and the value goes right-aligned under it.
    fn pair(&mut self, label: &str, value: &str, bold: bool, size: Size) {
        let capacity = self.columns / size.width_factor();
        let label = self.clean(label);
        let value = self.clean(value).trim().to_owned();
        let value_len = value.chars().count();
        let mut lines = wrap(&label, capacity);
        let last = lines.pop().unwrap_or_default();
        for line in lines {
            self.push(line, Align::Left, bold, size);
        }
        let last_len = last.chars().count();
        if last_len + 1 + value_len <= capacity {
            let gap = capacity - last_len - value_len;
            let line = format!("{last}{}{value}", " ".repeat(gap));
            self.push(line, Align::Left, bold, size);
        } else {
            if !last.is_empty() {
                self.push(last, Align::Left, bold, size);
            }
            for chunk in wrap(&value, capacity) {
                self.push(chunk, Align::Right, bold, size);
            }
        }
    }
}

/// Greedy word wrap on characters; a word longer than a line is cut. Never empty.
fn wrap(text: &str, capacity: usize) -> Vec<String> {
    let capacity = capacity.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        if len > 0 && len + 1 + word.len() > capacity {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        // Only a word alone on a line can be longer than the line: cut it.
        while word.len() > capacity {
            let rest = word.split_off(capacity);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        if word.is_empty() {
            continue;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.extend(word.iter());
        len += word.len();
    }
    if len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_words_and_cuts_long_ones() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("x abcdefgh", 4), ["x", "abcd", "efgh"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("  spaced   out ", 20), ["spaced out"]);
    }

    #[test]
    fn no_wrapped_line_is_longer_than_its_capacity() {
        let text = "Pay 123456789012345678901234567890 to the order of Café Müller, Berlin";
        for capacity in 1..40 {
            for line in wrap(text, capacity) {
                assert!(line.chars().count() <= capacity, "{capacity}: {line}");
            }
        }
    }

    #[test]
    fn a_pair_shares_a_line_or_puts_the_value_right_aligned_under_it() {
        let mut b = Builder {
            columns: 16,
            code_page: Some(CodePage::Cp858),
            blocks: Vec::new(),
        };
        b.pair("Till", "Front", false, Size::Normal);
        b.pair("Payment", "a1b2c3d4e5f6a7b8c9", false, Size::Normal);
        let text = plain_text(&b.blocks, 16);
        assert_eq!(
            text,
            "Till       Front\nPayment\na1b2c3d4e5f6a7b8\n              c9\n"
        );
    }
}
