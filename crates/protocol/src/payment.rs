//! The Crypto.com Pay object shapes: Payment, Refund, webhook events, API errors.
//!
//! Defined once and reused everywhere: the gateway client parses them, the sandbox serves
//! them, the relay forwards them inside its push messages, the tracker merges them, the
//! journal stores them. Parsing is lenient by design: unknown fields are ignored, missing
//! optional fields are `None`, and an unknown status is kept as `Unknown(..)` instead of
//! failing, so a change on Crypto.com's side never blinds a till.
//!
//! Amounts are `i128` minor units; they are deserialized directly (never through an
//! intermediate `serde_json::Value`, which would turn 10^20 into a float).

use std::fmt;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::{Currency, Money, MoneyError};

/// A payment's status. Only moves forward: `Pending` → one terminal status.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Cancelled,
    /// Never sent by Crypto.com, whose payments stay `pending` with `expired: true` (see
    /// [`Payment::effective_status`]); kept for a sandbox in its legacy mode, and as the
    /// status PayDesk shows for an expired payment.
    Expired,
    /// A status this build does not know. Kept visible, never treated as paid.
    Unknown(String),
}

impl PaymentStatus {
    pub fn as_str(&self) -> &str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Cancelled => "cancelled",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Unknown(s) => s,
        }
    }

    pub fn parse(s: &str) -> PaymentStatus {
        match s {
            "pending" => PaymentStatus::Pending,
            "succeeded" => PaymentStatus::Succeeded,
            "cancelled" | "canceled" => PaymentStatus::Cancelled,
            "expired" => PaymentStatus::Expired,
            other => PaymentStatus::Unknown(other.to_owned()),
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            PaymentStatus::Succeeded | PaymentStatus::Cancelled | PaymentStatus::Expired
        )
    }

    /// Pending is 0, an unknown status 1 (something happened, we cannot say what),
    /// terminal statuses 2.
    fn rank(&self) -> u8 {
        match self {
            PaymentStatus::Pending => 0,
            PaymentStatus::Unknown(_) => 1,
            _ => 2,
        }
    }

    /// Whether a payment in `self` may move to `next`. Terminal statuses never change
    /// (refunds are tracked separately, after `Succeeded`); equal statuses are no move.
    pub fn can_advance_to(&self, next: &PaymentStatus) -> bool {
        match (self.rank(), next.rank()) {
            (a, b) if b > a => true,
            // One unknown status to another: show the newer one.
            (1, 1) => self != next,
            _ => false,
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PaymentStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PaymentStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PaymentStatus::parse(&String::deserialize(d)?))
    }
}

/// A refund's status.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
    Unknown(String),
}

impl RefundStatus {
    pub fn as_str(&self) -> &str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Unknown(s) => s,
        }
    }
}

impl Serialize for RefundStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl RefundStatus {
    pub fn parse(s: &str) -> RefundStatus {
        match s {
            "pending" => RefundStatus::Pending,
            "succeeded" => RefundStatus::Succeeded,
            "failed" => RefundStatus::Failed,
            other => RefundStatus::Unknown(other.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for RefundStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RefundStatus::parse(&String::deserialize(d)?))
    }
}

/// A Crypto.com Pay payment, as the REST API returns it and webhooks carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    /// Minor units of `currency` (cents for USD; base units for crypto).
    pub amount: i128,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_amount: Option<i128>,
    #[serde(default)]
    pub amount_refunded: i128,
    pub currency: String,
    pub status: PaymentStatus,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub captured: bool,
    #[serde(default)]
    pub expired: bool,
    #[serde(default)]
    pub refunded: bool,
    #[serde(default)]
    pub expired_at: Option<i64>,
    #[serde(default)]
    pub time_window: Option<i64>,
    #[serde(default)]
    pub remaining_time: Option<String>,
    #[serde(default)]
    pub crypto_currency: Option<String>,
    #[serde(default)]
    pub crypto_amount: Option<String>,
    #[serde(default)]
    pub payment_url: Option<String>,
    #[serde(default)]
    pub qr_code: Option<String>,
    #[serde(default)]
    pub data_url: Option<String>,
    #[serde(default)]
    pub return_url: Option<String>,
    #[serde(default)]
    pub cancel_url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub sub_merchant_id: Option<String>,
    #[serde(default)]
    pub live_mode: Option<bool>,
    #[serde(default)]
    pub recipient: Option<String>,
    #[serde(default)]
    pub settled_at: Option<i64>,
    #[serde(default)]
    pub deposit_address: Option<String>,
    #[serde(default)]
    pub network_cost: Option<String>,
    #[serde(default)]
    pub payment_type: Option<String>,
    #[serde(default)]
    pub amount_in_usd: Option<String>,
    /// The funds that reached the payment's deposit address, when any did: on an
    /// unresolved payment (late, underpaid, sent twice, wrong coin) its
    /// `mismatched_reason` says why Crypto.com returns them instead of capturing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_inbound_fund: Option<InboundFund>,
    /// "Crypto.com App", "External Wallets", … once the customer paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_method: Option<String>,
}

/// A Payment's `current_inbound_fund`: what arrived on chain (fields as the live object
/// has them; every one optional, unknown ones ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundFund {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// A decimal string in the coin's units ("100.0").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// Why the funds do not settle the payment: "late", "underpaid", "multiple",
    /// "wrong_currency", … (`null` when they do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatched_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coin_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl Payment {
    /// The status to show: a payment the API marks `expired` while still `pending` has
    /// expired. That is how Crypto.com says it (its statuses are only `pending`,
    /// `succeeded` and `cancelled`); an `expired` status is read the same way.
    pub fn effective_status(&self) -> PaymentStatus {
        match self.status {
            PaymentStatus::Pending if self.expired => PaymentStatus::Expired,
            _ => self.status.clone(),
        }
    }

    /// Paid means captured and succeeded, both as the service says.
    pub fn is_paid(&self) -> bool {
        self.effective_status() == PaymentStatus::Succeeded
    }

    /// The server's deadline in unix seconds: `expired_at`, or `created + time_window`.
    pub fn deadline_unix(&self) -> Option<i64> {
        self.expired_at.or_else(|| {
            self.time_window
                .filter(|w| *w > 0 && self.created > 0)
                .map(|w| self.created + w)
        })
    }

    pub fn money(&self) -> Result<Money, MoneyError> {
        Ok(Money::new(
            self.amount,
            Currency::from_code(&self.currency)?,
        ))
    }

    pub fn refunded_money(&self) -> Result<Money, MoneyError> {
        Ok(Money::new(
            self.amount_refunded,
            Currency::from_code(&self.currency)?,
        ))
    }
}

/// A refund of (part of) a captured payment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub payment_id: String,
    pub amount: i128,
    pub currency: String,
    pub status: RefundStatus,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub debit_amount: Option<serde_json::Value>,
    #[serde(default)]
    pub debit_currency: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/payments` parameters. Serializes as JSON or as a form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreatePayment {
    pub amount: i128,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_merchant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onchain_allowed: Option<bool>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<i64>,
}

/// `POST /api/refunds` parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRefund {
    pub payment_id: String,
    pub amount: i128,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `GET /api/payments` answer. The real pagination scheme is unverified; `has_more`
/// with `starting_after=<id>` is what the client and the sandbox agree on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentList {
    pub data: Vec<Payment>,
    #[serde(default)]
    pub has_more: bool,
}

/// The service's error body: `{"error": {"type", "code", "error_message", "param"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// The object a webhook event carries.
#[derive(Clone, Debug, PartialEq)]
pub enum EventObject {
    Payment(Payment),
    Refund(Refund),
}

impl EventObject {
    pub fn payment_id(&self) -> &str {
        match self {
            EventObject::Payment(p) => &p.id,
            EventObject::Refund(r) => &r.payment_id,
        }
    }

    /// The event's `object_type`: [`OBJECT_PAYMENT`] or [`OBJECT_REFUND`].
    pub fn object_type(&self) -> &'static str {
        match self {
            EventObject::Payment(_) => OBJECT_PAYMENT,
            EventObject::Refund(_) => OBJECT_REFUND,
        }
    }
}

impl Serialize for EventObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EventObject::Payment(p) => p.serialize(s),
            EventObject::Refund(r) => r.serialize(s),
        }
    }
}

/// A webhook event: `{"id", "type", "object_type", "created", "data": {"object": …}}`.
///
/// Known types: `payment.created`, `payment.captured`, `payment.refund_requested`,
/// `payment.refund_transferred` and `payment.fulfill` (its meaning is unknown). Others are
/// kept with their type and object, never refused. `object_type` is not stored: it is the
/// object's kind ([`EventObject::object_type`]), written on every serialization.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookEvent {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventData {
    pub object: EventObject,
}

pub const EVENT_PAYMENT_CREATED: &str = "payment.created";
pub const EVENT_PAYMENT_CAPTURED: &str = "payment.captured";
pub const EVENT_REFUND_REQUESTED: &str = "payment.refund_requested";
pub const EVENT_REFUND_TRANSFERRED: &str = "payment.refund_transferred";
/// Seen in Crypto.com's event list; what it means is unknown. A till keeps it and moves
/// nothing on it.
pub const EVENT_PAYMENT_FULFILL: &str = "payment.fulfill";

/// `object_type` of an event carrying a Payment.
pub const OBJECT_PAYMENT: &str = "payment";
/// `object_type` of an event carrying a Refund.
pub const OBJECT_REFUND: &str = "refund";

/// The webhook envelope around any object, as a sender writes it. [`WebhookEvent`]
/// serializes through it; a sender whose object carries more than [`Payment`] holds (the
/// sandbox serves the live object's every field) wraps its own object in the same shape.
#[derive(Debug, Serialize)]
pub struct EventEnvelope<'a, O: Serialize + ?Sized> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub object_type: &'a str,
    pub created: i64,
    pub data: EnvelopeData<'a, O>,
}

#[derive(Debug, Serialize)]
pub struct EnvelopeData<'a, O: Serialize + ?Sized> {
    pub object: &'a O,
}

impl<'a, O: Serialize + ?Sized> EventEnvelope<'a, O> {
    pub fn new(
        id: &'a str,
        kind: &'a str,
        object_type: &'a str,
        created: i64,
        object: &'a O,
    ) -> Self {
        EventEnvelope {
            id,
            kind,
            object_type,
            created,
            data: EnvelopeData { object },
        }
    }
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EventEnvelope::new(
            &self.id,
            &self.kind,
            self.object_type(),
            self.created,
            &self.data.object,
        )
        .serialize(s)
    }
}

/// Why a webhook body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed webhook event: {0}")]
pub struct EventParseError(#[from] serde_json::Error);

impl WebhookEvent {
    /// Parses a webhook body. The object is what `object_type` says ("payment" or
    /// "refund"); without it (or with a value this build does not know), a Refund when it
    /// names a `payment_id`, otherwise a Payment.
    pub fn from_json(body: &[u8]) -> Result<WebhookEvent, EventParseError> {
        #[derive(Deserialize)]
        struct Probe {
            /// Any JSON: an odd value falls back to the look at the object, never fails.
            #[serde(default)]
            object_type: Option<serde_json::Value>,
            data: ProbeData,
        }
        #[derive(Deserialize)]
        struct ProbeData {
            object: ProbeObject,
        }
        #[derive(Deserialize)]
        struct ProbeObject {
            #[serde(default)]
            payment_id: Option<IgnoredAny>,
        }
        #[derive(Deserialize)]
        struct Envelope<T> {
            #[serde(default)]
            id: String,
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            created: i64,
            data: Data<T>,
        }
        #[derive(Deserialize)]
        struct Data<T> {
            object: T,
        }
        fn build<T>(e: Envelope<T>, wrap: fn(T) -> EventObject) -> WebhookEvent {
            WebhookEvent {
                id: e.id,
                kind: e.kind,
                created: e.created,
                data: EventData {
                    object: wrap(e.data.object),
                },
            }
        }
        let probe: Probe = serde_json::from_slice(body)?;
        let is_refund = match probe.object_type.as_ref().and_then(|v| v.as_str()) {
            Some(OBJECT_REFUND) => true,
            Some(OBJECT_PAYMENT) => false,
            _ => probe.data.object.payment_id.is_some(),
        };
        Ok(if is_refund {
            build(
                serde_json::from_slice::<Envelope<Refund>>(body)?,
                EventObject::Refund,
            )
        } else {
            build(
                serde_json::from_slice::<Envelope<Payment>>(body)?,
                EventObject::Payment,
            )
        })
    }

    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    pub fn payment_id(&self) -> &str {
        self.data.object.payment_id()
    }

    /// "payment" or "refund", after the object carried.
    pub fn object_type(&self) -> &'static str {
        self.data.object.object_type()
    }
}

impl<'de> Deserialize<'de> for WebhookEvent {
    /// Only from self-describing text formats through [`WebhookEvent::from_json`]: the
    /// object's kind needs a look ahead that a generic deserializer cannot give without
    /// buffering (and buffering loses 128-bit amounts).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        WebhookEvent::from_json(raw.get().as_bytes()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE_SAMPLE: &str = include_str!("../tests/fixtures/payment-live-sample.json");

    #[test]
    fn live_sample_parses_with_its_128_bit_amount() {
        let p: Payment = serde_json::from_str(LIVE_SAMPLE).unwrap();
        assert_eq!(p.id, "a8608fef-05bf-4a43-9d16-6c0f2235ece7");
        assert_eq!(p.amount, 100_000_000_000_000_000_000);
        assert_eq!(p.amount_refunded, 100_000_000_000_000_000_000);
        assert_eq!(p.currency, "CRO");
        assert_eq!(p.status, PaymentStatus::Succeeded);
        assert!(p.captured && p.refunded && !p.expired);
        assert_eq!(p.expired_at, None);
        assert_eq!(p.deadline_unix(), Some(1_646_669_903 + 600));
        assert_eq!(p.money().unwrap().to_string(), "100 CRO");
        // And it survives a round trip without losing a digit.
        let again: Payment = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn unknown_status_is_kept_not_refused() {
        let p: Payment = serde_json::from_str(
            r#"{"id":"x","amount":100,"currency":"USD","status":"under_review","extra":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(p.status, PaymentStatus::Unknown("under_review".into()));
        assert!(!p.is_paid());
    }

    #[test]
    fn status_only_moves_forward() {
        use PaymentStatus::*;
        assert!(Pending.can_advance_to(&Succeeded));
        assert!(Pending.can_advance_to(&Unknown("x".into())));
        assert!(Unknown("x".into()).can_advance_to(&Expired));
        assert!(!Succeeded.can_advance_to(&Pending));
        assert!(!Succeeded.can_advance_to(&Cancelled));
        assert!(!Expired.can_advance_to(&Succeeded));
        assert!(!Pending.can_advance_to(&Pending));
        assert!(!Succeeded.can_advance_to(&Unknown("x".into())));
    }

    #[test]
    fn pending_but_expired_shows_expired() {
        let p: Payment = serde_json::from_str(
            r#"{"id":"x","amount":100,"currency":"USD","status":"pending","expired":true}"#,
        )
        .unwrap();
        assert_eq!(p.effective_status(), PaymentStatus::Expired);
    }

    #[test]
    fn webhook_events_carry_payments_or_refunds() {
        let body = format!(
            r#"{{"id":"evt_1","type":"payment.captured","created":1,"data":{{"object":{LIVE_SAMPLE}}}}}"#
        );
        let e = WebhookEvent::from_json(body.as_bytes()).unwrap();
        assert_eq!(e.kind, EVENT_PAYMENT_CAPTURED);
        assert!(
            matches!(&e.data.object, EventObject::Payment(p) if p.amount == 100_000_000_000_000_000_000)
        );
        let again = WebhookEvent::from_json(e.to_json().unwrap().as_bytes()).unwrap();
        assert_eq!(again, e);

        let refund = r#"{"id":"evt_2","type":"payment.refund_transferred","data":{"object":
            {"id":"r1","payment_id":"p1","amount":50,"currency":"USD","status":"succeeded"}}}"#;
        let e = WebhookEvent::from_json(refund.as_bytes()).unwrap();
        assert_eq!(e.payment_id(), "p1");
        assert!(matches!(e.data.object, EventObject::Refund(_)));
        assert!(WebhookEvent::from_json(b"{\"type\":1}").is_err());
    }

    #[test]
    fn events_write_their_object_type() {
        let refund = r#"{"id":"evt_2","type":"payment.refund_requested","data":{"object":
            {"id":"r1","payment_id":"p1","amount":50,"currency":"USD","status":"pending"}}}"#;
        let e = WebhookEvent::from_json(refund.as_bytes()).unwrap();
        assert_eq!(e.object_type(), OBJECT_REFUND);
        let json: serde_json::Value = serde_json::from_str(&e.to_json().unwrap()).unwrap();
        assert_eq!(json["object_type"], "refund");
        assert_eq!(json["type"], "payment.refund_requested");
        assert_eq!(json["data"]["object"]["status"], "pending");

        let body =
            format!(r#"{{"id":"e","type":"payment.created","data":{{"object":{LIVE_SAMPLE}}}}}"#);
        let e = WebhookEvent::from_json(body.as_bytes()).unwrap();
        assert!(e.to_json().unwrap().contains(r#""object_type":"payment""#));
    }

    #[test]
    fn object_type_decides_the_object_before_any_guess() {
        // A payment object that happens to name a payment_id: the probe alone would read a
        // Refund (every field a Refund needs is there); object_type says otherwise.
        let object =
            r#"{"id":"p1","payment_id":"p0","amount":50,"currency":"USD","status":"pending"}"#;
        let tagged = format!(
            r#"{{"id":"e","type":"payment.created","object_type":"payment","data":{{"object":{object}}}}}"#
        );
        let e = WebhookEvent::from_json(tagged.as_bytes()).unwrap();
        assert!(matches!(&e.data.object, EventObject::Payment(p) if p.id == "p1"));
        // Absent, unknown or odd: the old look at the object decides.
        for object_type in [
            "",
            r#""object_type":"subscription","#,
            r#""object_type":7,"#,
        ] {
            let body = format!(
                r#"{{"id":"e",{object_type}"type":"payment.created","data":{{"object":{object}}}}}"#
            );
            let e = WebhookEvent::from_json(body.as_bytes()).unwrap();
            assert!(matches!(e.data.object, EventObject::Refund(_)), "{body}");
        }
    }

    #[test]
    fn unknown_event_types_are_kept() {
        for kind in [EVENT_PAYMENT_FULFILL, "payment.something_new"] {
            let body = format!(
                r#"{{"id":"e","type":"{kind}","object_type":"payment","created":5,"data":{{"object":{LIVE_SAMPLE}}}}}"#
            );
            let e = WebhookEvent::from_json(body.as_bytes()).unwrap();
            assert_eq!((e.kind.as_str(), e.created), (kind, 5));
            assert_eq!(
                WebhookEvent::from_json(e.to_json().unwrap().as_bytes()).unwrap(),
                e
            );
        }
    }
}
