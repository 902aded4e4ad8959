//! Following one payment to its end: the shared tail of `charge` and `watch`.
//!
//! Reads the tracker's events (already journaled when they arrive), shows the ones about
//! this payment — status changes, the countdown from the tracker's own ticks, the
//! connection state — and stops at a terminal status. Ctrl-C (or SIGTERM) stops watching
//! and leaves the payment pending in the journal; nothing is cancelled. Typing `c` and
//! Enter cancels the payment at the service.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Result};
use paydesk_core::explain;
use paydesk_core::merge::RefundState;
use paydesk_core::payment::{Payment, RefundStatus};
use paydesk_core::realtime::{ConnectionState, ConnectionStatus};
use paydesk_core::staff::{Action, Pin};
use paydesk_core::terminal::{Terminal, TerminalError};
use paydesk_core::tracker::{Source, Subscription, TrackerEvent, Transition, TransitionKind};
use paydesk_core::{Money, PaymentStatus};
use paydesk_demo::Demo;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::output::{clock_text, Printer};

/// The documented exit statuses.
pub const EXIT_PAID: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_EXPIRED: u8 = 3;
pub const EXIT_CANCELLED: u8 = 4;
/// Stopped by Ctrl-C / SIGTERM; the payment is still pending (128 + SIGINT, as shells do).
pub const EXIT_INTERRUPTED: u8 = 130;

/// How following a payment ended.
#[derive(Debug)]
pub enum Ending {
    Finished(Payment),
    Interrupted,
}

/// The exit status for a payment's final status.
pub fn exit_code_for(status: &PaymentStatus) -> u8 {
    match status {
        PaymentStatus::Succeeded => EXIT_PAID,
        PaymentStatus::Expired => EXIT_EXPIRED,
        PaymentStatus::Cancelled => EXIT_CANCELLED,
        PaymentStatus::Pending | PaymentStatus::Unknown(_) => EXIT_ERROR,
    }
}

fn source_text(source: Source) -> &'static str {
    match source {
        Source::CreateResponse => "create response",
        Source::ApiRead => "read from the API",
        Source::RelayedWebhook => "pushed by the relay",
        Source::Reconciliation => "found by reconciliation",
        Source::Restored => "from the journal",
    }
}

pub fn money_text(minor: i128, currency: &str) -> String {
    match paydesk_core::Currency::from_code(currency) {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} (minor units) {currency}"),
    }
}

fn connection_text(c: &ConnectionStatus) -> String {
    let mut s = format!("connection: {}", c.state.as_str());
    match c.state {
        ConnectionState::Live => s.push_str(" (updates are pushed)"),
        ConnectionState::Polling => s.push_str(" (asking the payment API)"),
        _ => {}
    }
    if let Some(d) = &c.detail {
        s.push_str(&format!(" — {d}"));
    }
    s
}

#[derive(Serialize)]
struct ResultEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    status: &'a PaymentStatus,
    exit_code: u8,
    /// Money that reached the payment without paying it, in the cashier's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    unresolved: Option<Unresolved>,
    payment: &'a Payment,
}

#[derive(Serialize)]
struct InterruptedEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    status: &'a PaymentStatus,
    hint: String,
}

/// Funds that arrived and did not pay the payment (late, short, …): the service's reason
/// and what to tell the customer. Never paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unresolved {
    /// `current_inbound_fund.mismatched_reason` as Crypto.com Pay wrote it.
    pub reason: String,
    pub message: String,
}

impl Unresolved {
    pub fn of(p: &Payment, status: &PaymentStatus) -> Option<Unresolved> {
        let message = explain::unresolved(p, status)?;
        let reason = p
            .current_inbound_fund
            .as_ref()
            .and_then(|f| f.mismatched_reason.clone())
            .unwrap_or_default();
        Some(Unresolved { reason, message })
    }
}

#[derive(Serialize)]
struct UnresolvedEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    #[serde(flatten)]
    unresolved: &'a Unresolved,
}

/// One refund as the cashier reads it: Requested or Sent, and what the customer sees.
#[derive(Serialize)]
pub struct RefundUpdate<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    refund: &'a RefundState,
    #[serde(flatten)]
    words: explain::RefundWords,
}

impl<'a> RefundUpdate<'a> {
    pub fn new(payment: &'a Payment, refund: &'a RefundState) -> RefundUpdate<'a> {
        RefundUpdate {
            kind: "refund_update",
            payment_id: &payment.id,
            refund,
            words: explain::refund(refund, payment),
        }
    }

    /// The refund in one line: its state, amount and reason, then what the customer sees.
    pub fn line(&self) -> String {
        let mut s = format!(
            "refund {}: {}",
            self.words.label.to_lowercase(),
            money_text(self.refund.amount, &self.refund.currency)
        );
        if let Some(reason) = &self.refund.reason {
            s.push_str(&format!(" ({reason})"));
        }
        s.push_str(&format!(" — {}", self.words.customer_sees));
        s
    }
}

/// Shows one transition of the followed payment.
fn show_transition(out: &mut Printer, t: &Transition) {
    out.event(&TrackerEvent::Transition(t.clone()));
    let how = source_text(t.source);
    match t.kind {
        TransitionKind::Tracked => out.line(format!("status: {} ({how})", t.to)),
        TransitionKind::Status => out.line(format!(
            "status: {} → {} ({how})",
            t.from.as_ref().map_or("?", |f| f.as_str()),
            t.to
        )),
        TransitionKind::Refund => match &t.refund {
            Some(r) => {
                let update = RefundUpdate::new(&t.payment, r);
                out.event(&update);
                out.line(format!("{} ({how})", update.line()));
            }
            None => out.line(format!(
                "refunded: {} in all ({how})",
                money_text(t.refunded_to, &t.payment.currency)
            )),
        },
        TransitionKind::Details => {}
    }
}

/// Says once that money reached the followed payment without paying it: the cashier must
/// not wait for a Paid that cannot come.
fn show_unresolved(out: &mut Printer, t: &Transition, shown: &mut bool) {
    if *shown || t.to.is_terminal() {
        // A final status says it in the result.
        return;
    }
    if let Some(u) = Unresolved::of(&t.payment, &t.to) {
        *shown = true;
        out.event(&UnresolvedEvent {
            kind: "unresolved",
            payment_id: &t.payment_id,
            unresolved: &u,
        });
        out.line(format!("UNRESOLVED: {}", u.message));
    }
}

/// Whether following `payment_id` is over: a final status and, when paid, no refund still
/// waiting to be sent (a followed refund ends when Crypto.com reports it sent).
fn settled(terminal: &Terminal, payment_id: &str, status: &PaymentStatus) -> bool {
    status.is_terminal()
        && terminal
            .tracker()
            .get(payment_id)
            .is_none_or(|t| t.refund_requested == 0)
}

/// The refunds of a paid payment still waiting to be sent, unless the API already counts
/// at least that much as refunded (the news of the transfer was missed: nothing to wait
/// for). From the journal's copy and a fresh API answer.
pub fn refunds_waiting(api: &Payment, refunds: &[RefundState]) -> Vec<RefundState> {
    let sum = |status: RefundStatus| {
        refunds
            .iter()
            .filter(|r| r.status == status)
            .fold(0i128, |acc, r| acc.saturating_add(r.amount))
    };
    let requested = sum(RefundStatus::Pending);
    if requested == 0
        || api.amount_refunded >= sum(RefundStatus::Succeeded).saturating_add(requested)
    {
        return Vec::new();
    }
    refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Pending)
        .cloned()
        .collect()
}

/// Prints the final word on a payment and returns the exit status.
pub fn finish(out: &mut Printer, payment: &Payment) -> ExitCode {
    let status = payment.effective_status();
    let code = exit_code_for(&status);
    let unresolved = Unresolved::of(payment, &status);
    out.event(&ResultEvent {
        kind: "result",
        payment_id: &payment.id,
        status: &status,
        exit_code: code,
        unresolved: unresolved.clone(),
        payment,
    });
    let amount = money_text(payment.amount, &payment.currency);
    let line = match &status {
        _ if unresolved.is_some() => format!(
            "{} {amount} (payment {}): {}",
            status.as_str().to_uppercase(),
            payment.id,
            unresolved.as_ref().map_or("", |u| u.message.as_str())
        ),
        PaymentStatus::Succeeded if payment.amount_refunded > 0 => format!(
            "PAID {amount} — refunded {} (payment {})",
            money_text(payment.amount_refunded, &payment.currency),
            payment.id
        ),
        PaymentStatus::Succeeded => format!("PAID {amount} (payment {})", payment.id),
        PaymentStatus::Expired => format!(
            "EXPIRED {amount}: the customer did not pay in time (payment {})",
            payment.id
        ),
        PaymentStatus::Cancelled => format!("CANCELLED {amount} (payment {})", payment.id),
        other => format!("payment {} is {other}", payment.id),
    };
    out.line(line);
    ExitCode::from(code)
}

/// Tells the person that the payment goes on without them.
pub fn interrupted(out: &mut Printer, payment_id: &str) -> ExitCode {
    let hint = format!("paydesk-cli watch {payment_id}");
    out.event(&InterruptedEvent {
        kind: "interrupted",
        payment_id,
        status: &PaymentStatus::Pending,
        hint: hint.clone(),
    });
    out.line(format!(
        "Stopped watching. Payment {payment_id} is still pending and kept in the journal; \
         the customer can still pay. Follow it with: {hint}"
    ));
    ExitCode::from(EXIT_INTERRUPTED)
}

/// Tells the person that a paid payment's refund goes on without them.
pub fn interrupted_refund(out: &mut Printer, payment_id: &str) -> ExitCode {
    let hint = format!("paydesk-cli watch {payment_id}");
    out.event(&InterruptedEvent {
        kind: "interrupted",
        payment_id,
        status: &PaymentStatus::Succeeded,
        hint: hint.clone(),
    });
    out.line(format!(
        "Stopped watching. Payment {payment_id} is paid; its refund is still requested and \
         shows as Requested until Crypto.com reports it sent. Follow it with: {hint}"
    ));
    ExitCode::from(EXIT_INTERRUPTED)
}

/// Ctrl-C (and SIGTERM on Unix), listened for from the moment it is created: a signal
/// that arrives while the payment is being created is kept, not lost to the default
/// handler (which would end the process without a word).
pub struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Stop {
    pub fn listen() -> Result<Stop> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Stop {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(windows)]
        {
            Ok(Stop {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
            })
        }
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(windows)]
        {
            let _ = self.ctrl_c.recv().await;
        }
    }
}

/// What a line typed while following asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// `c` / `cancel`: cancel the payment at the service.
    Cancel,
    /// `p` / `pay` (demo only): the demo customer pays.
    Pay,
}

impl Request {
    fn parse(line: &str) -> Option<Request> {
        match line.trim().to_ascii_lowercase().as_str() {
            "c" | "cancel" => Some(Request::Cancel),
            "p" | "pay" => Some(Request::Pay),
            _ => None,
        }
    }
}

/// Lines typed on stdin while a payment is followed. Anything unknown is ignored, and a
/// closed stdin (a script, `< /dev/null`) asks nothing.
struct Keyboard {
    requests: mpsc::Receiver<Request>,
    open: bool,
    task: JoinHandle<()>,
}

impl Keyboard {
    fn start() -> Keyboard {
        let (tx, requests) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(request) = Request::parse(&line) {
                    if tx.send(request).await.is_err() {
                        return;
                    }
                }
            }
        });
        Keyboard {
            requests,
            open: true,
            task,
        }
    }
}

impl Drop for Keyboard {
    fn drop(&mut self) {
        // A blocked stdin read cannot be interrupted; `main` does not wait for it either.
        self.task.abort();
    }
}

/// Follows `payment_id` until it reaches a terminal status or the person stops it.
/// `events` must have been subscribed before the payment was created or refreshed, so no
/// change can slip between the snapshot and the stream. With a `demo` shop, typing `p`
/// makes its customer pay; typing `c` cancels as the person whose `pin` this is.
pub async fn follow(
    terminal: &Terminal,
    events: &mut Subscription,
    payment_id: &str,
    out: &mut Printer,
    stop: &mut Stop,
    demo: Option<&Demo>,
    pin: Option<&Pin>,
) -> Result<Ending> {
    let span = tracing::info_span!("follow", payment = %payment_id);
    let ending = follow_events(terminal, events, payment_id, out, stop, demo, pin)
        .instrument(span)
        .await;
    match &ending {
        Ok(Ending::Finished(p)) => {
            tracing::info!(payment = %payment_id, status = %p.effective_status(), "payment ended")
        }
        Ok(Ending::Interrupted) => {
            tracing::info!(payment = %payment_id, "stopped watching; the payment stays pending")
        }
        Err(e) => tracing::warn!(payment = %payment_id, error = %e, "following failed"),
    }
    ending
}

async fn follow_events(
    terminal: &Terminal,
    events: &mut Subscription,
    payment_id: &str,
    out: &mut Printer,
    stop: &mut Stop,
    demo: Option<&Demo>,
    pin: Option<&Pin>,
) -> Result<Ending> {
    let mut keyboard = Keyboard::start();
    if std::io::stdin().is_terminal() {
        out.line(if demo.is_some() {
            "Type p and Enter to pay as the demo customer, c and Enter to cancel; Ctrl-C \
             stops watching and leaves the payment pending."
        } else {
            "Type c and Enter to cancel the payment; Ctrl-C stops watching and leaves it \
             pending."
        });
    }
    let mut shown_connection: Option<(ConnectionState, i64)> = None;
    let connection = terminal.snapshot().connection;
    show_connection(out, &connection, &mut shown_connection);
    let mut shown_unresolved = false;
    if let Some(tracked) = terminal.tracker().get(payment_id) {
        if settled(terminal, payment_id, &tracked.status) {
            return Ok(Ending::Finished(tracked.payment));
        }
    }
    loop {
        let event = tokio::select! {
            biased;
            () = stop.wait() => return Ok(Ending::Interrupted),
            request = keyboard.requests.recv(), if keyboard.open => {
                match request {
                    Some(Request::Cancel) => cancel_now(terminal, payment_id, pin, out).await,
                    Some(Request::Pay) => match demo {
                        Some(demo) => pay_now(demo, payment_id, out).await,
                        None => out.line("(p pays only in the demo)"),
                    },
                    None => keyboard.open = false,
                }
                continue;
            }
            e = events.recv() => e,
        };
        let Some(event) = event else {
            bail!("the payment tracker stopped");
        };
        match &event {
            TrackerEvent::Transition(t) if t.payment_id == payment_id => {
                show_transition(out, t);
                show_unresolved(out, t, &mut shown_unresolved);
                if settled(terminal, payment_id, &t.to) {
                    return Ok(Ending::Finished(t.payment.clone()));
                }
            }
            TrackerEvent::Connection(c) => show_connection(out, c, &mut shown_connection),
            TrackerEvent::Tick(t) if t.payment_id == payment_id => {
                out.event(&event);
                out.transient(format!("{} left", clock_text(t.remaining_secs)));
            }
            TrackerEvent::Expired { payment_id: id, .. } if id == payment_id => {
                out.event(&event);
                out.line("time is up; confirming with the payment API (a last-second payment still counts)");
            }
            TrackerEvent::JournalFailed { payment_id: id, .. } if id == payment_id => {
                out.event(&event);
                out.line(
                    "warning: a change could not be written to the journal and is not shown; \
                     it will be read again from the API",
                );
            }
            TrackerEvent::Untracked { payment_id: id } if id == payment_id => {
                bail!("payment {payment_id} is no longer tracked");
            }
            TrackerEvent::Resnapshot { .. } => {
                // Fell behind: the snapshot holds everything missed.
                if let Some(tracked) = terminal.tracker().get(payment_id) {
                    if settled(terminal, payment_id, &tracked.status) {
                        return Ok(Ending::Finished(tracked.payment));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Shows a connection change once. A queued event older than what is already shown (the
/// snapshot at start) is history, not news.
/// The cashier asked to cancel: through the gate with their PIN, then the service; its
/// answer arrives as a transition.
async fn cancel_now(terminal: &Terminal, payment_id: &str, pin: Option<&Pin>, out: &mut Printer) {
    out.line("cancelling …");
    let cancelled = async {
        let about = terminal.payment_context(payment_id).await?;
        let by = terminal
            .authorize(pin.cloned(), Action::CancelOwn, about)
            .await?;
        terminal.cancel_as(by, payment_id).await
    };
    if let Err(e) = cancelled.await {
        let hint = match &e {
            TerminalError::Gate(paydesk_core::staff::GateError::PinNeeded { .. }) => {
                format!(" (give --pin or PAYDESK_PIN, or run `paydesk-cli cancel {payment_id}`)")
            }
            _ => String::new(),
        };
        crate::cmd::warn(out, &format!("the payment was not cancelled: {e}{hint}"));
    }
}

/// The demo customer pays; "paid" then arrives the real way, through the relay.
async fn pay_now(demo: &Demo, payment_id: &str, out: &mut Printer) {
    out.line("the demo customer pays …");
    if let Err(e) = demo.simulate_payment(payment_id).await {
        crate::cmd::warn(out, &format!("the demo customer could not pay: {e}"));
    }
}

fn show_connection(
    out: &mut Printer,
    c: &ConnectionStatus,
    shown: &mut Option<(ConnectionState, i64)>,
) {
    if let Some((state, since)) = *shown {
        if state == c.state || c.since_unix_ms < since {
            return;
        }
    }
    *shown = Some((c.state, c.since_unix_ms));
    out.event(&TrackerEvent::Connection(c.clone()));
    out.line(connection_text(c));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_requests_are_c_and_p_and_nothing_else() {
        assert_eq!(Request::parse(" C\n"), Some(Request::Cancel));
        assert_eq!(Request::parse("cancel"), Some(Request::Cancel));
        assert_eq!(Request::parse("p"), Some(Request::Pay));
        assert_eq!(Request::parse("cancelled"), None);
        assert_eq!(Request::parse(""), None);
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(exit_code_for(&PaymentStatus::Succeeded), 0);
        assert_eq!(exit_code_for(&PaymentStatus::Expired), 3);
        assert_eq!(exit_code_for(&PaymentStatus::Cancelled), 4);
        assert_eq!(exit_code_for(&PaymentStatus::Pending), 1);
        assert_eq!(exit_code_for(&PaymentStatus::Unknown("held".into())), 1);
    }
}
