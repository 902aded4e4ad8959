//! The printer's character tables: which byte prints which character.
//!
//! A thermal printer prints one byte as one glyph from its active code page (chosen with
//! `ESC t n`). Text reaches this module as Unicode; [`CodePage::printable`] turns it into
//! text every character of which the page has, with readable fallbacks ("EUR" for € on
//! CP437, "-" for a dash, "?" for the rest), and [`CodePage::encode`] then maps it to bytes.
//! The layout runs `printable` first, so columns are counted on what will really print; the
//! test decoder maps bytes back with [`CodePage::decode`]. One table per page serves both.
//!
//! Why three pages: € is not in CP437 (the factory default of most printers). CP858 is
//! CP850 with € at 0xD5 and is on nearly every Epson-compatible printer; WPC1252 has € at
//! 0x80 and typographic dashes and quotes, but some clones lack it. CP437 stays for printers
//! that have neither, with "EUR" printed instead of €.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A code page PayDesk can print in. The setting `code_page = "cp858" | "wpc1252" | "cp437"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodePage {
    /// Multilingual Latin I with €: the default, on nearly every ESC/POS printer.
    #[default]
    Cp858,
    /// Windows Latin 1 (€ at 0x80, dashes, typographic quotes).
    Wpc1252,
    /// The US page most printers start in; no €.
    Cp437,
}

/// Bytes 0x80..=0xFF of each page. `\0` marks a byte the page leaves undefined.
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐\
└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";
const CP858_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐\
└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈ€ÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■\u{a0}";
const WPC1252_HIGH: &str =
    "€\0‚ƒ„…†‡ˆ‰Š‹Œ\0Ž\0\0‘’“”•–—˜™š›œ\0žŸ\u{a0}¡¢£¤¥¦§¨©ª«¬\u{ad}®¯°±²³´µ¶·¸¹º»¼½¾¿\
ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ";

/// What to print when the page lacks a character. Currency signs become their ISO code, so
/// an amount is never ambiguous; typography becomes its ASCII look-alike.
const FALLBACKS: &[(char, &str)] = &[
    ('€', "EUR"),
    ('£', "GBP"),
    ('¥', "JPY"),
    ('₿', "BTC"),
    ('¢', "c"),
    ('–', "-"),
    ('—', "-"),
    ('‒', "-"),
    ('−', "-"),
    ('‐', "-"),
    ('‘', "'"),
    ('’', "'"),
    ('‚', ","),
    ('“', "\""),
    ('”', "\""),
    ('„', "\""),
    ('«', "\""),
    ('»', "\""),
    ('…', "..."),
    ('•', "*"),
    ('·', "."),
    ('×', "x"),
    ('™', "TM"),
    ('©', "(C)"),
    ('®', "(R)"),
];

impl CodePage {
    pub const ALL: [CodePage; 3] = [CodePage::Cp858, CodePage::Wpc1252, CodePage::Cp437];

    /// The setting's spelling.
    pub fn name(self) -> &'static str {
        match self {
            CodePage::Cp858 => "cp858",
            CodePage::Wpc1252 => "wpc1252",
            CodePage::Cp437 => "cp437",
        }
    }

    /// `n` in `ESC t n`, from Epson's table (shared by the clones).
    pub fn escpos_number(self) -> u8 {
        match self {
            CodePage::Cp437 => 0,
            CodePage::Wpc1252 => 16,
            CodePage::Cp858 => 19,
        }
    }

    pub fn from_escpos_number(n: u8) -> Option<CodePage> {
        CodePage::ALL
            .into_iter()
            .find(|page| page.escpos_number() == n)
    }

    fn high(self) -> &'static str {
        match self {
            CodePage::Cp858 => CP858_HIGH,
            CodePage::Wpc1252 => WPC1252_HIGH,
            CodePage::Cp437 => CP437_HIGH,
        }
    }

    /// The byte that prints `c`, if the page has it. Control characters have none.
    pub fn byte_for(self, c: char) -> Option<u8> {
        if (' '..='~').contains(&c) {
            return u8::try_from(u32::from(c)).ok();
        }
        if c == '\0' {
            return None;
        }
        let index = self.high().chars().position(|t| t == c)?;
        u8::try_from(0x80 + index).ok()
    }

    /// The character byte `b` prints, or U+FFFD for control bytes and undefined slots.
    pub fn decode_byte(self, b: u8) -> char {
        match b {
            0x20..=0x7E => char::from(b),
            0x80..=0xFF => match self.high().chars().nth(usize::from(b - 0x80)) {
                Some('\0') | None => char::REPLACEMENT_CHARACTER,
                Some(c) => c,
            },
            _ => char::REPLACEMENT_CHARACTER,
        }
    }

    /// `text` with every character this page cannot print replaced by a readable fallback,
    /// whitespace and control characters by a plain space. A currency code that replaces a
    /// sign keeps a space from the digits beside it: "€12.50" → "EUR 12.50".
    pub fn printable(self, text: &str) -> String {
        substitute(text, |c| self.byte_for(c).is_some())
    }

    /// The bytes that print `text` (after [`CodePage::printable`]); never a control byte, so
    /// no text can smuggle a printer command.
    pub fn encode(self, text: &str) -> Vec<u8> {
        self.printable(text)
            .chars()
            .map(|c| self.byte_for(c).unwrap_or(b'?'))
            .collect()
    }

    /// The text `bytes` print (the inverse of [`CodePage::encode`] on printable text).
    pub fn decode(self, bytes: &[u8]) -> String {
        bytes.iter().map(|&b| self.decode_byte(b)).collect()
    }
}

/// Screen text: any Unicode character stays, only whitespace and control characters are
/// made plain spaces (so the screen and the paper break lines the same way).
pub(crate) fn screen_text(text: &str) -> String {
    substitute(text, |_| true)
}

fn substitute(text: &str, has: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() || c.is_control() {
            out.push(' ');
        } else if has(c) {
            out.push(c);
        } else {
            let fallback = FALLBACKS
                .iter()
                .find(|(from, _)| *from == c)
                .map(|(_, to)| *to)
                .filter(|to| to.chars().all(&has))
                .unwrap_or("?");
            let word = fallback.chars().all(|f| f.is_ascii_alphabetic());
            if word && out.ends_with(char::is_alphanumeric) {
                out.push(' ');
            }
            out.push_str(fallback);
            if word && chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                out.push(' ');
            }
        }
    }
    out
}

impl fmt::Display for CodePage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown code page '{0}': use cp858, wpc1252 or cp437")]
pub struct UnknownCodePage(pub String);

impl FromStr for CodePage {
    type Err = UnknownCodePage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cp858" | "pc858" | "858" => Ok(CodePage::Cp858),
            "wpc1252" | "cp1252" | "windows-1252" | "1252" => Ok(CodePage::Wpc1252),
            "cp437" | "pc437" | "437" => Ok(CodePage::Cp437),
            _ => Err(UnknownCodePage(s.trim().to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_covers_the_upper_half() {
        for page in CodePage::ALL {
            assert_eq!(page.high().chars().count(), 128, "{page}");
        }
    }

    #[test]
    fn euro_sits_where_each_page_puts_it() {
        assert_eq!(CodePage::Cp858.encode("€"), [0xD5]);
        assert_eq!(CodePage::Wpc1252.encode("€"), [0x80]);
        assert_eq!(CodePage::Cp437.encode("€"), b"EUR");
        assert_eq!(CodePage::Cp858.decode(&[0xD5]), "€");
        assert_eq!(CodePage::Wpc1252.decode(&[0x80]), "€");
        assert_eq!(CodePage::Cp437.decode(&[0xD5]), "╒");
    }

    #[test]
    fn pound_is_in_every_page() {
        assert_eq!(CodePage::Cp858.encode("£"), [0x9C]);
        assert_eq!(CodePage::Cp437.encode("£"), [0x9C]);
        assert_eq!(CodePage::Wpc1252.encode("£"), [0xA3]);
    }

    #[test]
    fn every_printable_character_round_trips() {
        for page in CodePage::ALL {
            for b in (0x20..=0x7E).chain(0x80..=0xFF) {
                let c = page.decode_byte(b);
                if c != char::REPLACEMENT_CHARACTER && !c.is_whitespace() {
                    assert_eq!(page.byte_for(c), Some(b), "{page} {b:#x}");
                }
            }
        }
    }

    #[test]
    fn fallbacks_are_readable_and_spaced_from_digits() {
        let p = CodePage::Cp437;
        assert_eq!(p.printable("€12.50"), "EUR 12.50");
        assert_eq!(p.printable("12.50€"), "12.50 EUR");
        assert_eq!(p.printable("-€5.00"), "-EUR 5.00");
        assert_eq!(p.printable("DEMO — not real"), "DEMO - not real");
        assert_eq!(p.printable("Łódź"), "?ód?");
        assert_eq!(CodePage::Wpc1252.printable("DEMO — x"), "DEMO — x");
    }

    #[test]
    fn control_characters_never_reach_the_printer() {
        for page in CodePage::ALL {
            let bytes = page.encode("Shop\x1b@\x1dV\x00\nName\t\u{2009}1");
            assert!(bytes.iter().all(|&b| b >= 0x20 && b != 0x7F), "{bytes:?}");
            assert_eq!(page.decode(&bytes), "Shop @ V  Name  1");
        }
    }

    #[test]
    fn setting_names_parse() {
        assert_eq!("CP858".parse(), Ok(CodePage::Cp858));
        assert_eq!("wpc1252".parse(), Ok(CodePage::Wpc1252));
        assert_eq!("cp437".parse(), Ok(CodePage::Cp437));
        assert!("utf8".parse::<CodePage>().is_err());
    }
}
