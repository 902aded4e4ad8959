//! Exact percentages: tax rates and tip presets.
//!
//! A rate is a whole number of millionths of a percent, so 8.875 % (New York City sales tax)
//! and 5.5 % (French reduced VAT) are exact where basis points are not, and no float ever
//! touches an amount. A fraction of an amount is `amount × micros / 10⁸`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Millionths of a percent in one percent.
const MICROS_PER_PERCENT: u32 = 1_000_000;
/// Decimal places a percentage may have (millionths of a percent).
const MAX_DECIMALS: usize = 6;

/// Why a percentage was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    #[error("'{0}' is not a percentage (write it like \"8.875\" or \"15%\")")]
    Invalid(String),
    #[error("'{0}' has more than 6 decimal places")]
    TooManyDecimals(String),
    #[error("'{0}' is too large a percentage")]
    TooLarge(String),
}

/// A non-negative percentage, exact to a millionth of a percent.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    micros: u32,
}

impl Percent {
    pub const ZERO: Percent = Percent { micros: 0 };
    pub const HUNDRED: Percent = Percent {
        micros: 100 * MICROS_PER_PERCENT,
    };
    /// `amount × percent` is `amount × micros / DENOMINATOR`.
    pub const DENOMINATOR: i128 = 100 * MICROS_PER_PERCENT as i128;

    /// From millionths of a percent: `Percent::from_micros(8_875_000)` is 8.875 %.
    pub const fn from_micros(micros: u32) -> Percent {
        Percent { micros }
    }

    /// From basis points (hundredths of a percent): 1500 is 15 %. `None` above ~42 949 %.
    pub fn from_basis_points(bp: u32) -> Option<Percent> {
        bp.checked_mul(MICROS_PER_PERCENT / 100)
            .map(Percent::from_micros)
    }

    /// A whole number of percent.
    pub fn whole(percent: u32) -> Option<Percent> {
        percent
            .checked_mul(MICROS_PER_PERCENT)
            .map(Percent::from_micros)
    }

    pub const fn micros(self) -> u32 {
        self.micros
    }

    /// The numerator over [`Percent::DENOMINATOR`].
    pub fn numerator(self) -> i128 {
        i128::from(self.micros)
    }

    /// Basis points, when the percentage is a whole number of them.
    pub fn basis_points(self) -> Option<u32> {
        let per_bp = MICROS_PER_PERCENT / 100;
        self.micros
            .is_multiple_of(per_bp)
            .then_some(self.micros / per_bp)
    }

    pub fn is_zero(self) -> bool {
        self.micros == 0
    }

    /// Parses "8.875", "8.875%", "20 %", "15". Never through a float.
    pub fn parse(input: &str) -> Result<Percent, PercentError> {
        let trimmed = input.trim();
        let invalid = || PercentError::Invalid(trimmed.to_owned());
        let number = trimmed.strip_suffix('%').unwrap_or(trimmed).trim_end();
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(invalid());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > MAX_DECIMALS {
            return Err(PercentError::TooManyDecimals(trimmed.to_owned()));
        }
        let too_large = || PercentError::TooLarge(trimmed.to_owned());
        let mut micros: u32 = 0;
        let scaled = int
            .chars()
            .chain(frac.chars())
            .chain(std::iter::repeat_n('0', MAX_DECIMALS - frac.len()));
        for c in scaled {
            let digit = c.to_digit(10).ok_or_else(invalid)?;
            micros = micros
                .checked_mul(10)
                .and_then(|m| m.checked_add(digit))
                .ok_or_else(too_large)?;
        }
        Ok(Percent { micros })
    }
}

impl fmt::Display for Percent {
    /// "8.875%", "20%", "5.5%".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.micros / MICROS_PER_PERCENT;
        let frac = self.micros % MICROS_PER_PERCENT;
        if frac == 0 {
            write!(f, "{int}%")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{int}.{}%", digits.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Percent {
    type Err = PercentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Percent::parse(s)
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percent {
    /// From "8.875%" or a whole number of percent; a float is refused, not rounded.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage as a string (\"8.875%\") or a whole number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Percent, E> {
                Percent::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Percent, E> {
                u32::try_from(v)
                    .ok()
                    .and_then(Percent::whole)
                    .ok_or_else(|| E::custom(PercentError::TooLarge(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Percent, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(PercentError::Invalid(v.to_string())))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_rates_without_floats() {
        for (text, micros) in [
            ("8.875", 8_875_000),
            ("8.875%", 8_875_000),
            ("20 %", 20_000_000),
            ("5.5", 5_500_000),
            ("7.25", 7_250_000),
            ("0", 0),
            (".5", 500_000),
            ("12.", 12_000_000),
            ("0.000001", 1),
            ("19.000000000", 19_000_000),
        ] {
            assert_eq!(Percent::parse(text).unwrap().micros(), micros, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_exact_percentage() {
        for text in ["", "%", "abc", "-5", "1e3", "5,5", "1.2.3", " . "] {
            assert!(
                matches!(Percent::parse(text), Err(PercentError::Invalid(_))),
                "{text}"
            );
        }
        assert!(matches!(
            Percent::parse("0.0000001"),
            Err(PercentError::TooManyDecimals(_))
        ));
        assert!(matches!(
            Percent::parse("99999999"),
            Err(PercentError::TooLarge(_))
        ));
    }

    #[test]
    fn displays_the_shortest_exact_form_and_round_trips() {
        for text in ["8.875%", "20%", "5.5%", "0%", "0.000001%"] {
            let p = Percent::parse(text).unwrap();
            assert_eq!(p.to_string(), text);
            assert_eq!(Percent::parse(&p.to_string()).unwrap(), p);
        }
    }

    #[test]
    fn basis_points_only_when_exact() {
        assert_eq!(Percent::from_basis_points(1500), Percent::whole(15));
        assert_eq!(Percent::parse("7.25").unwrap().basis_points(), Some(725));
        assert_eq!(Percent::parse("8.875").unwrap().basis_points(), None);
    }
}
