//! The counter's day: shifts, the shift and close-of-day (Z) reports, and reconciliation
//! at close.
//!
//! Place in the flow: the journal holds what the till saw (payments, shifts); at a close
//! [`Reconciler`] asks the payment API about the period and repairs the journal through
//! the tracker's merge rule; [`compute`] then reads the period back from the journal into
//! a [`Report`] — totals per currency, per till and per cashier, and every repair — which
//! is stored as the period's final report ([`close_shift`], [`close_day`]) so it reprints
//! exactly. Before a close, [`report`] shows the numbers so far (an X report).
//!
//! The report goes to the screen as JSON (`Report: Serialize`), to the printer as a
//! `paydesk_receipt::Receipt` ([`Report::receipt`]) and to a spreadsheet as CSV
//! ([`Report::write_csv`]). All of it works without a window: the CLI's `shift` and
//! `report` commands call exactly these functions.

mod reconcile;
mod report;

pub use reconcile::{ReconcileError, Reconciler};
pub use report::{
    CurrencyTotals, Group, Reconciliation, Repair, RepairKind, Report, ReportInput, Unchecked,
    CSV_HEADER,
};

pub use crate::journal::{Period, Shift, ShiftId};

use chrono::{Local, NaiveDate};

use crate::clock::local_now_ms;
use crate::journal::{day_bounds_ms, HistoryEntry, Journal, JournalError, JournalHandle};
use crate::merge::Source;

#[derive(Debug, thiserror::Error)]
pub enum DayError {
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error("a stored report cannot be read: {0}")]
    Stored(serde_json::Error),
    #[error("could not encode the report: {0}")]
    Encode(serde_json::Error),
}

/// A period's payments as the journal holds them, its shift, and its window
/// `[from_ms, to_ms)` (an open shift's runs to `now_ms`). On the journal's thread.
fn period_payments(
    j: &Journal,
    period: Period,
    now_ms: i64,
) -> Result<(Vec<HistoryEntry>, Option<Shift>, i64, i64), JournalError> {
    match period {
        Period::Day(day) => {
            let (from, to) = day_bounds_ms(day, &Local)?;
            Ok((j.payments_between(from, to)?, None, from, to))
        }
        Period::Shift(id) => {
            let shift = j.shift(id)?.ok_or(JournalError::UnknownShift(id.0))?;
            let to = shift.closed_at_ms.unwrap_or(now_ms);
            Ok((
                j.shift_payments(&shift)?,
                Some(shift.clone()),
                shift.opened_at_ms,
                to,
            ))
        }
    }
}

/// The report of `period` as the journal has it now (on the journal's thread: call
/// through [`JournalHandle::call`]).
pub fn compute(j: &Journal, period: Period, now_ms: i64) -> Result<Report, JournalError> {
    let (entries, shift, from_ms, to_ms) = period_payments(j, period, now_ms)?;
    // Reconciliation can only have repaired a payment after the period began (a day's
    // margin: the API's creation time and the till's clock may disagree).
    let repaired = j.reconciled_since(from_ms.saturating_sub(86_400_000))?;
    let mut reconciled = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if !repaired.contains(&e.payment.id) {
            continue;
        }
        for t in j.transitions(&e.payment.id)? {
            if t.source == Source::Reconciliation {
                reconciled.push((i, t));
            }
        }
    }
    Report::build(ReportInput {
        period,
        book: j.book(),
        shift,
        from_ms,
        to_ms,
        entries,
        reconciled,
        now_ms,
    })
}

/// The report of `period`: the stored one if the period was closed, else the numbers so
/// far (not final).
pub async fn report(journal: &JournalHandle, period: Period) -> Result<Report, DayError> {
    let stored = journal.call(move |j| j.stored_report(period)).await?;
    if let Some(stored) = stored {
        return serde_json::from_str(&stored.json).map_err(DayError::Stored);
    }
    let now = local_now_ms();
    Ok(journal.call(move |j| compute(j, period, now)).await?)
}

/// Whether `period` has a stored (final) report.
pub async fn is_closed(journal: &JournalHandle, period: Period) -> Result<bool, DayError> {
    Ok(journal
        .call(move |j| j.stored_report(period))
        .await?
        .is_some())
}

/// Opens a shift on `till`.
pub async fn open_shift(
    journal: &JournalHandle,
    till: &str,
    by: Option<String>,
) -> Result<Shift, DayError> {
    let till = till.to_owned();
    Ok(journal
        .call(move |j| j.open_shift(&till, by.as_deref()))
        .await?)
}

/// `till`'s open shift, if any.
pub async fn current_shift(journal: &JournalHandle, till: &str) -> Result<Option<Shift>, DayError> {
    let till = till.to_owned();
    Ok(journal.call(move |j| j.open_shift_of(&till)).await?)
}

/// Closes `till`'s shift: reconciles its payments with the API first (when a reconciler
/// is given), then closes it, and stores its final report.
pub async fn close_shift(
    journal: &JournalHandle,
    till: &str,
    by: Option<String>,
    reconciler: Option<&Reconciler>,
) -> Result<Report, DayError> {
    let shift = current_shift(journal, till)
        .await?
        .ok_or_else(|| JournalError::NoOpenShift {
            till: till.to_owned(),
        })?;
    let reconciliation = match reconciler {
        Some(r) => Some(reconcile(journal, r, Period::Shift(shift.id)).await?),
        None => None,
    };
    let till = till.to_owned();
    journal
        .call(move |j| j.close_shift(&till, by.as_deref()))
        .await?;
    finish(journal, Period::Shift(shift.id), reconciliation).await
}

/// Closes `day` (the Z report): reconciles its payments first (when a reconciler is
/// given), then stores its final report. Closing again makes a new final report.
pub async fn close_day(
    journal: &JournalHandle,
    day: NaiveDate,
    reconciler: Option<&Reconciler>,
) -> Result<Report, DayError> {
    let reconciliation = match reconciler {
        Some(r) => Some(reconcile(journal, r, Period::Day(day)).await?),
        None => None,
    };
    finish(journal, Period::Day(day), reconciliation).await
}

/// Re-closes a period already closed (a shift's report made again, reconciled).
pub async fn reclose(
    journal: &JournalHandle,
    period: Period,
    reconciler: Option<&Reconciler>,
) -> Result<Report, DayError> {
    let reconciliation = match reconciler {
        Some(r) => Some(reconcile(journal, r, period).await?),
        None => None,
    };
    finish(journal, period, reconciliation).await
}

async fn reconcile(
    journal: &JournalHandle,
    reconciler: &Reconciler,
    period: Period,
) -> Result<Reconciliation, DayError> {
    // An open shift's window includes this very moment.
    let now = local_now_ms().saturating_add(1);
    let (ids, from, to) = journal
        .call(move |j| {
            let (entries, _, from, to) = period_payments(j, period, now)?;
            Ok((
                entries
                    .into_iter()
                    .map(|e| e.payment.id)
                    .collect::<Vec<_>>(),
                from,
                to,
            ))
        })
        .await?;
    Ok(reconciler.run(ids, from, to).await)
}

/// Computes the period's report as the journal has it after reconciliation, marks it
/// final and stores it.
async fn finish(
    journal: &JournalHandle,
    period: Period,
    reconciliation: Option<Reconciliation>,
) -> Result<Report, DayError> {
    let now = local_now_ms();
    let mut report = journal.call(move |j| compute(j, period, now)).await?;
    report.closed = true;
    report.reconciliation = reconciliation;
    let json = serde_json::to_string(&report).map_err(DayError::Encode)?;
    journal.call(move |j| j.store_report(period, &json)).await?;
    tracing::info!(period = ?report.period, payments = report.payments, repairs = report.repairs.len(), "period closed");
    Ok(report)
}
