//! The hosted checkout page at each `payment_url`: the amount, the status, a Pay button.
//!
//! Plain HTML and plain form POSTs (no script), so any phone on the same network that
//! scans the till's QR can open it and complete a demo payment, in the App or from another
//! wallet (on chain). Paying here is `POST /sandbox/payments/{id}/pay`: the same rules,
//! the same `payment.captured`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use paydesk_protocol::money::{Currency, Money};
use paydesk_protocol::payment::PaymentStatus;

use crate::api::{params, PaymentId, RawBody};
use crate::control::pay_now;
use crate::error::ApiError;
use crate::object::Served;
use crate::state::{lock, AppState};
use crate::store::Payer;

pub async fn page(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
) -> Result<Response, ApiError> {
    let (payment, _) = lock(&app.store).get(&id, app.now())?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Html(render(&payment)),
    )
        .into_response())
}

/// The payment's `data_url`: the object itself, readable without the secret key, as the
/// service's checkout script reads it.
pub async fn data(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
) -> Result<Json<Served>, ApiError> {
    Ok(Json(lock(&app.store).get(&id, app.now())?.0))
}

/// Pays (`method=onchain` in the form for a wallet, the App otherwise), then shows the
/// page again (post/redirect/get, so a reload does not pay twice).
pub async fn pay(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    let payer = match params(&headers, &body)?.text("method", 20)?.as_deref() {
        Some("onchain") => Payer::Onchain,
        _ => Payer::App,
    };
    match pay_now(&app, &id, payer) {
        // Already paid, expired, cancelled or unresolved: the page says which.
        Ok(_)
        | Err(ApiError {
            code: "payment_not_pending" | "payment_unresolved" | "onchain_not_enabled",
            ..
        }) => Ok(Redirect::to(&format!("/checkout/{id}")).into_response()),
        Err(e) => Err(e),
    }
}

fn render(served: &Served) -> String {
    let p = &served.payment;
    let amount = Currency::from_code(&p.currency)
        .map(|c| Money::new(p.amount, c).display_amount())
        .unwrap_or_else(|_| p.amount.to_string());
    let crypto = match (&p.crypto_amount, &p.crypto_currency) {
        (Some(a), Some(c)) => format!("<p class=\"crypto\">{} {}</p>", escape(a), escape(c)),
        _ => String::new(),
    };
    let description = p
        .description
        .as_deref()
        .map(|d| format!("<p>{}</p>", escape(d)))
        .unwrap_or_default();
    let unresolved = served
        .fund
        .as_ref()
        .and_then(|f| f.mismatched_reason.as_deref());
    let action = match p.status {
        PaymentStatus::Pending if unresolved.is_some() => format!(
            "<p class=\"over\">Unresolved: {}</p><p>Crypto.com returns the funds.</p>",
            escape(unresolved.unwrap_or(""))
        ),
        PaymentStatus::Pending if p.expired => "<p class=\"over\">Expired</p>".to_owned(),
        PaymentStatus::Pending => {
            let wallet = if served.extras.onchain_enabled {
                format!(
                    "<form method=\"post\" action=\"/checkout/{}/pay\"><input type=\"hidden\" name=\"method\" value=\"onchain\"><button type=\"submit\" class=\"wallet\">Pay from another wallet</button></form>",
                    escape(&p.id)
                )
            } else {
                String::new()
            };
            format!(
                "<p>Time left: {}</p><form method=\"post\" action=\"/checkout/{}/pay\"><button type=\"submit\">Pay</button></form>{wallet}",
                escape(p.remaining_time.as_deref().unwrap_or("")),
                escape(&p.id)
            )
        }
        PaymentStatus::Succeeded => "<p class=\"done\">Paid ✓</p>".to_owned(),
        PaymentStatus::Cancelled => "<p class=\"over\">Cancelled</p>".to_owned(),
        PaymentStatus::Expired => "<p class=\"over\">Expired</p>".to_owned(),
        PaymentStatus::Unknown(ref s) => format!("<p>{}</p>", escape(s)),
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay {amount} {currency} · PayDesk sandbox</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 26rem; margin: 2rem auto; padding: 0 1rem; text-align: center; }}
.amount {{ font-size: 2.5rem; margin: .5rem 0; }}
.crypto {{ color: #555; }}
button {{ font-size: 1.5rem; padding: .8rem 3rem; border: 0; border-radius: .5rem; background: #1199fa; color: #fff; }}
button.wallet {{ margin-top: 1rem; font-size: 1rem; padding: .6rem 1.5rem; background: #555; }}
.done {{ font-size: 2rem; color: #0a7d32; }}
.over {{ font-size: 1.5rem; color: #a33; }}
small {{ color: #888; }}
</style>
</head>
<body>
<p><small>Crypto.com Pay sandbox · not a real payment</small></p>
<p>{recipient}</p>
<p class="amount">{amount} {currency}</p>
{crypto}
{description}
{action}
<p><small>{id}</small></p>
</body>
</html>
"#,
        amount = escape(&amount),
        currency = escape(&p.currency),
        recipient = escape(p.recipient.as_deref().unwrap_or("")),
        id = escape(&p.id),
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_cannot_inject_markup() {
        assert_eq!(
            escape(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
