//! The connection state, as the cashier sees it: what the realtime session is doing to
//! learn about payments. A leaf: the session derives it, the tracker carries it to
//! subscribers, the app and the CLI show it.
//!
//! Several facts feed it — is the relay session live, has the polling fallback begun, do
//! API reads still succeed, is the session shut down — and the shown state is derived
//! from them in one place ([`Link::state`]), so no combination can show something the
//! session is not doing.

use serde::{Deserialize, Serialize};

/// What the terminal is doing to learn about payments. Shown as-is in the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// First connection to the relay under way.
    Connecting,
    /// Updates are pushed by the relay as they happen.
    Live,
    /// The relay session was lost; reconnecting, not yet polling.
    Reconnecting,
    /// No push channel: the terminal polls the payment API (and keeps reconnecting).
    Polling,
    /// Neither the relay nor the payment API answers.
    Offline,
    /// The session is shut down.
    Closed,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Live => "live",
            ConnectionState::Reconnecting => "reconnecting",
            ConnectionState::Polling => "polling",
            ConnectionState::Offline => "offline",
            ConnectionState::Closed => "closed",
        }
    }
}

/// The state plus how fresh the terminal's knowledge is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    pub state: ConnectionState,
    /// When the state was entered, local unix ms.
    pub since_unix_ms: i64,
    /// When the terminal last heard from the relay or the API, local unix ms.
    pub last_update_unix_ms: Option<i64>,
    /// Age of that last update when this status was produced.
    pub last_update_age_ms: Option<u64>,
    /// Why the push channel is down, in words for the cashier (never a secret).
    pub detail: Option<String>,
}

impl ConnectionStatus {
    pub(crate) fn initial() -> Self {
        ConnectionStatus {
            state: ConnectionState::Connecting,
            since_unix_ms: 0,
            last_update_unix_ms: None,
            last_update_age_ms: None,
            detail: None,
        }
    }

    pub(crate) fn refresh_age(&mut self, now_ms: i64) {
        self.last_update_age_ms = self
            .last_update_unix_ms
            .map(|t| u64::try_from(now_ms.saturating_sub(t)).unwrap_or(0));
    }
}

/// The facts the shown state is derived from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Link {
    pub ws_live: bool,
    pub ever_live: bool,
    pub fallback: bool,
    /// False after API reads kept failing; true again on the first success.
    pub api_down: bool,
    pub closed: bool,
}

impl Link {
    pub fn state(&self) -> ConnectionState {
        if self.closed {
            ConnectionState::Closed
        } else if self.ws_live {
            ConnectionState::Live
        } else if self.fallback && self.api_down {
            ConnectionState::Offline
        } else if self.fallback {
            ConnectionState::Polling
        } else if self.ever_live {
            ConnectionState::Reconnecting
        } else {
            ConnectionState::Connecting
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_derived_with_live_and_closed_first() {
        let mut l = Link::default();
        assert_eq!(l.state(), ConnectionState::Connecting);
        l.fallback = true;
        assert_eq!(l.state(), ConnectionState::Polling);
        l.api_down = true;
        assert_eq!(l.state(), ConnectionState::Offline);
        l.ws_live = true;
        l.ever_live = true;
        assert_eq!(l.state(), ConnectionState::Live);
        l.ws_live = false;
        l.fallback = false;
        assert_eq!(l.state(), ConnectionState::Reconnecting);
        l.closed = true;
        assert_eq!(l.state(), ConnectionState::Closed);
        assert_eq!(
            serde_json::to_string(&ConnectionState::Polling).unwrap(),
            "\"polling\""
        );
    }
}
