//! `doctor`: proves that a till can take payments — the API key, the clock, the polling
//! path, the relay (ticket, WebSocket hello, a heartbeat answered) and the keychain — and
//! says in words which part is broken. Shared by `paydesk-cli doctor` and the app's
//! "Test connection".
//!
//! The relay is checked with a real [`Session`], the same code that serves payments, so
//! doctor cannot pass where the till would fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock::ServerClock;
use crate::config::Mode;
use crate::gateway::{Gateway, GatewayConfig, GatewayError, ListPayments};
use crate::realtime::{ConnectionState, RelayEndpoint, Session, SessionConfig};
use crate::secrets::{Account, Secret, SecretStore};
use crate::tracker::{NoJournal, Tracker, TrackerEvent};

pub const CHECK_API_KEY: &str = "API key";
pub const CHECK_CLOCK: &str = "Clock";
pub const CHECK_POLLING: &str = "Polling path";
pub const CHECK_RELAY: &str = "Relay";
pub const CHECK_HEARTBEAT: &str = "Heartbeat";
pub const CHECK_KEYCHAIN: &str = "Keychain";

/// The keychain row of the report.
pub enum KeychainCheck {
    /// No row: this till has no keychain to speak of (the demo shop's own keys).
    Skip,
    /// The keys come from the environment: the row passes and says so, without probing.
    NotNeeded,
    /// The keys depend on this keychain: probe it.
    Probe(Arc<dyn SecretStore>),
}

/// What doctor checks against.
pub struct DoctorSetup {
    pub api_url: String,
    pub secret_key: Option<Secret>,
    pub relay: Option<RelayEndpoint>,
    /// What to do about the OS keychain.
    pub keychain: KeychainCheck,
    /// A till clock further than this from the server's fails the clock check.
    pub max_clock_skew: Duration,
    /// How long to wait for the relay's hello and then its first heartbeat.
    pub relay_wait: Duration,
    /// The till's mode, when known (demo needs no keys).
    pub mode: Option<Mode>,
    /// The relay URL the settings name, even when no terminal key goes with it.
    pub relay_configured: Option<String>,
}

impl DoctorSetup {
    pub fn new(api_url: impl Into<String>, secret_key: Option<Secret>) -> Self {
        DoctorSetup {
            api_url: api_url.into(),
            secret_key,
            relay: None,
            keychain: KeychainCheck::Skip,
            max_clock_skew: Duration::from_secs(10),
            relay_wait: Duration::from_secs(40),
            mode: None,
            relay_configured: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<Check>,
}

/// `{"ok": …, "checks": […]}`: the verdict travels with the checks, so no reader (the
/// app's Test connection, a script reading `doctor --json`) has to recompute it.
impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Report", 2)?;
        st.serialize_field("ok", &self.ok())?;
        st.serialize_field("checks", &self.checks)?;
        st.end()
    }
}

impl Report {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }

    fn push(&mut self, name: &'static str, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(Check { name, ok, detail });
    }

    /// A plain-text table for a terminal.
    pub fn table(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(5);
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!(
                "{:<width$}  {}  {}\n",
                c.name,
                if c.ok { "PASS" } else { "FAIL" },
                c.detail
            ));
        }
        out
    }
}

fn seconds(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{}.{:01} s", s, (ms.unsigned_abs() % 1000) / 100)
    }
}

/// Runs every check; never fails itself, a broken part is a failed check.
pub async fn run(setup: DoctorSetup) -> Report {
    crate::init_tls();
    let mut report = Report::default();
    let clock = ServerClock::new();

    match &setup.secret_key {
        None => report.push(
            CHECK_API_KEY,
            Err(match setup.mode {
                None | Some(Mode::Demo) => "this till is not set up: run `paydesk-cli provision \
                    <store file>` (or save the keys in Settings), or set PAYDESK_SECRET_KEY"
                    .into(),
                Some(mode) => format!(
                    "{mode} mode needs the secret API key: save it in Settings, run \
                     `paydesk-cli provision <store file>`, or set PAYDESK_SECRET_KEY"
                ),
            }),
        ),
        Some(key) => match Gateway::new(
            GatewayConfig::new(setup.api_url.clone(), key.clone()),
            clock.clone(),
        ) {
            Err(e) => report.push(CHECK_API_KEY, Err(e.cashier_message())),
            Ok(gateway) => {
                let listed = gateway
                    .list_payments(&ListPayments {
                        limit: Some(1),
                        ..ListPayments::default()
                    })
                    .await;
                let answered = !matches!(
                    &listed,
                    Err(GatewayError::Timeout
                        | GatewayError::Connect(_)
                        | GatewayError::Network(_))
                );
                report.push(
                    CHECK_API_KEY,
                    match listed {
                        Ok(_) => Ok(format!("accepted by {}", setup.api_url)),
                        Err(GatewayError::Unauthorized) => {
                            Err("Crypto.com Pay refused the secret key".into())
                        }
                        Err(e) => Err(format!("{}: {}", setup.api_url, e.cashier_message())),
                    },
                );
                report.push(
                    CHECK_CLOCK,
                    if answered {
                        clock_check(&clock, setup.max_clock_skew)
                    } else {
                        Err(format!(
                            "not checked: the payment API at {} did not answer",
                            setup.api_url
                        ))
                    },
                );
                let probe = format!("doctor-probe-{}", uuid::Uuid::new_v4());
                report.push(
                    CHECK_POLLING,
                    match gateway.retrieve_payment_once(&probe, None).await {
                        Ok(_) | Err(GatewayError::NotFound) => {
                            Ok("payment reads answer; polling works when push is down".into())
                        }
                        Err(e) => Err(e.cashier_message()),
                    },
                );
            }
        },
    }

    match (&setup.relay, &setup.relay_configured) {
        (None, None) => report.push(
            CHECK_RELAY,
            Err("no relay configured: payments would be polled only".into()),
        ),
        (None, Some(url)) => report.push(
            CHECK_RELAY,
            Err(format!(
                "relay {url} is configured but this till has no terminal key: save it in \
                 Settings, run `paydesk-cli provision`, or set PAYDESK_TERMINAL_KEY"
            )),
        ),
        (Some(relay), _) => relay_checks(&mut report, relay.clone(), setup.relay_wait).await,
    }

    match &setup.keychain {
        KeychainCheck::Probe(keychain) => report.push(
            CHECK_KEYCHAIN,
            match keychain.get(Account::SecretKey) {
                Ok(_) => Ok("the OS keychain answers".into()),
                Err(e) => Err(e.to_string()),
            },
        ),
        KeychainCheck::NotNeeded => report.push(
            CHECK_KEYCHAIN,
            Ok("not needed: the keys come from the environment".into()),
        ),
        KeychainCheck::Skip => {}
    }
    report
}

fn clock_check(clock: &ServerClock, max_skew: Duration) -> Result<String, String> {
    let Some(estimate) = clock.estimate() else {
        return Err("the API sent no Date header to compare clocks with".into());
    };
    let offset = estimate.offset_ms;
    let max_ms = i64::try_from(max_skew.as_millis()).unwrap_or(i64::MAX);
    // Only what exceeds the measurement's own uncertainty counts as skew.
    if offset.abs().saturating_sub(estimate.uncertainty_ms) > max_ms {
        let direction = if offset > 0 { "behind" } else { "ahead of" };
        Err(format!(
            "this till's clock is {} {direction} the server's; countdowns are corrected, \
             but set the system clock (NTP)",
            seconds(offset)
        ))
    } else {
        Ok(format!(
            "within {} of the server (±{} ms)",
            seconds(offset),
            estimate.uncertainty_ms
        ))
    }
}

/// Opens a real session and waits for it to go live (ticket, WebSocket, hello), then for
/// one heartbeat to arrive and be answered.
async fn relay_checks(report: &mut Report, relay: RelayEndpoint, wait: Duration) {
    let tracker = Tracker::new(Arc::new(NoJournal::default()));
    let mut events = tracker.subscribe();
    let session_url = relay.base_url.clone();
    let config = SessionConfig {
        relay: Some(relay),
        // Doctor must not mistake polling for a working relay.
        fallback_after: wait * 2,
        ..SessionConfig::default()
    };
    let started = Instant::now();
    let session = Session::start(config, tracker.clone(), NoReads);
    let deadline = tokio::time::Instant::now() + wait;
    let mut last_detail = None;
    let live = loop {
        if session.status().state == ConnectionState::Live {
            break true;
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(TrackerEvent::Connection(c))) => {
                if c.detail.is_some() {
                    last_detail = c.detail;
                }
                if c.state == ConnectionState::Live {
                    break true;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break false,
        }
    };
    if !live {
        let url = session_url.clone();
        report.push(
            CHECK_RELAY,
            Err(match last_detail {
                Some(detail) => format!("relay {url}: {detail}"),
                None => format!("relay {url}: no hello within {} s", wait.as_secs()),
            }),
        );
        session.shutdown().await;
        return;
    }
    report.push(
        CHECK_RELAY,
        Ok(format!(
            "ticket accepted, WebSocket live in {} ms",
            started.elapsed().as_millis()
        )),
    );
    // The hello is message one; the first ping is message two, answered by the session.
    let heartbeat_started = Instant::now();
    let heard = loop {
        if session.stats().ws_messages >= 2 {
            break true;
        }
        if tokio::time::Instant::now() >= deadline {
            break false;
        }
        // Wake on any event, or look again shortly: the counters have no notifier.
        let _ = tokio::time::timeout(Duration::from_millis(200), events.recv()).await;
    };
    report.push(
        CHECK_HEARTBEAT,
        if heard && session.status().state == ConnectionState::Live {
            Ok(format!(
                "relay heartbeat received and answered after {} ms",
                heartbeat_started.elapsed().as_millis()
            ))
        } else {
            Err("the relay sent no heartbeat: a proxy may be buffering the WebSocket".into())
        },
    );
    session.shutdown().await;
}

/// Doctor's session tracks no payment, so it never reads one.
#[derive(Clone, Copy)]
struct NoReads;

impl crate::realtime::PaymentReader for NoReads {
    async fn read_payment(
        &self,
        _id: &str,
        _etag: Option<&str>,
    ) -> Result<crate::realtime::ReadOutcome, crate::realtime::ReadError> {
        Err(crate::realtime::ReadError::NotFound)
    }
}
