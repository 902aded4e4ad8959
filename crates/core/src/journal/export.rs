//! CSV export of a day's journal for a merchant's spreadsheet or accountant.
//!
//! RFC 4180: comma separated, CRLF line ends, fields quoted when they hold a comma, a quote
//! or a line break, quotes doubled. Free text that a spreadsheet would run as a formula
//! (`=`, `+`, `-`, `@` first) gets a leading apostrophe: an order id typed at the till or a
//! description from the network must not become a formula on the accountant's machine.

use std::io::Write;

use chrono::TimeZone;

use super::HistoryEntry;
use crate::money::{Currency, Money};

/// The columns. The first eight are the ones Crypto.com's Payment Report has too (its
/// names, its UTC time), so a merchant can line the two files up by Payment ID or Merchant
/// Order ID; the rest are what only the till knows.
pub const HEADER: &[&str] = &[
    "Time(UTC)",
    "Payment ID",
    "Merchant Order ID",
    "Status",
    "Pricing Currency",
    "Amount",
    "Amount Refunded",
    "Description",
    "Local Time",
    "Till",
    "Cashier",
    "Refunds Requested",
    "Crypto Currency",
    "Crypto Amount",
];

/// The payment metadata key that names the cashier who charged.
pub const CASHIER_METADATA_KEY: &str = "paydesk_cashier";

pub fn write_csv<Tz, W>(entries: &[HistoryEntry], tz: &Tz, mut out: W) -> std::io::Result<()>
where
    Tz: TimeZone,
    Tz::Offset: std::fmt::Display,
    W: Write,
{
    write_row(&mut out, HEADER.iter().map(|h| Field::Plain(h)))?;
    for e in entries {
        let p = &e.payment;
        let utc = chrono::Utc
            .timestamp_millis_opt(e.created_at_ms)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let local = tz
            .timestamp_millis_opt(e.created_at_ms)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%:z").to_string())
            .unwrap_or_default();
        let amount = amount_text(p.amount, &p.currency);
        let refunded = amount_text(p.amount_refunded, &p.currency);
        let requested: i128 = e
            .refunds
            .iter()
            .filter(|r| r.status == crate::payment::RefundStatus::Pending)
            .fold(0, |a, r| a.saturating_add(r.amount));
        let requested = amount_text(requested, &p.currency);
        let cashier = p
            .metadata
            .as_ref()
            .and_then(|m| m.get(CASHIER_METADATA_KEY))
            .and_then(|c| c.as_str())
            .unwrap_or("");
        write_row(
            &mut out,
            [
                Field::Plain(&utc),
                Field::Text(&p.id),
                Field::Text(p.order_id.as_deref().unwrap_or("")),
                Field::Text(e.status.as_str()),
                Field::Text(&p.currency),
                Field::Plain(&amount),
                Field::Plain(&refunded),
                Field::Text(p.description.as_deref().unwrap_or("")),
                Field::Plain(&local),
                Field::Text(e.terminal.as_deref().unwrap_or("")),
                Field::Text(cashier),
                Field::Plain(&requested),
                Field::Text(p.crypto_currency.as_deref().unwrap_or("")),
                Field::Text(p.crypto_amount.as_deref().unwrap_or("")),
            ]
            .into_iter(),
        )?;
    }
    out.flush()
}

/// "12.50" for USD; the bare minor units when the currency is unknown to this build
/// (there is no honest way to place its decimal point).
pub(crate) fn amount_text(minor: i128, currency: &str) -> String {
    match Currency::from_code(currency) {
        Ok(c) => Money::new(minor, c).amount_string(),
        Err(_) => minor.to_string(),
    }
}

pub(crate) enum Field<'a> {
    /// Written by us (numbers, timestamps): quoted if needed, never defused.
    Plain(&'a str),
    /// From a person or the network: also defused against formula injection.
    Text(&'a str),
}

pub(crate) fn write_row<'a, W: Write>(
    out: &mut W,
    fields: impl Iterator<Item = Field<'a>>,
) -> std::io::Result<()> {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let (text, defuse) = match field {
            Field::Plain(t) => (t, false),
            Field::Text(t) => (t, t.starts_with(['=', '+', '-', '@', '\t', '\r'])),
        };
        let quote = defuse || text.contains([',', '"', '\n', '\r']);
        if quote {
            out.write_all(b"\"")?;
        }
        if defuse {
            out.write_all(b"'")?;
        }
        out.write_all(text.replace('"', "\"\"").as_bytes())?;
        if quote {
            out.write_all(b"\"")?;
        }
    }
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: Vec<Field<'_>>) -> String {
        let mut out = Vec::new();
        write_row(&mut out, fields.into_iter()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_with_separators_quotes_and_newlines_are_quoted() {
        assert_eq!(
            row(vec![
                Field::Text("a,b"),
                Field::Text("say \"hi\""),
                Field::Text("two\nlines"),
                Field::Plain("12.50"),
            ]),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",12.50\r\n"
        );
    }

    #[test]
    fn formula_like_text_is_defused() {
        assert_eq!(
            row(vec![
                Field::Text("=HYPERLINK(\"x\")"),
                Field::Text("@SUM(A1)")
            ]),
            "\"'=HYPERLINK(\"\"x\"\")\",\"'@SUM(A1)\"\r\n"
        );
    }

    #[test]
    fn amounts_use_the_currency_decimals() {
        assert_eq!(amount_text(1250, "EUR"), "12.50");
        assert_eq!(amount_text(1500, "JPY"), "1500");
        assert_eq!(
            amount_text(100_000_000_000_000_000_000, "CRO"),
            "100.000000000000000000"
        );
        assert_eq!(amount_text(42, "ZZZ"), "42");
    }
}
