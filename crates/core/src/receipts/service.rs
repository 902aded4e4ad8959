//! The print service: receipts printed beside the sale, never in its way.
//!
//! One task per till owns the printer and a bounded queue of [`PrintJob`]s. It prints one
//! job at a time; with `auto_print` on it also follows the tracker and prints a sale's
//! receipt when the payment turns Paid (as the API, a push or a poll confirmed it — not
//! when reconciliation finds a sale paid long after the customer left). Each outcome —
//! printed, paper low, or failed with words for the cashier — is published on the
//! tracker's event stream as [`TrackerEvent::Receipt`], which the app and the CLI already
//! follow. Nothing here touches the payment: a full queue, a dead printer or a receipt cut
//! off mid-way are reported, and the receipt is printed again from History.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{JobView, PrintOutcome, ReceiptError, ReceiptEvent, ReceiptSetup};
use crate::journal::JournalHandle;
use crate::merge::{Source, Transition};
use crate::payment::PaymentStatus;
use crate::tracker::{Subscription, Tracker, TrackerEvent};
use paydesk_receipt::{Kind, Printed, Printer, Receipt};

/// How many receipts may wait for the printer.
pub const DEFAULT_QUEUE: usize = 16;

/// Something to print.
#[derive(Clone, Debug, PartialEq)]
pub enum PrintJob {
    /// The sale's receipt of a journaled, paid payment (printed again as often as asked).
    Sale { payment_id: String },
    /// The slip of one refund of a journaled payment.
    Refund {
        payment_id: String,
        refund_id: String,
    },
    /// A ready receipt (a shift or close-of-day report).
    Receipt(Box<Receipt>),
}

impl PrintJob {
    fn view(&self, automatic: bool) -> JobView {
        match self {
            PrintJob::Sale { payment_id } => JobView {
                kind: Kind::Sale,
                payment_id: Some(payment_id.clone()),
                refund_id: None,
                automatic,
            },
            PrintJob::Refund {
                payment_id,
                refund_id,
            } => JobView {
                kind: Kind::Refund,
                payment_id: Some(payment_id.clone()),
                refund_id: Some(refund_id.clone()),
                automatic,
            },
            PrintJob::Receipt(r) => JobView {
                kind: r.kind,
                payment_id: None,
                refund_id: None,
                automatic,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0} receipts are already waiting for the printer; print again in a moment")]
    QueueFull(usize),
    #[error("printing has stopped")]
    Stopped,
}

/// A till's printing: the queue's sending end and the task that owns the printer.
#[derive(Debug)]
pub struct PrintService {
    jobs: mpsc::Sender<PrintJob>,
    setup: ReceiptSetup,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    capacity: usize,
}

impl PrintService {
    /// Starts the task on the current runtime. Outcomes go to `tracker`'s subscribers.
    pub fn start(
        setup: ReceiptSetup,
        journal: JournalHandle,
        tracker: Tracker,
        capacity: usize,
    ) -> PrintService {
        let capacity = capacity.max(1);
        let (jobs, rx) = mpsc::channel(capacity);
        let stop = CancellationToken::new();
        let printer = match setup.printer() {
            Ok(p) => Some(p),
            Err(ReceiptError::NoPrinter) => None,
            Err(e) => {
                tracing::warn!(error = %e, "receipt printer not usable");
                None
            }
        };
        // Subscribed before returning: a payment paid the next instant still prints.
        let events = setup.auto_print.then(|| tracker.subscribe());
        let task = tokio::spawn(run(
            Worker {
                setup: setup.clone(),
                printer,
                journal,
                tracker,
                jobs: rx,
                stop: stop.clone(),
            },
            events,
        ));
        PrintService {
            jobs,
            setup,
            stop,
            task: Some(task),
            capacity,
        }
    }

    pub fn setup(&self) -> &ReceiptSetup {
        &self.setup
    }

    /// Queues a print and returns at once; its outcome arrives as a
    /// [`TrackerEvent::Receipt`].
    pub fn print(&self, job: PrintJob) -> Result<(), ServiceError> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ServiceError::QueueFull(self.capacity),
            mpsc::error::TrySendError::Closed(_) => ServiceError::Stopped,
        })
    }

    /// Stops the task; a print under way is abandoned (it can be printed again).
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for PrintService {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Worker {
    setup: ReceiptSetup,
    printer: Option<Printer>,
    journal: JournalHandle,
    tracker: Tracker,
    jobs: mpsc::Receiver<PrintJob>,
    stop: CancellationToken,
}

/// Whether a transition is the moment a sale's receipt prints by itself.
fn prints_on(t: &Transition) -> bool {
    t.to == PaymentStatus::Succeeded
        && t.status_changed()
        && matches!(
            t.source,
            Source::CreateResponse | Source::ApiRead | Source::RelayedWebhook
        )
}

async fn run(mut w: Worker, mut events: Option<Subscription>) {
    loop {
        let (job, automatic) = tokio::select! {
            biased;
            () = w.stop.cancelled() => return,
            job = w.jobs.recv() => match job {
                Some(job) => (job, false),
                None => return,
            },
            event = async {
                match events.as_mut() {
                    Some(e) => e.recv().await,
                    None => std::future::pending().await,
                }
            } => match event {
                Some(TrackerEvent::Transition(t)) if prints_on(&t) => {
                    (PrintJob::Sale { payment_id: t.payment_id }, true)
                }
                Some(TrackerEvent::Resnapshot { missed }) => {
                    tracing::warn!(missed, "print service fell behind; a receipt may not print by itself");
                    continue;
                }
                Some(_) => continue,
                None => {
                    events = None;
                    continue;
                }
            },
        };
        let view = job.view(automatic);
        let result = tokio::select! {
            () = w.stop.cancelled() => return,
            r = print_one(&w, job) => r,
        };
        if let Err(e) = &result {
            tracing::warn!(code = e.code(), error = %e, kind = ?view.kind, payment = ?view.payment_id, "receipt not printed");
        }
        w.tracker.publish(TrackerEvent::Receipt(ReceiptEvent {
            job: view,
            outcome: PrintOutcome::of(&result),
        }));
    }
}

async fn print_one(w: &Worker, job: PrintJob) -> Result<Printed, ReceiptError> {
    let Some(printer) = &w.printer else {
        return Err(match w.setup.printer() {
            Err(e) => e,
            Ok(_) => ReceiptError::NoPrinter,
        });
    };
    let receipt = match job {
        PrintJob::Receipt(r) => *r,
        PrintJob::Sale { payment_id } => w.setup.sale(&entry(&w.journal, payment_id).await?)?,
        PrintJob::Refund {
            payment_id,
            refund_id,
        } => w
            .setup
            .refund(&entry(&w.journal, payment_id).await?, &refund_id)?,
    };
    Ok(printer.print(&receipt).await?)
}

async fn entry(
    journal: &JournalHandle,
    payment_id: String,
) -> Result<crate::journal::HistoryEntry, ReceiptError> {
    let id = payment_id.clone();
    journal
        .call(move |j| j.entry(&id))
        .await?
        .ok_or(ReceiptError::UnknownPayment(payment_id))
}
