//! Sales in the journal: what each charge rang up — lines, tax per rate, tip — beside its
//! intent and its payment.
//!
//! A sale is written with its charge's intent in one transaction
//! ([`Journal::record_sale_intent`]), so a till killed at any instant has both or neither;
//! attaching the intent's payment names the payment on the sale in the same transaction as
//! well. History entries carry their sale ([`HistoryEntry::sale`](super::HistoryEntry::sale)) for the receipt, and
//! [`summarize`](super::summarize) adds the tips and the tax per rate of paid sales to the
//! day's totals. The payment's own state never comes from here: only the merge rule
//! writes that.

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::{
    insert_intent, next_order_id, CurrencySummary, Intent, IntentId, Journal, JournalError, Result,
    Who, INTENT_METADATA_KEY,
};
use crate::clock::local_now_ms;
use crate::payment::Payment;
use crate::sale::{Sale, TaxKind, TipBy, Totals};
use paydesk_sale::Percent;

/// How a charge's order id is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentOrder<'a> {
    /// The caller's own reference (a shop system's); must be unique.
    Given(&'a str),
    /// The till's next readable one, `<prefix>-<YYYYMMDD>-<NNNN>`.
    Numbered { prefix: &'a str, day: NaiveDate },
}

/// The tax of one rate over a day's paid sales.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaxSummary {
    pub id: String,
    pub label: String,
    pub rate: Percent,
    pub kind: TaxKind,
    /// The taxable base, tax excluded.
    pub net_minor: i128,
    pub tax_minor: i128,
}

impl Journal {
    /// Journals a sale's charge before the create call goes out: the intent (for the
    /// sale's total) and the sale, in one transaction.
    pub fn record_sale_intent(
        &self,
        order: IntentOrder<'_>,
        sale: &Sale,
        description: Option<&str>,
        terminal: &str,
    ) -> Result<Intent> {
        self.record_sale_intent_as(order, sale, description, terminal, &Who::unattended())
    }

    /// [`Journal::record_sale_intent`] for `who`'s charge.
    pub fn record_sale_intent_as(
        &self,
        order: IntentOrder<'_>,
        sale: &Sale,
        description: Option<&str>,
        terminal: &str,
        who: &Who,
    ) -> Result<Intent> {
        if let IntentOrder::Given(o) = order {
            if o.trim().is_empty() {
                return Err(JournalError::EmptyOrderId);
            }
        }
        let totals = sale.totals();
        let json = serde_json::to_string(totals)?;
        let now = local_now_ms();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let id = self.write(|tx| {
            let order_id = match order {
                IntentOrder::Given(o) => o.to_owned(),
                IntentOrder::Numbered { prefix, day } => next_order_id(tx, prefix, day)?,
            };
            let id = insert_intent(
                tx,
                &order_id,
                sale.amount(),
                description,
                terminal,
                now,
                &token,
                self.book,
                who,
            )?;
            tx.execute(
                "INSERT INTO sales (intent_id, book, currency, subtotal_minor, added_tax_minor, \
                 included_tax_minor, tip_minor, total_minor, tip_by, totals, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id.0,
                    self.book.as_str(),
                    totals.currency.code(),
                    totals.subtotal.minor.to_string(),
                    totals.added_tax.minor.to_string(),
                    totals.included_tax.minor.to_string(),
                    totals.tip.minor.to_string(),
                    totals.total.minor.to_string(),
                    sale.tip_by().map(TipBy::as_str),
                    json,
                    now,
                ],
            )?;
            Ok(id)
        })?;
        self.intent(id)?
            .ok_or_else(|| JournalError::Corrupt(format!("intent {} vanished", id.0)))
    }

    /// The sale a payment of this book was charged as; `None` for a plain charge (or a
    /// payment this till only watched).
    pub fn sale(&self, payment_id: &str) -> Result<Option<Sale>> {
        Ok(self.entry(payment_id)?.and_then(|e| e.sale))
    }

    /// The sale journaled with charge intent `id`, paid or not.
    pub fn intent_sale(&self, id: IntentId) -> Result<Option<Sale>> {
        let conn = self.conn();
        let row: Option<(String, Option<String>)> = conn
            .query_row(
                "SELECT totals, tip_by FROM sales WHERE intent_id = ?1",
                [id.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(json, by)| read_sale(&format!("intent {}", id.0), &json, by.as_deref()))
            .transpose()
    }
}

/// Names the intent's payment on its sale (inside [`Journal::attach_payment_from`]).
pub(super) fn attach_in(tx: &Transaction<'_>, intent: i64, payment_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE sales SET payment_id = ?1 WHERE intent_id = ?2",
        params![payment_id, intent],
    )?;
    Ok(())
}

/// The sale of `payment`. Should two intents ever share a payment (a reused order id
/// reconciled), the one whose token the payment carries is the sale.
pub(super) fn sale_in(tx: &Transaction<'_>, payment: &Payment) -> Result<Option<Sale>> {
    let token = payment
        .metadata
        .as_ref()
        .and_then(|m| m.get(INTENT_METADATA_KEY))
        .and_then(|t| t.as_str());
    let mut stmt = tx.prepare_cached(
        "SELECT s.totals, s.tip_by FROM sales s JOIN intents i ON i.id = s.intent_id \
         WHERE s.payment_id = ?1 ORDER BY (i.token IS ?2) DESC, s.intent_id LIMIT 1",
    )?;
    let row: Option<(String, Option<String>)> = stmt
        .query_row(params![payment.id, token], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(json, by)| read_sale(&format!("payment {}", payment.id), &json, by.as_deref()))
        .transpose()
}

fn read_sale(what: &str, json: &str, tip_by: Option<&str>) -> Result<Sale> {
    let corrupt = |e: String| JournalError::Corrupt(format!("the sale of {what}: {e}"));
    let totals: Totals = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
    let tip_by = match tip_by {
        None => None,
        Some(by) => Some(TipBy::parse(by).ok_or_else(|| corrupt(format!("tip_by '{by}'")))?),
    };
    Sale::from_totals(totals, tip_by).map_err(|e| corrupt(e.to_string()))
}

/// Adds a paid sale's tip and tax to its currency's summary.
pub(super) fn add_to(t: &mut CurrencySummary, sale: &Sale) -> Result<()> {
    let totals = sale.totals();
    if totals.currency.code() != t.currency {
        return Err(JournalError::Corrupt(format!(
            "a sale in {} on a payment in {}",
            totals.currency.code(),
            t.currency
        )));
    }
    let overflow = || JournalError::Corrupt(format!("{} total overflows", t.currency));
    let add = |a: i128, b: i128| a.checked_add(b);
    t.sales_count += 1;
    t.tips_minor = add(t.tips_minor, totals.tip.minor).ok_or_else(overflow)?;
    let tax = add(totals.added_tax.minor, totals.included_tax.minor).ok_or_else(overflow)?;
    t.tax_minor = add(t.tax_minor, tax).ok_or_else(overflow)?;
    for rate in &totals.taxes {
        // The same id at another rate is another line: a rate edited during the day.
        let at = match t
            .taxes
            .iter()
            .position(|s| s.id == rate.id && s.rate == rate.rate && s.kind == rate.kind)
        {
            Some(at) => at,
            None => {
                t.taxes.push(TaxSummary {
                    id: rate.id.clone(),
                    label: rate.label.clone(),
                    rate: rate.rate,
                    kind: rate.kind,
                    net_minor: 0,
                    tax_minor: 0,
                });
                t.taxes.len() - 1
            }
        };
        let s = &mut t.taxes[at];
        s.net_minor = add(s.net_minor, rate.net.minor).ok_or_else(overflow)?;
        s.tax_minor = add(s.tax_minor, rate.tax.minor).ok_or_else(overflow)?;
    }
    Ok(())
}
