//! Money as integer minor units with a currency.
//!
//! Every amount in PayDesk — typed by a cashier, sent to Crypto.com Pay, stored in the
//! journal, shown on screen — is a `Money`. Minor units are 128-bit because crypto amounts
//! with 18 decimals exceed 64 bits (the live sample's `amount` is 10^20). No floats anywhere.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an amount or currency was refused. The messages are written for a cashier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("enter an amount")]
    Empty,
    #[error("the amount cannot be negative")]
    Negative,
    #[error("the amount must be more than zero")]
    Zero,
    #[error("{currency} has at most {max} decimal places")]
    TooManyDecimals { currency: &'static str, max: u8 },
    #[error("the amount is too large")]
    Overflow,
    #[error("'{0}' is not a number")]
    Invalid(String),
    #[error("unknown currency '{0}'")]
    UnknownCurrency(String),
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(&'static str, &'static str),
}

/// A currency PayDesk knows the minor-unit exponent of.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
    crypto: bool,
}

/// ISO 4217 exponents for the fiat currencies Crypto.com Pay merchants price in, the
/// zero-decimal list from Crypto.com's plugins, the three-decimal dinars, and common crypto.
const CURRENCIES: &[(&str, u8, bool)] = &[
    // Two decimals.
    ("USD", 2, false),
    ("EUR", 2, false),
    ("GBP", 2, false),
    ("CHF", 2, false),
    ("CAD", 2, false),
    ("AUD", 2, false),
    ("NZD", 2, false),
    ("SGD", 2, false),
    ("HKD", 2, false),
    ("SEK", 2, false),
    ("NOK", 2, false),
    ("DKK", 2, false),
    ("PLN", 2, false),
    ("CZK", 2, false),
    ("HUF", 2, false),
    ("RON", 2, false),
    ("BGN", 2, false),
    ("TRY", 2, false),
    ("BRL", 2, false),
    ("MXN", 2, false),
    ("ARS", 2, false),
    ("COP", 2, false),
    ("PEN", 2, false),
    ("INR", 2, false),
    ("IDR", 2, false),
    ("MYR", 2, false),
    ("PHP", 2, false),
    ("THB", 2, false),
    ("TWD", 2, false),
    ("CNY", 2, false),
    ("ZAR", 2, false),
    ("AED", 2, false),
    ("SAR", 2, false),
    ("QAR", 2, false),
    ("ILS", 2, false),
    ("EGP", 2, false),
    ("NGN", 2, false),
    ("KES", 2, false),
    ("UAH", 2, false),
    // Zero decimals: sent to Crypto.com Pay unscaled.
    ("BIF", 0, false),
    ("CLP", 0, false),
    ("DJF", 0, false),
    ("GNF", 0, false),
    ("JPY", 0, false),
    ("KMF", 0, false),
    ("KRW", 0, false),
    ("PYG", 0, false),
    ("RWF", 0, false),
    ("UGX", 0, false),
    ("VND", 0, false),
    ("VUV", 0, false),
    ("XAF", 0, false),
    ("XOF", 0, false),
    ("XPF", 0, false),
    // Three decimals.
    ("BHD", 3, false),
    ("JOD", 3, false),
    ("KWD", 3, false),
    ("OMR", 3, false),
    ("TND", 3, false),
    // Crypto: base units of the chain.
    ("BTC", 8, true),
    ("ETH", 18, true),
    ("CRO", 18, true),
    ("USDC", 6, true),
    ("USDT", 6, true),
    ("DAI", 18, true),
    ("LTC", 8, true),
    ("XRP", 6, true),
    ("DOGE", 8, true),
    ("SOL", 9, true),
    ("POL", 18, true),
    ("MATIC", 18, true),
];

impl Currency {
    /// Looks a currency up by its code, case-insensitively.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let wanted = code.trim();
        CURRENCIES
            .iter()
            .find(|(c, _, _)| c.eq_ignore_ascii_case(wanted))
            .map(|&(code, exponent, crypto)| Currency {
                code,
                exponent,
                crypto,
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(wanted.to_owned()))
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Number of decimal places of one minor unit (USD 2, JPY 0, CRO 18).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    pub fn is_crypto(&self) -> bool {
        self.crypto
    }

    /// Every known currency code, fiat first, in table order.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|&(code, exponent, crypto)| Currency {
            code,
            exponent,
            crypto,
        })
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount: integer minor units of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i128,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i128, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Parses what a cashier types: "12.5", "12,50", "1 234.00", "1,234.50", "1.234,50".
    ///
    /// One separator kind seen once is the decimal separator; seen several times it groups
    /// thousands; when both kinds appear, the last one is the decimal separator. Spaces
    /// (including no-break and thin spaces), apostrophes and underscores group digits.
    pub fn parse(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(MoneyError::Empty);
        }
        let unsigned = match trimmed
            .strip_prefix('-')
            .or_else(|| trimmed.strip_prefix('−'))
        {
            Some(_) => return Err(MoneyError::Negative),
            None => trimmed.strip_prefix('+').unwrap_or(trimmed),
        };
        let compact: String = unsigned
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{2009}' | '\u{202f}' | '\'' | '_'))
            .collect();
        let invalid = || MoneyError::Invalid(trimmed.to_owned());
        if compact.is_empty()
            || !compact
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        {
            return Err(invalid());
        }
        let dots = compact.matches('.').count();
        let commas = compact.matches(',').count();
        let decimal_sep = match (dots, commas) {
            (0, 0) => None,
            (1, 0) => Some('.'),
            (0, 1) => Some(','),
            (_, 0) | (0, _) => None, // grouping only: "1.234.567"
            _ => compact
                .rfind(['.', ','])
                .and_then(|i| compact[i..].chars().next()),
        };
        let (int_part, frac_part) = match decimal_sep {
            Some(sep) => {
                let at = compact.rfind(sep).ok_or_else(invalid)?;
                (&compact[..at], &compact[at + 1..])
            }
            None => (compact.as_str(), ""),
        };
        // Whatever separators remain in the integer part must be the grouping kind.
        if let Some(sep) = decimal_sep {
            if int_part.contains(sep) {
                return Err(invalid());
            }
        }
        // Grouping means thousands ("1.234.567", "12,500"; Indian "12,34,567" too): the last
        // group has three digits, the ones before two or three — never "2.2.0" (a typo,
        // not 220).
        if int_part.contains(['.', ',']) {
            let groups: Vec<&str> = int_part.split(['.', ',']).collect();
            let (first, rest) = groups.split_first().ok_or_else(invalid)?;
            let (last, middle) = rest.split_last().ok_or_else(invalid)?;
            if !(1..=3).contains(&first.len())
                || last.len() != 3
                || !middle.iter().all(|g| (2..=3).contains(&g.len()))
            {
                return Err(invalid());
            }
        }
        if frac_part.contains(['.', ',']) {
            return Err(invalid());
        }
        let int_digits: String = int_part.chars().filter(char::is_ascii_digit).collect();
        if int_digits.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let exponent = currency.exponent;
        let frac_significant = frac_part.trim_end_matches('0');
        if frac_significant.len() > usize::from(exponent) {
            return Err(MoneyError::TooManyDecimals {
                currency: currency.code,
                max: exponent,
            });
        }
        let mut minor: i128 = 0;
        let scale_digits = frac_part
            .chars()
            .chain(std::iter::repeat('0'))
            .take(usize::from(exponent));
        for c in int_digits.chars().chain(scale_digits) {
            let digit = i128::from(c.to_digit(10).ok_or_else(invalid)?);
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(digit))
                .ok_or(MoneyError::Overflow)?;
        }
        if minor == 0 {
            return Err(MoneyError::Zero);
        }
        Ok(Money { minor, currency })
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency.code,
                other.currency.code,
            ))
        }
    }

    /// The amount without the currency, with every decimal place of the currency:
    /// "12.50", "1500" (JPY), "100.000000000000000000" (CRO). No grouping, so it
    /// round-trips through [`Money::parse`] and suits CSV.
    pub fn amount_string(&self) -> String {
        format_minor(self.minor, self.currency.exponent, None)
    }

    /// For a screen: thousands grouped with a thin space, crypto trailing zeros trimmed.
    pub fn display_amount(&self) -> String {
        let s = format_minor(self.minor, self.currency.exponent, Some('\u{2009}'));
        if self.currency.crypto && s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
}

fn format_minor(minor: i128, exponent: u8, group: Option<char>) -> String {
    let negative = minor < 0;
    let digits = minor.unsigned_abs().to_string();
    let exp = usize::from(exponent);
    let padded = if digits.len() <= exp {
        format!("{}{}", "0".repeat(exp + 1 - digits.len()), digits)
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - exp);
    let mut out = String::with_capacity(padded.len() + 8);
    if negative {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if let Some(g) = group {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(g);
            }
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.display_amount(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[test]
    fn parses_what_cashiers_type() {
        let eur = cur("EUR");
        for (typed, minor) in [
            ("12.5", 1250),
            ("12,50", 1250),
            ("1 234.00", 123_400),
            ("1,234.50", 123_450),
            ("1.234,50", 123_450),
            ("1.234.567", 123_456_700),
            ("12,34,567.00", 123_456_700),
            ("0.01", 1),
            (".5", 50),
            ("7", 700),
            ("+3", 300),
            ("12.500", 1250),
        ] {
            assert_eq!(Money::parse(typed, eur).unwrap().minor, minor, "{typed}");
        }
    }

    #[test]
    fn refuses_bad_amounts_with_a_reason() {
        let eur = cur("EUR");
        // Separators that are not thousands are a typo, never a silent 220 or 12 345.
        for typo in ["2.2.0", "1.2345.678", "12.34.5", "1,2,3"] {
            assert_eq!(
                Money::parse(typo, eur),
                Err(MoneyError::Invalid(typo.to_owned())),
                "{typo}"
            );
        }
        assert_eq!(Money::parse("", eur), Err(MoneyError::Empty));
        assert_eq!(Money::parse("-1", eur), Err(MoneyError::Negative));
        assert_eq!(Money::parse("0,00", eur), Err(MoneyError::Zero));
        assert_eq!(
            Money::parse("1.234", eur),
            Err(MoneyError::TooManyDecimals {
                currency: "EUR",
                max: 2
            })
        );
        assert!(matches!(
            Money::parse("12a", eur),
            Err(MoneyError::Invalid(_))
        ));
        assert!(matches!(
            Money::parse("1.2.3,4,5", eur),
            Err(MoneyError::Invalid(_))
        ));
        assert_eq!(
            Money::parse(&"9".repeat(60), eur),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Currency::from_code("XYZ"),
            Err(MoneyError::UnknownCurrency("XYZ".into()))
        );
    }

    #[test]
    fn zero_decimal_currencies_are_unscaled() {
        let jpy = cur("jpy");
        assert_eq!(Money::parse("1500", jpy).unwrap().minor, 1500);
        assert!(Money::parse("1500.5", jpy).is_err());
        assert_eq!(Money::new(1500, jpy).amount_string(), "1500");
    }

    #[test]
    fn crypto_amounts_exceed_64_bits() {
        let cro = cur("CRO");
        let m = Money::parse("100", cro).unwrap();
        assert_eq!(m.minor, 100_000_000_000_000_000_000);
        assert_eq!(m.amount_string(), "100.000000000000000000");
        assert_eq!(m.to_string(), "100 CRO");
    }

    #[test]
    fn formats_for_display_and_round_trips() {
        let usd = cur("USD");
        let m = Money::new(123_456_789, usd);
        assert_eq!(m.amount_string(), "1234567.89");
        assert_eq!(m.to_string(), "1\u{2009}234\u{2009}567.89 USD");
        assert_eq!(Money::parse(&m.amount_string(), usd).unwrap(), m);
        assert_eq!(Money::new(5, usd).amount_string(), "0.05");
        assert_eq!(Money::new(-5, usd).amount_string(), "-0.05");
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let a = Money::new(100, cur("EUR"));
        let b = Money::new(250, cur("EUR"));
        assert_eq!(a.checked_add(b).unwrap().minor, 350);
        assert_eq!(b.checked_sub(a).unwrap().minor, 150);
        assert!(a.checked_add(Money::new(1, cur("USD"))).is_err());
        assert_eq!(
            Money::new(i128::MAX, cur("EUR")).checked_add(a),
            Err(MoneyError::Overflow)
        );
    }
}
