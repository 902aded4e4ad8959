//! What the payment carries about the sale: a short `description` a person reads in the
//! Crypto.com dashboard ("2× Latte, Croissant"), and `metadata` a program reads back —
//! the lines, subtotal, tax per rate, tip and total as exact decimal strings.
//!
//! Payment APIs bound metadata (Stripe: 50 keys, 500 characters a value; Crypto.com Pay
//! documents no limit, so we assume Stripe's). PayDesk's sale therefore travels in a few
//! keys whose values are compact JSON, each at most [`MetadataLimits::max_value_bytes`]
//! bytes, in at most [`MetadataLimits::max_keys`] keys; lines that do not fit are left out
//! and counted, never cut in half. The layout is documented in `docs/sale.md`.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::catalog::TaxKind;
use crate::totals::Totals;

/// The longest description PayDesk sends, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 120;
/// The version of the metadata layout, in `sale.v`.
pub const METADATA_VERSION: u32 = 1;
/// The metadata keys: `sale`, then `sale_tax`, `sale_tax_2`, …, `sale_lines`, `sale_lines_2`, ….
pub const KEY_SALE: &str = "sale";
pub const KEY_TAX: &str = "sale_tax";
pub const KEY_LINES: &str = "sale_lines";
/// The `sale` value stays under this even with 39-digit amounts.
const MIN_VALUE_BYTES: usize = 400;

/// The payment's `description` and `metadata` for a sale, with the default bounds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub description: String,
    pub metadata: Map<String, Value>,
}

impl Summary {
    pub fn of(totals: &Totals) -> Summary {
        Summary {
            description: description(totals, DESCRIPTION_MAX_CHARS),
            metadata: metadata(totals, MetadataLimits::default()),
        }
    }
}

/// `"2× Latte, Croissant"`: each line's quantity (when more than one) and name, a typed
/// amount without a label as its amount. Cut at a whole line with ", …" to fit `max_chars`
/// characters; a first line too long alone is cut inside with "…".
pub fn description(totals: &Totals, max_chars: usize) -> String {
    let parts: Vec<String> = totals
        .lines
        .iter()
        .map(|l| {
            let name = if l.unlabelled {
                l.unit.to_string()
            } else {
                l.name.clone()
            };
            if l.quantity > 1 {
                format!("{}× {name}", l.quantity)
            } else {
                name
            }
        })
        .collect();
    let full = parts.join(", ");
    if full.chars().count() <= max_chars {
        return full;
    }
    const MORE: &str = ", …";
    let more = MORE.chars().count();
    let mut out = String::new();
    let mut used = 0;
    for part in &parts {
        let sep = if out.is_empty() { 0 } else { 2 };
        let len = part.chars().count();
        if used + sep + len + more > max_chars {
            break;
        }
        if sep > 0 {
            out.push_str(", ");
        }
        out.push_str(part);
        used += sep + len;
    }
    if out.is_empty() {
        let keep = max_chars.saturating_sub(1);
        let mut cut: String = full.chars().take(keep).collect();
        cut.truncate(cut.trim_end_matches([',', ' ']).len());
        cut.push('…');
        return cut;
    }
    out.push_str(MORE);
    out
}

/// Bounds for [`metadata`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataLimits {
    /// Keys this sale may use (the payment's other keys — the intent token, the cashier —
    /// come on top). At least 1.
    pub max_keys: usize,
    /// Bytes of one value (UTF-8). Raised to 400 if set lower.
    pub max_value_bytes: usize,
}

impl Default for MetadataLimits {
    /// 10 keys of 500 bytes: a fifth of Stripe's 50 keys, and its 500 characters.
    fn default() -> Self {
        MetadataLimits {
            max_keys: 10,
            max_value_bytes: 500,
        }
    }
}

/// The sale as payment metadata: string values only, as form-encoded APIs require.
///
/// - `sale`: `{"v":1,"currency":"EUR","subtotal":"7.00","added_tax":"0.00",
///   "included_tax":"1.17","tip":"1.05","total":"8.05","lines":2,"lines_omitted":0,
///   "taxes_omitted":0}`
/// - `sale_tax`, `sale_tax_2`, …: `[["vat20","20%","incl","5.83","1.17"],…]`
///   (id, rate, `incl`|`add`, net, tax)
/// - `sale_lines`, `sale_lines_2`, …: `[["latte","Latte",2,"3.50","7.00"],…]`
///   (SKU or null, name, quantity, unit, line total)
pub fn metadata(totals: &Totals, limits: MetadataLimits) -> Map<String, Value> {
    let max_bytes = limits.max_value_bytes.max(MIN_VALUE_BYTES);
    let mut keys_left = limits.max_keys.max(1) - 1;

    let tax_entries: Vec<String> = totals
        .taxes
        .iter()
        .map(|t| {
            let kind = match t.kind {
                TaxKind::Inclusive => "incl",
                TaxKind::Additive => "add",
            };
            json!([
                t.id,
                t.rate.to_string(),
                kind,
                t.net.amount_string(),
                t.tax.amount_string()
            ])
            .to_string()
        })
        .collect();
    let line_entries: Vec<String> = totals
        .lines
        .iter()
        .map(|l| {
            json!([
                l.sku,
                l.name,
                l.quantity,
                l.unit.amount_string(),
                l.amount.amount_string()
            ])
            .to_string()
        })
        .collect();

    let mut out = Map::new();
    let (tax_chunks, taxes_omitted) = pack(&tax_entries, keys_left, max_bytes);
    keys_left -= tax_chunks.len();
    let (line_chunks, lines_omitted) = pack(&line_entries, keys_left, max_bytes);
    let sale = json!({
        "v": METADATA_VERSION,
        "currency": totals.currency.code(),
        "subtotal": totals.subtotal.amount_string(),
        "added_tax": totals.added_tax.amount_string(),
        "included_tax": totals.included_tax.amount_string(),
        "tip": totals.tip.amount_string(),
        "total": totals.total.amount_string(),
        "lines": totals.lines.len(),
        "lines_omitted": lines_omitted,
        "taxes_omitted": taxes_omitted,
    });
    out.insert(KEY_SALE.to_owned(), Value::String(sale.to_string()));
    for (key, chunks) in [(KEY_TAX, tax_chunks), (KEY_LINES, line_chunks)] {
        for (i, chunk) in chunks.into_iter().enumerate() {
            let name = if i == 0 {
                key.to_owned()
            } else {
                format!("{key}_{}", i + 1)
            };
            out.insert(name, Value::String(chunk));
        }
    }
    out
}

/// Packs JSON entries, in order, into at most `keys` arrays of at most `max_bytes` each.
/// Stops at the first entry that does not fit, so what is kept is always a prefix.
/// Returns the arrays and how many entries were left out.
fn pack(entries: &[String], keys: usize, max_bytes: usize) -> (Vec<String>, usize) {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, entry) in entries.iter().enumerate() {
        // "[" + entries joined by "," + "]"
        let grown = current.len() + usize::from(!current.is_empty()) + entry.len() + 2;
        if !current.is_empty() && grown <= max_bytes {
            current.push(',');
            current.push_str(entry);
            continue;
        }
        if !current.is_empty() {
            chunks.push(format!("[{current}]"));
            current.clear();
        }
        if chunks.len() >= keys || entry.len() + 2 > max_bytes {
            return (chunks, entries.len() - i);
        }
        current.push_str(entry);
    }
    if !current.is_empty() {
        chunks.push(format!("[{current}]"));
    }
    (chunks, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_keeps_a_prefix_within_the_bounds() {
        let entries: Vec<String> = (0..50).map(|i| format!("[\"item{i:02}\"]")).collect();
        let (chunks, omitted) = pack(&entries, 2, 100);
        assert!(chunks.iter().all(|c| c.len() <= 100));
        assert_eq!(chunks.len(), 2);
        let kept: usize = chunks.iter().map(|c| c.matches("item").count()).sum();
        assert_eq!(kept + omitted, 50);
        assert!(chunks[0].starts_with("[[\"item00\"]"));
        let (all, none) = pack(&entries[..3], 1, 100);
        assert_eq!((all.len(), none), (1, 0));
        let (nothing, all_omitted) = pack(&entries, 0, 100);
        assert_eq!((nothing.len(), all_omitted), (0, 50));
    }
}
