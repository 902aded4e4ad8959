//! The hosted checkout page at each `payment_url`: the amount, the status, a Pay button.
//!
//! Plain HTML and a plain form POST (no script), so any phone on the same network that
//! scans the till's QR can open it and complete a demo payment. Paying here is the same
//! capture as `POST /sandbox/payments/{id}/pay`: it sends `payment.captured`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use paydesk_protocol::money::{Currency, Money};
use paydesk_protocol::payment::{Payment, PaymentStatus};

use crate::api::PaymentId;
use crate::control::capture;
use crate::error::ApiError;
use crate::state::{lock, AppState};

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
) -> Result<Json<Payment>, ApiError> {
    Ok(Json(lock(&app.store).get(&id, app.now())?.0))
}

/// Pays, then shows the page again (post/redirect/get, so a reload does not pay twice).
pub async fn pay(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
) -> Result<Response, ApiError> {
    match capture(&app, &id) {
        // Already paid, expired or cancelled: the page says which.
        Ok(_)
        | Err(ApiError {
            code: "payment_not_pending",
            ..
        }) => Ok(Redirect::to(&format!("/checkout/{id}")).into_response()),
        Err(e) => Err(e),
    }
}

fn render(p: &Payment) -> String {
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
    let action = match p.status {
        PaymentStatus::Pending => format!(
            "<p>Time left: {}</p><form method=\"post\" action=\"/checkout/{}/pay\"><button type=\"submit\">Pay</button></form>",
            escape(p.remaining_time.as_deref().unwrap_or("")),
            escape(&p.id)
        ),
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
