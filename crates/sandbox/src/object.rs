//! The Payment object as the sandbox serves it: every field of the live sample.
//!
//! PayDesk's typed [`Payment`] holds what a till reads; the live object has more
//! (`cashback_rate`, `sub_deposit_addresses`, a `current_inbound_fund` with twenty fields,
//! …), and a strict client such as Crypto.com's own SDK refuses an object without them. So
//! the store keeps a `Payment` plus [`Extras`] and a whole [`Fund`], and [`Served`] writes
//! them as one object: the typed part through `Payment`'s own serializer (flattened, which
//! on the way out buffers nothing and keeps 128-bit amounts exact), the rest beside it.
//! Events carry the same object, in [`paydesk_protocol::payment::EventEnvelope`].

use base64::Engine as _;
use paydesk_protocol::money::{Currency, Money};
use paydesk_protocol::payment::{EventEnvelope, InboundFund, Payment, Refund};
use rand::Rng;
use serde::Serialize;

/// A payment as the API answers it.
#[derive(Debug, Clone)]
pub struct Served {
    /// `current_inbound_fund` is always None here: `fund` is written in its place.
    pub payment: Payment,
    pub extras: Extras,
    pub fund: Option<Fund>,
}

impl Served {
    /// The typed payment, with its inbound fund: what the handle's callers get.
    pub fn into_payment(self) -> Payment {
        Payment {
            current_inbound_fund: self.fund.as_ref().map(Fund::typed),
            ..self.payment
        }
    }
}

impl Serialize for Served {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(flatten)]
            payment: &'a Payment,
            #[serde(flatten)]
            extras: &'a Extras,
            current_inbound_fund: &'a Option<Fund>,
        }
        Wire {
            payment: &self.payment,
            extras: &self.extras,
            current_inbound_fund: &self.fund,
        }
        .serialize(s)
    }
}

/// `GET /api/payments`.
#[derive(Debug, Serialize)]
pub struct ServedList {
    pub data: Vec<Served>,
    pub has_more: bool,
}

/// The live object's fields beyond PayDesk's `Payment`.
#[derive(Debug, Clone, Serialize)]
pub struct Extras {
    pub cashback_rate: String,
    /// What the customer typed at checkout; Crypto.com e-mails an on-chain payer here for
    /// a refund address.
    pub customer_provided_info: Option<CustomerInfo>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub resource: Option<String>,
    pub merchant_avatar_url: String,
    /// Both follow the create's `onchain_allowed` (true when not given).
    pub enable_onchain_payment: bool,
    pub onchain_enabled: bool,
    pub refresh_disabled: bool,
    pub ncw_connections: Vec<&'static str>,
    pub defi_swap_transaction: Option<String>,
    pub sub_deposit_addresses: Option<SubDepositAddresses>,
    pub experimental_features: Vec<&'static str>,
    pub pay_later_installments: Vec<()>,
    pub pay_later_qr_code: String,
    pub allow_pay_later: bool,
    pub amount_in_usdc: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerInfo {
    pub email: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubDepositAddresses {
    #[serde(rename = "BTC")]
    pub btc: String,
    #[serde(rename = "ETH")]
    pub eth: String,
    #[serde(rename = "CRO_NATIVE")]
    pub cro_native: String,
}

impl Extras {
    pub fn new(
        id: &str,
        onchain: bool,
        deposit_address: Option<&str>,
        usd: Option<String>,
    ) -> Self {
        Extras {
            cashback_rate: "0.0".to_owned(),
            customer_provided_info: None,
            resource_type: None,
            resource_id: None,
            resource: None,
            merchant_avatar_url: String::new(),
            enable_onchain_payment: onchain,
            onchain_enabled: onchain,
            refresh_disabled: false,
            ncw_connections: if onchain {
                vec![
                    "ncw_metamask_plugin",
                    "ncw_wallet_connect",
                    "defi_swap",
                    "cro_chain",
                ]
            } else {
                Vec::new()
            },
            defi_swap_transaction: None,
            sub_deposit_addresses: deposit_address.map(|eth| SubDepositAddresses {
                btc: format!("3{}", random_chars(BASE58, 33)),
                eth: eth.to_owned(),
                cro_native: format!(
                    "cro1{}?memo={}",
                    random_chars(BECH32, 38),
                    rand::rng().random_range(100_000_000..1_000_000_000u32)
                ),
            }),
            experimental_features: Vec::new(),
            pay_later_installments: Vec::new(),
            pay_later_qr_code: base64_json(&format!(
                r#"{{"type":"payment","id":"{id}","pay_method":"pay_later"}}"#
            )),
            allow_pay_later: false,
            amount_in_usdc: usd,
        }
    }
}

/// A payment's `current_inbound_fund`, every field of the live one, in its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fund {
    pub id: String,
    pub txn_id: String,
    pub deposit_address: Option<String>,
    pub inbound_fund_request_id: String,
    /// The coin on its network: "CRO_CRONOS".
    pub currency: String,
    /// Coin units, a decimal string: "100.0".
    pub amount: String,
    /// "captured" when the funds paid the payment; "mismatched" when they did not.
    pub status: String,
    pub confirmed: bool,
    /// "late" or "underpaid"; null when the funds paid the payment.
    pub mismatched_reason: Option<String>,
    pub created_at: String,
    pub txn_created_at: String,
    pub from_address: String,
    pub rating: String,
    pub tx_index: String,
    pub block_number: u64,
    pub updated_at: String,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub payer_id: String,
    pub rebound_ids: Vec<String>,
    pub is_within_threshold: bool,
    /// The network's name: "Cronos".
    pub coin_from: String,
}

pub const FUND_CAPTURED: &str = "captured";
pub const FUND_MISMATCHED: &str = "mismatched";

impl Fund {
    /// Funds that just arrived on chain at `now` (unix seconds).
    pub fn arrived(
        crypto_currency: &str,
        amount: String,
        deposit_address: Option<String>,
        mismatched_reason: Option<&str>,
        now: i64,
    ) -> Fund {
        let (currency, coin_from) = network_of(crypto_currency);
        let at = iso_time(now);
        Fund {
            id: uuid::Uuid::new_v4().to_string(),
            txn_id: format!("0x{}", random_hex(32)),
            deposit_address,
            inbound_fund_request_id: uuid::Uuid::new_v4().to_string(),
            currency,
            amount,
            status: if mismatched_reason.is_some() {
                FUND_MISMATCHED
            } else {
                FUND_CAPTURED
            }
            .to_owned(),
            confirmed: true,
            mismatched_reason: mismatched_reason.map(str::to_owned),
            created_at: at.clone(),
            txn_created_at: at.clone(),
            from_address: random_address(),
            rating: "unknown".to_owned(),
            tx_index: "0".to_owned(),
            block_number: 0,
            updated_at: at,
            meta: serde_json::Map::new(),
            payer_id: random_hex(20),
            rebound_ids: Vec::new(),
            is_within_threshold: false,
            coin_from,
        }
    }

    /// The part PayDesk's `Payment` types.
    pub fn typed(&self) -> InboundFund {
        InboundFund {
            id: Some(self.id.clone()),
            txn_id: Some(self.txn_id.clone()),
            currency: Some(self.currency.clone()),
            amount: Some(self.amount.clone()),
            status: Some(self.status.clone()),
            confirmed: Some(self.confirmed),
            mismatched_reason: self.mismatched_reason.clone(),
            coin_from: Some(self.coin_from.clone()),
            created_at: Some(self.created_at.clone()),
        }
    }

    pub fn is_mismatched(&self) -> bool {
        self.mismatched_reason.is_some()
    }
}

/// A webhook event as the sandbox sends it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: &'static str,
    pub created: i64,
    pub object: Object,
}

#[derive(Debug, Clone)]
pub enum Object {
    Payment(Served),
    Refund(Refund),
}

impl Event {
    pub fn new(kind: &'static str, object: Object, now: i64) -> Event {
        Event {
            // A uuid, as nopCommerce's plugin reads it (`Guid Id`): `evt_…` would not parse.
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            created: now,
            object,
        }
    }

    /// The signed body: `{"id","type","object_type","created","data":{"object":…}}`.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        use paydesk_protocol::payment::{OBJECT_PAYMENT, OBJECT_REFUND};
        match &self.object {
            Object::Payment(p) => serde_json::to_string(&EventEnvelope::new(
                &self.id,
                self.kind,
                OBJECT_PAYMENT,
                self.created,
                p,
            )),
            Object::Refund(r) => serde_json::to_string(&EventEnvelope::new(
                &self.id,
                self.kind,
                OBJECT_REFUND,
                self.created,
                r,
            )),
        }
    }
}

/// `qr_code`: base64 of `{"type":"payment","id":"<id>"}`, byte for byte as the live one.
pub fn qr_code(id: &str) -> String {
    base64_json(&format!(r#"{{"type":"payment","id":"{id}"}}"#))
}

fn base64_json(json: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// The coin's code on its network and the network's name, as an inbound fund names them
/// (the live one: CRO → "CRO_CRONOS", "Cronos"). Others are illustrative.
fn network_of(crypto_currency: &str) -> (String, String) {
    let (code, network) = match crypto_currency {
        "CRO" => ("CRO_CRONOS", "Cronos"),
        "BTC" => ("BTC", "Bitcoin"),
        "ETH" => ("ETH", "Ethereum"),
        "USDC" => ("USDC_ETH", "Ethereum"),
        "USDT" => ("USDT_ETH", "Ethereum"),
        other => (other, other),
    };
    (code.to_owned(), network.to_owned())
}

/// Unix seconds as the live object writes times: "2022-03-07T16:23:13.000Z".
fn iso_time(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn random_address() -> String {
    format!("0x{}", random_hex(20))
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BECH32: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn random_chars(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// What the customer pays in crypto, at fixed illustrative rates (the sandbox is not a
/// price feed). Integer arithmetic only.
pub struct Quote {
    pub crypto_currency: String,
    pub crypto_amount: Option<String>,
    pub amount_in_usd: Option<String>,
}

/// USD value of one whole unit, in micro-dollars.
const USD_MICROS: &[(&str, i128)] = &[
    ("USD", 1_000_000),
    ("EUR", 1_080_000),
    ("GBP", 1_270_000),
    ("CHF", 1_130_000),
    ("CAD", 730_000),
    ("AUD", 650_000),
    ("SGD", 740_000),
    ("HKD", 128_000),
    ("JPY", 6_700),
    ("KRW", 740),
    ("CRO", 90_000),
    ("BTC", 60_000_000_000),
    ("ETH", 3_000_000_000),
    ("USDC", 1_000_000),
    ("USDT", 1_000_000),
];
const SETTLEMENT: &str = "CRO";
const CRYPTO_DECIMALS: u32 = 8;

impl Quote {
    pub fn of(amount: i128, currency: Currency) -> Quote {
        let rate = |code: &str| USD_MICROS.iter().find(|(c, _)| *c == code).map(|(_, r)| *r);
        let scale = 10i128.checked_pow(u32::from(currency.exponent()));
        // Currencies without a rate are priced like USD: the numbers only need to look real.
        let usd_micros = scale.and_then(|s| {
            amount
                .checked_mul(rate(currency.code()).unwrap_or(1_000_000))
                .map(|v| v / s)
        });
        if currency.is_crypto() {
            return Quote {
                crypto_currency: currency.code().to_owned(),
                crypto_amount: Some(trim_decimal(Money::new(amount, currency).amount_string())),
                amount_in_usd: usd_micros.map(|u| decimal(u / 10_000, 2)),
            };
        }
        let cro_rate = rate(SETTLEMENT).unwrap_or(1_000_000);
        let crypto = usd_micros
            .and_then(|u| u.checked_mul(10i128.pow(CRYPTO_DECIMALS)))
            .map(|v| v / cro_rate);
        Quote {
            crypto_currency: SETTLEMENT.to_owned(),
            crypto_amount: crypto.map(|c| trim_decimal(decimal(c, CRYPTO_DECIMALS))),
            amount_in_usd: usd_micros.map(|u| decimal(u / 10_000, 2)),
        }
    }
}

fn decimal(value: i128, places: u32) -> String {
    let scale = 10i128.pow(places);
    format!(
        "{}.{:0width$}",
        value / scale,
        value % scale,
        width = places as usize
    )
}

/// "100.000" → "100.0", as the live sample writes crypto amounts.
fn trim_decimal(s: String) -> String {
    if !s.contains('.') {
        return format!("{s}.0");
    }
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE_SAMPLE: &str =
        include_str!("../../protocol/tests/fixtures/payment-live-sample.json");

    #[test]
    fn the_qr_codes_are_the_live_ones_byte_for_byte() {
        let live: serde_json::Value = serde_json::from_str(LIVE_SAMPLE).unwrap();
        let id = live["id"].as_str().unwrap();
        assert_eq!(qr_code(id), live["qr_code"].as_str().unwrap());
        let extras = Extras::new(id, true, None, None);
        assert_eq!(
            extras.pay_later_qr_code,
            live["pay_later_qr_code"].as_str().unwrap()
        );
    }

    #[test]
    fn times_are_written_as_the_live_object_writes_them() {
        assert_eq!(iso_time(1_646_670_193), "2022-03-07T16:23:13.000Z");
    }

    #[test]
    fn a_served_payment_keeps_its_128_bit_amount_and_its_fund() {
        let live: Payment = serde_json::from_str(LIVE_SAMPLE).unwrap();
        let fund = Fund::arrived("CRO", "100.0".into(), None, Some("late"), 0);
        let served = Served {
            payment: Payment {
                current_inbound_fund: None,
                ..live.clone()
            },
            extras: Extras::new(&live.id, true, None, None),
            fund: Some(fund.clone()),
        };
        let json = serde_json::to_string(&served).unwrap();
        assert!(
            json.contains(r#""amount":100000000000000000000,"#),
            "{json}"
        );
        let back: Payment = serde_json::from_str(&json).unwrap();
        assert_eq!(back.amount, live.amount);
        assert_eq!(back.current_inbound_fund, Some(fund.typed()));
        assert_eq!(served.into_payment(), back);
    }
}
