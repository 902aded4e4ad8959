//! Reconciliation at close: the till asks the payment API about every payment of the
//! period and repairs its journal where the API says otherwise.
//!
//! Nothing here writes the journal: every answer goes through the tracker's one merge rule
//! with [`Source::Reconciliation`] (`merge_in`, kept in the journal, followed only if it
//! was), so a repair is an ordinary transition and the report reads its repairs back from
//! the journal. Three sources of payments:
//! - every payment of the period the journal holds (`GET payments/{id}`);
//! - every charge whose create call never got an answer (its order id looked up, as on a
//!   restart);
//! - payments carrying this till's order-id prefix that the journal does not know, from
//!   the API's payment list (newest first, until the period's start). The sandbox lists;
//!   whether the real API lists all payments this way is unverified, so a failed listing
//!   is reported, not fatal.
//!
//! A payment the API cannot be asked about is listed as unchecked in the report, never a
//! reason not to close.

use futures_util::stream::{self, StreamExt as _};

use super::report::{Reconciliation, Unchecked};
use crate::clock::local_now_ms;
use crate::gateway::{Gateway, GatewayError, ListPayments};
use crate::journal::{JournalError, JournalHandle};
use crate::payment::Payment;
use crate::tracker::{Keep, Source, Tracker, TrackerError, Update};

/// Payments read from the API at once.
const CONCURRENT_READS: usize = 4;
/// The payment list is read at most this many pages deep (100 a page).
const LIST_PAGES: usize = 20;
const LIST_PAGE_SIZE: u32 = 100;
/// A charge younger than this may still be in flight in another process (the app beside
/// the CLI): its order is not looked up yet.
const INTENT_GRACE_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the journal failed: {0}")]
    Journal(#[from] JournalError),
    #[error("{}", .0.cashier_message())]
    Gateway(#[from] GatewayError),
    #[error("{0}")]
    Tracker(#[from] TrackerError),
}

/// What a reconciliation runs on: the API client, the journal and the tracker that merges.
#[derive(Clone, Debug)]
pub struct Reconciler {
    gateway: Gateway,
    journal: JournalHandle,
    tracker: Tracker,
    /// `<prefix>-` starts this till's readable order ids.
    order_prefix: String,
}

impl Reconciler {
    pub fn new(
        gateway: Gateway,
        journal: JournalHandle,
        tracker: Tracker,
        order_prefix: impl Into<String>,
    ) -> Reconciler {
        Reconciler {
            gateway,
            journal,
            tracker,
            order_prefix: order_prefix.into(),
        }
    }

    pub fn journal(&self) -> &JournalHandle {
        &self.journal
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Checks the payments created in `[from_ms, to_ms)` that `known` lists (the period's
    /// payments as the journal has them) against the API, repairing through the merge
    /// rule, and looks for this till's payments the journal does not know.
    pub async fn run(&self, known: Vec<String>, from_ms: i64, to_ms: i64) -> Reconciliation {
        let mut unchecked = Vec::new();
        let reads = stream::iter(known.into_iter().map(|id| async move {
            let result = self.gateway.retrieve_payment(&id).await;
            (id, result)
        }))
        .buffer_unordered(CONCURRENT_READS)
        .collect::<Vec<_>>()
        .await;
        let mut checked = 0usize;
        for (id, result) in reads {
            match result {
                Ok(p) => match self.merge(p).await {
                    Ok(()) => checked += 1,
                    Err(e) => unchecked.push(Unchecked {
                        payment_id: Some(id),
                        reason: e.to_string(),
                    }),
                },
                Err(e) => unchecked.push(Unchecked {
                    payment_id: Some(id),
                    reason: e.cashier_message(),
                }),
            }
        }
        let mut found = 0usize;
        match self.open_charges(from_ms, to_ms).await {
            Ok(n) => found += n,
            Err(e) => unchecked.push(Unchecked {
                payment_id: None,
                reason: format!("charges without an answer: {e}"),
            }),
        }
        let listed = match self.unknown_orders(from_ms, to_ms).await {
            Ok(n) => {
                found += n;
                true
            }
            Err(e) => {
                unchecked.push(Unchecked {
                    payment_id: None,
                    reason: format!("this till's orders could not be listed: {e}"),
                });
                false
            }
        };
        tracing::info!(checked, found, unchecked = unchecked.len(), "reconciled");
        Reconciliation {
            at_ms: local_now_ms(),
            checked,
            found,
            listed,
            unchecked,
        }
    }

    /// One API answer through the merge rule; a payment the journal did not know is
    /// attached to its charge intent when there is one.
    async fn merge(&self, p: Payment) -> Result<(), ReconcileError> {
        let keep = if self.tracker.get(&p.id).is_some() {
            Keep::Follow
        } else {
            Keep::Journal
        };
        self.tracker
            .merge_in(Update::Payment(p.clone()), Source::Reconciliation, keep)
            .await?;
        if let Some(order_id) = p.order_id.clone() {
            let at = self.tracker.server_now_ms();
            // Resolves the intent if one waits for this order (the merge above already
            // journaled the payment, so this records no second transition).
            let attached = self
                .journal
                .call(move |j| {
                    let open = j
                        .unresolved_intents()?
                        .into_iter()
                        .any(|i| i.order_id == order_id);
                    if open {
                        j.attach_payment_from(&order_id, &p, Source::Reconciliation, at)?;
                    }
                    Ok(())
                })
                .await;
            attached?;
        }
        Ok(())
    }

    /// Charges of the period whose create call never answered: looked up by order id.
    async fn open_charges(&self, from_ms: i64, to_ms: i64) -> Result<usize, ReconcileError> {
        let now = local_now_ms();
        let intents = self.journal.call(|j| j.unresolved_intents()).await?;
        let mut found = 0;
        for intent in intents.into_iter().filter(|i| {
            i.created_at_ms >= from_ms
                && i.created_at_ms < to_ms
                && now.saturating_sub(i.created_at_ms) >= INTENT_GRACE_MS
        }) {
            if let Some(p) = self.gateway.find_by_order_id(&intent.order_id).await? {
                self.merge(p).await?;
                found += 1;
            }
        }
        Ok(found)
    }

    /// Payments with this till's order-id prefix, created in the period, that the journal
    /// does not hold.
    async fn unknown_orders(&self, from_ms: i64, to_ms: i64) -> Result<usize, ReconcileError> {
        let stem = format!("{}-", self.order_prefix);
        let (from_s, to_s) = (from_ms.div_euclid(1000), to_ms.div_euclid(1000));
        let mut q = ListPayments {
            order_id: None,
            limit: Some(LIST_PAGE_SIZE),
            starting_after: None,
        };
        let mut found = 0;
        for _ in 0..LIST_PAGES {
            let page = self.gateway.list_payments(&q).await?;
            let last = page.data.last().map(|p| (p.id.clone(), p.created));
            for p in page.data {
                let ours = p.order_id.as_deref().is_some_and(|o| o.starts_with(&stem));
                if !ours || p.created < from_s || p.created >= to_s {
                    continue;
                }
                let id = p.id.clone();
                if self.journal.call(move |j| j.get(&id)).await?.is_some() {
                    continue;
                }
                tracing::info!(payment = %p.id, order_id = ?p.order_id, "payment of this till found by listing");
                self.merge(p).await?;
                found += 1;
            }
            match last {
                // Newest first: a page ending before the period has shown it all.
                Some((id, created)) if page.has_more && created >= from_s => {
                    q.starting_after = Some(id);
                }
                _ => break,
            }
        }
        Ok(found)
    }
}
