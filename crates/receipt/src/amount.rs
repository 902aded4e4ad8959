//! Money as it prints on a receipt: "€12.50", "£1,234.00", "¥1,500", "12.500 KWD", "100 CRO".
//!
//! A receipt holds amounts as text (the layout only arranges strings), but that text can
//! only come from a [`Money`], so every printed amount is exact: the digits are
//! [`Money::amount_string`]'s (integer minor units, no floats), grouped by thousands with a
//! comma, which reads the same on every code page. A currency with a sign everybody knows
//! gets the sign in front; the rest, and every crypto amount, the code behind.

use std::fmt;

use paydesk_protocol::Money;
use serde::{Deserialize, Serialize};

/// A formatted amount. In code only [`From<Money>`] and [`Amount::negated`] make one;
/// serde restores one that was stored (a receipt kept for reprinting).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(String);

const SIGNS: &[(&str, char)] = &[("EUR", '€'), ("GBP", '£'), ("USD", '$'), ("JPY", '¥')];

impl Amount {
    /// A refund or a deduction: the amount with a minus sign ("-€5.00").
    pub fn negated(money: Money) -> Amount {
        let mut text = String::new();
        if money.minor > 0 {
            text.push('-');
        }
        push_unsigned(&mut text, money);
        Amount(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Money> for Amount {
    fn from(money: Money) -> Amount {
        let mut text = String::new();
        if money.minor < 0 {
            text.push('-');
        }
        push_unsigned(&mut text, money);
        Amount(text)
    }
}

fn push_unsigned(out: &mut String, money: Money) {
    let exact = money.amount_string();
    let exact = exact.trim_start_matches('-');
    let (int, frac) = exact.split_once('.').unwrap_or((exact, ""));
    let frac = if money.currency.is_crypto() {
        frac.trim_end_matches('0')
    } else {
        frac
    };
    let code = money.currency.code();
    let sign = SIGNS.iter().find(|(c, _)| *c == code).map(|(_, s)| *s);
    if let Some(sign) = sign {
        out.push(sign);
    }
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if sign.is_none() {
        out.push(' ');
        out.push_str(code);
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_protocol::Currency;

    fn money(minor: i128, code: &str) -> Money {
        Money::new(minor, Currency::from_code(code).unwrap())
    }

    #[test]
    fn fiat_keeps_every_decimal_and_groups_thousands() {
        assert_eq!(Amount::from(money(1250, "EUR")).as_str(), "€12.50");
        assert_eq!(
            Amount::from(money(123_456_700, "GBP")).as_str(),
            "£1,234,567.00"
        );
        assert_eq!(Amount::from(money(5, "USD")).as_str(), "$0.05");
        assert_eq!(Amount::from(money(1500, "JPY")).as_str(), "¥1,500");
        assert_eq!(Amount::from(money(12_500, "KWD")).as_str(), "12.500 KWD");
        assert_eq!(Amount::from(money(100_000, "CHF")).as_str(), "1,000.00 CHF");
    }

    #[test]
    fn crypto_is_exact_beyond_64_bits_without_trailing_zeros() {
        let hundred = 100 * 10_i128.pow(18);
        assert_eq!(Amount::from(money(hundred, "CRO")).as_str(), "100 CRO");
        assert_eq!(
            Amount::from(money(123_456_789_012_345_678_901_234, "CRO")).as_str(),
            "123,456.789012345678901234 CRO"
        );
        assert_eq!(Amount::from(money(12_000, "BTC")).as_str(), "0.00012 BTC");
    }

    #[test]
    fn negative_and_negated_amounts_carry_one_minus() {
        assert_eq!(Amount::from(money(-500, "EUR")).as_str(), "-€5.00");
        assert_eq!(Amount::negated(money(500, "EUR")).as_str(), "-€5.00");
        assert_eq!(Amount::negated(money(-500, "EUR")).as_str(), "€5.00");
        assert!(Amount::from(money(i128::MIN, "EUR"))
            .as_str()
            .starts_with("-€1,701,411,834,604,692,317,316,873,037,158,841,057.28"));
    }
}
