//! The sale awaiting the customer's tip ([`TipDesk`]): who may decide it, when, and what the
//! two windows see. Time is tokio's paused clock: deadlines pass when the test says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::sale::tips::{TipDecision, TipOutcome};
use paydesk_core::sale::{
    Cart, CashierTipView, Catalog, CustomerPick, CustomerTipView, PromptId, Register, TipBy,
    TipDesk, TipFlowError,
};
use paydesk_core::Currency;
use paydesk_sale::{Percent, Tip};

const SHOP: &str = r#"
[catalog]
[catalog.tips]
presets = ["10%", "15%", "20%"]
max_percent = "50"

[[catalog.tax]]
id = "state"
label = "Sales tax 8.875%"
rate = "8.875"
kind = "additive"

[[catalog.item]]
sku = "bagel"
name = "Bagel"
price = "3.00"
tax = "state"

[[catalog.item]]
sku = "coffee"
name = "Coffee"
price = "2.49"
"#;

const WAIT: Duration = Duration::from_secs(60);

fn catalog(text: &str) -> Arc<Catalog> {
    Arc::new(Catalog::from_toml(text, Currency::from_code("USD").unwrap()).unwrap())
}

/// Bagel 3.00 + 0.27 tax, Coffee 2.49 untaxed: 5.76 before the tip.
fn cart() -> Cart {
    let mut cart = Cart::new(catalog(SHOP));
    cart.add_item("bagel", 1).unwrap();
    cart.add_item("coffee", 1).unwrap();
    cart
}

fn asking(view: CashierTipView) -> PromptId {
    match view {
        CashierTipView::Asking { prompt, .. } => prompt,
        other => panic!("not asking: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_customer_display_offers_each_button_with_its_total_and_the_cap() {
    let desk = TipDesk::new();
    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    let CustomerTipView::Asking {
        prompt: shown,
        bill,
        currency,
        decimals,
        buttons,
        largest_tip,
        ..
    } = desk.customer_view()
    else {
        panic!("the customer display should ask")
    };
    assert_eq!(shown, prompt);
    assert_eq!(
        (bill.as_str(), currency.as_str(), decimals),
        ("5.76 USD", "USD", 2)
    );
    let shown: Vec<(usize, &str, &str, &str)> = buttons
        .iter()
        .map(|b| (b.index, b.label.as_str(), b.tip.as_str(), b.total.as_str()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (0, "No tip", "0.00 USD", "5.76 USD"),
            (1, "10%", "0.58 USD", "6.34 USD"),
            (2, "15%", "0.86 USD", "6.62 USD"),
            (3, "20%", "1.15 USD", "6.91 USD"),
            (4, "Round up", "0.24 USD", "6.00 USD"),
        ]
    );
    assert_eq!(largest_tip, "2.88 USD");
    // The customer's view says nothing of the lines.
    let json = serde_json::to_string(&desk.customer_view()).unwrap();
    assert!(!json.contains("Bagel"), "{json}");
}

#[tokio::test(start_paused = true)]
async fn the_customers_pick_decides_the_sale_and_the_waiting_cashier_gets_it() {
    let desk = Arc::new(TipDesk::new());
    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    let waiting = tokio::spawn({
        let desk = Arc::clone(&desk);
        async move { desk.decision(prompt).await }
    });
    let shown = desk.choose(prompt, &CustomerPick::Choice(2)).unwrap();
    assert!(
        matches!(shown, CustomerTipView::Decided { ref total, .. } if total == "6.62 USD"),
        "{shown:?}"
    );
    let TipDecision { sale, outcome, .. } = waiting.await.unwrap().unwrap();
    assert_eq!(outcome, TipOutcome::Customer);
    assert_eq!(sale.tip_by(), Some(TipBy::Customer));
    assert_eq!(sale.amount().minor, 662);
    assert_eq!(sale.tip().minor, 86);
    // A second tap changes nothing: the sale is decided.
    assert_eq!(
        desk.choose(prompt, &CustomerPick::Choice(3)).unwrap_err(),
        TipFlowError::NotOpen
    );
    assert_eq!(desk.sale(prompt).unwrap().sale.amount().minor, 662);
}

#[tokio::test(start_paused = true)]
async fn a_typed_tip_is_checked_against_the_cap_and_a_bad_button_is_refused() {
    let desk = TipDesk::new();
    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    let err = desk
        .choose(prompt, &CustomerPick::Amount("5.00".into()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a tip of 5.00 USD is more than 50% of the bill; the largest tip is 2.88 USD"
    );
    assert_eq!(
        desk.choose(prompt, &CustomerPick::Choice(9)).unwrap_err(),
        TipFlowError::NoSuchChoice(9)
    );
    assert!(desk
        .choose(prompt, &CustomerPick::Amount("-1".into()))
        .is_err());
    assert!(desk
        .choose(prompt, &CustomerPick::Amount("lots".into()))
        .is_err());
    // Still asking after every refusal; a tip within the cap is taken.
    desk.choose(prompt, &CustomerPick::Amount("1,25".into()))
        .unwrap();
    assert_eq!(desk.sale(prompt).unwrap().sale.tip().minor, 125);
}

#[tokio::test(start_paused = true)]
async fn nobody_choosing_before_the_deadline_means_no_tip_and_a_late_tap_is_refused() {
    let desk = Arc::new(TipDesk::new());
    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    assert_eq!(desk.sale(prompt).unwrap_err(), TipFlowError::Undecided);
    // The cashier's flow waits; the paused clock jumps to the deadline.
    let decision = desk.decision(prompt).await.unwrap();
    assert_eq!(decision.outcome, TipOutcome::TimedOut);
    assert_eq!(decision.sale.tip().minor, 0);
    assert_eq!(decision.sale.tip_by(), None);
    assert_eq!(decision.sale.amount().minor, 576);
    assert_eq!(
        desk.choose(prompt, &CustomerPick::Choice(1)).unwrap_err(),
        TipFlowError::TimedOut
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_passed_is_seen_by_every_call_without_anyone_waiting() {
    let desk = TipDesk::new();
    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    tokio::time::advance(WAIT - Duration::from_millis(1)).await;
    assert!(matches!(
        desk.customer_view(),
        CustomerTipView::Asking { .. }
    ));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(matches!(
        desk.cashier_view(),
        CashierTipView::Decided {
            outcome: TipOutcome::TimedOut,
            ..
        }
    ));
    assert_eq!(
        desk.choose(prompt, &CustomerPick::Choice(1)).unwrap_err(),
        TipFlowError::TimedOut
    );
}

#[tokio::test(start_paused = true)]
async fn the_cashier_may_skip_type_the_tip_or_go_back_to_the_cart() {
    let desk = TipDesk::new();

    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    desk.skip(prompt).unwrap();
    let skipped = desk.sale(prompt).unwrap();
    assert_eq!(
        (
            skipped.outcome,
            skipped.sale.tip().minor,
            skipped.sale.tip_by()
        ),
        (TipOutcome::Skipped, 0, None)
    );

    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    let ten = Tip::Percent(Percent::whole(10).unwrap());
    desk.cashier_tip(prompt, &ten).unwrap();
    let typed = desk.sale(prompt).unwrap();
    assert_eq!(typed.outcome, TipOutcome::Cashier);
    assert_eq!(typed.sale.tip_by(), Some(TipBy::Cashier));
    assert_eq!(typed.sale.tip().minor, 58);

    let prompt = asking(desk.propose(&cart(), WAIT).unwrap());
    desk.withdraw(prompt).unwrap();
    assert_eq!(desk.cashier_view(), CashierTipView::Idle);
    assert_eq!(desk.sale(prompt).unwrap_err(), TipFlowError::NotOpen);
    assert_eq!(
        desk.decision(prompt).await.unwrap_err(),
        TipFlowError::NotOpen
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_proposal_replaces_the_open_one_and_a_stale_tap_never_lands_on_it() {
    let desk = Arc::new(TipDesk::new());
    let first = asking(desk.propose(&cart(), WAIT).unwrap());
    let waiting = tokio::spawn({
        let desk = Arc::clone(&desk);
        async move { desk.decision(first).await }
    });
    let mut bigger = cart();
    bigger.add_item("coffee", 1).unwrap();
    let second = asking(desk.propose(&bigger, WAIT).unwrap());
    assert_ne!(first, second);
    assert_eq!(waiting.await.unwrap().unwrap_err(), TipFlowError::NotOpen);
    assert_eq!(
        desk.choose(first, &CustomerPick::Choice(0)).unwrap_err(),
        TipFlowError::NotOpen
    );
    desk.choose(second, &CustomerPick::Choice(0)).unwrap();
    assert_eq!(desk.sale(second).unwrap().sale.amount().minor, 825);
}

#[tokio::test(start_paused = true)]
async fn a_till_that_does_not_ask_decides_at_once_without_a_tip() {
    let quiet = SHOP.replace("[catalog.tips]", "[catalog.tips]\nask_customer = false");
    let mut cart = Cart::new(catalog(&quiet));
    cart.add_item("coffee", 2).unwrap();
    let desk = TipDesk::new();
    let view = desk.propose(&cart, WAIT).unwrap();
    let CashierTipView::Decided {
        prompt,
        outcome,
        total,
        ..
    } = view
    else {
        panic!("decided at once: {view:?}")
    };
    assert_eq!((outcome, total.minor), (TipOutcome::NotAsked, 498));
    desk.close(prompt);
    assert_eq!(desk.cashier_view(), CashierTipView::Idle);
}

#[tokio::test(start_paused = true)]
async fn nothing_to_charge_is_never_proposed() {
    let desk = TipDesk::new();
    let empty = Cart::new(catalog(SHOP));
    assert!(matches!(
        desk.propose(&empty, WAIT),
        Err(TipFlowError::Cart(_))
    ));
    let register = Register::new();
    assert!(register.propose_tip(WAIT).is_err());
}

#[tokio::test(start_paused = true)]
async fn the_register_keeps_the_catalog_a_sale_started_with() {
    let register = Register::new();
    let before = catalog(SHOP);
    register.add_item(&before, "bagel", 1).unwrap();
    // Settings changed the price meanwhile: the sale in progress keeps its own.
    let after = catalog(&SHOP.replace("\"3.00\"", "\"3.50\""));
    let view = register.add_item(&after, "bagel", 1).unwrap();
    assert_eq!(view.lines[0].amount, "6.00 USD");
    let line = view.lines[0].id;
    assert!(register
        .set_quantity(&after, line, 0)
        .unwrap()
        .lines
        .is_empty());
    // The next sale is rung up at the new price.
    let view = register.add_item(&after, "bagel", 1).unwrap();
    assert_eq!(view.lines[0].amount, "3.50 USD");
    register.clear();
    assert!(register.view(&after).unwrap().lines.is_empty());
}
