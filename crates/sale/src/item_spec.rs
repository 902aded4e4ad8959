//! `SKU×N` as a cashier types it on the CLI: `charge --item latte×2 --item croissant`.
//!
//! Accepted: `latte`, `latte×2`, `latte*2`, `latte x2`, `latte x 2`, `latte × 2`, and the
//! count first (`2×latte`, `2*latte`). A bare `x` only counts with a space before it, so
//! SKUs that contain an x (`box-xl`) are left whole.

use std::fmt;
use std::str::FromStr;

use crate::cart::MAX_QUANTITY;

/// An item and how many of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemSpec {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemSpecError {
    #[error("name an item, e.g. latte×2")]
    Empty,
    #[error("'{0}' is not a quantity from 1 to {MAX_QUANTITY}")]
    BadQuantity(String),
    #[error("'{0}' is not an item; write SKU, SKU×N, SKU*N or SKU xN")]
    Invalid(String),
}

impl FromStr for ItemSpec {
    type Err = ItemSpecError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        if text.is_empty() {
            return Err(ItemSpecError::Empty);
        }
        let (sku, count) = split(text);
        let sku = sku.trim();
        if sku.is_empty() || sku.chars().any(char::is_whitespace) {
            return Err(ItemSpecError::Invalid(text.to_owned()));
        }
        let quantity = match count {
            None => 1,
            Some(n) => quantity(n.trim())?,
        };
        Ok(ItemSpec {
            sku: sku.to_owned(),
            quantity,
        })
    }
}

/// Splits off the count, if there is one: `(sku, Some(count))`.
fn split(text: &str) -> (&str, Option<&str>) {
    if let Some(at) = text.rfind(['×', '*']) {
        let sign = text[at..].chars().next().map_or(1, char::len_utf8);
        let (left, right) = (text[..at].trim(), text[at + sign..].trim());
        let is_count = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        // "2×latte": the count came first.
        return if is_count(left) && !is_count(right) {
            (right, Some(left))
        } else {
            (left, Some(right))
        };
    }
    // "latte x2" or "latte x 2": an x after whitespace, then digits.
    if let Some(at) = text.rfind(char::is_whitespace) {
        let (head, last) = (text[..at].trim_end(), &text[at..].trim_start());
        if let Some(n) = last.strip_prefix(['x', 'X']) {
            if !n.is_empty() {
                return (head, Some(n));
            }
        }
        if let Some(sku) = head
            .strip_suffix(['x', 'X'])
            .filter(|s| s.ends_with(char::is_whitespace))
        {
            return (sku, Some(last));
        }
    }
    (text, None)
}

fn quantity(n: &str) -> Result<u32, ItemSpecError> {
    let bad = || ItemSpecError::BadQuantity(n.to_owned());
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let q: u32 = n.parse().map_err(|_| bad())?;
    if (1..=MAX_QUANTITY).contains(&q) {
        Ok(q)
    } else {
        Err(bad())
    }
}

impl fmt::Display for ItemSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quantity == 1 {
            f.write_str(&self.sku)
        } else {
            write!(f, "{}×{}", self.sku, self.quantity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<(String, u32), ItemSpecError> {
        s.parse::<ItemSpec>().map(|i| (i.sku, i.quantity))
    }

    #[test]
    fn reads_every_way_of_writing_a_count() {
        for (text, sku, n) in [
            ("latte", "latte", 1),
            ("latte×2", "latte", 2),
            ("latte*2", "latte", 2),
            ("latte x2", "latte", 2),
            ("latte X2", "latte", 2),
            ("latte x 3", "latte", 3),
            ("latte × 2", "latte", 2),
            ("  latte*12  ", "latte", 12),
            ("2×latte", "latte", 2),
            ("2*latte", "latte", 2),
            ("box-xl", "box-xl", 1),
            ("box-xl x2", "box-xl", 2),
            ("xl*2", "xl", 2),
        ] {
            assert_eq!(spec(text), Ok((sku.to_owned(), n)), "{text}");
        }
    }

    #[test]
    fn refuses_bad_counts_and_names() {
        assert_eq!(spec(""), Err(ItemSpecError::Empty));
        assert_eq!(spec("latte×0"), Err(ItemSpecError::BadQuantity("0".into())));
        assert_eq!(spec("latte*"), Err(ItemSpecError::BadQuantity("".into())));
        assert_eq!(
            spec("latte×-1"),
            Err(ItemSpecError::BadQuantity("-1".into()))
        );
        assert_eq!(
            spec("latte x 99999"),
            Err(ItemSpecError::BadQuantity("99999".into()))
        );
        assert!(matches!(spec("two lattes"), Err(ItemSpecError::Invalid(_))));
        assert!(matches!(spec("×2"), Err(ItemSpecError::Invalid(_))));
    }

    #[test]
    fn displays_in_the_form_it_reads() {
        for text in ["latte×2", "croissant"] {
            assert_eq!(text.parse::<ItemSpec>().unwrap().to_string(), text);
        }
    }
}
