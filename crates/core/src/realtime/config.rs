//! What a session needs to know: where the relay is, and its timings.
//!
//! Defaults are the product's: a dead link noticed after at most 15 s of silence (the
//! relay's heartbeat interval plus timeout when shorter), polling after 3 s without push, polls every ~1.5 s while a
//! customer waits, reconnects backing off from 1 s to 30 s. Tests shorten them.

use std::path::PathBuf;
use std::time::Duration;

use crate::secrets::Secret;

/// The relay this terminal listens to.
#[derive(Clone, Debug)]
pub struct RelayEndpoint {
    /// `http://host:port` or `https://host:port` (the WebSocket URL is derived from it).
    pub base_url: String,
    /// Exchanged for a single-use ticket before every connection; never sent elsewhere.
    pub terminal_key: Secret,
    /// A PEM file of extra CA certificates to trust for the relay (a relay with a private
    /// CA), on top of the operating system's store. Config `relay_ca_file`, environment
    /// `PAYDESK_RELAY_CA_FILE`.
    pub ca_file: Option<PathBuf>,
}

impl RelayEndpoint {
    pub fn new(base_url: impl Into<String>, terminal_key: Secret) -> Self {
        RelayEndpoint {
            base_url: base_url.into(),
            terminal_key,
            ca_file: None,
        }
    }

    /// Also trusts the CA certificates in `path` for this relay.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// `None`: no push channel; the session polls from the start.
    pub relay: Option<RelayEndpoint>,
    /// Silence after which the link is dead: the hello's heartbeat interval + timeout,
    /// but never more than this. When the relay heartbeats less often, the terminal
    /// probes a silent link with a WebSocket ping shortly before this runs out, so a live
    /// link answers and a half-open one is still caught in time.
    pub max_silence: Duration,
    /// Replaces the watchdog derived from the hello when set (tests).
    pub watchdog_override: Option<Duration>,
    /// Poll when nothing was heard from the relay for this long and the session is not
    /// live. Measured from the last message, so a link found dead by the watchdog starts
    /// polling at once.
    pub fallback_after: Duration,
    /// Poll interval per pending payment while polling.
    pub poll_interval: Duration,
    /// Random spread of each poll interval, as a fraction (0.2: ±20 %).
    pub poll_jitter: f64,
    /// While live, each pending payment is still read this often (jittered down by up to
    /// a fifth), in case a webhook never reached the relay: a lost capture is seen within
    /// this plus one read's deadline, however often the relay session was re-established.
    pub live_check_every: Duration,
    /// After a payment's deadline passed and it still reads pending, re-read at doubling
    /// gaps from this, up to `backoff_cap`.
    pub expiry_recheck: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// After close 1012 (relay restarting), reconnect after a random delay in this range.
    pub restart_delay: (Duration, Duration),
    /// Ticket request, TCP + WebSocket handshake, and the wait for hello, each.
    pub connect_timeout: Duration,
    /// Deadline of one API read.
    pub read_timeout: Duration,
    /// Deadline of one WebSocket write (a pong).
    pub write_timeout: Duration,
    /// Reads in flight at once.
    pub max_concurrent_reads: usize,
    /// Consecutive failed API reads before the state shows offline.
    pub offline_after_failures: u32,
    /// Largest message accepted from the relay.
    pub max_message_bytes: usize,
    /// tungstenite's read buffer (its 128 KiB default is wasteful for small JSON).
    pub read_buffer_bytes: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            relay: None,
            max_silence: Duration::from_secs(15),
            watchdog_override: None,
            fallback_after: Duration::from_secs(3),
            poll_interval: Duration::from_millis(1500),
            poll_jitter: 0.2,
            live_check_every: Duration::from_secs(45),
            expiry_recheck: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(30),
            restart_delay: (Duration::from_secs(1), Duration::from_secs(5)),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_concurrent_reads: 4,
            offline_after_failures: 2,
            max_message_bytes: 256 * 1024,
            read_buffer_bytes: 8 * 1024,
        }
    }
}

impl SessionConfig {
    pub fn with_relay(base_url: impl Into<String>, terminal_key: Secret) -> Self {
        SessionConfig {
            relay: Some(RelayEndpoint::new(base_url, terminal_key)),
            ..SessionConfig::default()
        }
    }
}

impl SessionConfig {
    /// The same, with every timing and limit raised to a floor where a zero or a typo in
    /// a config file would otherwise spin a loop or refuse every message.
    pub(crate) fn sanitized(mut self) -> SessionConfig {
        let floor = |d: &mut Duration, min: Duration| *d = (*d).max(min);
        let ms = Duration::from_millis;
        floor(&mut self.max_silence, ms(100));
        if let Some(w) = self.watchdog_override.as_mut() {
            floor(w, ms(100));
        }
        floor(&mut self.fallback_after, ms(10));
        floor(&mut self.poll_interval, ms(20));
        self.poll_jitter = if self.poll_jitter.is_finite() {
            self.poll_jitter.clamp(0.0, 0.9)
        } else {
            0.0
        };
        floor(&mut self.live_check_every, ms(100));
        floor(&mut self.expiry_recheck, ms(10));
        floor(&mut self.backoff_base, ms(10));
        self.backoff_cap = self.backoff_cap.max(self.backoff_base);
        let (lo, hi) = self.restart_delay;
        self.restart_delay = (lo, hi.max(lo));
        floor(&mut self.connect_timeout, ms(100));
        floor(&mut self.read_timeout, ms(100));
        floor(&mut self.write_timeout, ms(100));
        self.max_concurrent_reads = self.max_concurrent_reads.clamp(1, 64);
        self.offline_after_failures = self.offline_after_failures.max(1);
        self.max_message_bytes = self.max_message_bytes.max(4 * 1024);
        self.read_buffer_bytes = self.read_buffer_bytes.clamp(1024, 128 * 1024);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_from_a_config_file_cannot_spin_a_loop() {
        let c = SessionConfig {
            poll_interval: Duration::ZERO,
            backoff_base: Duration::ZERO,
            backoff_cap: Duration::ZERO,
            poll_jitter: f64::NAN,
            max_concurrent_reads: 0,
            ..SessionConfig::default()
        }
        .sanitized();
        assert!(c.poll_interval >= Duration::from_millis(20));
        assert!(c.backoff_cap >= c.backoff_base && !c.backoff_base.is_zero());
        assert_eq!(c.poll_jitter, 0.0);
        assert_eq!(c.max_concurrent_reads, 1);
        // Sane values pass through untouched.
        let d = SessionConfig::default().sanitized();
        assert_eq!(d.poll_interval, SessionConfig::default().poll_interval);
    }
}
