//! Tips: what the customer picks on the customer display (or the cashier types) before the
//! payment is created, turned into an exact amount.
//!
//! A percentage tip is a percentage of the amount **before the tip, tax included** (the
//! subtotal plus any additive tax), as Square and BTCPay compute it: the customer tips on
//! what they see they owe. Rounded by the catalog's [`RoundingMode`].

use std::fmt;

use paydesk_protocol::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};

use crate::percent::Percent;
use crate::rounding::RoundingMode;

/// The tip the customer chose.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tip {
    #[default]
    None,
    /// A percentage of the amount before the tip, tax included.
    Percent(Percent),
    /// Up to the next multiple of [`TipSettings::round_up_to`] (one whole unit by default);
    /// nothing when the amount already is one.
    RoundUp,
    /// A fixed amount.
    Amount(Money),
}

/// Why a tip was refused. Written for the customer and the cashier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TipError {
    #[error("a tip cannot be negative")]
    Negative,
    #[error("a tip of {tip} is more than {max} of the bill; the largest tip is {cap}")]
    TooLarge {
        tip: String,
        max: Percent,
        cap: String,
    },
    #[error("the tip is in {found}, but this sale is in {sale}")]
    WrongCurrency {
        found: &'static str,
        sale: &'static str,
    },
    #[error("'{0}' is not a tip (write \"15%\", \"2.50\", \"round\" or \"none\")")]
    Invalid(String),
    #[error("the tip is too large to compute")]
    Overflow,
}

/// The tip settings of a till (`[catalog.tips]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipSettings {
    /// Whether the customer display asks for a tip before the payment.
    pub ask_customer: bool,
    /// The percentages offered as buttons.
    pub presets: Vec<Percent>,
    /// The largest tip as a percentage of the amount before it: a guard against "500"
    /// typed for "5.00", not a policy on generosity.
    pub max_percent: Percent,
    /// What "round up" rounds the total up to a multiple of.
    pub round_up_to: Money,
}

impl TipSettings {
    /// Presets 10 %, 15 %, 20 %; tips up to 100 % of the bill; round up to a whole unit.
    pub fn default_for(currency: Currency) -> TipSettings {
        let whole_unit = 10i128.pow(u32::from(currency.exponent()));
        TipSettings {
            // A till asks for tips once its catalog has a `[catalog.tips]` section.
            ask_customer: false,
            presets: [10, 15, 20]
                .into_iter()
                .filter_map(Percent::whole)
                .collect(),
            max_percent: Percent::HUNDRED,
            round_up_to: Money::new(whole_unit, currency),
        }
    }

    /// The buttons of the customer display for a bill of `before_tip`: no tip, each preset,
    /// and round up when it adds something — each with the amount it adds.
    pub fn choices(
        &self,
        before_tip: Money,
        mode: RoundingMode,
    ) -> Result<Vec<TipChoice>, TipError> {
        let mut tips = vec![Tip::None];
        tips.extend(self.presets.iter().map(|&percent| Tip::Percent(percent)));
        tips.push(Tip::RoundUp);
        let mut out = Vec::with_capacity(tips.len());
        for tip in tips {
            let amount = tip.amount(before_tip, self, mode)?;
            if tip == Tip::RoundUp && amount.minor == 0 {
                continue;
            }
            out.push(TipChoice {
                label: tip.to_string(),
                tip,
                amount,
            });
        }
        Ok(out)
    }
}

/// One button of the customer display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TipChoice {
    pub tip: Tip,
    /// "No tip", "15%", "Round up".
    pub label: String,
    pub amount: Money,
}

impl Tip {
    /// What a cashier types (`--tip` on the CLI): "15%", "12.5 %", "2.50", "round",
    /// "none" or "0".
    pub fn parse(input: &str, currency: Currency) -> Result<Tip, TipError> {
        let text = input.trim();
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "" | "none" | "no" | "0" => return Ok(Tip::None),
            "round" | "roundup" | "round-up" | "round up" => return Ok(Tip::RoundUp),
            _ => {}
        }
        if text.ends_with('%') {
            return Percent::parse(text)
                .map(Tip::Percent)
                .map_err(|_| TipError::Invalid(text.to_owned()));
        }
        match Money::parse(text, currency) {
            Ok(amount) => Ok(Tip::Amount(amount)),
            Err(MoneyError::Zero) => Ok(Tip::None),
            Err(MoneyError::Negative) => Err(TipError::Negative),
            Err(_) => Err(TipError::Invalid(text.to_owned())),
        }
    }

    /// The tip on a bill of `before_tip` (subtotal plus additive tax), checked against the
    /// settings' cap. Round up is bounded by its step instead of by the cap.
    pub fn amount(
        &self,
        before_tip: Money,
        settings: &TipSettings,
        mode: RoundingMode,
    ) -> Result<Money, TipError> {
        let currency = before_tip.currency;
        let bill = before_tip.minor;
        if bill < 0 {
            return Err(TipError::Negative);
        }
        let of_bill = |p: Percent| {
            mode.mul_div(bill, p.numerator(), Percent::DENOMINATOR)
                .ok_or(TipError::Overflow)
        };
        let cap = || -> Result<Money, TipError> {
            Ok(Money::new(of_bill(settings.max_percent)?, currency))
        };
        let too_large = |tip: Money| -> TipError {
            match cap() {
                Ok(cap) => TipError::TooLarge {
                    tip: tip.to_string(),
                    max: settings.max_percent,
                    cap: cap.to_string(),
                },
                Err(e) => e,
            }
        };
        let minor = match self {
            Tip::None => 0,
            Tip::Percent(percent) => {
                let tip = Money::new(of_bill(*percent)?, currency);
                if *percent > settings.max_percent {
                    return Err(too_large(tip));
                }
                tip.minor
            }
            Tip::RoundUp => {
                let step = settings.round_up_to;
                if step.currency != currency {
                    return Err(TipError::WrongCurrency {
                        found: step.currency.code(),
                        sale: currency.code(),
                    });
                }
                if step.minor <= 0 {
                    return Ok(Money::new(0, currency));
                }
                match bill % step.minor {
                    0 => 0,
                    rest => step.minor - rest,
                }
            }
            Tip::Amount(amount) => {
                if amount.currency != currency {
                    return Err(TipError::WrongCurrency {
                        found: amount.currency.code(),
                        sale: currency.code(),
                    });
                }
                if amount.minor < 0 {
                    return Err(TipError::Negative);
                }
                if amount.minor > cap()?.minor {
                    return Err(too_large(*amount));
                }
                amount.minor
            }
        };
        Ok(Money::new(minor, currency))
    }
}

impl fmt::Display for Tip {
    /// The label of a tip button.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tip::None => f.write_str("No tip"),
            Tip::Percent(percent) => write!(f, "{percent}"),
            Tip::RoundUp => f.write_str("Round up"),
            Tip::Amount(amount) => write!(f, "{amount}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i128) -> Money {
        Money::new(minor, Currency::from_code("EUR").unwrap())
    }

    #[test]
    fn parses_what_a_cashier_types() {
        let c = Currency::from_code("EUR").unwrap();
        assert_eq!(
            Tip::parse("15%", c).unwrap(),
            Tip::Percent(Percent::whole(15).unwrap())
        );
        assert_eq!(
            Tip::parse("12.5 %", c).unwrap(),
            Tip::Percent(Percent::parse("12.5").unwrap())
        );
        assert_eq!(Tip::parse("2.50", c).unwrap(), Tip::Amount(eur(250)));
        assert_eq!(Tip::parse("Round", c).unwrap(), Tip::RoundUp);
        assert_eq!(Tip::parse("none", c).unwrap(), Tip::None);
        assert_eq!(Tip::parse("0.00", c).unwrap(), Tip::None);
        assert_eq!(Tip::parse("-1", c), Err(TipError::Negative));
        assert!(matches!(Tip::parse("lots", c), Err(TipError::Invalid(_))));
        assert!(matches!(Tip::parse("x%", c), Err(TipError::Invalid(_))));
    }

    #[test]
    fn round_up_adds_nothing_to_a_whole_amount() {
        let s = TipSettings::default_for(eur(0).currency);
        let m = RoundingMode::HalfUp;
        assert_eq!(Tip::RoundUp.amount(eur(1234), &s, m).unwrap(), eur(66));
        assert_eq!(Tip::RoundUp.amount(eur(1200), &s, m).unwrap(), eur(0));
        let choices = s.choices(eur(1200), m).unwrap();
        assert!(choices.iter().all(|c| c.tip != Tip::RoundUp));
        assert_eq!(choices.len(), 4);
    }

    #[test]
    fn a_typed_tip_above_the_cap_is_refused_with_the_cap() {
        let s = TipSettings::default_for(eur(0).currency);
        let err = Tip::Amount(eur(50_000))
            .amount(eur(500), &s, RoundingMode::HalfUp)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a tip of 500.00 EUR is more than 100% of the bill; the largest tip is 5.00 EUR"
        );
        assert_eq!(
            Tip::Amount(eur(500))
                .amount(eur(500), &s, RoundingMode::HalfUp)
                .unwrap(),
            eur(500)
        );
        assert_eq!(
            Tip::Amount(eur(-1)).amount(eur(500), &s, RoundingMode::HalfUp),
            Err(TipError::Negative)
        );
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    #[test]
    fn a_tip_round_trips_through_the_json_the_ui_sends() {
        let eur = Currency::from_code("EUR").unwrap();
        for tip in [
            Tip::None,
            Tip::RoundUp,
            Tip::Percent(Percent::parse("12.5").unwrap()),
            Tip::Amount(Money::new(250, eur)),
        ] {
            let json = serde_json::to_string(&tip).unwrap();
            assert_eq!(serde_json::from_str::<Tip>(&json).unwrap(), tip, "{json}");
        }
    }
}
