//! What a receipt looks like, character for character: the text the app shows on screen
//! and the lines the printer prints (the network tests check that they are the same).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use paydesk_receipt::{CodePage, Layout};

#[test]
fn a_sale_on_58mm_paper_reads_like_a_receipt() {
    let text = Layout::new(&euro_sale_with_items(), 32, Some(CodePage::Cp858)).text();
    let expected = "
          Café Müller
         Hauptstraße 1
          10115 Berlin

            RECEIPT

Till                  Front desk
Time            2026-11-28 14:05
Payment
7c9a5a1e-4b0f-4c1e-9d0a-2f6c8e1b
                            3a57
Order                    T1-0042
--------------------------------
Espresso                 €5.00 A
  2 x €2.50
Apple tart with cream    €7.50 A
--------------------------------
TOTAL                     €12.50
Paid in CRO              100 CRO
A VAT 19% on €10.50        €2.00
--------------------------------
  Confirmed by Crypto.com Pay
";
    assert_eq!(text, &expected[1..]);
}

#[test]
fn a_refund_slip_on_80mm_paper_in_cp437_spells_out_what_it_cannot_print() {
    let mut refund = pound_refund();
    refund.header[0] = "Shop € Co — Berlin".into();
    let text = Layout::new(&refund, 48, Some(CodePage::Cp437)).text();
    let expected = "
              Shop EUR Co - Berlin
                 Hauptstraße 1
                  10115 Berlin

                     REFUND

Till                                  Front desk
Time                            2026-11-28 15:30
Cashier                                      Ana
Refund                           b2f1e0d9-refund
Payment     7c9a5a1e-4b0f-4c1e-9d0a-2f6c8e1b3a57
Status                                   Pending
Reason                                Wrong size
------------------------------------------------
REFUND                                    -£5.00
------------------------------------------------
           DEMO - not a real payment
";
    assert_eq!(text, &expected[1..]);
}

#[test]
fn the_screen_keeps_every_unicode_character() {
    let mut refund = pound_refund();
    refund.header[0] = "Shop € Co — Berlin".into();
    let text = Layout::new(&refund, 48, None).text();
    assert!(text.contains("Shop € Co — Berlin"));
    assert!(text.contains("DEMO — not a real payment"));
}

#[test]
fn a_long_item_name_wraps_and_keeps_its_total_on_the_last_line() {
    let mut receipt = euro_sale_with_items();
    receipt.items[1].description = "Organic apple tart with whipped cream and cinnamon".into();
    let text = Layout::new(&receipt, 32, Some(CodePage::Cp858)).text();
    assert!(
        text.contains("Organic apple tart with whipped\ncream and cinnamon       €7.50 A\n"),
        "{text}"
    );
}
