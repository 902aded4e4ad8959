//! The catalog as written: the `[catalog]` section of the till's config file and of a store
//! provisioning file, and the JSON the Settings screen sends. Nothing here is checked yet;
//! [`Catalog::from_section`](crate::Catalog::from_section) turns it into a catalog or says
//! which item is wrong.
//!
//! ```toml
//! [catalog]
//! default_tax   = "vat20"
//! tax_rounding  = "per_total"   # or per_line
//! rounding_mode = "half_up"     # or half_even
//!
//! [catalog.tips]
//! presets = ["10%", "15%", "20%"]
//!
//! [[catalog.tax]]
//! id = "vat20"
//! label = "VAT 20%"
//! rate = "20"                   # percent, exact: "8.875" — never a float
//! kind = "inclusive"            # or additive
//!
//! [[catalog.category]]
//! id = "drinks"
//! name = "Drinks"
//!
//! [[catalog.item]]
//! sku = "latte"
//! name = "Latte"
//! price = "3.50"                # in the till's currency; "3.50 EUR" also accepted
//! category = "drinks"
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::TaxKind;
use crate::rounding::{RoundingMode, TaxRounding};

/// `[catalog]`: everything optional, so an empty section is an empty catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSection {
    /// The currency the prices are in; when set it must be the till's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The tax id of items and typed amounts that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_tax: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rounding: Option<TaxRounding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding_mode: Option<RoundingMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tips: Option<TipSection>,
    #[serde(default, rename = "tax", skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxEntry>,
    #[serde(default, rename = "category", skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryEntry>,
    #[serde(default, rename = "item", skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemEntry>,
}

/// `[catalog.tips]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TipSection {
    /// Whether the customer display asks for a tip before the payment (default true once
    /// the section exists; a catalog without `[catalog.tips]` asks for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_customer: Option<bool>,
    /// Percentages offered as buttons (default 10 %, 15 %, 20 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presets: Option<Vec<Scalar>>,
    /// The largest tip, as a percentage of the amount before the tip (default 100 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_percent: Option<Scalar>,
    /// "Round up" rounds the amount up to a multiple of this (default one whole unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_up_to: Option<Scalar>,
}

/// `[[catalog.tax]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxEntry {
    pub id: String,
    pub label: String,
    /// Percent: "8.875", "20%" or a whole number; a float is refused.
    pub rate: Scalar,
    pub kind: TaxKind,
}

/// `[[catalog.category]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryEntry {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
}

/// `[[catalog.item]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemEntry {
    pub sku: String,
    pub name: String,
    /// "3.50", "3.50 EUR", or a whole number of units; a float is refused.
    pub price: Scalar,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A tax id, `"none"` for untaxed; absent: the catalog's `default_tax`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<String>,
    /// The quick key's colour, `#rgb` or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// The quick key's place in the grid (1 first); keys without one follow in file order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// A number as written in the file: text, a whole number, or a float kept only to be
/// refused with a message that says how to write it instead. Floats are never used.
#[derive(Clone, PartialEq, Eq)]
pub enum Scalar {
    Text(String),
    Whole(i128),
    Float(String),
}

impl Scalar {
    pub fn text(s: impl Into<String>) -> Scalar {
        Scalar::Text(s.into())
    }
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(s) => write!(f, "{s:?}"),
            Scalar::Whole(n) => write!(f, "{n}"),
            Scalar::Float(s) => write!(f, "{s} (float)"),
        }
    }
}

impl Serialize for Scalar {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::Text(t) | Scalar::Float(t) => s.serialize_str(t),
            // TOML integers are 64-bit; anything larger travels as text.
            Scalar::Whole(n) => match i64::try_from(*n) {
                Ok(n) => s.serialize_i64(n),
                Err(_) => s.collect_str(n),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number written as a string, like \"3.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Whole(v.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Whole(v.into()))
            }
            fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Scalar, E> {
                Ok(Scalar::Whole(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A whole config or provisioning file: only `[catalog]` is read, the rest is ignored.
#[derive(Deserialize)]
pub(crate) struct Document {
    #[serde(default)]
    pub catalog: Option<CatalogSection>,
}

/// Line (1-based) where a place of the `[catalog]` section starts in `text`, found by a
/// second, span-keeping parse of the same text. `path` is a key/index walk from the root:
/// `["catalog", "item", "2"]` is the third `[[catalog.item]]`.
pub(crate) fn line_of(text: &str, path: &[PathStep<'_>]) -> Option<usize> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut span = root.span();
    let mut table = root.get_ref();
    let mut array: Option<&toml::de::DeArray<'_>> = None;
    for step in path {
        let value = match (step, array) {
            (PathStep::Key(key), None) => table.get(*key)?,
            (PathStep::Index(i), Some(a)) => a.get(*i)?,
            _ => return None,
        };
        span = value.span();
        array = None;
        match value.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            toml::de::DeValue::Array(a) => array = Some(a),
            _ => break,
        }
    }
    Some(line_at(text, span.start))
}

pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum PathStep<'a> {
    Key(&'a str),
    Index(usize),
}
