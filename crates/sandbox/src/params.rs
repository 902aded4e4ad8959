//! Request parameters from JSON or form bodies, validated field by field.
//!
//! Crypto.com's plugins send both `application/json` and form-encoded bodies, so the
//! sandbox reads both into one [`Params`] map and validates each field with an error that
//! names it (`param`). JSON values are kept raw until read: `amount` can exceed 64 bits
//! (10^20 in the live sample), which a `serde_json::Value` would turn into a float.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::error::ApiError;

#[derive(Debug)]
enum Field {
    Json(Box<RawValue>),
    Text(String),
}

/// The parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    fields: BTreeMap<String, Field>,
}

/// Largest amount the sandbox accepts, in minor units: big enough for 10^12 of an
/// 18-decimal token, small enough that quoting it cannot overflow.
pub const MAX_AMOUNT: i128 = 1_000_000_000_000_000_000_000_000_000_000;

impl Params {
    /// Reads a body by its content type; without one, a body that looks like a JSON
    /// object is JSON and anything else is a form.
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, ApiError> {
        let trimmed = body.trim_ascii();
        if trimmed.is_empty() {
            return Ok(Params::default());
        }
        let mime = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        let is_json = match mime.as_deref() {
            Some("application/x-www-form-urlencoded") => false,
            Some(m) if m == "application/json" || m.ends_with("+json") => true,
            _ => trimmed.first() == Some(&b'{'),
        };
        if is_json {
            Self::from_json(trimmed)
        } else {
            Self::from_form(trimmed)
        }
    }

    fn from_json(body: &[u8]) -> Result<Params, ApiError> {
        // `null` is how some clients say "no parameters".
        if body == b"null" {
            return Ok(Params::default());
        }
        let map: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid_body(format!("the body is not a JSON object: {e}")))?;
        Ok(Params {
            fields: map.into_iter().map(|(k, v)| (k, Field::Json(v))).collect(),
        })
    }

    /// Form bodies may spell `metadata` as `metadata[key]=value` pairs.
    fn from_form(body: &[u8]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::invalid_body(format!("the body is not a valid form: {e}")))?;
        let mut fields = BTreeMap::new();
        let mut metadata = serde_json::Map::new();
        for (k, v) in pairs {
            match k
                .strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                Some(key) => {
                    metadata.insert(key.to_owned(), serde_json::Value::String(v));
                }
                None => {
                    fields.insert(k, Field::Text(v));
                }
            }
        }
        if !metadata.is_empty() {
            let raw = RawValue::from_string(serde_json::Value::Object(metadata).to_string())
                .map_err(|e| ApiError::invalid("metadata", e.to_string()))?;
            fields.insert("metadata".to_owned(), Field::Json(raw));
        }
        Ok(Params { fields })
    }

    /// Query strings are forms.
    pub fn from_query(query: Option<&str>) -> Result<Params, ApiError> {
        match query {
            None | Some("") => Ok(Params::default()),
            Some(q) => Self::from_form(q.as_bytes()),
        }
    }

    /// The field's text: a JSON string's content, or a JSON number's or bool's literal.
    /// `null` and an absent field are `None`.
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.fields.get(name) {
            None => Ok(None),
            Some(Field::Text(s)) => Ok(Some(s.clone())),
            Some(Field::Json(raw)) => {
                let text = raw.get().trim();
                match text.as_bytes().first() {
                    Some(b'"') => serde_json::from_str::<String>(text).map(Some).map_err(|_| {
                        ApiError::invalid(name, format!("{name} is not a valid string"))
                    }),
                    Some(b'n') if text == "null" => Ok(None),
                    Some(b'{') | Some(b'[') => {
                        Err(ApiError::invalid(name, format!("{name} must be a string")))
                    }
                    _ => Ok(Some(text.to_owned())),
                }
            }
        }
    }

    /// A string with a length limit; empty counts as absent.
    pub fn text(&self, name: &str, max_len: usize) -> Result<Option<String>, ApiError> {
        match self.string(name)? {
            Some(s) if s.chars().count() > max_len => Err(ApiError::invalid(
                name,
                format!("{name} is longer than {max_len} characters"),
            )),
            Some(s) if s.is_empty() => Ok(None),
            other => Ok(other),
        }
    }

    /// A positive whole number of minor units (string or JSON integer, any width).
    pub fn amount(&self, name: &str) -> Result<Option<i128>, ApiError> {
        let Some(text) = self.string(name)? else {
            return Ok(None);
        };
        let text = text.trim();
        if text.starts_with('-') {
            return Err(ApiError::invalid(name, format!("{name} must be positive")));
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid(
                name,
                format!("{name} must be a whole number of the currency's smallest unit"),
            ));
        }
        let value: i128 = text
            .parse()
            .map_err(|_| ApiError::invalid(name, format!("{name} is too large")))?;
        if value == 0 {
            return Err(ApiError::invalid(name, format!("{name} must be positive")));
        }
        if value > MAX_AMOUNT {
            return Err(ApiError::invalid(name, format!("{name} is too large")));
        }
        Ok(Some(value))
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.string(name)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::invalid(name, format!("{name} must be an integer"))),
        }
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.string(name)?.as_deref().map(str::trim) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("{name} must be true or false"),
            )),
        }
    }

    /// A JSON object (or a string holding one, as forms send it).
    pub fn object(&self, name: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let raw = match self.fields.get(name) {
            None => return Ok(None),
            Some(Field::Json(raw)) => raw.get().to_owned(),
            Some(Field::Text(s)) => s.clone(),
        };
        match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(serde_json::Value::Null) => Ok(None),
            Ok(v @ serde_json::Value::Object(_)) if raw.len() <= 8 * 1024 => Ok(Some(v)),
            Ok(serde_json::Value::Object(_)) => Err(ApiError::invalid(
                name,
                format!("{name} is larger than 8 KiB"),
            )),
            _ => Err(ApiError::invalid(name, format!("{name} must be an object"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_amounts_wider_than_64_bits_are_exact() {
        let p = Params::from_body(
            Some("application/json"),
            br#"{"amount":100000000000000000000,"currency":"CRO"}"#,
        )
        .unwrap();
        assert_eq!(
            p.amount("amount").unwrap(),
            Some(100_000_000_000_000_000_000)
        );
        assert_eq!(p.string("currency").unwrap().as_deref(), Some("CRO"));
    }

    #[test]
    fn forms_and_json_read_the_same() {
        let form = Params::from_body(
            Some("application/x-www-form-urlencoded"),
            b"amount=1250&currency=USD&metadata[till]=3&onchain_allowed=true",
        )
        .unwrap();
        let json = Params::from_body(
            None,
            br#"{"amount":"1250","currency":"USD","metadata":{"till":"3"},"onchain_allowed":true}"#,
        )
        .unwrap();
        for p in [form, json] {
            assert_eq!(p.amount("amount").unwrap(), Some(1250));
            assert_eq!(
                p.object("metadata").unwrap(),
                Some(serde_json::json!({"till":"3"}))
            );
            assert_eq!(p.boolean("onchain_allowed").unwrap(), Some(true));
        }
    }

    #[test]
    fn bad_amounts_name_the_parameter() {
        for body in [
            r#"{"amount":-5}"#,
            r#"{"amount":0}"#,
            r#"{"amount":12.5}"#,
            r#"{"amount":"1e3"}"#,
            r#"{"amount":[1]}"#,
            r#"{"amount":999999999999999999999999999999999999999999}"#,
        ] {
            let p = Params::from_body(None, body.as_bytes()).unwrap();
            let err = p.amount("amount").unwrap_err();
            assert_eq!(err.param.as_deref(), Some("amount"), "{body}");
        }
    }

    #[test]
    fn garbage_bodies_are_refused_as_invalid_bodies() {
        for body in [&b"{"[..], b"[1,2]", b"\xff\xfe", b"{\"a\":}"] {
            let err = Params::from_body(Some("application/json"), body).unwrap_err();
            assert_eq!(err.code, "invalid_body");
        }
    }
}
