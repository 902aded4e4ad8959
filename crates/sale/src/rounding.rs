//! The one place a fraction of an amount becomes whole minor units.
//!
//! Tax and percentage tips are `amount × numerator / denominator`; this module computes that
//! exactly in `i128` and rounds once, by a [`RoundingMode`]. [`TaxRounding`] says *where*
//! tax is rounded (each line, or once per rate); `totals` applies it.

use serde::{Deserialize, Serialize};

/// How an exact fraction of a minor unit is rounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Halves go up, away from zero (amounts here are never negative): 0.5 → 1, 1.5 → 2.
    /// What receipts and most tax authorities expect.
    #[default]
    HalfUp,
    /// Halves go to the even neighbour: 0.5 → 0, 1.5 → 2, 2.5 → 2 (banker's rounding).
    HalfEven,
}

/// Where tax is rounded to minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRounding {
    /// Each line's tax is rounded, then the rounded taxes of a rate are summed.
    PerLine,
    /// The lines of a rate are summed exactly and their tax is rounded once, per rate.
    #[default]
    PerTotal,
}

impl RoundingMode {
    /// `value × num / den`, rounded to an integer by this mode.
    ///
    /// `None` when an argument is out of range (`value < 0`, `num < 0`, `den ≤ 0`) or the
    /// result does not fit an `i128`. No intermediate product overflows while the result
    /// fits: `value` is split as `q·den + r`, so the largest product is `r·num < den·num`.
    pub fn mul_div(self, value: i128, num: i128, den: i128) -> Option<i128> {
        if value < 0 || num < 0 || den <= 0 {
            return None;
        }
        let (q, r) = (value / den, value % den);
        let rn = r.checked_mul(num)?;
        let floor = q.checked_mul(num)?.checked_add(rn / den)?;
        let rem = rn % den;
        // Compare rem with den / 2 as `rem` against `den - rem`: no doubling, no overflow.
        let rest = den - rem;
        let up = match self {
            RoundingMode::HalfUp => rem >= rest,
            RoundingMode::HalfEven => rem > rest || (rem == rest && floor % 2 != 0),
        };
        if up {
            floor.checked_add(1)
        } else {
            Some(floor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_up_and_half_even_differ_only_on_exact_halves() {
        let cases = [
            // (value, num, den, half_up, half_even)
            (1, 1, 2, 1, 0),
            (3, 1, 2, 2, 2),
            (5, 1, 2, 3, 2),
            (7, 1, 2, 4, 4),
            (1, 1, 3, 0, 0),
            (2, 1, 3, 1, 1),
            (10, 0, 7, 0, 0),
        ];
        for (v, n, d, up, even) in cases {
            assert_eq!(
                RoundingMode::HalfUp.mul_div(v, n, d),
                Some(up),
                "{v}·{n}/{d}"
            );
            assert_eq!(
                RoundingMode::HalfEven.mul_div(v, n, d),
                Some(even),
                "{v}·{n}/{d}"
            );
        }
    }

    #[test]
    fn huge_values_do_not_overflow_while_the_result_fits() {
        let m = i128::MAX;
        assert_eq!(RoundingMode::HalfUp.mul_div(m, 1, 1), Some(m));
        assert_eq!(
            RoundingMode::HalfUp.mul_div(m, 100_000_000, 100_000_000),
            Some(m)
        );
        assert_eq!(RoundingMode::HalfUp.mul_div(m, 1, 2), Some(m / 2 + 1));
        assert_eq!(RoundingMode::HalfUp.mul_div(m, 2, 1), None);
    }

    #[test]
    fn refuses_negative_inputs_and_zero_denominators() {
        assert_eq!(RoundingMode::HalfUp.mul_div(-1, 1, 2), None);
        assert_eq!(RoundingMode::HalfUp.mul_div(1, -1, 2), None);
        assert_eq!(RoundingMode::HalfUp.mul_div(1, 1, 0), None);
    }
}
