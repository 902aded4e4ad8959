//! The till's catalog: items behind the quick keys, their categories, the tax rates, the
//! rounding rule and the tip settings, checked once when the config (or a provisioning file,
//! or the Settings screen) hands them over. A `Catalog` that exists is valid: every item's
//! tax and category exist, prices are in the till's currency, SKUs are unique.

use std::fmt;

use paydesk_protocol::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};

use crate::percent::{Percent, PercentError};
use crate::rounding::{RoundingMode, TaxRounding};
use crate::section::{self, CatalogSection, PathStep, Scalar};
use crate::tip::TipSettings;

/// The tax id an item names to be untaxed when the catalog has a default rate.
pub const NO_TAX: &str = "none";

pub const MAX_ITEMS: usize = 1000;
pub const MAX_TAXES: usize = 16;
pub const MAX_CATEGORIES: usize = 64;
pub const MAX_TIP_PRESETS: usize = 6;
pub const MAX_SKU_CHARS: usize = 32;
pub const MAX_ID_CHARS: usize = 16;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_LABEL_CHARS: usize = 32;
/// Problems reported at once; beyond this the rest waits for the next attempt.
const MAX_ISSUES: usize = 50;

/// Whether a rate's tax is inside the price (VAT) or added on top of it (US sales tax).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxKind {
    /// The price includes the tax: tax = price × rate / (100 % + rate).
    Inclusive,
    /// The tax is added to the price: tax = price × rate.
    Additive,
}

/// One tax rate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TaxRate {
    pub id: String,
    pub label: String,
    pub rate: Percent,
    pub kind: TaxKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub colour: Option<String>,
}

/// An item behind a quick key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub sku: String,
    pub name: String,
    /// Unit price in the till's currency; may be zero (a free extra still prints).
    pub price: Money,
    /// A category id of this catalog.
    pub category: Option<String>,
    /// A tax id of this catalog, already resolved from the default; `None`: untaxed.
    pub tax: Option<String>,
    pub colour: Option<String>,
    pub position: Option<u32>,
}

/// A checked catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Catalog {
    currency: Currency,
    items: Vec<Item>,
    categories: Vec<Category>,
    taxes: Vec<TaxRate>,
    default_tax: Option<String>,
    tax_rounding: TaxRounding,
    rounding_mode: RoundingMode,
    tips: TipSettings,
}

impl Catalog {
    /// No items and no tax: a till that only rings up typed amounts.
    pub fn empty(currency: Currency) -> Catalog {
        Catalog {
            currency,
            items: Vec::new(),
            categories: Vec::new(),
            taxes: Vec::new(),
            default_tax: None,
            tax_rounding: TaxRounding::default(),
            rounding_mode: RoundingMode::default(),
            tips: TipSettings::default_for(currency),
        }
    }

    /// Checks a section for a till priced in `currency`. Every problem found is reported,
    /// each naming its item, tax or category.
    pub fn from_section(
        section: &CatalogSection,
        currency: Currency,
    ) -> Result<Catalog, CatalogError> {
        Checker::new(currency).check(section)
    }

    /// Reads the `[catalog]` section of a whole config or provisioning file (absent: an
    /// empty catalog). Errors carry the line of the item, tax or category they are about;
    /// no error repeats a line of the file, which may hold a key elsewhere.
    pub fn from_toml(text: &str, currency: Currency) -> Result<Catalog, CatalogError> {
        let doc: section::Document = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| section::line_at(text, s.start));
            CatalogError::Syntax {
                line,
                message: e.message().trim().to_owned(),
            }
        })?;
        let section = doc.catalog.unwrap_or_default();
        Catalog::from_section(&section, currency).map_err(|e| e.with_lines(text))
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }
    pub fn items(&self) -> &[Item] {
        &self.items
    }
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }
    pub fn taxes(&self) -> &[TaxRate] {
        &self.taxes
    }
    pub fn tax_rounding(&self) -> TaxRounding {
        self.tax_rounding
    }
    pub fn rounding_mode(&self) -> RoundingMode {
        self.rounding_mode
    }
    pub fn tips(&self) -> &TipSettings {
        &self.tips
    }

    /// The rate of items and typed amounts that name none.
    pub fn default_tax(&self) -> Option<&TaxRate> {
        self.default_tax.as_deref().and_then(|id| self.tax(id))
    }

    pub fn tax(&self, id: &str) -> Option<&TaxRate> {
        self.taxes.iter().find(|t| t.id == id)
    }

    /// An item by SKU, ignoring ASCII case (what a cashier types at the CLI).
    pub fn item(&self, sku: &str) -> Option<&Item> {
        let sku = sku.trim();
        self.items.iter().find(|i| i.sku.eq_ignore_ascii_case(sku))
    }

    /// The items in quick-key order: by `position`, then those without one in file order.
    pub fn quick_keys(&self) -> Vec<&Item> {
        let mut keys: Vec<&Item> = self.items.iter().collect();
        keys.sort_by_key(|i| i.position.unwrap_or(u32::MAX));
        keys
    }

    /// Same catalog with other tip settings (the Settings screen edits them alone).
    pub fn with_tips(mut self, tips: TipSettings) -> Catalog {
        self.tips = tips;
        self
    }
}

/// Why a catalog was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalog cannot be read{}: {message}", at_line(*line))]
    Syntax {
        line: Option<usize>,
        message: String,
    },
    #[error("{}", list(.0))]
    Invalid(Vec<Issue>),
}

impl CatalogError {
    pub fn issues(&self) -> &[Issue] {
        match self {
            CatalogError::Invalid(issues) => issues,
            CatalogError::Syntax { .. } => &[],
        }
    }

    fn with_lines(self, text: &str) -> CatalogError {
        match self {
            CatalogError::Invalid(issues) => CatalogError::Invalid(
                issues
                    .into_iter()
                    .map(|mut i| {
                        i.line = i.place.line_in(text);
                        i
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

fn list(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(Issue::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One problem, where it is, and (from a file) on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub place: Place,
    pub line: Option<usize>,
    pub problem: Problem,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "{}: {}", self.place, self.problem)
    }
}

/// Where in the catalog a problem is. Indexes count from 0; messages count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Catalog,
    Tips,
    Tax { index: usize, id: String },
    Category { index: usize, id: String },
    Item { index: usize, sku: String },
}

impl Place {
    fn line_in(&self, text: &str) -> Option<usize> {
        use PathStep::{Index, Key};
        let path: Vec<PathStep<'_>> = match self {
            Place::Catalog => vec![Key("catalog")],
            Place::Tips => vec![Key("catalog"), Key("tips")],
            Place::Tax { index, .. } => vec![Key("catalog"), Key("tax"), Index(*index)],
            Place::Category { index, .. } => {
                vec![Key("catalog"), Key("category"), Index(*index)]
            }
            Place::Item { index, .. } => vec![Key("catalog"), Key("item"), Index(*index)],
        };
        section::line_of(text, &path)
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |f: &mut fmt::Formatter<'_>, what: &str, index: usize, name: &str| {
            if name.trim().is_empty() {
                write!(f, "{what} {}", index + 1)
            } else {
                write!(f, "{what} {} '{}'", index + 1, name.trim())
            }
        };
        match self {
            Place::Catalog => f.write_str("[catalog]"),
            Place::Tips => f.write_str("[catalog.tips]"),
            Place::Tax { index, id } => named(f, "tax", *index, id),
            Place::Category { index, id } => named(f, "category", *index, id),
            Place::Item { index, sku } => named(f, "item", *index, sku),
        }
    }
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("unknown tax rate '{id}' (declared: {declared})")]
    UnknownTax { id: String, declared: String },
    #[error("unknown category '{id}' (declared: {declared})")]
    UnknownCategory { id: String, declared: String },
    #[error("the SKU is used by item {first} too")]
    DuplicateSku { first: usize },
    #[error("the id is used by {what} {first} too")]
    DuplicateId { what: &'static str, first: usize },
    #[error("quick-key position {position} is taken by item {first} too")]
    DuplicatePosition { position: u32, first: usize },
    #[error("'{NO_TAX}' means untaxed and cannot name a tax rate")]
    ReservedId,
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} holds control characters (a line break, a tab, …)")]
    ControlCharacters { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} '{value}' may hold only letters, digits, '-', '_' and '.'")]
    BadChars { field: &'static str, value: String },
    #[error("{field} cannot be negative")]
    Negative { field: &'static str },
    #[error("{field} is in {found}, but this till charges in {till}")]
    WrongCurrency {
        field: &'static str,
        found: String,
        till: &'static str,
    },
    #[error("{field}: {reason}")]
    BadAmount { field: &'static str, reason: String },
    #[error("{field} {value} is a float; write it as a string, e.g. {field} = \"{value}\"")]
    Float { field: &'static str, value: String },
    #[error("{field}: {source}")]
    BadPercent {
        field: &'static str,
        #[source]
        source: PercentError,
    },
    #[error("{field} {value} is out of range ({min} to {max})")]
    OutOfRange {
        field: &'static str,
        value: String,
        min: String,
        max: String,
    },
    #[error("colour '{0}' is not #rgb or #rrggbb")]
    BadColour(String),
    #[error("at most {max} {what}")]
    TooMany { what: &'static str, max: usize },
    #[error("unknown currency '{0}'")]
    UnknownCurrency(String),
}

/// Collects issues while walking a section once.
struct Checker {
    currency: Currency,
    issues: Vec<Issue>,
}

impl Checker {
    fn new(currency: Currency) -> Checker {
        Checker {
            currency,
            issues: Vec::new(),
        }
    }

    fn flag(&mut self, place: &Place, problem: Problem) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(Issue {
                place: place.clone(),
                line: None,
                problem,
            });
        }
    }

    fn check(mut self, s: &CatalogSection) -> Result<Catalog, CatalogError> {
        let here = Place::Catalog;
        if let Some(code) = &s.currency {
            match Currency::from_code(code) {
                Ok(c) if c == self.currency => {}
                Ok(c) => self.flag(
                    &here,
                    Problem::WrongCurrency {
                        field: "the catalog",
                        found: c.code().to_owned(),
                        till: self.currency.code(),
                    },
                ),
                Err(_) => self.flag(&here, Problem::UnknownCurrency(code.clone())),
            }
        }
        for (what, len, max) in [
            ("tax rates", s.taxes.len(), MAX_TAXES),
            ("categories", s.categories.len(), MAX_CATEGORIES),
            ("items", s.items.len(), MAX_ITEMS),
        ] {
            if len > max {
                self.flag(&here, Problem::TooMany { what, max });
            }
        }

        let taxes = self.taxes(s);
        let categories = self.categories(s);
        let declared_taxes = declared(taxes.iter().map(|t| t.id.as_str()));
        let default_tax = match s.default_tax.as_deref().map(str::trim) {
            None | Some(NO_TAX) => None,
            Some(id) if taxes.iter().any(|t| t.id == id) => Some(id.to_owned()),
            Some(id) => {
                self.flag(
                    &here,
                    Problem::UnknownTax {
                        id: id.to_owned(),
                        declared: declared_taxes.clone(),
                    },
                );
                None
            }
        };
        let items = self.items(s, &taxes, &categories, default_tax.as_deref());
        let tips = self.tips(s);

        if self.issues.is_empty() {
            Ok(Catalog {
                currency: self.currency,
                items,
                categories,
                taxes,
                default_tax,
                tax_rounding: s.tax_rounding.unwrap_or_default(),
                rounding_mode: s.rounding_mode.unwrap_or_default(),
                tips,
            })
        } else {
            Err(CatalogError::Invalid(self.issues))
        }
    }

    fn taxes(&mut self, s: &CatalogSection) -> Vec<TaxRate> {
        let mut out = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (index, t) in s.taxes.iter().enumerate() {
            let place = Place::Tax {
                index,
                id: t.id.clone(),
            };
            let id = t.id.trim();
            let mut ok = self.identifier(&place, "id", id, MAX_ID_CHARS);
            if id == NO_TAX {
                self.flag(&place, Problem::ReservedId);
                ok = false;
            }
            if let Some(first) = seen.iter().position(|s| s == id) {
                self.flag(
                    &place,
                    Problem::DuplicateId {
                        what: "tax",
                        first: first + 1,
                    },
                );
                ok = false;
            }
            seen.push(id.to_owned());
            ok &= self.text(&place, "label", &t.label, MAX_LABEL_CHARS);
            let rate = self.percent(&place, "rate", &t.rate, Percent::HUNDRED);
            if let (true, Some(rate)) = (ok, rate) {
                out.push(TaxRate {
                    id: id.to_owned(),
                    label: t.label.trim().to_owned(),
                    rate,
                    kind: t.kind,
                });
            }
        }
        out
    }

    fn categories(&mut self, s: &CatalogSection) -> Vec<Category> {
        let mut out: Vec<Category> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (index, c) in s.categories.iter().enumerate() {
            let place = Place::Category {
                index,
                id: c.id.clone(),
            };
            let id = c.id.trim();
            let mut ok = self.identifier(&place, "id", id, MAX_ID_CHARS);
            if let Some(first) = seen.iter().position(|s| s == id) {
                self.flag(
                    &place,
                    Problem::DuplicateId {
                        what: "category",
                        first: first + 1,
                    },
                );
                ok = false;
            }
            seen.push(id.to_owned());
            ok &= self.text(&place, "name", &c.name, MAX_NAME_CHARS);
            ok &= self.colour(&place, c.colour.as_deref());
            if ok {
                out.push(Category {
                    id: id.to_owned(),
                    name: c.name.trim().to_owned(),
                    colour: c.colour.as_ref().map(|c| c.trim().to_owned()),
                });
            }
        }
        out
    }

    fn items(
        &mut self,
        s: &CatalogSection,
        taxes: &[TaxRate],
        categories: &[Category],
        default_tax: Option<&str>,
    ) -> Vec<Item> {
        let declared_taxes = declared(taxes.iter().map(|t| t.id.as_str()));
        let declared_categories = declared(categories.iter().map(|c| c.id.as_str()));
        let mut out = Vec::new();
        let mut skus: Vec<String> = Vec::new();
        let mut positions: Vec<(u32, usize)> = Vec::new();
        for (index, it) in s.items.iter().enumerate() {
            let place = Place::Item {
                index,
                sku: it.sku.clone(),
            };
            let sku = it.sku.trim();
            let mut ok = self.identifier(&place, "sku", sku, MAX_SKU_CHARS);
            let folded = sku.to_ascii_lowercase();
            if let Some(first) = skus.iter().position(|s| *s == folded) {
                self.flag(&place, Problem::DuplicateSku { first: first + 1 });
                ok = false;
            }
            skus.push(folded);
            ok &= self.text(&place, "name", &it.name, MAX_NAME_CHARS);
            let price = self.amount(&place, "price", &it.price);
            let category = match it.category.as_deref().map(str::trim) {
                None => None,
                Some(id) if categories.iter().any(|c| c.id == id) => Some(id.to_owned()),
                Some(id) => {
                    self.flag(
                        &place,
                        Problem::UnknownCategory {
                            id: id.to_owned(),
                            declared: declared_categories.clone(),
                        },
                    );
                    ok = false;
                    None
                }
            };
            let tax = match it.tax.as_deref().map(str::trim) {
                None => default_tax.map(str::to_owned),
                Some(NO_TAX) => None,
                Some(id) if taxes.iter().any(|t| t.id == id) => Some(id.to_owned()),
                Some(id) => {
                    self.flag(
                        &place,
                        Problem::UnknownTax {
                            id: id.to_owned(),
                            declared: declared_taxes.clone(),
                        },
                    );
                    ok = false;
                    None
                }
            };
            ok &= self.colour(&place, it.colour.as_deref());
            if let Some(position) = it.position {
                if let Some(&(_, first)) = positions.iter().find(|(p, _)| *p == position) {
                    self.flag(
                        &place,
                        Problem::DuplicatePosition {
                            position,
                            first: first + 1,
                        },
                    );
                    ok = false;
                }
                positions.push((position, index));
            }
            if let (true, Some(price)) = (ok, price) {
                out.push(Item {
                    sku: sku.to_owned(),
                    name: it.name.trim().to_owned(),
                    price,
                    category,
                    tax,
                    colour: it.colour.as_ref().map(|c| c.trim().to_owned()),
                    position: it.position,
                });
            }
        }
        out
    }

    fn tips(&mut self, s: &CatalogSection) -> TipSettings {
        let mut tips = TipSettings::default_for(self.currency);
        let Some(t) = &s.tips else { return tips };
        let place = Place::Tips;
        // A tips section turns tips on unless it says otherwise.
        tips.ask_customer = t.ask_customer.unwrap_or(true);
        if let Some(max) = &t.max_percent {
            let ceiling = Percent::whole(1000).unwrap_or(Percent::HUNDRED);
            match self.percent(&place, "max_percent", max, ceiling) {
                Some(p) if p.is_zero() => self.flag(
                    &place,
                    Problem::OutOfRange {
                        field: "max_percent",
                        value: p.to_string(),
                        min: Percent::from_micros(1).to_string(),
                        max: ceiling.to_string(),
                    },
                ),
                Some(p) => tips.max_percent = p,
                None => {}
            }
        }
        if let Some(presets) = &t.presets {
            if presets.len() > MAX_TIP_PRESETS {
                self.flag(
                    &place,
                    Problem::TooMany {
                        what: "tip presets",
                        max: MAX_TIP_PRESETS,
                    },
                );
            }
            let max = tips.max_percent;
            tips.presets = presets
                .iter()
                .filter_map(|p| self.percent(&place, "presets", p, max))
                .collect();
        }
        if let Some(step) = &t.round_up_to {
            match self.amount(&place, "round_up_to", step) {
                Some(m) if m.minor > 0 => tips.round_up_to = m,
                Some(_) => self.flag(
                    &place,
                    Problem::BadAmount {
                        field: "round_up_to",
                        reason: "must be more than zero".into(),
                    },
                ),
                None => {}
            }
        }
        tips
    }

    fn identifier(&mut self, place: &Place, field: &'static str, v: &str, max: usize) -> bool {
        if v.is_empty() {
            self.flag(place, Problem::Empty { field });
            false
        } else if v.chars().count() > max {
            self.flag(place, Problem::TooLong { field, max });
            false
        } else if !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            self.flag(
                place,
                Problem::BadChars {
                    field,
                    value: v.to_owned(),
                },
            );
            false
        } else {
            true
        }
    }

    fn text(&mut self, place: &Place, field: &'static str, v: &str, max: usize) -> bool {
        let v = v.trim();
        if v.is_empty() {
            self.flag(place, Problem::Empty { field });
            false
        } else if v.chars().any(char::is_control) {
            // A receipt printer would take them for commands.
            self.flag(place, Problem::ControlCharacters { field });
            false
        } else if v.chars().count() > max {
            self.flag(place, Problem::TooLong { field, max });
            false
        } else {
            true
        }
    }

    fn colour(&mut self, place: &Place, colour: Option<&str>) -> bool {
        let Some(c) = colour.map(str::trim) else {
            return true;
        };
        let hex = c.strip_prefix('#').unwrap_or("");
        let ok = matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit());
        if !ok {
            self.flag(place, Problem::BadColour(c.to_owned()));
        }
        ok
    }

    fn percent(
        &mut self,
        place: &Place,
        field: &'static str,
        v: &Scalar,
        max: Percent,
    ) -> Option<Percent> {
        let parsed = match v {
            Scalar::Text(t) => Percent::parse(t),
            Scalar::Whole(n) => u32::try_from(*n)
                .ok()
                .and_then(Percent::whole)
                .ok_or_else(|| PercentError::Invalid(n.to_string())),
            Scalar::Float(f) => {
                self.flag(
                    place,
                    Problem::Float {
                        field,
                        value: f.clone(),
                    },
                );
                return None;
            }
        };
        match parsed {
            Ok(p) if p <= max => Some(p),
            Ok(p) => {
                self.flag(
                    place,
                    Problem::OutOfRange {
                        field,
                        value: p.to_string(),
                        min: Percent::ZERO.to_string(),
                        max: max.to_string(),
                    },
                );
                None
            }
            Err(source) => {
                self.flag(place, Problem::BadPercent { field, source });
                None
            }
        }
    }

    /// An amount in the till's currency, zero allowed, with an optional currency code.
    fn amount(&mut self, place: &Place, field: &'static str, v: &Scalar) -> Option<Money> {
        let text = match v {
            Scalar::Text(t) => t.trim().to_owned(),
            Scalar::Whole(n) if *n < 0 => {
                self.flag(place, Problem::Negative { field });
                return None;
            }
            Scalar::Whole(n) => n.to_string(),
            Scalar::Float(f) => {
                self.flag(
                    place,
                    Problem::Float {
                        field,
                        value: f.clone(),
                    },
                );
                return None;
            }
        };
        let number = match text.rsplit_once(char::is_whitespace) {
            Some((number, code)) if code.chars().all(|c| c.is_ascii_alphabetic()) => {
                match Currency::from_code(code) {
                    Ok(c) if c == self.currency => number,
                    Ok(c) => {
                        self.flag(
                            place,
                            Problem::WrongCurrency {
                                field,
                                found: c.code().to_owned(),
                                till: self.currency.code(),
                            },
                        );
                        return None;
                    }
                    Err(_) => {
                        self.flag(place, Problem::UnknownCurrency(code.to_owned()));
                        return None;
                    }
                }
            }
            _ => text.as_str(),
        };
        match Money::parse(number, self.currency) {
            Ok(m) => Some(m),
            Err(MoneyError::Zero) => Some(Money::new(0, self.currency)),
            Err(MoneyError::Negative) => {
                self.flag(place, Problem::Negative { field });
                None
            }
            Err(e) => {
                self.flag(
                    place,
                    Problem::BadAmount {
                        field,
                        reason: e.to_string(),
                    },
                );
                None
            }
        }
    }
}

fn declared<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}
