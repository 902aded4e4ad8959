//! The relay's wire protocol (`paydesk.v1`), shared by the relay and the terminal.
//!
//! One definition serves both ends; `docs/protocol.md` describes it for other clients.
//!
//! 1. `POST /v1/tickets` with `Authorization: Bearer <terminal key>` → [`TicketResponse`]:
//!    a single-use ticket that lives 30 s.
//! 2. `GET /v1/ws[?epoch=E&offset=N]` upgraded with
//!    `Sec-WebSocket-Protocol: paydesk.v1, ticket.<ticket>`; the server echoes `paydesk.v1`.
//!    `epoch`/`offset` name the last event the terminal holds, to resume after it.
//! 3. The server sends [`ServerMessage::Hello`], then (when resuming) the missed events in
//!    order, then live events; it sends [`ServerMessage::Ping`] every heartbeat interval and
//!    the terminal answers [`ClientMessage::Pong`] with the same `seq`.
//!
//! Every message is one JSON text frame with a `"type"` field.
//!
//! Routing: every terminal has an id and a [`Scope`], both announced in the hello. A till
//! writes its id into the `metadata` of every payment it creates ([`TILL_METADATA_KEY`]);
//! the relay sends a till only the events of its own payments (and their refunds), and a
//! merchant-scope session every event of the merchant. A till therefore sees offsets with
//! holes; [`EventMessage::missed_after`] is the one rule that tells a hole from a loss.

use serde::{Deserialize, Serialize};

use crate::payment::WebhookEvent;

/// The subprotocol both sides speak; the server echoes exactly this.
pub const SUBPROTOCOL: &str = "paydesk.v1";
/// The prefix of the second offered subprotocol, which carries the ticket.
pub const TICKET_PROTOCOL_PREFIX: &str = "ticket.";
pub const TICKETS_PATH: &str = "/v1/tickets";
pub const WS_PATH: &str = "/v1/ws";
/// Tickets are refused here: they would leak into logs.
pub const FORBIDDEN_QUERY_KEYS: &[&str] = &["ticket", "token", "key", "access_token"];

/// The key a till writes into the `metadata` object of every payment it creates, with its
/// terminal id as the value; the relay routes the payment's events by it.
pub const TILL_METADATA_KEY: &str = "paydesk_till";

/// Close codes the relay uses (1000–1015 from RFC 6455, 4000+ our own).
pub mod close {
    /// A frame broke RFC 6455 (e.g. a close frame with a code no endpoint may send).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame (or a close reason) that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The relay is restarting: reconnect after a random 1–5 s.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The terminal sent something the protocol does not allow.
    pub const POLICY: u16 = 1008;
    /// A message exceeded the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The terminal did not answer heartbeats in time.
    pub const HEARTBEAT_TIMEOUT: u16 = 4000;
    /// The terminal read too slowly; its send queue filled.
    pub const SLOW_CONSUMER: u16 = 4001;
}

/// Answer to `POST /v1/tickets`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketResponse {
    pub ticket: String,
    pub expires_in_ms: u64,
}

/// A position in a merchant's event stream. `epoch` changes when the stream's storage is
/// lost (restart of an in-memory relay, a new Redis stream), making old offsets meaningless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    pub epoch: String,
    pub offset: u64,
}

/// What the relay could do with a resume request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// No position was given: live events only from here.
    Fresh,
    /// Every event after the given position follows, in order, before live events.
    Recovered,
    /// Events were lost (other epoch, or older than the history keeps): resync from the API.
    NotRecovered,
}

/// Which events a session receives, set per terminal on the relay (`terminal add --scope`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The events of the payments this terminal created (by [`TILL_METADATA_KEY`]) and of
    /// their refunds.
    #[default]
    Till,
    /// Every event of the merchant (a back office, a monitor).
    Merchant,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Till => "till",
            Scope::Merchant => "merchant",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Scope, String> {
        match s {
            "till" => Ok(Scope::Till),
            "merchant" => Ok(Scope::Merchant),
            other => Err(format!("scope '{other}' is neither till nor merchant")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub session_id: String,
    pub merchant: String,
    pub terminal: String,
    /// The relay's clock, unix milliseconds, when it sent this.
    pub server_time_ms: i64,
    pub heartbeat_interval_ms: u64,
    /// Silence longer than interval + timeout means the link is dead (both directions).
    pub heartbeat_timeout_ms: u64,
    pub epoch: String,
    /// The offset of the newest event in the stream when the session began (0: none yet).
    pub offset: u64,
    pub recovery: Recovery,
    /// How many missed events follow this hello.
    #[serde(default)]
    pub replayed: u64,
    /// This terminal's id: the value a till writes under [`TILL_METADATA_KEY`] in the
    /// metadata of every payment it creates. Empty from a relay without routing.
    #[serde(default)]
    pub terminal_id: String,
    /// Which events this session receives.
    #[serde(default)]
    pub scope: Scope,
}

/// One payment or refund update, exactly as the signed webhook carried it, plus its offset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    pub epoch: String,
    pub offset: u64,
    /// The terminal id the relay routed this event to; absent when no till created the
    /// payment (only merchant-scope sessions receive those).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub till: Option<String>,
    /// The offset of the previous event routed to the same till in this epoch (0: none).
    /// Every event in between went to other terminals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub till_prev: Option<u64>,
    pub event: WebhookEvent,
}

impl EventMessage {
    /// Whether events meant for this session were lost between `last_offset` (the last
    /// event processed, or the hello's offset, in the same epoch) and this one.
    ///
    /// A merchant-scope session receives every offset, so any jump is a loss. A till
    /// receives only its own events: the relay names the previous one (`till_prev`), and
    /// only a `till_prev` beyond what the till has processed is a loss.
    pub fn missed_after(&self, last_offset: u64, scope: Scope) -> bool {
        match (scope, self.till_prev) {
            (Scope::Till, Some(prev)) => prev > last_offset,
            _ => self.offset > last_offset.saturating_add(1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub seq: u64,
    pub server_time_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub seq: u64,
}

/// Relay → terminal.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(Hello),
    Event(EventMessage),
    Ping(Ping),
}

/// Terminal → relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Pong(Pong),
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown message type '{0}'")]
    UnknownType(String),
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        // Our own types always serialize; a failure here would be a bug in this module.
        serde_json::to_string(self).unwrap_or_else(|e| {
            tracing::error!(error = %e, "server message did not serialize");
            String::from("{}")
        })
    }

    /// Parses one frame. Looks at `type` first, then parses the whole frame straight into
    /// its struct, so 128-bit amounts are never buffered through a float.
    pub fn from_json(text: &str) -> Result<ServerMessage, WireError> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(rename = "type")]
            kind: String,
        }
        let probe: Probe = serde_json::from_str(text)?;
        Ok(match probe.kind.as_str() {
            "hello" => ServerMessage::Hello(serde_json::from_str(text)?),
            "event" => ServerMessage::Event(serde_json::from_str(text)?),
            "ping" => ServerMessage::Ping(serde_json::from_str(text)?),
            other => return Err(WireError::UnknownType(other.to_owned())),
        })
    }
}

impl ClientMessage {
    pub fn to_json(&self) -> String {
        match self {
            ClientMessage::Pong(p) => format!(r#"{{"type":"pong","seq":{}}}"#, p.seq),
        }
    }

    pub fn from_json(text: &str) -> Result<ClientMessage, WireError> {
        Ok(serde_json::from_str(text)?)
    }
}

/// The value a terminal offers in `Sec-WebSocket-Protocol`.
pub fn offered_protocols(ticket: &str) -> String {
    format!("{SUBPROTOCOL}, {TICKET_PROTOCOL_PREFIX}{ticket}")
}

/// Picks the ticket out of an offered `Sec-WebSocket-Protocol` value, and checks that the
/// plain subprotocol is offered too (so the server has something safe to echo).
pub fn ticket_from_protocols(header: &str) -> Option<&str> {
    let mut ticket = None;
    let mut has_plain = false;
    for p in header.split(',').map(str::trim) {
        if p == SUBPROTOCOL {
            has_plain = true;
        } else if let Some(t) = p.strip_prefix(TICKET_PROTOCOL_PREFIX) {
            ticket = Some(t);
        }
    }
    ticket.filter(|t| has_plain && !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_128_bit_amounts() {
        let event = WebhookEvent::from_json(
            br#"{"id":"evt","type":"payment.captured","created":5,"data":{"object":
            {"id":"p","amount":100000000000000000000,"currency":"CRO","status":"succeeded"}}}"#,
        )
        .unwrap();
        let msg = ServerMessage::Event(EventMessage {
            epoch: "e1".into(),
            offset: 7,
            till: Some("t_abcdefghij".into()),
            till_prev: Some(3),
            event,
        });
        let text = msg.to_json();
        assert!(text.starts_with(r#"{"type":"event""#), "{text}");
        assert_eq!(ServerMessage::from_json(&text).unwrap(), msg);

        let ping = ServerMessage::Ping(Ping {
            seq: 3,
            server_time_ms: 9,
        });
        assert_eq!(ServerMessage::from_json(&ping.to_json()).unwrap(), ping);
        let pong = ClientMessage::Pong(Pong { seq: 3 });
        assert_eq!(ClientMessage::from_json(&pong.to_json()).unwrap(), pong);
        assert!(matches!(
            ServerMessage::from_json(r#"{"type":"nope"}"#),
            Err(WireError::UnknownType(_))
        ));
    }

    #[test]
    fn routing_fields_are_additive_both_ways() {
        // An old relay's hello and event: no id, no scope, no routing fields.
        let hello = r#"{"type":"hello","session_id":"s","merchant":"m","terminal":"t",
            "server_time_ms":1,"heartbeat_interval_ms":10000,"heartbeat_timeout_ms":5000,
            "epoch":"e","offset":0,"recovery":"fresh"}"#;
        match ServerMessage::from_json(hello).unwrap() {
            ServerMessage::Hello(h) => {
                assert_eq!((h.terminal_id.as_str(), h.scope), ("", Scope::Till))
            }
            other => panic!("{other:?}"),
        }
        let event = r#"{"type":"event","epoch":"e","offset":2,"event":{"id":"x",
            "type":"payment.captured","data":{"object":{"id":"p","amount":1,"currency":"USD",
            "status":"succeeded"}}}}"#;
        let ServerMessage::Event(e) = ServerMessage::from_json(event).unwrap() else {
            panic!("not an event")
        };
        assert_eq!((&e.till, e.till_prev), (&None, None));
        // A new relay's unrouted event says nothing about routing either.
        let text = ServerMessage::Event(e).to_json();
        assert!(!text.contains("till"), "{text}");
        assert_eq!(
            serde_json::to_string(&Scope::Merchant).unwrap(),
            r#""merchant""#
        );
        assert_eq!("till".parse::<Scope>(), Ok(Scope::Till));
        assert!("all".parse::<Scope>().is_err());
    }

    #[test]
    fn a_till_tells_a_routing_hole_from_a_loss_by_till_prev() {
        let event = |offset: u64, till_prev: Option<u64>| {
            EventMessage {
            epoch: "e".into(),
            offset,
            till: till_prev.map(|_| "t_abcdefghij".to_owned()),
            till_prev,
            event: WebhookEvent::from_json(
                br#"{"id":"x","type":"payment.created","data":{"object":{"id":"p","amount":1,"currency":"USD","status":"pending"}}}"#,
            )
            .unwrap(),
        }
        };
        // Events 5..=9 went to other tills: not a loss for the till that processed 4.
        assert!(!event(10, Some(4)).missed_after(4, Scope::Till));
        // Its own event 7 never arrived: a loss.
        assert!(event(10, Some(7)).missed_after(4, Scope::Till));
        // A merchant-scope session gets every offset: any jump is a loss.
        assert!(event(10, Some(4)).missed_after(4, Scope::Merchant));
        assert!(!event(5, None).missed_after(4, Scope::Merchant));
        // An old relay sends no till_prev: the old rule holds for every scope.
        assert!(event(10, None).missed_after(4, Scope::Till));
        assert!(!event(5, None).missed_after(4, Scope::Till));
    }

    #[test]
    fn ticket_travels_in_the_second_subprotocol() {
        assert_eq!(
            ticket_from_protocols(&offered_protocols("abc")),
            Some("abc")
        );
        assert_eq!(
            ticket_from_protocols("ticket.abc"),
            None,
            "plain one required"
        );
        assert_eq!(ticket_from_protocols("paydesk.v1"), None);
        assert_eq!(ticket_from_protocols("paydesk.v1, ticket."), None);
    }
}
