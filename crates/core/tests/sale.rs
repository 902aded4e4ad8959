//! Sales through the core against the real Crypto.com Pay simulator on loopback: the
//! payment carries the sale's summary and metadata, the journal keeps the sale with its
//! payment, and the day's summary sums its tip and tax per rate. Also the app's path: the
//! register on the till host, the customer's tip, the charge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::Local;
use paydesk_core::config::{ConfigLayer, Mode};
use paydesk_core::journal::{self, Journal};
use paydesk_core::sale::{Cart, Catalog, CustomerPick, Sale, SaleRequest, Summary, TipBy};
use paydesk_core::secrets::{Account, MemoryStore, Secret, SecretStore};
use paydesk_core::staff::{Action, Context as GateContext};
use paydesk_core::terminal::{Terminal, TerminalSetup};
use paydesk_core::till::{Assembly, NoDemo, TillHost};
use paydesk_core::{Currency, PaymentStatus};
use paydesk_sale::{Percent, TaxKind, Tip};
use paydesk_sandbox::{SandboxConfig, SandboxHandle};
use tokio::net::TcpListener;

const SECRET_KEY: &str = "sk_test_sale";

const CAFE: &str = r#"
[catalog]
default_tax = "vat20"

[[catalog.tax]]
id = "vat20"
label = "VAT 20%"
rate = "20"
kind = "inclusive"

[[catalog.tax]]
id = "vat5.5"
label = "VAT 5.5%"
rate = "5.5"
kind = "inclusive"

[[catalog.item]]
sku = "latte"
name = "Latte"
price = "3.50"

[[catalog.item]]
sku = "croissant"
name = "Croissant"
price = "1.80"
tax = "vat5.5"
"#;

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

fn cafe() -> Arc<Catalog> {
    Arc::new(Catalog::from_toml(CAFE, eur()).unwrap())
}

/// 2× Latte, Croissant: 8.80 with 1.26 VAT inside; a 15 % tip is 1.32.
fn cafe_cart() -> Cart {
    let mut cart = Cart::new(cafe());
    cart.add_item("latte", 2).unwrap();
    cart.add_item("croissant", 1).unwrap();
    cart
}

fn fifteen_percent() -> Tip {
    Tip::Percent(Percent::whole(15).unwrap())
}

async fn sandbox() -> SandboxHandle {
    paydesk_core::init_tls();
    let config = SandboxConfig::new(Secret::new(SECRET_KEY), Secret::new("whsec_sale"));
    paydesk_sandbox::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), config)
        .await
        .unwrap()
}

/// The payment as the sandbox holds it, read over HTTP as any client would.
async fn at_the_service(sandbox: &SandboxHandle, id: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}/payments/{id}", sandbox.api_url()))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_is_charged_with_its_summary_and_metadata_and_journaled_with_its_payment() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path().join("journal.sqlite3")).unwrap());
    let setup = TerminalSetup::new("Till 1", sandbox.api_url(), Secret::new(SECRET_KEY));
    let terminal = Terminal::start(setup, journal.clone()).await.unwrap();

    let sale = Sale::ring_up(&cafe_cart(), &fifteen_percent(), Some(TipBy::Cashier)).unwrap();
    let summary = Summary::of(sale.totals());
    let mut request = SaleRequest::new(sale.clone());
    request
        .metadata
        .insert(journal::CASHIER_METADATA_KEY.into(), "Ana".into());
    // Neither may overwrite what the till itself says.
    request.metadata.insert("sale".into(), "forged".into());
    request
        .metadata
        .insert("plugin_name".into(), "someone-else".into());
    let payment = terminal.charge_sale(request).await.unwrap();

    let remote = at_the_service(&sandbox, &payment.id).await;
    assert_eq!(remote["amount"], 1012, "{remote}");
    assert_eq!(remote["currency"], "EUR");
    assert_eq!(remote["description"], "2× Latte, Croissant");
    let metadata = remote["metadata"].as_object().unwrap();
    for (key, value) in &summary.metadata {
        assert_eq!(metadata.get(key), Some(value), "metadata key {key}");
    }
    let sale_json: serde_json::Value =
        serde_json::from_str(metadata["sale"].as_str().unwrap()).unwrap();
    assert_eq!(sale_json["tip"], "1.32");
    assert_eq!(sale_json["total"], "10.12");
    assert_eq!(sale_json["included_tax"], "1.26");
    assert_eq!(
        metadata["sale_lines"],
        r#"[["latte","Latte",2,"3.50","7.00"],["croissant","Croissant",1,"1.80","1.80"]]"#
    );
    assert_eq!(metadata["plugin_name"], "paydesk");
    // Nor name its own cashier: that comes from the staff gate only (none here).
    assert!(
        metadata.get(journal::CASHIER_METADATA_KEY).is_none(),
        "{metadata:?}"
    );
    assert!(metadata[journal::INTENT_METADATA_KEY].is_string());

    // Journaled with its payment before the charge returned.
    assert_eq!(journal.sale(&payment.id).unwrap(), Some(sale.clone()));

    // Paid: the day's summary has the tip and the tax per rate apart.
    sandbox.pay(&payment.id).unwrap();
    let paid = terminal.refresh(&payment.id).await.unwrap();
    assert_eq!(paid.effective_status(), PaymentStatus::Succeeded);
    let entries = journal.history(Local::now().date_naive(), &Local).unwrap();
    let entry = entries.iter().find(|e| e.payment.id == payment.id).unwrap();
    assert_eq!(entry.sale.as_ref(), Some(&sale));
    assert_eq!(entry.sale.as_ref().unwrap().tip_by(), Some(TipBy::Cashier));
    let summary = journal::summarize(&entries).unwrap();
    let eur = summary.iter().find(|s| s.currency == "EUR").unwrap();
    assert_eq!(eur.paid_minor, 1012);
    assert_eq!(eur.sales_count, 1);
    assert_eq!(eur.tips_minor, 132);
    assert_eq!(eur.tax_minor, 126);
    let rates: Vec<(&str, TaxKind, i128, i128)> = eur
        .taxes
        .iter()
        .map(|t| (t.id.as_str(), t.kind, t.net_minor, t.tax_minor))
        .collect();
    assert_eq!(
        rates,
        vec![
            ("vat20", TaxKind::Inclusive, 583, 117),
            ("vat5.5", TaxKind::Inclusive, 171, 9)
        ]
    );

    terminal.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_refused_by_the_service_keeps_its_lines_with_the_abandoned_charge() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path().join("journal.sqlite3")).unwrap());
    // A key the service does not know: the create is refused, not ambiguous.
    let setup = TerminalSetup::new("Till 1", sandbox.api_url(), Secret::new("sk_test_wrong"));
    let terminal = Terminal::start(setup, journal.clone()).await.unwrap();
    let sale = Sale::ring_up(&cafe_cart(), &Tip::None, None).unwrap();
    let mut request = SaleRequest::new(sale.clone());
    request.order_id = Some("refused-1".into());
    terminal.charge_sale(request).await.unwrap_err();
    assert!(journal.unresolved_intents().unwrap().is_empty());
    // No payment, so no history entry; the sale is with its intent.
    let first = journal::IntentId(1);
    assert_eq!(
        journal.intent(first).unwrap().unwrap().order_id,
        "refused-1"
    );
    assert_eq!(journal.intent_sale(first).unwrap(), Some(sale));
    terminal.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_till_host_rings_up_asks_the_customer_for_a_tip_and_charges_what_was_chosen() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        format!(
            "mode = \"test\"\ndefault_currency = \"EUR\"\napi_url = \"{}\"\n{CAFE}",
            sandbox.api_url()
        ),
    )
    .unwrap();
    let keychain = MemoryStore::new();
    keychain
        .set(Account::SecretKey, &Secret::new(SECRET_KEY))
        .unwrap();
    let assembly = Assembly {
        config_path,
        overrides: ConfigLayer::default(),
        keychain: Arc::new(keychain),
        journal_path: Some(dir.path().join("journal.sqlite3")),
    };
    let host = TillHost::new(assembly, Arc::new(NoDemo));
    host.restart().await.unwrap();
    assert_eq!(host.status().mode, Some(Mode::Test));
    let catalog = host.catalog().await.unwrap();
    assert_eq!(catalog.items().len(), 2);

    // The cashier's quick keys and a typed amount.
    let register = host.register();
    register.add_item(&catalog, "latte", 1).unwrap();
    register.add_item(&catalog, "LATTE", 1).unwrap();
    let amount = paydesk_core::Money::parse("1.20", eur()).unwrap();
    let cart = register
        .add_amount(&catalog, amount, Some("Cookie"), Default::default())
        .unwrap();
    assert_eq!(cart.lines.len(), 2);
    assert_eq!(cart.total.minor, 820);
    assert!(cart.can_charge);

    // The customer display asks; the customer taps "20%".
    let paydesk_core::sale::CashierTipView::Asking {
        prompt, buttons, ..
    } = register.propose_tip(Duration::from_secs(60)).unwrap()
    else {
        panic!("the customer should be asked")
    };
    let twenty = buttons.iter().find(|b| b.label == "20%").unwrap();
    assert_eq!(twenty.tip, "1.64 EUR");
    assert_eq!(twenty.total, "9.84 EUR");
    register
        .tips()
        .choose(prompt, &CustomerPick::Choice(twenty.index))
        .unwrap();

    // A till without staff: whoever stands at it charges, unattended.
    let by = host
        .operator(Action::Charge, GateContext::none())
        .await
        .unwrap();
    let payment = host.charge_sale(by, prompt).await.unwrap();
    assert_eq!(payment.amount, 984);
    let remote = at_the_service(&sandbox, &payment.id).await;
    assert_eq!(remote["description"], "2× Latte, Cookie");
    assert_eq!(host.status().active.as_deref(), Some(payment.id.as_str()));
    // The cart is empty for the next customer, and the tip desk idle.
    assert!(register.view(&catalog).unwrap().lines.is_empty());
    assert!(register.tips().sale(prompt).is_err());
    let journal = Journal::open_book(dir.path().join("journal.sqlite3"), Mode::Test).unwrap();
    let sale = journal.sale(&payment.id).unwrap().unwrap();
    assert_eq!(sale.tip().minor, 164);
    assert_eq!(sale.tip_by(), Some(TipBy::Customer));

    host.shutdown().await;
    sandbox.shutdown().await;
}
